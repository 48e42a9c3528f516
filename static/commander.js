// Sending commands for the user: typing (through the key row's latches and
// the tmux prefix), key bindings run one after another, tmux's copy-mode
// prompts asked in a dialog, and pastes. A command failing is one toast per
// burst, not one per keystroke.

import { ask, toast } from "./ui.js";

// Stay under the server's 64 KiB body limit even after JSON escaping.
const PASTE_CHUNK = 8000;
const ERROR_TOAST_GAP_MS = 1000;

/** Failures the connection indicator shows already (0), or that reconnecting handles (403). */
function shownElsewhere(err) {
  return err.status === 0 || err.status === 403;
}

export class Commander {
  /**
   * connection(): the current Connection or null; workspace; prefix: the
   * Prefix; modifiers(data): data with the key row's Ctrl/Alt applied.
   */
  constructor({ connection, workspace, prefix, modifiers }) {
    this.connection = connection;
    this.workspace = workspace;
    this.prefix = prefix;
    this.modifiers = modifiers;
    this.errorShown = 0;
    this.lastSearch = ""; // the last copy-mode search, offered again
    // Key bindings run one after another; typing that follows a binding
    // waits for it (it may have made another pane the active one).
    this.bindingQueue = Promise.resolve();
    this.bindingsBusy = 0;
  }

  command(command) {
    const connection = this.connection();
    if (!connection?.connected) return;
    connection.send(command).then((reply) => {
      if (reply?.ok === false && reply.ask) this.#copyPrompt(connection, reply.ask);
    }, (err) => {
      if (shownElsewhere(err)) return;
      const now = Date.now();
      if (now - this.errorShown < ERROR_TOAST_GAP_MS) return;
      this.errorShown = now;
      toast(err.message, { error: true });
    });
  }

  /** Data typed into a pane's terminal. */
  input(pane, data) {
    const text = this.prefix.data(this.modifiers(data));
    if (!text) return;
    if (this.bindingsBusy) {
      // Typed after a key binding that is still running: it goes where the
      // binding left the focus (a new window, another pane).
      this.afterBindings(() => this.command({ type: "input", pane: this.workspace.activePaneId() ?? pane, text }));
    } else {
      this.command({ type: "input", pane, text });
    }
  }

  /** The key row's keys (tmux names) into the active pane. */
  keys(keys) {
    if (keys.length === 1 && this.prefix.key(keys[0])) return;
    this.afterBindings(() => this.command({ type: "keys", pane: this.workspace.activePaneId(), keys }));
  }

  afterBindings(run) {
    if (this.bindingsBusy) this.bindingQueue = this.bindingQueue.then(run);
    else run();
  }

  /** The key typed after the prefix: run tmux's binding for it. */
  binding(key) {
    if (!this.connection()?.connected) return;
    this.bindingsBusy++;
    this.bindingQueue = this.bindingQueue
      .then(() => this.#runBinding(key))
      .finally(() => { this.bindingsBusy--; });
  }

  async #runBinding(key) {
    const connection = this.connection();
    const pane = this.workspace.activePaneId();
    const command = pane ? { type: "binding", key, pane } : { type: "binding", key };
    try {
      const reply = await connection.send(command);
      if (reply?.ok === false && typeof reply.confirm === "string") {
        const yes = await ask(reply.confirm, { ok: "Yes", cancel: "No", yesNo: true });
        this.workspace.focusActive();
        if (yes && connection === this.connection() && connection.connected) {
          await connection.send({ ...command, confirmed: true });
        }
      }
    } catch (err) {
      if (shownElsewhere(err)) return;
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
    if (!text || connection !== this.connection() || !connection.connected) return;
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

  /**
   * Capture-phase listeners on the terminals' ancestor, so they run before
   * xterm's own: the prefix and the key after it never reach the pane as
   * input, and a paste becomes one `paste` command (bracketed when the
   * program asked for it) instead of typed input.
   */
  listen(element) {
    element.addEventListener("keydown", (event) => {
      if (!this.connection()?.connected || !this.prefix.keydown(event)) return;
      event.preventDefault();
      event.stopImmediatePropagation();
    }, true);
    element.addEventListener("paste", (event) => {
      event.preventDefault();
      event.stopImmediatePropagation();
      this.paste(event.clipboardData?.getData("text/plain") ?? "");
    }, true);
  }
}
