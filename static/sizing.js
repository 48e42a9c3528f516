// How big things are: the font size (kept per browser), the page's height
// as the visual viewport sees it (phones' keyboards), the key row on touch
// screens, and telling tmux how many cells fit, debounced.

import { fitCells } from "./layout.js";

const FONT_KEY = "tmuxweb.fontSize";
const RESIZE_DEBOUNCE_MS = 150;
const MIN_FONT = 8;
const MAX_FONT = 32;

export const touchQuery = window.matchMedia("(pointer: coarse), (max-width: 640px)");

export function initialFontSize() {
  const stored = Number(localStorage.getItem(FONT_KEY));
  if (stored >= MIN_FONT && stored <= MAX_FONT) return stored;
  return touchQuery.matches ? 12 : 14;
}

export class Sizing {
  /** workspace; element: its root; keyRow: the key row element; command(c); connected(). */
  constructor({ workspace, element, keyRow, command, connected }) {
    this.workspace = workspace;
    this.element = element;
    this.keyRow = keyRow;
    this.command = command;
    this.connected = connected;
    this.lastSize = null;
    this.timer = null;
  }

  /** Follow the viewport and the pointer type from now on. */
  listen() {
    const update = () => {
      const height = window.visualViewport ? window.visualViewport.height : window.innerHeight;
      document.documentElement.style.setProperty("--app-height", `${Math.round(height)}px`);
      this.schedule();
    };
    window.addEventListener("resize", update);
    window.addEventListener("orientationchange", update);
    window.visualViewport?.addEventListener("resize", update);
    update();
    const updateKeyRow = () => { this.keyRow.hidden = !touchQuery.matches; this.schedule(); };
    touchQuery.addEventListener("change", updateKeyRow);
    updateKeyRow();
  }

  setFontSize(size) {
    size = Math.min(MAX_FONT, Math.max(MIN_FONT, size));
    if (size === this.workspace.fontSize) return;
    localStorage.setItem(FONT_KEY, String(size));
    this.workspace.setFontSize(size);
    this.schedule();
  }

  /** tmux's size is not known (a new connection): the next resize is sent even if unchanged. */
  forget() {
    this.lastSize = null;
  }

  /** Tell tmux how many cells fit in the workspace, debounced (at once if `force`). */
  schedule(force = false) {
    if (force) this.lastSize = null;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.#send(), force ? 0 : RESIZE_DEBOUNCE_MS);
  }

  #send() {
    const cell = this.workspace.cellSize();
    const box = this.element.getBoundingClientRect();
    if (!cell || box.width === 0 || !this.connected()) {
      // Not rendered yet; the next state or resize brings us back.
      if (this.connected() && this.workspace.panes.size) this.schedule();
      return;
    }
    const { cols, rows } = fitCells(box.width, box.height, cell);
    if (this.lastSize && this.lastSize.cols === cols && this.lastSize.rows === rows) return;
    this.lastSize = { cols, rows };
    this.command({ type: "resize", cols, rows });
  }
}
