// How big things are. Looking never changes tmux's sizes: the current
// window is shown at the size tmux gives it, its font scaled down until its
// width fits (to a readable minimum, then panned), or zoomed with a pinch.
// Only "Fit to this screen" asks tmux for this screen's size (a `resize`,
// which claims the session's size, DATA-FLOW "Window sizes"); while this page
// holds the claim its viewport changes follow it. Also: the page's height as
// the visual viewport sees it (phones' keyboards) and the key row.

import { fitCells } from "./layout.js";

const FONT_KEY = "tmuxweb.fontSize";
const CLAIM_DEBOUNCE_MS = 150;
const MIN_FONT = 8; // the readable minimum: below it, the window is panned
const MAX_FONT = 32;
const FONT_STEP = 0.5;

export const touchQuery = window.matchMedia("(pointer: coarse), (max-width: 640px)");

export function initialFontSize() {
  const stored = Number(localStorage.getItem(FONT_KEY));
  if (stored >= MIN_FONT && stored <= MAX_FONT) return stored;
  return touchQuery.matches ? 12 : 14;
}

const clampFont = (size) => Math.min(MAX_FONT, Math.max(MIN_FONT, size));
const stepDown = (size) => Math.floor(size / FONT_STEP) * FONT_STEP;

export class Sizing {
  /**
   * workspace; element: its root; keyRow: the key row element; fitButton:
   * the "Fit to this screen" button; command(c); connected(); canClaim():
   * may this connection change sizes (not a read-only one).
   */
  constructor({ workspace, element, keyRow, fitButton, command, connected, canClaim }) {
    this.workspace = workspace;
    this.element = element;
    this.keyRow = keyRow;
    this.fitButton = fitButton;
    this.command = command;
    this.connected = connected;
    this.canClaim = canClaim;
    this.preferred = workspace.fontSize; // A−/A+; the largest a fitted window gets
    this.zoom = null; // a pinch's font size, or null: fit the width
    this.connectionId = null;
    this.claim = null; // the session's size claim (size-claim event), or null
    this.claimed = null; // the cells this page last claimed
    this.timer = null;
    this.frame = 0;
    this.tooBig = { key: "", font: Infinity }; // the smallest font that overflowed
  }

  /** Follow the viewport and the pointer type from now on. */
  listen() {
    const update = () => {
      const height = window.visualViewport ? window.visualViewport.height : window.innerHeight;
      document.documentElement.style.setProperty("--app-height", `${Math.round(height)}px`);
      this.viewportChanged();
    };
    window.addEventListener("resize", update);
    window.addEventListener("orientationchange", update);
    window.visualViewport?.addEventListener("resize", update);
    update();
    const updateKeyRow = () => { this.keyRow.hidden = !touchQuery.matches; this.viewportChanged(); };
    touchQuery.addEventListener("change", updateKeyRow);
    updateKeyRow();
    this.#showClaim();
  }

  /** The window is wider than the page: a horizontal swipe pans it. */
  get panned() {
    return this.element.scrollWidth > this.element.clientWidth + 1;
  }

  // ---- the font: preferred (A−/A+), fitted, zoomed ----

  stepFont(delta) {
    this.setFontSize(this.preferred + delta);
  }

  setFontSize(size) {
    size = clampFont(Math.round(size));
    this.zoom = null;
    if (size === this.preferred) return this.refit();
    this.preferred = size;
    localStorage.setItem(FONT_KEY, String(size));
    this.viewportChanged();
  }

  /** A pinch: zoom in from the fitted size (panning), or back out to it. */
  zoomBy(scale) {
    const size = clampFont(Math.round(this.workspace.fontSize * scale / FONT_STEP) * FONT_STEP);
    this.zoom = size > this.#fitFont() ? size : null;
    this.refit();
  }

  /** The font that shows the current window's width in the workspace. */
  #fitFont() {
    const win = this.workspace.windows.get(this.workspace.activeWindow);
    const cell = this.workspace.cellSize();
    const width = this.element.clientWidth;
    if (!win || !cell || !width || !win.width) return this.preferred;
    // Cell widths are rounded to device pixels, so the ratio only estimates;
    // a font that overflowed this width before is never tried again.
    const estimate = stepDown((width * this.workspace.fontSize) / (win.width * cell.width));
    const key = `${width}:${win.width}`;
    const ceiling = this.tooBig.key === key ? this.tooBig.font - FONT_STEP : Infinity;
    return clampFont(Math.min(this.preferred, estimate, ceiling));
  }

  /** Re-apply the font after anything that changes the fit (next frame, once). */
  refit() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.#refit();
    });
  }

  #refit() {
    const ws = this.workspace;
    const win = ws.windows.get(ws.activeWindow);
    const cell = ws.cellSize();
    if (win && cell && this.zoom === null && ws.fontSize > MIN_FONT) {
      const width = this.element.clientWidth;
      if (win.width * cell.width > width + 0.5) {
        this.tooBig = { key: `${width}:${win.width}`, font: ws.fontSize };
      }
    }
    const size = this.zoom ?? this.#fitFont();
    if (size !== ws.fontSize) ws.setFontSize(size);
    this.#showClaim();
  }

  // ---- the size claim ----

  /**
   * connection-info. A new connection holds no claim; if the stream that
   * just ended held one, the server keeps it a few seconds (claim_grace) and
   * the new connection renews it, unless it has passed on meanwhile.
   */
  connectedAs(info) {
    const renew = this.holding && this.claimed ? { renew: this.connectionId, ...this.claimed } : null;
    this.connectionId = info.connection_id;
    this.claimed = null;
    this.#showClaim();
    if (renew && this.canClaim()) {
      this.claimed = { cols: renew.cols, rows: renew.rows };
      this.command({ type: "resize", ...renew });
    }
  }

  /** The claim from a state or a size-claim event. */
  setClaim(claim) {
    this.claim = claim ?? null;
    if (!this.holding) this.claimed = null;
    this.#showClaim();
    this.refit();
  }

  get holding() {
    return Boolean(this.claim && this.connectionId && this.claim.connection === this.connectionId);
  }

  /**
   * This page's claim is what the current window shows (tmux may have given
   * the size to a terminal whose person typed since: DATA-FLOW "Window sizes").
   */
  get inForce() {
    const win = this.workspace.windows.get(this.workspace.activeWindow);
    return Boolean(this.holding && win && win.width === this.claim.cols && win.height === this.claim.rows);
  }

  /** The Fit button: claim this screen's size, or give it back if it is in force. */
  toggleClaim() {
    if (!this.canClaim() || !this.connected()) return;
    if (this.inForce) {
      this.command({ type: "release-size" });
    } else {
      this.claimNow();
    }
  }

  /**
   * Ask tmux for the cells that fit this screen at the preferred font (a
   * holder whose screen still fits the same cells asks nothing unless `force`).
   */
  claimNow(force = true) {
    this.zoom = null;
    const ws = this.workspace;
    if (ws.fontSize !== this.preferred) ws.setFontSize(this.preferred);
    const cell = ws.cellSize();
    const box = this.element.getBoundingClientRect();
    if (!cell || box.width === 0) return;
    const { cols, rows } = fitCells(box.width, box.height, cell);
    if (!force && this.claimed && this.claimed.cols === cols && this.claimed.rows === rows) return;
    this.claimed = { cols, rows };
    this.command({ type: "resize", cols, rows });
  }

  /** The viewport or the preferred font changed: refit; a holder claims anew. */
  viewportChanged() {
    this.refit();
    if (!this.holding) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.holding && this.connected()) this.claimNow(false);
    }, CLAIM_DEBOUNCE_MS);
  }

  #showClaim() {
    const button = this.fitButton;
    if (!button) return;
    button.disabled = !this.canClaim();
    button.setAttribute("aria-pressed", String(this.inForce));
    button.title = this.inForce
      ? "The tmux window fits this screen (click to give the size back)"
      : this.holding
        ? "Fit the tmux window to this screen again (a terminal has taken the size since)"
        : this.claim
          ? `Fit the tmux window to this screen (now ${this.claim.cols}×${this.claim.rows} for another screen)`
          : "Fit the tmux window to this screen (changes its size for everyone)";
  }
}
