// The file viewer: text and logs (numbered, coloured, followed as they
// grow), images and SVG (as pictures: through <img src="blob:…">, their
// scripts never run), and Markdown (rendered by ../markdown.js, with a
// Source toggle). Every string from a file or the server is set as text.

import { el, button } from "../dom.js";
import { renderMarkdown } from "../markdown.js";
import { modeFor } from "../syntax.js";
import { dirname, normalize, resolve } from "../filepaths.js";
import { toast } from "../ui.js";
import { isBinary } from "./api.js";
import { Follower } from "./follow.js";
import { appendLines, renderLines, scrollToLine } from "./lines.js";
import { formatSize } from "./size.js";
import { download } from "./transfer.js";

const TEXT_WINDOW = 1024 * 1024; // bytes of a text file shown at once
const IMAGE = /\.(png|jpe?g|gif|webp|avif|bmp|ico|svg)$/i;
const MARKDOWN = /\.(md|markdown)$/i;

export class FileViewer {
  /**
   * api: a FileApi; hooks: inRoots(path) → bool, open(path) for a link in
   * a Markdown file, back(name) from the viewer to its directory,
   * directory(path) when the path turned out to be one.
   */
  constructor(api, hooks) {
    this.api = api;
    this.hooks = hooks;
    this.viewing = null; // {path, name, kind, …} of the open file
    this.generation = 0; // bumped on every file opened or closed: older answers are dropped
    this.markdownRenders = 0; // the latest Markdown rendering wins
    this.objectUrls = new Set();
    this.code = null; // the lines element of a text file
    this.element = this.#build();
    this.follower = new Follower(api, this.body, {
      restart: () => {
        this.note.hidden = true;
        this.#showLines("", this.viewing.mode, this.viewing.numbered);
      },
      append: (text) => appendLines(this.code, text, this.viewing.mode, this.viewing.numbered),
      failed: () => { this.followBox.checked = false; },
    });
  }

  #build() {
    const viewer = el("section", "files-viewer");
    viewer.hidden = true;
    const bar = el("div", "files-viewer-head");
    const back = button("files-back", "\u2039 Back", "Back to the directory");
    back.addEventListener("click", () => {
      const name = this.viewing?.name;
      this.close();
      this.hooks.back(name);
    });
    this.viewerName = el("span", "files-viewer-name");
    this.followLabel = el("label", "files-follow");
    this.followBox = el("input");
    this.followBox.type = "checkbox";
    this.followBox.addEventListener("change", () => this.setFollow(this.followBox.checked));
    this.followLabel.append(this.followBox, " Follow");
    this.sourceButton = button("files-source", "Source", "Show the Markdown source");
    this.sourceButton.addEventListener("click", () => this.#toggleSource());
    const save = button("files-download", "Download");
    save.addEventListener("click", () => this.viewing && download(this.api, this.viewing.path, this.viewing.name));
    bar.append(back, this.viewerName, this.followLabel, this.sourceButton, save);
    this.note = el("div", "files-note");
    this.note.hidden = true;
    this.body = el("div", "files-viewer-body");
    this.body.tabIndex = 0;
    viewer.append(bar, this.note, this.body);
    return viewer;
  }

  get open() {
    return !this.element.hidden;
  }

  /** Show the file at `path` (absolute, inside a root), scrolled to `line` if given. */
  async show(path, name, { line = null } = {}) {
    this.close();
    const generation = ++this.generation;
    this.viewing = { path, name, line, kind: null, size: 0, offset: 0, decoder: null, numbered: true };
    this.element.hidden = false;
    this.viewerName.textContent = name;
    this.viewerName.title = path;
    this.body.replaceChildren(el("div", "files-message", "Loading\u2026"));
    // The keyboard goes to the viewer now (arrows scroll, Esc closes), not
    // to the terminal the link was clicked in.
    this.body.focus({ preventScroll: true });
    try {
      if (IMAGE.test(name)) await this.#showImage(generation);
      else if (MARKDOWN.test(name)) await this.#showMarkdown(generation);
      else await this.#showText(generation);
    } catch (err) {
      if (generation !== this.generation) return;
      if (err.status === 400 && /directory/.test(err.message)) {
        this.hooks.directory(path);
        return;
      }
      this.body.replaceChildren(el("div", "files-message error", err.message));
    }
  }

  close() {
    this.setFollow(false);
    this.generation++;
    for (const url of this.objectUrls) URL.revokeObjectURL(url);
    this.objectUrls.clear();
    this.viewing = null;
    this.element.hidden = true;
    this.note.hidden = true;
    this.body.replaceChildren();
  }

  #controls({ follow, source }) {
    this.followLabel.hidden = !follow;
    this.followBox.checked = false;
    this.sourceButton.hidden = !source;
  }

  #blobUrl(blob) {
    const url = URL.createObjectURL(blob);
    this.objectUrls.add(url);
    return url;
  }

  async #showImage(generation) {
    this.#controls({ follow: false, source: false });
    const blob = await this.api.blob(this.viewing.path);
    if (generation !== this.generation) return;
    // An SVG shown through <img> is a picture: its scripts never run.
    const img = el("img");
    img.alt = this.viewing.name;
    img.src = this.#blobUrl(blob);
    const box = el("div", "files-image");
    box.append(img);
    this.body.replaceChildren(box);
  }

  // ---- Markdown ----

  async #showMarkdown(generation) {
    this.#controls({ follow: false, source: true });
    const { text, size } = await this.api.text(this.viewing.path, 0, TEXT_WINDOW);
    if (generation !== this.generation) return;
    this.viewing.kind = "markdown";
    this.viewing.text = text;
    this.viewing.showSource = false;
    this.#truncationNote(size, text.length < size);
    this.#renderMarkdown();
  }

  #renderMarkdown() {
    const v = this.viewing;
    const base = dirname(v.path);
    const absolute = (relative) => (relative.startsWith("/") ? normalize(relative) : resolve(relative, base));
    this.sourceButton.textContent = v.showSource ? "Rendered" : "Source";
    if (v.showSource) {
      this.#showLines(v.text, modeFor("x.txt"), true);
      return;
    }
    // Parsed in a worker with a deadline (markdown.js): the page stays
    // responsive, and a file too slow to render is shown as text.
    const render = ++this.markdownRenders;
    const generation = this.generation;
    this.body.replaceChildren(el("div", "files-message", "Rendering…"));
    const current = () => render === this.markdownRenders && generation === this.generation && !v.showSource;
    renderMarkdown(v.text, {
      openPath: (relative) => {
        const target = absolute(relative);
        if (target && this.hooks.inRoots(target)) this.hooks.open(target);
        else toast("That link leads outside the file roots.");
      },
      image: (relative, img) => this.#fillImage(absolute(relative), img),
    }).then((doc) => {
      if (current()) this.body.replaceChildren(doc);
    }, (err) => {
      if (!current()) return;
      // One text node: as fast for 1 MiB as for 1 KiB (numbered lines are
      // one element each; the Source button still shows them).
      const note = el("div", "files-message markdown-fallback", `Shown as plain text: ${err.message}.`);
      this.body.replaceChildren(note, el("pre", "markdown-plain", v.text));
    });
  }

  async #fillImage(path, img) {
    if (!path || !this.hooks.inRoots(path)) return;
    const generation = this.generation;
    try {
      const blob = await this.api.blob(path);
      if (generation !== this.generation) return;
      img.src = this.#blobUrl(blob);
    } catch {
      // a missing image keeps its alt text
    }
  }

  #toggleSource() {
    if (!this.viewing || this.viewing.kind !== "markdown") return;
    this.viewing.showSource = !this.viewing.showSource;
    this.#renderMarkdown();
  }

  // ---- text ----

  async #showText(generation) {
    const v = this.viewing;
    const mode = modeFor(v.name);
    const { bytes, size } = await this.api.range(v.path, 0, TEXT_WINDOW);
    if (generation !== this.generation) return;
    if (isBinary(bytes)) {
      this.#controls({ follow: false, source: false });
      this.body.replaceChildren(el("div", "files-message", `Binary file, ${formatSize(size)}. Use Download to save it.`));
      return;
    }
    this.#controls({ follow: true, source: false });
    v.kind = "text";
    v.mode = mode;
    v.size = size;
    v.offset = bytes.length;
    v.numbered = true;
    v.decoder = new TextDecoder("utf-8");
    const text = v.decoder.decode(bytes, { stream: true });
    this.#truncationNote(size, v.offset < size);
    this.#showLines(text, mode, v.numbered);
    if (v.line) scrollToLine(this.code, v.line);
  }

  #showLines(text, mode, numbered) {
    this.code = renderLines(text, mode, numbered);
    this.body.replaceChildren(this.code);
  }

  #truncationNote(size, truncated) {
    this.note.replaceChildren();
    this.note.hidden = !truncated;
    if (!truncated) return;
    this.note.append(`Showing the first ${formatSize(TEXT_WINDOW)} of ${formatSize(size)}. `);
    if (this.viewing.kind === "text") {
      const end = button("files-tail", "Follow the end");
      end.addEventListener("click", () => { this.followBox.checked = true; this.setFollow(true); });
      this.note.append(end);
    }
  }

  /** Follow the open text file as it grows, or stop. */
  setFollow(on) {
    this.follower.stop();
    const v = this.viewing;
    if (!on || !v || v.kind !== "text") {
      this.followBox.checked = false;
      return;
    }
    this.follower.start(v);
  }
}
