// The session as tmux has it: windows, their layout, one PaneTerminal per
// pane. Only the current window is on screen; panes of other windows keep
// receiving output into their (unopened or hidden) terminals.

import { PaneTerminal } from "./terminal.js";
import { cellBox, layoutDividers, layoutPanes, dividerHandle } from "./layout.js";

const WINDOW_FIELDS = ["index", "name", "zoomed", "width", "height", "layout", "active_pane"];

export class Workspace {
  /**
   * hooks: onData(paneId, data), onFocus(paneId), openLink(url),
   * onOsc52(paneId, payload), onWindowsChanged(), resizePane(paneId,
   * direction, cells) or null while the server cannot do that;
   * mayFocus() (optional): false while the terminals are covered.
   */
  constructor(root, { fontSize, theme, hooks }) {
    this.root = root;
    this.fontSize = fontSize;
    this.theme = theme;
    this.hooks = hooks;
    this.windows = new Map();
    this.panes = new Map();
    this.activeWindow = null;
    this.cell = null;
    this.termHooks = {
      onData: hooks.onData,
      onFocus: (id) => this.#focused(id),
      openLink: hooks.openLink,
      onOsc52: hooks.onOsc52,
    };
  }

  // ---- whole-state changes ----

  load(state) {
    this.clear();
    for (const win of state.windows) this.addWindow(win, false);
    for (const pane of state.panes) this.addPane(pane, false);
    this.activeWindow = state.active_window;
    this.render();
    this.focusActive();
  }

  clear() {
    for (const pane of this.panes.values()) pane.term.dispose();
    for (const win of this.windows.values()) win.element.remove();
    this.panes.clear();
    this.windows.clear();
    this.activeWindow = null;
    this.hooks.onWindowsChanged();
  }

  // ---- windows ----

  addWindow(info, render = true) {
    const element = document.createElement("div");
    element.className = "tmux-window";
    element.dataset.window = info.id;
    element.hidden = true;
    this.root.append(element);
    const win = { id: info.id, activity: false, bell: false, element };
    for (const key of WINDOW_FIELDS) win[key] = info[key];
    if (info.activity) win.activity = true;
    if (info.bell) win.bell = true;
    this.windows.set(info.id, win);
    if (info.layout) for (const leaf of layoutPanes(info.layout)) this.#adopt(leaf.pane, win);
    if (render) this.render();
    else this.hooks.onWindowsChanged();
  }

  removeWindow(id) {
    const win = this.windows.get(id);
    if (!win) return;
    // The server closes a window's dead panes (pane-closed) before the
    // window. Panes still here were moved to another window (join-pane):
    // keep them for that window's layout event, which adopts them.
    for (const pane of this.panes.values()) {
      if (pane.info.window !== id) continue;
      pane.info.window = null;
      pane.term.setVisible(false);
      pane.term.element.remove();
    }
    win.element.remove();
    this.windows.delete(id);
    if (this.activeWindow === id) this.activeWindow = this.sortedWindows()[0]?.id ?? null;
    this.render();
  }

  renameWindow(id, name) {
    const win = this.windows.get(id);
    if (!win) return;
    win.name = name;
    this.hooks.onWindowsChanged();
  }

  selectWindow(id) {
    if (!this.windows.has(id)) return;
    const hadFocus = this.#hasFocus();
    this.activeWindow = id;
    this.render();
    if (hadFocus) this.focusActive();
  }

  /** tmux's activity and bell flags of a window (the `window-flags` event). */
  setWindowFlags(id, { activity, bell }) {
    const win = this.windows.get(id);
    if (!win) return;
    const next = { activity: Boolean(activity), bell: Boolean(bell) };
    if (win.activity === next.activity && win.bell === next.bell) return;
    Object.assign(win, next);
    this.hooks.onWindowsChanged();
  }

  setLayout({ window: id, layout, zoomed, panes }) {
    const win = this.windows.get(id);
    if (!win) return;
    win.layout = layout;
    win.zoomed = zoomed;
    win.width = layout.width;
    win.height = layout.height;
    for (const geometry of panes) {
      const pane = this.panes.get(geometry.id);
      if (!pane) continue;
      this.#adopt(geometry.id, win);
      Object.assign(pane.info, geometry);
      pane.term.resize(geometry.width, geometry.height);
      if (geometry.active) win.active_pane = geometry.id;
    }
    this.render();
  }

  /**
   * A pane that tmux moved to another window (break-pane, join-pane,
   * move-pane) shows up in that window's layout: move it there.
   */
  #adopt(paneId, win) {
    const pane = this.panes.get(paneId);
    if (!pane || pane.info.window === win.id) return;
    pane.info.window = win.id;
    win.element.append(pane.term.element);
  }

  sortedWindows() {
    return [...this.windows.values()].sort((a, b) => a.index - b.index);
  }

  // ---- panes ----

  addPane(info, render = true) {
    // A pane we already have: the server re-captured it (it may also have
    // moved to another window). Replace it, terminal and all.
    if (this.panes.has(info.id)) this.removePane(info.id, false);
    const term = new PaneTerminal(info, { fontSize: this.fontSize, theme: this.theme, hooks: this.termHooks });
    const { content: _content, ...rest } = info;
    this.panes.set(info.id, { info: rest, term });
    this.windows.get(info.window)?.element.append(term.element);
    if (!render) return;
    const hadFocus = this.#hasFocus();
    this.render();
    // tmux may announce the new pane as active before it announces the pane.
    if (hadFocus && info.id === this.activePaneId()) this.focusActive();
  }

  removePane(id, render = true) {
    const pane = this.panes.get(id);
    if (!pane) return;
    const hadFocus = pane.term.focused;
    pane.term.dispose();
    this.panes.delete(id);
    if (render) this.render();
    if (hadFocus) this.focusActive();
  }

  selectPane(windowId, paneId) {
    const win = this.windows.get(windowId);
    if (!win) return;
    win.active_pane = paneId;
    this.render();
    if (windowId === this.activeWindow && this.#hasFocus()) this.focusActive();
  }

  paneChanged(change) {
    const pane = this.panes.get(change.pane);
    if (!pane) return;
    for (const key of ["title", "current_command", "in_mode", "dead"]) {
      if (key in change) pane.info[key] = change[key];
    }
  }

  output(paneId, data, callback) {
    const pane = this.panes.get(paneId);
    if (!pane) return;
    pane.term.write(data, callback);
  }

  resetPane(info) {
    const pane = this.panes.get(info.id);
    if (!pane) {
      this.addPane(info);
      return;
    }
    const { content: _content, ...rest } = info;
    Object.assign(pane.info, rest);
    pane.term.reset(info);
  }

  // ---- focus ----

  activePaneId() {
    return this.windows.get(this.activeWindow)?.active_pane ?? null;
  }

  focusActive() {
    // Not while the overview covers the terminals (keys would go unseen).
    if (this.hooks.mayFocus && !this.hooks.mayFocus()) return;
    this.panes.get(this.activePaneId())?.term.focus();
  }

  #hasFocus() {
    const active = document.activeElement;
    return !active || active === document.body || this.root.contains(active);
  }

  #focused(paneId) {
    const pane = this.panes.get(paneId);
    const win = pane && this.windows.get(pane.info.window);
    if (!win || win.active_pane === paneId) return;
    win.active_pane = paneId; // tmux confirms with pane-selected
    this.render();
    this.hooks.onFocus(paneId);
  }

  // ---- appearance ----

  setFontSize(size) {
    this.fontSize = size;
    this.cell = null;
    for (const pane of this.panes.values()) pane.term.setOptions({ fontSize: size });
    this.render();
  }

  setTheme(theme) {
    this.theme = theme;
    for (const pane of this.panes.values()) pane.term.setOptions({ theme });
  }

  /** CSS pixels per cell, measured from a rendered terminal; null until one is. */
  cellSize() {
    if (this.cell) return this.cell;
    for (const pane of this.panes.values()) {
      const cell = pane.term.cellSize();
      if (cell) {
        this.cell = cell;
        return cell;
      }
    }
    return null;
  }

  render() {
    const current = this.windows.get(this.activeWindow);
    if (current) {
      current.activity = false;
      current.bell = false;
    }
    for (const win of this.windows.values()) {
      if (win !== current) {
        win.element.hidden = true;
        for (const pane of this.#panesOf(win.id)) pane.term.setVisible(false);
      }
    }
    if (current) this.#renderWindow(current);
    this.hooks.onWindowsChanged();
  }

  #panesOf(windowId) {
    return [...this.panes.values()].filter((pane) => pane.info.window === windowId);
  }

  #renderWindow(win) {
    win.element.hidden = false;
    const panes = this.#panesOf(win.id);
    const shown = win.zoomed ? panes.filter((p) => p.info.id === win.active_pane) : panes;
    for (const pane of panes) {
      const visible = shown.includes(pane);
      pane.term.element.hidden = !visible;
      pane.term.setVisible(visible);
    }
    const cell = this.cellSize();
    if (!cell) return;
    const size = cellBox({ x: 0, y: 0, width: win.width, height: win.height }, cell);
    win.element.style.width = `${size.width}px`;
    win.element.style.height = `${size.height}px`;
    for (const pane of shown) {
      const rect = win.zoomed ? { x: 0, y: 0, width: pane.info.width, height: pane.info.height } : pane.info;
      this.#place(pane.term.element, rect, cell);
    }
    this.#renderBorders(win, cell);
  }

  #place(element, rect, cell) {
    const box = cellBox(rect, cell);
    element.style.left = `${box.left}px`;
    element.style.top = `${box.top}px`;
    element.style.width = `${box.width}px`;
    element.style.height = `${box.height}px`;
  }

  #renderBorders(win, cell) {
    for (const old of win.element.querySelectorAll(".tmux-divider, .tmux-active-frame")) old.remove();
    if (win.zoomed || !win.layout || win.layout.type === "pane") return;
    for (const divider of layoutDividers(win.layout)) {
      const element = document.createElement("div");
      element.className = `tmux-divider ${divider.orientation}`;
      this.#place(element, divider, cell);
      if (this.hooks.resizePane) this.#makeDraggable(element, divider, cell);
      win.element.append(element);
    }
    const active = this.panes.get(win.active_pane);
    if (active) {
      // Half a cell out on each side: the frame runs through the middle of
      // the border cells around the active pane, as tmux colours them.
      const frame = document.createElement("div");
      frame.className = "tmux-active-frame";
      const { x, y, width, height } = active.info;
      const box = cellBox({ x: x - 0.5, y: y - 0.5, width: width + 1, height: height + 1 }, cell);
      frame.style.left = `${box.left}px`;
      frame.style.top = `${box.top}px`;
      frame.style.width = `${box.width + 1}px`;
      frame.style.height = `${box.height + 1}px`;
      win.element.append(frame);
    }
  }

  // Dragging a border N cells sends one `resize-pane` (hooks.resizePane, set
  // when the server has the "resize-pane" capability; without it borders
  // are not draggable). tmux's layout event then redraws the borders.
  #makeDraggable(element, divider, cell) {
    const pane = dividerHandle(divider);
    if (!pane) return;
    element.classList.add("draggable");
    const vertical = divider.orientation === "vertical";
    const size = vertical ? cell.width : cell.height;
    element.addEventListener("pointerdown", (down) => {
      down.preventDefault();
      element.setPointerCapture(down.pointerId);
      const start = vertical ? down.clientX : down.clientY;
      const origin = vertical ? element.offsetLeft : element.offsetTop;
      let cells = 0;
      const move = (event) => {
        cells = Math.round(((vertical ? event.clientX : event.clientY) - start) / size);
        element.style[vertical ? "left" : "top"] = `${origin + cells * size}px`;
      };
      const up = () => {
        element.removeEventListener("pointermove", move);
        element.removeEventListener("pointerup", up);
        element.removeEventListener("pointercancel", up);
        if (cells === 0) return;
        const direction = vertical ? (cells > 0 ? "right" : "left") : (cells > 0 ? "down" : "up");
        this.hooks.resizePane(pane, direction, Math.abs(cells));
      };
      element.addEventListener("pointermove", move);
      element.addEventListener("pointerup", up);
      element.addEventListener("pointercancel", up);
    });
  }
}
