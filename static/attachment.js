// The session this tab shows: one Connection at a time (a new one on
// switching sessions), what its status means for the page (a refused
// token, a session gone or ended), and its events applied in order.

import { forgetToken } from "./auth.js";
import { Connection } from "./connection.js";
import { applyEvent } from "./events.js";
import { showApp, showPage, showStatus, toast } from "./ui.js";

const SESSION_KEY = "tmuxweb.session"; // per tab: sessionStorage

export class Attachment {
  /**
   * api: the Api; workspace; picker: the SessionPicker; hooks:
   * reset() before a connection starts, connected(info) on connection-info,
   * state(state) after a full state, sizeClaim(claim) on size-claim,
   * panesAdded() after terminals may have been made, output(pane, data) for
   * each output event (or null: none wanted), named(title) when the
   * session's name (the page's title) changes, other(type, data) for events
   * that are not about this session's layout.
   */
  constructor(api, { workspace, picker, hooks }) {
    this.api = api;
    this.workspace = workspace;
    this.picker = picker;
    this.hooks = hooks;
    this.connection = null;
    this.info = null; // the last connection-info
  }

  /** The session remembered by this tab, or null (the server's default). */
  static remembered() {
    return sessionStorage.getItem(SESSION_KEY);
  }

  /** May this connection type? Unknown (an older server, not yet connected) is no. */
  get canWrite() {
    return this.info?.scope === "write" || this.info?.scope === "owner";
  }

  get connected() {
    return Boolean(this.connection?.connected);
  }

  connect(session) {
    this.connection?.dispose();
    this.hooks.reset();
    this.workspace.clear();
    showApp();
    this.connection = new Connection(this.api, session, {
      onEvent: (type, data) => this.#onEvent(type, data),
      onStatus: (state, detail) => this.#onStatus(state, detail),
    });
    this.connection.start();
  }

  #openDefault() {
    sessionStorage.removeItem(SESSION_KEY);
    this.connect(null);
  }

  #onStatus(state, detail) {
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
      toast(`Session "${detail}" no longer exists; opening the default session.`);
      this.#openDefault();
    } else if (state === "closed") {
      showPage({
        title: "The session ended",
        text: detail || "tmux closed the session.",
        action: { label: "Open the default session", run: () => this.#openDefault() },
      });
    }
  }

  #onEvent(type, data) {
    const ws = this.workspace;
    // The file panel resolves relative paths printed in a pane against the
    // pane's directory, and links them in every new terminal.
    if (type === "pane-changed" && typeof data.current_path === "string") {
      const pane = ws.panes.get(data.pane);
      if (pane) pane.info.current_path = data.current_path;
    }
    if (type === "state" || type === "pane-added" || type === "pane-reset") {
      queueMicrotask(() => this.hooks.panesAdded());
    }
    switch (type) {
      case "connection-info": return this.#connected(data);
      case "state": ws.load(data); return this.hooks.state(data);
      case "size-claim": return this.hooks.sizeClaim(data.claim);
      case "session-renamed": return this.#named(data.name);
      case "output": {
        const output = this.hooks.output;
        return applyEvent(ws, type, data, output ? () => output(data.pane, data.data) : undefined);
      }
      case "pane-state":
      case "notification":
      case "notification-cleared": return this.hooks.other(type, data);
      default: return applyEvent(ws, type, data);
    }
  }

  #connected(info) {
    this.info = info;
    this.hooks.connected(info);
    this.#named(info.session.name);
  }

  #named(name) {
    sessionStorage.setItem(SESSION_KEY, name);
    this.picker.setCurrent(name);
    this.hooks.named(`${name} · tmuxweb`);
  }
}
