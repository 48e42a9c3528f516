// One watched session: a watcher on the browser's shared stream
// (streamlink.js); commands go out with the watcher's own session token and
// an increasing `seq`. It resumes from its last event whenever the watcher
// starts again: after the shared stream dropped, the worker died, the page
// came back from the back-forward cache or the network came back.

import { HttpError } from "./http.js";
import { streamLink } from "./streamlink.js";

export const EVENT_TYPES = [
  "connection-info", "state", "output", "pane-reset",
  "window-added", "window-closed", "window-renamed", "window-selected",
  "window-flags", "layout", "pane-added", "pane-closed", "pane-selected", "pane-changed",
  "session-renamed", "exit",
  "size-claim",
  // Every stream carries every pane's state and the notifications (overview.js, notifications.js).
  "pane-state", "notification", "notification-cleared",
];

// After this long hidden (a laptop asleep, a phone in a pocket) the socket
// may be dead without the browser knowing: check it on return.
const STALE_AFTER_HIDDEN_MS = 30_000;
// A timer that fires this much late means the machine was asleep.
const SLEEP_GAP_MS = 20_000;
const TICK_MS = 5_000;

let subCount = 0;
// Watcher ids: unique within the shared stream, which all tabs share.
const newSub = () => `${crypto.getRandomValues(new Uint32Array(2)).join("")}-${++subCount}`.slice(-32);

/**
 * Status values passed to onStatus(status, detail):
 * "connecting" | "open" | "retrying" (detail: delay ms) | "offline" |
 * "closed" (detail: reason; the session ended) | "unauthorized" |
 * "missing" (the session does not exist any more)
 */
export class Connection {
  #api;
  #session;
  // The id of the last event seen, so a watcher started again resumes
  // exactly where the old one stopped (the server replays what was missed,
  // or sends a fresh state when it no longer can).
  #lastEventId = "";
  #onEvent;
  #onStatus;
  #link = null;
  #sub = null;
  #sessionToken = null;
  #seq = 0;
  #stopped = false;
  #hiddenAt = null;
  #lastTick = Date.now();
  #listeners = [];

  /** session: a name, or null for the server's default session. */
  constructor(api, session, { onEvent, onStatus }) {
    this.#api = api;
    this.#session = session;
    this.#onEvent = onEvent;
    this.#onStatus = onStatus;
  }

  get session() {
    return this.#session;
  }

  get connected() {
    return this.#sessionToken !== null;
  }

  start() {
    this.#link = streamLink(this.#api.token);
    this.#listen(document, "visibilitychange", () => this.#onVisibility());
    // Going offline usually leaves a dead socket that still looks open;
    // coming online, the old one is surely dead. Start over.
    this.#listen(window, "online", () => this.#link.reconnectNow());
    this.#listen(window, "offline", () => this.#link.reconnectNow());
    // Closed, or into the back-forward cache: give the watcher back now
    // (the worker would otherwise feed a page that is gone or not running);
    // out of the cache, resume from the last event.
    this.#listen(window, "pagehide", (event) => {
      this.#detach();
      if (event.persisted) this.#link.pause();
    });
    this.#listen(window, "pageshow", (event) => {
      if (!event.persisted || this.#stopped) return;
      this.#link.wake();
      this.#attach();
    });
    const tick = setInterval(() => this.#onTick(), TICK_MS);
    this.#listeners.push(() => clearInterval(tick));
    this.#attach();
  }

  dispose() {
    this.#stopped = true;
    this.#detach();
    for (const remove of this.#listeners) remove();
    this.#listeners = [];
  }

  /** Drop this watcher (if any) and start a fresh one now, resuming. */
  reconnectNow() {
    if (this.#stopped) return;
    this.#detach();
    this.#attach();
  }

  /**
   * Fire a command without waiting for earlier ones: `seq` makes the server
   * run them in order. Rejects with HttpError.
   */
  send(command) {
    const token = this.#sessionToken;
    if (token === null) return Promise.reject(new HttpError(0, "not connected"));
    const seq = ++this.#seq;
    return this.#api.command(this.#session, token, { ...command, seq }).catch((err) => {
      // 403: the watcher behind this session token is gone; start another.
      if (err.status === 403 && token === this.#sessionToken) this.reconnectNow();
      throw err;
    });
  }

  #listen(target, type, handler) {
    target.addEventListener(type, handler);
    this.#listeners.push(() => target.removeEventListener(type, handler));
  }

  #attach() {
    const sub = newSub();
    this.#sub = sub;
    this.#onStatus("connecting");
    this.#link.attach(sub, this.#session, this.#lastEventId, (message) => {
      if (sub === this.#sub) this.#message(sub, message);
    });
  }

  #detach() {
    if (this.#sub !== null) this.#link?.detach(this.#sub);
    this.#sub = null;
    this.#sessionToken = null;
  }

  #message(sub, message) {
    if (message.type === "events") {
      for (const [type, text, id] of message.events) {
        if (sub !== this.#sub) return; // ended or restarted by an earlier event
        this.#event(type, text, id);
      }
    } else if (message.type === "lost") {
      this.reconnectNow();
    } else if (message.type === "status") {
      this.#status(message.status, message.detail);
    }
  }

  #event(type, text, id) {
    if (id) this.#lastEventId = id;
    if (!EVENT_TYPES.includes(type)) return;
    let data;
    try {
      data = JSON.parse(text);
    } catch {
      return;
    }
    if (type === "connection-info") this.#opened(data);
    else if (type === "session-renamed") this.#session = data.name;
    this.#onEvent(type, data);
    if (type === "exit") this.#ended(data.reason);
  }

  #status(status, detail) {
    this.#sessionToken = null;
    if (status === "unauthorized") {
      this.#stopped = true;
      this.#onStatus("unauthorized", detail);
    } else if (status === "missing") {
      this.#stopped = true;
      this.#onStatus("missing", this.#session);
    } else {
      this.#onStatus(status, detail);
    }
  }

  #opened(info) {
    this.#sessionToken = info.session_token;
    this.#session = info.session.name;
    this.#seq = 0;
    this.#onStatus("open");
  }

  #ended(reason) {
    this.#stopped = true;
    this.#lastEventId = "";
    this.#sub = null;
    this.#sessionToken = null;
    this.#onStatus("closed", reason);
  }

  #onVisibility() {
    if (document.visibilityState === "hidden") {
      this.#hiddenAt = Date.now();
      return;
    }
    const hiddenFor = this.#hiddenAt === null ? 0 : Date.now() - this.#hiddenAt;
    this.#hiddenAt = null;
    // Shown again: connect now if the stream is down or was given back,
    // and replace it if it has gone silent.
    if (hiddenFor > STALE_AFTER_HIDDEN_MS || !this.connected) this.#link.wake();
  }

  #onTick() {
    const now = Date.now();
    const gap = now - this.#lastTick;
    this.#lastTick = now;
    if (gap > SLEEP_GAP_MS && document.visibilityState === "visible") this.#link.wake();
  }
}
