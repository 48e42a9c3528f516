// One watched session: a single-use ticket, then an EventSource; commands go
// out with the stream's session token and an increasing `seq`. Reconnects
// with backoff, and at once when the tab becomes visible or the network
// comes back.

import { eventsUrl } from "./api.js";
import { HttpError } from "./http.js";

export const EVENT_TYPES = [
  "connection-info", "state", "output", "pane-reset",
  "window-added", "window-closed", "window-renamed", "window-selected",
  "window-flags", "layout", "pane-added", "pane-closed", "pane-selected", "pane-changed",
  "session-renamed", "exit",
  "size-claim",
  // Every stream carries every pane's state and the notifications (overview.js, notifications.js).
  "pane-state", "notification", "notification-cleared",
];

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;
// After this long hidden (a laptop asleep, a phone in a pocket) the socket
// may be dead without the browser knowing: reconnect on return.
const STALE_AFTER_HIDDEN_MS = 30_000;
// A timer that fires this much late means the machine was asleep.
const SLEEP_GAP_MS = 20_000;
const TICK_MS = 5_000;

/**
 * Status values passed to onStatus(status, detail):
 * "connecting" | "open" | "retrying" (detail: delay ms) | "offline" |
 * "closed" (detail: reason; the session ended) | "unauthorized" |
 * "missing" (the session does not exist any more)
 */
export class Connection {
  #api;
  #session;
  // The id of the last event seen, so a reconnect can resume exactly where
  // the old stream stopped (the server replays what was missed, or sends a
  // fresh state when it no longer can).
  #lastEventId = "";
  #onEvent;
  #onStatus;
  #es = null;
  #generation = 0;
  #sessionToken = null;
  #seq = 0;
  #attempt = 0;
  #retryTimer = null;
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
    this.#listen(document, "visibilitychange", () => this.#onVisibility());
    this.#listen(window, "online", () => this.reconnectNow());
    // Going offline usually leaves a dead socket that still looks open.
    // Start over: a loopback server still answers, others back off until
    // the "online" event.
    this.#listen(window, "offline", () => this.reconnectNow());
    const tick = setInterval(() => this.#onTick(), TICK_MS);
    this.#listeners.push(() => clearInterval(tick));
    this.#connect();
  }

  dispose() {
    this.#stopped = true;
    this.#closeStream();
    clearTimeout(this.#retryTimer);
    for (const remove of this.#listeners) remove();
    this.#listeners = [];
  }

  /** Drop the current stream (if any) and open a fresh one now. */
  reconnectNow() {
    if (this.#stopped) return;
    clearTimeout(this.#retryTimer);
    this.#closeStream();
    this.#attempt = 0;
    this.#connect();
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
      // 403: the stream behind this session token is gone; get a new one.
      if (err.status === 403 && token === this.#sessionToken) this.reconnectNow();
      throw err;
    });
  }

  #listen(target, type, handler) {
    target.addEventListener(type, handler);
    this.#listeners.push(() => target.removeEventListener(type, handler));
  }

  async #connect() {
    const generation = ++this.#generation;
    this.#onStatus("connecting");
    let ticket;
    try {
      ticket = (await this.#api.ticket()).ticket;
    } catch (err) {
      if (generation !== this.#generation || this.#stopped) return;
      if (err.status === 401) {
        this.#stopped = true;
        this.#onStatus("unauthorized", err.message);
      } else {
        this.#scheduleRetry();
      }
      return;
    }
    if (generation !== this.#generation || this.#stopped) return;
    const es = new EventSource(eventsUrl(this.#session, ticket, this.#lastEventId));
    this.#es = es;
    let gotInfo = false;
    for (const type of EVENT_TYPES) {
      es.addEventListener(type, (message) => {
        if (generation !== this.#generation) return;
        if (message.lastEventId) this.#lastEventId = message.lastEventId;
        let data;
        try {
          data = JSON.parse(message.data);
        } catch {
          return;
        }
        if (type === "connection-info") {
          gotInfo = true;
          this.#opened(data);
        } else if (type === "session-renamed") {
          this.#session = data.name;
        }
        this.#onEvent(type, data);
        if (type === "exit") this.#ended(data.reason);
      });
    }
    es.onerror = () => {
      if (generation !== this.#generation) return;
      // EventSource would retry with the same, already used, ticket.
      this.#closeStream();
      if (!gotInfo) this.#checkSessionThenRetry();
      else this.#scheduleRetry();
    };
  }

  #opened(info) {
    this.#sessionToken = info.session_token;
    this.#session = info.session.name;
    this.#seq = 0;
    this.#attempt = 0;
    this.#onStatus("open");
  }

  #ended(reason) {
    this.#stopped = true;
    this.#lastEventId = "";
    this.#closeStream();
    this.#onStatus("closed", reason);
  }

  #closeStream() {
    this.#generation++;
    this.#sessionToken = null;
    if (this.#es) {
      this.#es.close();
      this.#es = null;
    }
  }

  // A stream refused before its first event may mean the session is gone
  // (404), which EventSource cannot tell us; ask, rather than loop.
  async #checkSessionThenRetry() {
    const generation = this.#generation;
    if (this.#session !== null) {
      try {
        const { sessions } = await this.#api.sessions();
        if (generation !== this.#generation || this.#stopped) return;
        if (!sessions.some((s) => s.name === this.#session)) {
          this.#stopped = true;
          this.#onStatus("missing", this.#session);
          return;
        }
      } catch (err) {
        if (err.status === 401) {
          this.#stopped = true;
          this.#onStatus("unauthorized", err.message);
          return;
        }
      }
    }
    this.#scheduleRetry();
  }

  #scheduleRetry() {
    if (this.#stopped) return;
    clearTimeout(this.#retryTimer);
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.#attempt);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.#attempt++;
    this.#onStatus(navigator.onLine === false ? "offline" : "retrying", delay);
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
  }

  #onVisibility() {
    if (document.visibilityState === "hidden") {
      this.#hiddenAt = Date.now();
      return;
    }
    const hiddenFor = this.#hiddenAt === null ? 0 : Date.now() - this.#hiddenAt;
    this.#hiddenAt = null;
    if (this.#es === null || hiddenFor > STALE_AFTER_HIDDEN_MS) this.reconnectNow();
  }

  #onTick() {
    const now = Date.now();
    const gap = now - this.#lastTick;
    this.#lastTick = now;
    if (gap > SLEEP_GAP_MS && document.visibilityState === "visible") this.reconnectNow();
  }
}
