// One tmux pane shown by one xterm.js Terminal, sized exactly to the pane.

import { mirrorStyles } from "./csp-styles.js"; // first: it adapts the DOM for xterm
import { Terminal } from "./vendor/xterm/xterm.mjs";
import { WebglAddon } from "./vendor/addon-webgl/addon-webgl.mjs";
import { Unicode11Addon } from "./vendor/addon-unicode11/addon-unicode11.mjs";
import { WebLinksAddon } from "./vendor/addon-web-links/addon-web-links.mjs";

export const FONT_FAMILY =
  'ui-monospace, "DejaVu Sans Mono", "Cascadia Mono", Menlo, Consolas, "Liberation Mono", monospace';

// The DOM renderer is the default: it works everywhere, and csp-styles.js
// makes it work under our CSP. WebGL is faster but is opt-in
// (localStorage "tmuxweb.renderer" = "webgl"): xterm 6's WebGL renderer
// drew no glyphs at devicePixelRatio 2 in the headless Chromium we test
// with. Browsers keep only ~16 WebGL contexts per page, so terminals of
// hidden windows give theirs up when needed.
const MAX_WEBGL = 12;
const liveWebgl = new Set(); // PaneTerminals holding a context
let webglBroken = localStorage.getItem("tmuxweb.renderer") !== "webgl" || !probeWebgl2();

function probeWebgl2() {
  try {
    return Boolean(document.createElement("canvas").getContext("webgl2"));
  } catch {
    return false;
  }
}

/**
 * tmux is the terminal the pane's program talks to, and it already answers
 * the program's queries. Our xterm sees the same bytes and would answer
 * again, and those answers would be sent to the pane as typed input. Swallow
 * every query that xterm.js would reply to.
 */
function silenceReplies(term) {
  const csi = [
    { final: "c" }, { prefix: ">", final: "c" }, { prefix: "=", final: "c" }, // DA1/DA2/DA3
    { final: "n" }, { prefix: "?", final: "n" }, // DSR, CPR
    { intermediates: "$", final: "p" }, { prefix: "?", intermediates: "$", final: "p" }, // DECRQM
    { final: "t" }, // window reports
    { prefix: ">", final: "q" }, // XTVERSION
  ];
  const disposables = csi.map((id) => term.parser.registerCsiHandler(id, () => true));
  disposables.push(term.parser.registerDcsHandler({ intermediates: "$", final: "q" }, () => true)); // DECRQSS
  for (const ident of [4, 10, 11, 12, 17, 19]) {
    disposables.push(term.parser.registerOscHandler(ident, (data) => data.includes("?")));
  }
  return disposables;
}

export class PaneTerminal {
  /**
   * pane: a Pane from the protocol. hooks: onData(paneId, data),
   * onFocus(paneId), openLink(url), onOsc52(paneId, payload).
   */
  constructor(pane, { fontSize, theme, hooks }) {
    this.id = pane.id;
    this.hooks = hooks;
    this.element = document.createElement("div");
    this.element.className = "tmux-pane";
    this.element.dataset.pane = pane.id;
    this.opened = false;
    this.visible = false;
    this.webgl = null;
    this.disposables = [];
    this.term = new Terminal({
      cols: Math.max(pane.width, 1),
      rows: Math.max(pane.height, 1),
      fontSize,
      fontFamily: FONT_FAMILY,
      theme,
      scrollback: 5000,
      allowProposedApi: true, // needed by the unicode11 addon
      macOptionIsMeta: true,
      cursorBlink: false,
      drawBoldTextInBrightColors: true,
      linkHandler: {
        activate: (_event, uri) => hooks.openLink(uri),
        allowNonHttpProtocols: false,
      },
    });
    const unicode = new Unicode11Addon();
    this.term.loadAddon(unicode);
    this.term.unicode.activeVersion = "11";
    this.term.loadAddon(new WebLinksAddon((_event, uri) => hooks.openLink(uri)));
    this.disposables.push(
      ...silenceReplies(this.term),
      this.term.parser.registerOscHandler(52, (data) => {
        hooks.onOsc52(this.id, data);
        return true;
      }),
      this.term.onData((data) => hooks.onData(this.id, data)),
    );
    this.write(pane.content);
  }

  /** Attach to the page the first time the pane's window is shown. */
  open() {
    if (this.opened) return;
    this.opened = true;
    this.visible = true;
    // Loaded before open(), WebGL replaces the DOM renderer before it exists.
    this.#enableWebgl();
    this.term.open(this.element);
    this.unmirror = mirrorStyles(this.element);
    const focus = () => this.hooks.onFocus(this.id);
    this.term.textarea?.addEventListener("focus", focus);
    this.disposables.push({ dispose: () => this.term.textarea?.removeEventListener("focus", focus) });
  }

  setVisible(visible) {
    this.visible = visible;
    if (!visible) return;
    if (!this.opened) this.open();
    else this.#enableWebgl();
  }

  #enableWebgl() {
    if (this.webgl || webglBroken) return;
    if (liveWebgl.size >= MAX_WEBGL) {
      const idle = [...liveWebgl].find((other) => !other.visible);
      if (!idle) return; // this one stays on the DOM renderer
      idle.#disableWebgl();
    }
    try {
      const addon = new WebglAddon();
      // Fall back to the DOM renderer; the next show tries WebGL again.
      addon.onContextLoss(() => this.#disableWebgl());
      this.term.loadAddon(addon);
      this.webgl = addon;
      liveWebgl.add(this);
    } catch {
      webglBroken = true;
    }
  }

  #disableWebgl() {
    if (!this.webgl) return;
    const addon = this.webgl;
    this.webgl = null;
    liveWebgl.delete(this);
    addon.dispose();
  }

  write(data, callback) {
    this.term.write(data, callback);
  }

  reset(pane) {
    this.term.reset();
    this.resize(pane.width, pane.height);
    this.write(pane.content);
  }

  resize(cols, rows) {
    cols = Math.max(cols, 1);
    rows = Math.max(rows, 1);
    if (cols !== this.term.cols || rows !== this.term.rows) this.term.resize(cols, rows);
  }

  setOptions(options) {
    Object.assign(this.term.options, options);
  }

  /** CSS pixel size of one cell, or null before the terminal is rendered. */
  cellSize() {
    if (!this.opened) return null;
    // The same private field @xterm/addon-fit reads; exact, including the
    // renderer's device-pixel rounding.
    const cell = this.term._core?._renderService?.dimensions?.css?.cell;
    if (cell && cell.width > 0 && cell.height > 0) return { width: cell.width, height: cell.height };
    const screen = this.element.querySelector(".xterm-screen");
    if (!screen) return null;
    const rect = screen.getBoundingClientRect();
    if (rect.width === 0 || rect.height === 0) return null;
    return { width: rect.width / this.term.cols, height: rect.height / this.term.rows };
  }

  focus() {
    this.term.focus();
  }

  get focused() {
    return this.opened && document.activeElement === this.term.textarea;
  }

  /** The screen (not the scrolled-back view) as text lines, trailing blanks trimmed. */
  text() {
    const buffer = this.term.buffer.active;
    const lines = [];
    for (let y = 0; y < this.term.rows; y++) {
      const line = buffer.getLine(buffer.baseY + y);
      lines.push(line ? line.translateToString(true) : "");
    }
    return lines.join("\n");
  }

  dispose() {
    for (const d of this.disposables) d.dispose();
    this.disposables = [];
    this.#disableWebgl();
    this.term.dispose();
    this.unmirror?.();
    this.element.remove();
  }
}
