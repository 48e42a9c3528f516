// A directory of a file root, a page of entries at a time, under its path
// as buttons (the root's name first).

import { el, button } from "../dom.js";
import { toast } from "../ui.js";
import { formatSize } from "./size.js";

const PAGE = 500;
// Glyphs every monospace font has (emoji fonts are often missing).
const ICONS = { directory: "\u25B8", file: "\u2261", symlink: "\u2197", other: "\u2022" };

export class Listing {
  /** api: a FileApi; hooks: browse(path) a directory, view(path) a file. */
  constructor(api, hooks) {
    this.api = api;
    this.hooks = hooks;
    this.dir = null; // the listed directory (absolute path)
    this.offset = 0;
    this.generation = 0; // bumped on every listing: answers for an older one are dropped
    this.crumbs = el("nav", "files-crumbs");
    this.crumbs.setAttribute("aria-label", "Path");
    this.element = el("div", "files-browser");
    this.list = el("ul", "files-list");
    this.more = button("files-more", "More\u2026");
    this.more.hidden = true;
    this.more.addEventListener("click", () => this.#loadPage());
    this.element.append(this.list, this.more);
  }

  /** Show or hide the listing and its path. */
  set hidden(hidden) {
    this.element.hidden = hidden;
    this.crumbs.hidden = hidden;
  }

  /** List `dir` (normalised, absolute) of `root`. */
  async show(dir, root) {
    const generation = ++this.generation;
    this.dir = dir;
    this.offset = 0;
    this.list.replaceChildren();
    this.#renderCrumbs(dir, root);
    await this.#loadPage(generation);
  }

  /** The row of the entry `name`, if listed. */
  row(name) {
    return [...this.list.querySelectorAll(".files-entry")].find((b) => b.dataset.name === name);
  }

  async #loadPage(generation = this.generation) {
    let listing;
    try {
      listing = await this.api.directory(this.dir, this.offset, PAGE);
    } catch (err) {
      if (generation === this.generation) this.#message(err.message);
      return;
    }
    if (generation !== this.generation) return;
    for (const entry of listing.entries) this.list.append(this.#entryRow(entry));
    if (!listing.total) this.#message("(empty)");
    this.offset += listing.entries.length;
    this.more.hidden = this.offset >= listing.total;
  }

  #message(text) {
    this.list.replaceChildren(el("li", "files-message", text));
    this.more.hidden = true;
  }

  #entryRow(entry) {
    const li = el("li");
    const row = button("files-entry");
    row.dataset.type = entry.type;
    row.dataset.name = entry.name;
    const when = new Date(entry.mtime * 1000);
    row.append(
      el("span", "icon", ICONS[entry.type] ?? ""),
      el("span", "name", entry.name + (entry.type === "directory" ? "/" : "")),
      el("span", "size", formatSize(entry.size)),
      el("span", "mtime", when.toLocaleString()),
    );
    row.title = entry.name;
    const path = `${this.dir === "/" ? "" : this.dir}/${entry.name}`;
    row.addEventListener("click", () => {
      if (entry.type === "directory") this.hooks.browse(path);
      else if (entry.type === "file") this.hooks.view(path);
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
      b.addEventListener("click", () => this.hooks.browse(target));
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
}
