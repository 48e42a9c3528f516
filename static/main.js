// Wiring only: token → API → connection → workspace, toolbar, tabs, keys.

import { takeToken, forgetToken } from "./auth.js";
import { Api } from "./api.js";
import { Connection } from "./connection.js";
import { Workspace } from "./workspace.js";
import { fitCells } from "./layout.js";
import { renderTabs } from "./tabs.js";
import { SessionPicker } from "./sessions.js";
import { KeyRow } from "./keyrow.js";
import { Prefix } from "./prefix.js";
import { handleOsc52, preview, setWritesEnabled, writesEnabled } from "./clipboard.js";
import { watchGestures } from "./gestures.js";
import { currentTheme, watchTheme } from "./theme.js";
import { ask, showApp, showPage, showStatus, toast } from "./ui.js";
import { FilePanel } from "./files/panel.js";

const $ = (id) => document.getElementById(id);
const FONT_KEY = "tmuxweb.fontSize";
const SESSION_KEY = "tmuxweb.session";
const RESIZE_DEBOUNCE_MS = 150;
// Stay under the server's 64 KiB body limit even after JSON escaping.
const PASTE_CHUNK = 8000;

const touchQuery = window.matchMedia("(pointer: coarse), (max-width: 640px)");

function initialFontSize() {
  const stored = Number(localStorage.getItem(FONT_KEY));
  if (stored >= 8 && stored <= 32) return stored;
  return touchQuery.matches ? 12 : 14;
}

class App {
  constructor(token) {
    this.api = new Api(token);
    this.connection = null;
    this.info = null;
    this.lastSize = null;
    this.resizeTimer = null;
    this.outputHooks = new Set();
    this.errorShown = 0;
    this.lastSearch = ""; // the last copy-mode search, offered again
    this.osc52Hinted = false;
    // Key bindings run one after another; typing that follows a binding
    // waits for it (it may have made another pane the active one).
    this.bindingQueue = Promise.resolve();
    this.bindingsBusy = 0;
    this.workspace = new Workspace($("workspace"), {
      fontSize: initialFontSize(),
      theme: currentTheme(),
      hooks: {
        onData: (pane, data) => this.input(pane, data),
        onFocus: (pane) => this.command({ type: "select-pane", pane }),
        openLink: (url) => openLink(url),
        onOsc52: (pane, payload) => this.osc52(pane, payload),
        onWindowsChanged: () => this.renderTabs(),
        resizePane: null, // set when the server advertises "resize-pane"
      },
    });
    this.picker = new SessionPicker($("session-picker"), {
      list: () => this.api.sessions(),
      onSwitch: (name) => this.connect(name),
      onCreate: () => this.createSession(),
    });
    this.prefix = new Prefix({
      indicator: $("prefix-indicator"),
      button: $("prefix-key"),
      onKey: (key) => this.binding(key),
    });
    this.keyRow = new KeyRow($("keyrow"), {
      sendKeys: (keys) => {
        if (keys.length === 1 && this.prefix.key(keys[0])) return;
        this.#afterBindings(() => this.command({ type: "keys", pane: this.workspace.activePaneId(), keys }));
      },
      prefix: () => this.prefix.press(),
      refocus: () => this.workspace.focusActive(),
    });
    this.files = new FilePanel(token, {
      panel: $("files-panel"),
      button: $("files-button"),
      onClose: () => this.workspace.focusActive(),
    });
  }

  start() {
    showApp();
    this.#bindToolbar();
    this.#showOsc52Toggle();
    this.#bindViewport();
    this.#bindPaste();
    this.#bindPrefix();
    watchTheme((theme) => this.workspace.setTheme(theme));
    watchGestures($("workspace"), {
      onSwipe: (step) => this.stepWindow(step),
      onPinch: (scale) => this.setFontSize(Math.round(this.workspace.fontSize * scale)),
    });
    const updateKeyRow = () => { $("keyrow").hidden = !touchQuery.matches; this.scheduleResize(); };
    touchQuery.addEventListener("change", updateKeyRow);
    updateKeyRow();
    this.#exposeForTests();
    this.files.start().then(() => this.files.linkPanes(this.workspace.panes));
    this.connect(sessionStorage.getItem(SESSION_KEY));
  }

  // ---- connection ----

  connect(session) {
    this.connection?.dispose();
    this.prefix.setKeys([]);
    this.workspace.clear();
    this.lastSize = null;
    showApp();
    this.connection = new Connection(this.api, session, {
      onEvent: (type, data) => this.onEvent(type, data),
      onStatus: (state, detail) => this.onStatus(state, detail),
    });
    this.connection.start();
  }

  onStatus(state, detail) {
    showStatus(state, detail);
    if (state === "unauthorized") {
      forgetToken();
      showPage({
        title: "The access token was refused",
        text: "The server answered 401: this link's token is not (or no longer) valid. "
          + "tmuxweb makes a new token when it starts unless it reads one from its token file.",
        help: true,
      });
    } else if (state === "missing") {
      sessionStorage.removeItem(SESSION_KEY);
      toast(`Session "${detail}" no longer exists; opening the default session.`);
      this.connect(null);
    } else if (state === "closed") {
      showPage({
        title: "The session ended",
        text: detail || "tmux closed the session.",
        action: { label: "Open the default session", run: () => { sessionStorage.removeItem(SESSION_KEY); this.connect(null); } },
      });
    }
  }

  onEvent(type, data) {
    const ws = this.workspace;
    // The file panel resolves relative paths printed in a pane against the
    // pane's directory, and links them in every new terminal.
    if (type === "pane-changed" && typeof data.current_path === "string") {
      const pane = ws.panes.get(data.pane);
      if (pane) pane.info.current_path = data.current_path;
    }
    if (type === "state" || type === "pane-added" || type === "pane-reset") {
      queueMicrotask(() => this.files.linkPanes(ws.panes));
    }
    switch (type) {
      case "connection-info": return this.#connected(data);
      case "state": ws.load(data); return this.scheduleResize(true);
      case "output": return ws.output(data.pane, data.data, this.outputHooks.size ? () => this.#notifyOutput(data) : undefined);
      case "pane-reset": return ws.resetPane(data.pane);
      case "window-added": return ws.addWindow(data.window);
      case "window-closed": return ws.removeWindow(data.window);
      case "window-renamed": return ws.renameWindow(data.window, data.name);
      case "window-flags": return ws.setWindowFlags(data.window, data);
      case "window-selected": return ws.selectWindow(data.window);
      case "layout": return ws.setLayout(data);
      case "pane-added": return ws.addPane(data.pane);
      case "pane-closed": return ws.removePane(data.pane);
      case "pane-selected": return ws.selectPane(data.window, data.pane);
      case "pane-changed": return ws.paneChanged(data);
      case "session-renamed": return this.#sessionNamed(data.name);
      default: return undefined;
    }
  }

  #connected(info) {
    this.info = info;
    this.lastSize = null;
    const capabilities = new Set(info.capabilities ?? []);
    this.workspace.hooks.resizePane = capabilities.has("resize-pane")
      ? (pane, direction, cells) => this.command({ type: "resize-pane", pane, direction, cells })
      : null;
    // Without the server's `binding` command the prefix key goes to the
    // program like any other key.
    this.prefix.setKeys(capabilities.has("binding") && Array.isArray(info.prefix) ? info.prefix : []);
    this.#sessionNamed(info.session.name);
    this.#showOsc52Toggle();
  }

  /** May this connection type? Unknown (an older server, not yet connected) is no. */
  get canWrite() {
    return this.info?.scope === "write" || this.info?.scope === "owner";
  }

  #sessionNamed(name) {
    sessionStorage.setItem(SESSION_KEY, name);
    this.picker.setCurrent(name);
    document.title = `${name} · tmuxweb`;
  }

  #notifyOutput(data) {
    for (const hook of this.outputHooks) hook(data.pane, data.data);
  }

  // ---- commands ----

  command(command) {
    if (!this.connection?.connected) return;
    const connection = this.connection;
    connection.send(command).then((reply) => {
      if (reply?.ok === false && reply.ask) this.#copyPrompt(connection, reply.ask);
    }, (err) => {
      if (err.status === 0 || err.status === 403) return; // the indicator shows it; reconnect handles 403
      const now = Date.now();
      if (now - this.errorShown < 1000) return; // one toast per burst of failing keystrokes
      this.errorShown = now;
      toast(err.message, { error: true });
    });
  }

  input(pane, data) {
    const text = this.prefix.data(this.keyRow.apply(data));
    if (!text) return;
    if (this.bindingsBusy) {
      // Typed after a key binding that is still running: it goes where the
      // binding left the focus (a new window, another pane).
      this.#afterBindings(() => this.command({ type: "input", pane: this.workspace.activePaneId() ?? pane, text }));
    } else {
      this.command({ type: "input", pane, text });
    }
  }

  #afterBindings(run) {
    if (this.bindingsBusy) this.bindingQueue = this.bindingQueue.then(run);
    else run();
  }

  /** The key typed after the prefix: run tmux's binding for it. */
  binding(key) {
    if (!this.connection?.connected) return;
    this.bindingsBusy++;
    this.bindingQueue = this.bindingQueue
      .then(() => this.#runBinding(key))
      .finally(() => { this.bindingsBusy--; });
  }

  async #runBinding(key) {
    const connection = this.connection;
    const pane = this.workspace.activePaneId();
    const command = pane ? { type: "binding", key, pane } : { type: "binding", key };
    try {
      const reply = await connection.send(command);
      if (reply?.ok === false && typeof reply.confirm === "string") {
        const yes = await ask(reply.confirm, { ok: "Yes", cancel: "No", yesNo: true });
        this.workspace.focusActive();
        if (yes && connection === this.connection && connection.connected) {
          await connection.send({ ...command, confirmed: true });
        }
      }
    } catch (err) {
      if (err.status === 0 || err.status === 403) return; // the indicator shows it; reconnect handles 403
      // Refused (not translatable, unbound, tmux said no): say so, with the key.
      toast(`${this.prefix.label} ${key} — ${err.message}`, { error: true });
    }
  }

  /**
   * A key that opens a tmux prompt in copy mode (search, jump, go to line):
   * tmux's own prompt would wait for an answer its control client can never
   * give, so the server asks us to ask, and runs the non-interactive form.
   */
  async #copyPrompt(connection, question) {
    const text = await ask(question.prompt, {
      input: question.takes === "text" ? this.lastSearch : "",
      ok: question.takes === "text" ? "Search" : "Go",
    });
    this.workspace.focusActive();
    if (!text || connection !== this.connection || !connection.connected) return;
    if (question.takes === "text") this.lastSearch = text;
    const answer = question.takes === "char" ? [...text][0] : text.trim();
    this.command({ type: "copy-prompt", pane: question.pane, command: question.command, text: answer });
  }

  paste(text) {
    const pane = this.workspace.activePaneId();
    if (!pane || !text) return;
    for (let i = 0; i < text.length; i += PASTE_CHUNK) {
      this.command({ type: "paste", pane, text: text.slice(i, i + PASTE_CHUNK) });
    }
  }

  async osc52(pane, payload) {
    await handleOsc52(payload, {
      canWrite: this.canWrite,
      ask: (message) => ask(message, { ok: "Allow" }),
      reply: (text) => this.command({ type: "input", pane, text }),
      copied: (text) => toast(`Pane ${pane} copied to your clipboard: ${preview(text)}`, {
        actions: [{ label: "Stop allowing this", run: () => this.setOsc52Writes(false) }],
      }),
      refused: () => this.#osc52Hint(pane),
      paneLabel: pane,
    });
    this.workspace.focusActive();
  }

  /** Once a page load: a program tried to copy, and the setting kept it out. */
  #osc52Hint(pane) {
    if (this.osc52Hinted || !this.canWrite) return;
    this.osc52Hinted = true;
    toast(`The program in pane ${pane} tried to copy to your clipboard; that is off. `
      + "The \u2398 button in the toolbar lets programs copy.");
  }

  setOsc52Writes(on) {
    setWritesEnabled(on);
    this.#showOsc52Toggle();
  }

  #showOsc52Toggle() {
    const button = $("osc52-toggle");
    const on = writesEnabled();
    button.disabled = !this.canWrite;
    button.setAttribute("aria-pressed", String(on && this.canWrite));
    button.title = !this.canWrite
      ? "Read-only connection: programs can never copy to your clipboard"
      : on
        ? "Programs may copy to your clipboard (OSC 52); each copy is shown. Click to stop."
        : "Programs may not copy to your clipboard (OSC 52). Click to allow.";
  }

  stepWindow(step) {
    if (this.workspace.windows.size < 2) return; // tmux would answer "no next window"
    this.command({ type: step > 0 ? "next-window" : "previous-window" });
  }

  async createSession() {
    const name = await ask("Name of the new session:", { input: "", ok: "Create" });
    if (!name) return;
    try {
      const created = await this.api.createSession(name);
      this.connect(created.name);
    } catch (err) {
      toast(`Could not create the session: ${err.message}`, { error: true });
    }
  }

  async action(name) {
    const ws = this.workspace;
    const pane = ws.activePaneId();
    const win = ws.windows.get(ws.activeWindow);
    switch (name) {
      case "prev-window": return this.stepWindow(-1);
      case "next-window": return this.stepWindow(1);
      case "new-window": return this.command({ type: "new-window" });
      case "split-horizontal": return pane && this.command({ type: "split", pane, direction: "horizontal" });
      case "split-vertical": return pane && this.command({ type: "split", pane, direction: "vertical" });
      case "zoom": return pane && this.command({ type: "zoom", pane });
      case "font-smaller": return this.setFontSize(ws.fontSize - 1);
      case "font-larger": return this.setFontSize(ws.fontSize + 1);
      case "keyboard": return ws.focusActive();
      case "osc52": return this.canWrite && this.setOsc52Writes(!writesEnabled());
      case "kill-pane": {
        if (!pane) return undefined;
        const command = ws.panes.get(pane)?.info.current_command || "";
        const ok = await ask(`Close pane ${pane}${command ? ` (${command})` : ""}? Its program will be killed.`, { ok: "Close pane" });
        if (ok) this.command({ type: "kill-pane", pane });
        return ws.focusActive();
      }
      case "rename-window": {
        if (!win) return undefined;
        const newName = await ask("Rename window to:", { input: win.name, ok: "Rename" });
        if (newName && newName !== win.name) this.command({ type: "rename-window", window: win.id, name: newName });
        return ws.focusActive();
      }
      default: return undefined;
    }
  }

  // ---- size ----

  setFontSize(size) {
    size = Math.min(32, Math.max(8, size));
    if (size === this.workspace.fontSize) return;
    localStorage.setItem(FONT_KEY, String(size));
    this.workspace.setFontSize(size);
    this.scheduleResize();
  }

  /** Tell tmux how many cells fit in the workspace, debounced. */
  scheduleResize(force = false) {
    if (force) this.lastSize = null;
    clearTimeout(this.resizeTimer);
    this.resizeTimer = setTimeout(() => this.#sendResize(), force ? 0 : RESIZE_DEBOUNCE_MS);
  }

  #sendResize() {
    const cell = this.workspace.cellSize();
    const box = $("workspace").getBoundingClientRect();
    if (!cell || box.width === 0 || !this.connection?.connected) {
      // Not rendered yet; the next state or resize brings us back.
      if (this.connection?.connected && this.workspace.panes.size) this.scheduleResize();
      return;
    }
    const { cols, rows } = fitCells(box.width, box.height, cell);
    if (this.lastSize && this.lastSize.cols === cols && this.lastSize.rows === rows) return;
    this.lastSize = { cols, rows };
    this.command({ type: "resize", cols, rows });
  }

  renderTabs() {
    const ws = this.workspace;
    renderTabs($("tabs"), ws.sortedWindows(), ws.activeWindow, (id) => {
      if (id !== ws.activeWindow) this.command({ type: "select-window", window: id });
      ws.focusActive();
    });
  }

  // ---- DOM bindings ----

  #bindToolbar() {
    const toolbar = $("toolbar");
    // Buttons must not take the focus (and on phones close the keyboard).
    toolbar.addEventListener("pointerdown", (event) => {
      if (event.target.closest("button")) event.preventDefault();
    });
    toolbar.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (button) this.action(button.dataset.action);
    });
  }

  #bindViewport() {
    const update = () => {
      const height = window.visualViewport ? window.visualViewport.height : window.innerHeight;
      document.documentElement.style.setProperty("--app-height", `${Math.round(height)}px`);
      this.scheduleResize();
    };
    window.addEventListener("resize", update);
    window.addEventListener("orientationchange", update);
    window.visualViewport?.addEventListener("resize", update);
    update();
  }

  #bindPrefix() {
    // Capture phase on an ancestor: sees a key before xterm does, so the
    // prefix and the key after it never reach the pane as input.
    $("workspace").addEventListener("keydown", (event) => {
      if (!this.connection?.connected || !this.prefix.keydown(event)) return;
      event.preventDefault();
      event.stopImmediatePropagation();
    }, true);
  }

  #bindPaste() {
    // Capture phase on an ancestor: runs before xterm's own paste handler,
    // so a paste becomes one `paste` command (bracketed when the program
    // asked for it) instead of typed input.
    $("workspace").addEventListener("paste", (event) => {
      event.preventDefault();
      event.stopImmediatePropagation();
      this.paste(event.clipboardData?.getData("text/plain") ?? "");
    }, true);
  }

  #exposeForTests() {
    const ws = this.workspace;
    // Read-only accessors for the browser tests and the latency benchmark.
    window.__tmuxweb = Object.freeze({
      paneText: (id) => ws.panes.get(id)?.term.text() ?? null,
      paneSize: (id) => {
        const term = ws.panes.get(id)?.term.term;
        return term ? [term.cols, term.rows] : null;
      },
      cellSize: () => ws.cellSize(),
      panes: () => [...ws.panes.keys()],
      activePane: () => ws.activePaneId(),
      activeWindow: () => ws.activeWindow,
      connected: () => Boolean(this.connection?.connected),
      resumed: () => this.info?.resumed === true,
      prefixPending: () => this.prefix.pending,
      onOutput: (hook) => {
        this.outputHooks.add(hook);
        return () => this.outputHooks.delete(hook);
      },
    });
  }
}

/** Open http(s) links only, in a new tab that cannot reach back to us. */
function openLink(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    toast(`Not opening a ${parsed.protocol} link.`);
    return;
  }
  const a = document.createElement("a");
  a.href = parsed.href;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  a.click();
}

function main() {
  // Pasting a new link into this tab changes only the fragment: no reload.
  window.addEventListener("hashchange", () => {
    if (new URLSearchParams(window.location.hash.slice(1)).has("token")) {
      takeToken();
      window.location.reload();
    }
  });
  const token = takeToken();
  if (!token) {
    showPage({
      title: "tmuxweb needs its link",
      text: "This page was opened without an access token.",
      help: true,
    });
    return;
  }
  new App(token).start();
}

main();
