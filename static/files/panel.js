// The file panel: a drawer that browses the server's --file-root
// directories (listing.js), views files (viewer.js), uploads into writable
// roots (transfer.js), and opens file paths printed in terminal output
// (links.js). Hidden (and never built) when the server has no file roots:
// /api/files answers 404.
//
// Every string from the server or a file is set with textContent; images
// and downloads go through blob: URLs made from authenticated fetches (the
// token never appears in a URL).

import { el, button } from "../dom.js";
import { basename, dirname, normalize, rootOf } from "../filepaths.js";
import { FileApi } from "./api.js";
import { PathLinks } from "./links.js";
import { Listing } from "./listing.js";
import { upload } from "./transfer.js";
import { FileViewer } from "./viewer.js";

export class FilePanel {
  /** panel: the <aside>; button: the bar's toggle; onClose(): give the focus back. */
  constructor(token, { panel, button: toggle, onClose = () => {} }) {
    this.api = new FileApi(token);
    this.panel = panel;
    this.toggleButton = toggle;
    this.onClose = onClose;
    this.info = null; // GET /api/files: roots, upload, show_hidden, max_size
    this.root = null; // the listed directory's root
    this.links = null;
  }

  get enabled() {
    return this.info !== null;
  }

  async start() {
    let info;
    try {
      info = await this.api.info();
    } catch {
      return; // 404: no file roots, the viewer stays hidden
    }
    if (!Array.isArray(info?.roots) || !info.roots.length) return;
    this.info = info;
    this.links = new PathLinks(info, (path, line) => this.view(path, { line }));
    this.#build();
    this.toggleButton.hidden = false;
    this.toggleButton.addEventListener("click", () => this.toggle());
  }

  #inRoots(path) {
    return Boolean(rootOf(path, this.info.roots));
  }

  #build() {
    const head = el("div", "files-head");
    this.rootPicker = el("select", "files-roots");
    this.rootPicker.setAttribute("aria-label", "File root");
    for (const root of this.info.roots) {
      const option = el("option", "", root.name);
      option.value = root.path;
      option.title = root.path;
      this.rootPicker.append(option);
    }
    this.rootPicker.addEventListener("change", () => this.browse(this.rootPicker.value));
    this.uploadButton = button("files-upload", "Upload", "Upload files into this directory");
    this.uploadButton.hidden = true;
    this.uploadInput = el("input", "files-upload-input");
    this.uploadInput.type = "file";
    this.uploadInput.multiple = true;
    this.uploadInput.hidden = true;
    this.uploadButton.addEventListener("click", () => this.uploadInput.click());
    this.uploadInput.addEventListener("change", () => this.#uploadChosen());
    const close = button("files-close", "\u2715", "Close the file panel (Esc)");
    close.setAttribute("aria-label", "Close");
    close.addEventListener("click", () => this.close());
    head.append(el("span", "files-title", "Files"), this.rootPicker, this.uploadButton, this.uploadInput, close);

    this.listing = new Listing(this.api, {
      browse: (path) => this.browse(path),
      view: (path) => this.view(path),
    });
    this.viewer = new FileViewer(this.api, {
      inRoots: (path) => this.#inRoots(path),
      open: (path) => this.view(path),
      back: (name) => this.#back(name),
      directory: (path) => this.browse(path),
    });
    this.panel.replaceChildren(head, this.listing.crumbs, this.listing.element, this.viewer.element);
    // Esc closes the panel when the keyboard is in it (or nowhere); in a
    // terminal it stays the program's.
    document.addEventListener("keydown", (event) => {
      const focus = document.activeElement;
      if (event.key !== "Escape" || this.panel.hidden || document.querySelector("dialog[open]")) return;
      if (focus && focus !== document.body && !this.panel.contains(focus)) return;
      event.preventDefault();
      this.close();
    });
  }

  /** From the viewer back to the directory, the keyboard on the file's row. */
  #back(name) {
    this.listing.hidden = false;
    (this.listing.row(name) ?? this.rootPicker).focus();
  }

  toggle() {
    if (this.panel.hidden) this.open();
    else this.close();
  }

  open() {
    if (!this.enabled) return;
    this.#show();
    if (this.listing.dir === null) this.browse(this.info.roots[0].path);
    this.rootPicker.focus();
  }

  #show() {
    this.panel.hidden = false;
    this.toggleButton.setAttribute("aria-expanded", "true");
  }

  close() {
    if (!this.enabled) return;
    this.viewer.setFollow(false);
    this.panel.hidden = true;
    this.toggleButton.setAttribute("aria-expanded", "false");
    this.onClose();
  }

  /** List the directory at `path` (absolute, inside a root). */
  async browse(path) {
    const root = rootOf(path, this.info.roots);
    if (!root) return;
    this.#show();
    this.#closeViewer();
    this.root = root;
    this.rootPicker.value = root.path;
    this.uploadButton.hidden = !(this.info.upload && root.writable);
    await this.listing.show(normalize(path), root);
  }

  /** Open the file at `path` (absolute), scrolled to `line` if given. */
  async view(path, { line = null } = {}) {
    if (!this.#inRoots(path)) return;
    this.#show();
    // Behind the viewer, list where the file lives (Back shows it).
    if (this.listing.dir !== dirname(path)) this.browse(dirname(path));
    this.listing.hidden = true;
    await this.viewer.show(path, basename(path), { line });
  }

  #closeViewer() {
    this.viewer.close();
    this.listing.hidden = false;
  }

  async #uploadChosen() {
    const files = [...this.uploadInput.files];
    this.uploadInput.value = "";
    const dir = this.listing.dir;
    await upload(this.api, dir, files, this.info.max_size);
    if (this.listing.dir === dir) this.browse(dir);
  }

  /** Give every pane's terminal a link provider for file paths (once per terminal). */
  linkPanes(panes) {
    if (this.enabled) this.links.link(panes);
  }
}
