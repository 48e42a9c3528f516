// The file panel: browse the server's --file-root directories, view text
// (following growing logs), images and Markdown, upload into writable
// roots, and open file paths printed in terminal output. Hidden (and never
// built) when the server has no file roots: /api/files answers 404.
//
// Every string from the server or a file is set with textContent; images
// and downloads go through blob: URLs made from authenticated fetches (the
// token never appears in a URL).

import { renderMarkdown } from "./markdown.js";
import { appendTokens, lineClass, modeFor } from "./highlight.js";
import { basename, dirname, findCandidates, hiddenBelow, normalize, resolve, rootOf } from "./filepaths.js";
import { ask, toast } from "./ui.js";

const TEXT_WINDOW = 1024 * 1024; // bytes of a text file shown at once
const FOLLOW_TAIL = 256 * 1024; // bytes shown when following starts
const FOLLOW_INTERVAL_MS = 1000;
const MAX_LINES = 20000; // lines kept while following
const PAGE = 500;
const IMAGE = /\.(png|jpe?g|gif|webp|avif|bmp|ico|svg)$/i;
const MARKDOWN = /\.(md|markdown)$/i;

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function el(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

function button(className, text, title) {
  const b = el("button", className, text);
  b.type = "button";
  if (title) b.title = title;
  return b;
}

export function formatSize(size) {
  if (size === null || size === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export class FilePanel {
  #token;

  /** panel: the <aside>; button: the bar's toggle; onClose(): give the focus back. */
  constructor(token, { panel, button: toggle, onClose = () => {} }) {
    this.#token = token;
    this.panel = panel;
    this.toggleButton = toggle;
    this.onClose = onClose;
    this.info = null; // GET /api/files: roots, upload, show_hidden
    this.dir = null; // the listed directory (absolute path)
    this.root = null;
    this.viewing = null; // {path, ...} of the open file
    this.followTimer = null;
    // Bumped on every navigation: answers for an older one are dropped.
    this.listGeneration = 0;
    this.generation = 0; // the viewer's
    this.markdownRenders = 0; // the latest Markdown rendering wins
    this.objectUrls = new Set();
    this.linked = new WeakSet(); // PaneTerminals with our link provider
  }

  get enabled() {
    return this.info !== null;
  }

  // ---- HTTP ----

  async #fetch(path, { method = "GET", headers = {}, body, overwrite } = {}) {
    const params = new URLSearchParams({ path });
    if (overwrite !== undefined) params.set("overwrite", overwrite ? "1" : "0");
    return this.#call(`./api/file?${params}`, { method, headers, body });
  }

  async #call(url, { method = "GET", headers = {}, body } = {}) {
    let response;
    try {
      response = await fetch(url, {
        method,
        body,
        headers: { Authorization: `Bearer ${this.#token}`, ...headers },
        cache: "no-store",
        credentials: "same-origin",
        redirect: "error",
      });
    } catch (err) {
      throw new HttpError(0, `network error: ${err.message}`);
    }
    if (!response.ok && response.status !== 416) {
      let message = `HTTP ${response.status}`;
      try {
        const data = await response.json();
        if (typeof data?.error === "string") message = data.error;
      } catch {
        // not JSON
      }
      throw new HttpError(response.status, message);
    }
    return response;
  }

  async #json(url) {
    return (await this.#call(url)).json();
  }

  // ---- start-up and the panel ----

  async start() {
    let info;
    try {
      info = await this.#json("./api/files");
    } catch {
      return; // 404: no file roots, the viewer stays hidden
    }
    if (!Array.isArray(info?.roots) || !info.roots.length) return;
    this.info = info;
    this.#build();
    this.toggleButton.hidden = false;
    this.toggleButton.addEventListener("click", () => this.toggle());
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

    this.crumbs = el("nav", "files-crumbs");
    this.crumbs.setAttribute("aria-label", "Path");
    this.browser = el("div", "files-browser");
    this.list = el("ul", "files-list");
    this.more = button("files-more", "More\u2026");
    this.more.hidden = true;
    this.more.addEventListener("click", () => this.#loadPage());
    this.browser.append(this.list, this.more);

    this.viewer = el("section", "files-viewer");
    this.viewer.hidden = true;
    const bar = el("div", "files-viewer-head");
    const back = button("files-back", "\u2039 Back", "Back to the directory");
    back.addEventListener("click", () => this.#back());
    this.viewerName = el("span", "files-viewer-name");
    this.followLabel = el("label", "files-follow");
    this.followBox = el("input");
    this.followBox.type = "checkbox";
    this.followBox.addEventListener("change", () => this.#setFollow(this.followBox.checked));
    this.followLabel.append(this.followBox, " Follow");
    this.sourceButton = button("files-source", "Source", "Show the Markdown source");
    this.sourceButton.addEventListener("click", () => this.#toggleSource());
    const download = button("files-download", "Download");
    download.addEventListener("click", () => this.#download());
    bar.append(back, this.viewerName, this.followLabel, this.sourceButton, download);
    this.note = el("div", "files-note");
    this.note.hidden = true;
    this.body = el("div", "files-viewer-body");
    this.body.tabIndex = 0;
    this.viewer.append(bar, this.note, this.body);

    this.panel.replaceChildren(head, this.crumbs, this.browser, this.viewer);
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
  #back() {
    const name = this.viewing?.name;
    this.#closeViewer();
    const row = [...this.list.querySelectorAll(".files-entry")].find((b) => b.dataset.name === name);
    (row ?? this.rootPicker).focus();
  }

  toggle() {
    if (this.panel.hidden) this.open();
    else this.close();
  }

  open() {
    if (!this.enabled) return;
    this.#show();
    if (this.dir === null) this.browse(this.info.roots[0].path);
    this.rootPicker.focus();
  }

  #show() {
    this.panel.hidden = false;
    this.toggleButton.setAttribute("aria-expanded", "true");
  }

  close() {
    if (!this.enabled) return;
    this.#setFollow(false);
    this.panel.hidden = true;
    this.toggleButton.setAttribute("aria-expanded", "false");
    this.onClose();
  }

  // ---- browsing ----

  async browse(path) {
    const root = rootOf(path, this.info.roots);
    if (!root) return;
    this.#show();
    this.#closeViewer();
    const generation = ++this.listGeneration;
    this.dir = normalize(path);
    this.root = root;
    this.rootPicker.value = root.path;
    this.offset = 0;
    this.list.replaceChildren();
    this.#renderCrumbs(this.dir, root);
    this.uploadButton.hidden = !(this.info.upload && root.writable);
    await this.#loadPage(generation);
  }

  async #loadPage(generation = this.listGeneration) {
    const params = new URLSearchParams({ path: this.dir, offset: String(this.offset), limit: String(PAGE) });
    let listing;
    try {
      listing = await this.#json(`./api/directory?${params}`);
    } catch (err) {
      if (generation === this.listGeneration) this.#listMessage(err.message);
      return;
    }
    if (generation !== this.listGeneration) return;
    for (const entry of listing.entries) this.list.append(this.#entryRow(entry));
    if (!listing.total) this.#listMessage("(empty)");
    this.offset += listing.entries.length;
    this.more.hidden = this.offset >= listing.total;
  }

  #listMessage(text) {
    this.list.replaceChildren(el("li", "files-message", text));
    this.more.hidden = true;
  }

  #entryRow(entry) {
    const li = el("li");
    const row = button("files-entry");
    row.dataset.type = entry.type;
    row.dataset.name = entry.name;
    // Glyphs every monospace font has (emoji fonts are often missing).
    const icon = { directory: "\u25B8", file: "\u2261", symlink: "\u2197", other: "\u2022" }[entry.type] ?? "";
    const when = new Date(entry.mtime * 1000);
    row.append(
      el("span", "icon", icon),
      el("span", "name", entry.name + (entry.type === "directory" ? "/" : "")),
      el("span", "size", formatSize(entry.size)),
      el("span", "mtime", when.toLocaleString()),
    );
    row.title = entry.name;
    const path = `${this.dir === "/" ? "" : this.dir}/${entry.name}`;
    row.addEventListener("click", () => {
      if (entry.type === "directory") this.browse(path);
      else if (entry.type === "file") this.view(path);
      else toast(entry.type === "symlink" ? "That link leads outside the file root, or nowhere." : "Only regular files can be opened.");
    });
    li.append(row);
    return li;
  }

  #renderCrumbs(path, root) {
    this.crumbs.replaceChildren();
    const below = path.slice(root.path.length).split("/").filter(Boolean);
    const add = (label, target) => {
      const b = button("files-crumb", label);
      b.title = target;
      b.addEventListener("click", () => this.browse(target));
      this.crumbs.append(b);
    };
    add(root.name, root.path);
    let current = root.path;
    for (const part of below) {
      current = `${current === "/" ? "" : current}/${part}`;
      this.crumbs.append(el("span", "files-sep", "/"));
      add(part, current);
    }
  }

  // ---- viewing ----

  /** Open the file at `path` (absolute), scrolled to `line` if given. */
  async view(path, { line = null } = {}) {
    const root = rootOf(path, this.info.roots);
    if (!root) return;
    this.#show();
    // Behind the viewer, list where the file lives (Back shows it).
    if (this.dir !== dirname(path)) this.browse(dirname(path));
    this.#closeViewer();
    const generation = ++this.generation;
    const name = basename(path);
    this.viewing = { path, name, line, kind: null, size: 0, offset: 0, decoder: null, numbered: true };
    this.viewer.hidden = false;
    this.browser.hidden = true;
    this.crumbs.hidden = true;
    this.viewerName.textContent = name;
    this.viewerName.title = path;
    this.body.replaceChildren(el("div", "files-message", "Loading\u2026"));
    // The keyboard goes to the viewer now (arrows scroll, Esc closes), not
    // to the terminal the link was clicked in.
    this.body.focus({ preventScroll: true });
    try {
      if (IMAGE.test(name)) await this.#showImage(generation);
      else if (MARKDOWN.test(name)) await this.#showMarkdown(generation);
      else await this.#showText(generation, 0);
    } catch (err) {
      if (generation !== this.generation) return;
      if (err.status === 400 && /directory/.test(err.message)) {
        this.browse(path);
        return;
      }
      this.body.replaceChildren(el("div", "files-message error", err.message));
    }
  }

  #closeViewer() {
    this.#setFollow(false);
    this.generation++;
    for (const url of this.objectUrls) URL.revokeObjectURL(url);
    this.objectUrls.clear();
    this.viewing = null;
    if (!this.viewer) return;
    this.viewer.hidden = true;
    this.browser.hidden = false;
    this.crumbs.hidden = false;
    this.note.hidden = true;
    this.body.replaceChildren();
  }

  #controls({ follow, source }) {
    this.followLabel.hidden = !follow;
    this.followBox.checked = false;
    this.sourceButton.hidden = !source;
  }

  async #blob(path) {
    const response = await this.#fetch(path);
    if (response.status === 416) return new Blob([]);
    return response.blob();
  }

  async #showImage(generation) {
    this.#controls({ follow: false, source: false });
    const blob = await this.#blob(this.viewing.path);
    if (generation !== this.generation) return;
    // An SVG shown through <img> is a picture: its scripts never run.
    const url = URL.createObjectURL(blob);
    this.objectUrls.add(url);
    const img = el("img");
    img.alt = this.viewing.name;
    img.src = url;
    const box = el("div", "files-image");
    box.append(img);
    this.body.replaceChildren(box);
  }

  async #showMarkdown(generation) {
    this.#controls({ follow: false, source: true });
    const { text, size } = await this.#readText(this.viewing.path, 0, TEXT_WINDOW);
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
    this.sourceButton.textContent = v.showSource ? "Rendered" : "Source";
    if (v.showSource) {
      this.#renderLines(v.text, modeFor("x.txt"), true);
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
        const target = relative.startsWith("/") ? normalize(relative) : resolve(relative, base);
        if (target && rootOf(target, this.info.roots)) this.view(target);
        else toast("That link leads outside the file roots.");
      },
      image: (relative, img) => this.#fillImage(relative.startsWith("/") ? normalize(relative) : resolve(relative, base), img),
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
    if (!path || !rootOf(path, this.info.roots)) return;
    const generation = this.generation;
    try {
      const blob = await this.#blob(path);
      if (generation !== this.generation) return;
      const url = URL.createObjectURL(blob);
      this.objectUrls.add(url);
      img.src = url;
    } catch {
      // a missing image keeps its alt text
    }
  }

  #toggleSource() {
    if (!this.viewing || this.viewing.kind !== "markdown") return;
    this.viewing.showSource = !this.viewing.showSource;
    this.#renderMarkdown();
  }

  /** Bytes [start, start+length) of a file as {bytes, size} (size from Content-Range). */
  async #readRange(path, start, length) {
    const headers = { Range: length === null ? `bytes=${start}-` : `bytes=${start}-${start + length - 1}` };
    const response = await this.#fetch(path, { headers });
    const total = (response.headers.get("Content-Range") || "").match(/\/(\d+)$/);
    if (response.status === 416) return { bytes: new Uint8Array(0), size: total ? Number(total[1]) : 0 };
    const bytes = new Uint8Array(await response.arrayBuffer());
    const size = total ? Number(total[1]) : bytes.length;
    return { bytes, size };
  }

  async #readText(path, start, length) {
    const { bytes, size } = await this.#readRange(path, start, length);
    if (isBinary(bytes)) throw new HttpError(-1, "This is not a text file.");
    return { text: new TextDecoder("utf-8").decode(bytes), size, bytes };
  }

  async #showText(generation, start) {
    const v = this.viewing;
    const mode = modeFor(v.name);
    const { bytes, size } = await this.#readRange(v.path, start, TEXT_WINDOW);
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
    v.offset = start + bytes.length;
    v.numbered = start === 0;
    v.decoder = new TextDecoder("utf-8");
    const text = v.decoder.decode(bytes, { stream: true });
    this.#truncationNote(size, v.offset < size);
    this.#renderLines(text, mode, v.numbered);
    if (v.line) this.#scrollToLine(v.line);
  }

  #truncationNote(size, truncated) {
    this.note.replaceChildren();
    this.note.hidden = !truncated;
    if (!truncated) return;
    this.note.append(`Showing the first ${formatSize(TEXT_WINDOW)} of ${formatSize(size)}. `);
    if (this.viewing.kind === "text") {
      const end = button("files-tail", "Follow the end");
      end.addEventListener("click", () => { this.followBox.checked = true; this.#setFollow(true); });
      this.note.append(end);
    }
  }

  #renderLines(text, mode, numbered) {
    const code = el("div", "files-code");
    code.dataset.mode = mode.kind;
    const lines = text.split("\n");
    const partial = lines.pop();
    let n = 1;
    for (const line of lines) code.append(this.#lineElement(line, mode, numbered ? n++ : null));
    if (partial) code.append(this.#lineElement(partial, mode, numbered ? n : null, true));
    this.code = code;
    this.body.replaceChildren(code);
  }

  #lineElement(text, mode, number, partial = false) {
    const line = el("div", "line");
    const cls = lineClass(text, mode);
    if (cls) line.classList.add(cls);
    if (partial) line.classList.add("partial");
    if (number !== null) line.dataset.n = String(number);
    appendTokens(line, text, mode);
    return line;
  }

  #scrollToLine(number) {
    const target = this.code?.querySelector(`.line[data-n="${Number(number)}"]`);
    if (!target) return;
    target.classList.add("target");
    target.scrollIntoView({ block: "center" });
  }

  // ---- following a growing file ----

  async #setFollow(on) {
    clearTimeout(this.followTimer);
    this.followTimer = null;
    const v = this.viewing;
    if (!on || !v || v.kind !== "text") {
      if (this.followBox) this.followBox.checked = false;
      return;
    }
    const generation = this.generation;
    if (v.offset < v.size) {
      // Start from the end rather than from wherever the first window ended.
      v.offset = Math.max(0, v.size - FOLLOW_TAIL);
      v.numbered = v.offset === 0;
      v.decoder = new TextDecoder("utf-8");
      this.note.hidden = true;
      this.#renderLines("", v.mode, v.numbered);
      await this.#poll(generation, true);
      return;
    }
    this.#scrollToEnd();
    this.#schedule(generation);
  }

  #schedule(generation) {
    this.followTimer = setTimeout(() => this.#poll(generation), FOLLOW_INTERVAL_MS);
  }

  async #poll(generation, first = false) {
    const v = this.viewing;
    if (generation !== this.generation || !v || !this.followBox.checked) return;
    try {
      const { bytes, size } = await this.#readRange(v.path, v.offset, null);
      if (generation !== this.generation) return;
      if (size < v.offset) {
        // Truncated or rotated: start over from its beginning.
        v.offset = 0;
        v.numbered = true;
        v.decoder = new TextDecoder("utf-8");
        this.#renderLines("", v.mode, true);
        toast("The file was truncated; following it from its start.");
      } else if (bytes.length) {
        const atEnd = first || this.#atEnd();
        v.offset += bytes.length;
        v.size = size;
        this.#append(v.decoder.decode(bytes, { stream: true }));
        if (atEnd) this.#scrollToEnd();
      }
    } catch (err) {
      toast(`Following stopped: ${err.message}`, { error: true });
      this.followBox.checked = false;
      return;
    }
    this.#schedule(generation);
  }

  #append(text) {
    const v = this.viewing;
    const code = this.code;
    const last = code.lastElementChild;
    let n = 1;
    if (last?.classList.contains("partial")) {
      text = last.textContent + text;
      n = last.dataset.n ? Number(last.dataset.n) : 1;
      last.remove();
    } else if (last?.dataset.n) {
      n = Number(last.dataset.n) + 1;
    }
    const lines = text.split("\n");
    const partial = lines.pop();
    const fragment = document.createDocumentFragment();
    for (const line of lines) fragment.append(this.#lineElement(line, v.mode, v.numbered ? n++ : null));
    if (partial) fragment.append(this.#lineElement(partial, v.mode, v.numbered ? n : null, true));
    code.append(fragment);
    while (code.childElementCount > MAX_LINES) code.firstElementChild.remove();
  }

  #atEnd() {
    const b = this.body;
    return b.scrollHeight - b.scrollTop - b.clientHeight < 40;
  }

  #scrollToEnd() {
    this.body.scrollTop = this.body.scrollHeight;
  }

  // ---- download and upload ----

  async #download() {
    const v = this.viewing;
    if (!v) return;
    try {
      const blob = await this.#blob(v.path);
      const url = URL.createObjectURL(blob);
      const a = el("a");
      a.href = url;
      a.download = v.name;
      a.rel = "noopener";
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      toast(`Could not download ${v.name}: ${err.message}`, { error: true });
    }
  }

  async #uploadChosen() {
    const files = [...this.uploadInput.files];
    this.uploadInput.value = "";
    const dir = this.dir;
    for (const file of files) {
      const path = `${dir === "/" ? "" : dir}/${file.name}`;
      try {
        await this.#upload(path, file, false);
      } catch (err) {
        if (err.status !== 409 || !/overwrite/.test(err.message)) {
          toast(`Could not upload ${file.name}: ${err.message}`, { error: true });
          continue;
        }
        const replace = await ask(`${file.name} exists here. Replace it?`, { ok: "Replace" });
        if (!replace) continue;
        try {
          await this.#upload(path, file, true);
        } catch (again) {
          toast(`Could not upload ${file.name}: ${again.message}`, { error: true });
          continue;
        }
      }
      toast(`Uploaded ${file.name}`);
    }
    if (this.dir === dir) this.browse(dir);
  }

  async #upload(path, file, overwrite) {
    if (file.size > this.info.max_size) throw new HttpError(413, `larger than the server's limit (${formatSize(this.info.max_size)})`);
    await this.#fetch(path, { method: "PUT", body: file, overwrite, headers: { "Content-Type": "application/octet-stream" } });
  }

  // ---- paths in terminal output ----

  /** Give every pane's terminal a link provider for file paths (once per terminal). */
  linkPanes(panes) {
    if (!this.enabled) return;
    for (const pane of panes.values()) {
      const term = pane.term;
      if (this.linked.has(term)) continue;
      this.linked.add(term);
      term.term.registerLinkProvider({
        provideLinks: (y, callback) => callback(this.#linksOnLine(term.term, y, pane.info)),
      });
    }
  }

  #linksOnLine(terminal, y, info) {
    const line = terminal.buffer.active.getLine(y - 1);
    if (!line) return undefined;
    const { text, cellOf } = cellText(line, terminal.cols);
    const links = [];
    for (const found of findCandidates(text)) {
      const path = resolve(found.text, info.current_path);
      if (!path) continue;
      const root = rootOf(path, this.info.roots);
      if (!root || (!this.info.show_hidden && hiddenBelow(path, root))) continue;
      const first = cellOf[found.index];
      const last = cellOf[found.index + found.length - 1];
      if (first === undefined || last === undefined) continue;
      links.push({
        range: { start: { x: first + 1, y }, end: { x: last + 1, y } },
        text: text.slice(found.index, found.index + found.length),
        decorations: { underline: true, pointerCursor: true },
        activate: (event) => {
          event?.preventDefault?.();
          this.view(path, { line: found.line });
        },
      });
    }
    return links.length ? links : undefined;
  }
}

/** A buffer line's text and, for each UTF-16 unit, the cell it is in. */
function cellText(line, cols) {
  let text = "";
  const cellOf = [];
  for (let x = 0; x < cols; x++) {
    const cell = line.getCell(x);
    if (!cell) break;
    if (cell.getWidth() === 0) continue; // the right half of a wide character
    const chars = cell.getChars() || " ";
    for (let k = 0; k < chars.length; k++) cellOf.push(x);
    text += chars;
  }
  return { text, cellOf };
}

/** NUL bytes or invalid UTF-8 near the start: not text. */
function isBinary(bytes) {
  const head = bytes.subarray(0, 8192);
  if (head.includes(0)) return true;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(head, { stream: true });
    return false;
  } catch {
    return true;
  }
}
