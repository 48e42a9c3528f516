// One shared event stream (GET /mux) and the watchers on it, one per tab
// (DATA-FLOW.md, "Tabs share one stream"). It runs in the SharedWorker
// (stream-worker.js) that every tab of this browser with the same token
// talks to, or, where there is no SharedWorker, in the page itself
// (streamlink.js). It knows no DOM: what it delivers goes to a `sink`
// function per watcher, which posts it to the tab or calls it directly.
//
// The stream is read with fetch, not EventSource: fetch sends the token in
// a header (no ticket, nothing secret in a URL), and a frame without an
// `id:` line must not inherit another watcher's id, as EventSource's
// lastEventId would make it.

import { request } from "./http.js";

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;
// The server sends a comment at least every 15 s: a stream silent for
// longer is dead (a laptop that slept, a network that changed).
const SILENT_MS = 40_000;
// Coming back (a page shown again, a machine awake): a stream that has not
// been heard from for longer than a heartbeat and a margin is not trusted.
const STALE_MS = 20_000;

/**
 * Messages given to a sink, each for one watcher (`sub`):
 * {type: "events", sub, events: [[name, json text, id or null], …]} in order;
 * {type: "status", sub, status, detail}: "connecting" | "retrying" (detail:
 * ms) | "offline" | "unauthorized" | "missing" (detail: the session).
 */
export class StreamHub {
  #base;
  #token;
  #idleCloseMs;
  #subs = new Map(); // sub -> {session, lastEventId, sink, attached, timer}
  #muxToken = null;
  #abort = null;
  #generation = 0;
  #attempt = 0;
  #retryTimer = null;
  #idleTimer = null;
  #silenceTimer = null;
  #stopped = false;
  #suspended = false;
  #heardAt = 0;

  /** base: the app's URL (a sub-path under a reverse proxy); token: the access token. */
  constructor(base, token, { idleCloseMs = 0 } = {}) {
    this.#base = base;
    this.#token = token;
    this.#idleCloseMs = idleCloseMs;
  }

  get token() {
    return this.#token;
  }

  get open() {
    return this.#muxToken !== null;
  }

  /** Start (or resume) watcher `sub` of `session` (null: the default one). */
  attach(sub, session, lastEventId, sink) {
    if (this.#stopped) return sink({ type: "status", sub, status: "unauthorized" });
    this.detach(sub);
    clearTimeout(this.#idleTimer);
    const entry = { session, lastEventId: lastEventId || null, sink, attached: false, timer: null };
    this.#subs.set(sub, entry);
    if (this.#muxToken !== null) this.#attachOne(sub, entry);
    else {
      sink({ type: "status", sub, status: "connecting" });
      if (this.#abort === null && this.#retryTimer === null && !this.#suspended) this.#connect();
    }
  }

  detach(sub) {
    const entry = this.#subs.get(sub);
    if (!entry) return;
    this.#subs.delete(sub);
    clearTimeout(entry.timer);
    if (entry.attached && this.#muxToken !== null) {
      this.#post("mux/detach", { sub }).catch(() => {}); // gone with the stream anyway
    }
    if (this.#subs.size === 0) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = setTimeout(() => this.#close(), this.#idleCloseMs);
    }
  }

  /** Drop the stream and open a fresh one now; every watcher resumes. */
  reconnectNow() {
    if (this.#stopped) return;
    this.#close();
    this.#attempt = 0;
    if (this.#subs.size && !this.#suspended) this.#connect();
  }

  /**
   * The page is back (visible again, the machine awake): connect now rather
   * than at the end of a backoff, and replace a stream gone silent.
   */
  wake() {
    if (this.#stopped || this.#suspended || this.#subs.size === 0) return;
    if (this.#retryTimer !== null) this.#connect();
    else if (this.#muxToken !== null && Date.now() - this.#heardAt > STALE_MS) this.reconnectNow();
  }

  /** Hold no connection (a hidden page): watchers resume on `resume()`. */
  suspend() {
    this.#suspended = true;
    this.#close();
  }

  resume() {
    if (!this.#suspended) return;
    this.#suspended = false;
    this.reconnectNow();
  }

  #close() {
    this.#generation++;
    this.#muxToken = null;
    this.#abort?.abort();
    this.#abort = null;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#silenceTimer);
    this.#retryTimer = null;
    for (const entry of this.#subs.values()) {
      entry.attached = false;
      clearTimeout(entry.timer);
    }
  }

  #url(path) {
    return new URL(path, this.#base).href;
  }

  #post(path, json) {
    return request(this.#token, this.#url(path), {
      method: "POST",
      json,
      headers: { "X-Mux-Token": this.#muxToken },
    });
  }

  #status(status, detail) {
    for (const [sub, entry] of this.#subs) entry.sink({ type: "status", sub, status, detail });
  }

  async #connect() {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    const generation = ++this.#generation;
    const abort = new AbortController();
    this.#abort = abort;
    this.#status("connecting");
    let response;
    try {
      response = await fetch(this.#url("mux"), {
        headers: { Authorization: `Bearer ${this.#token}`, Accept: "text/event-stream" },
        cache: "no-store",
        credentials: "same-origin",
        redirect: "error",
        signal: abort.signal,
      });
    } catch {
      if (generation === this.#generation) this.#retry();
      return;
    }
    if (generation !== this.#generation) return;
    if (response.status === 401) return this.#unauthorized();
    if (!response.ok || !response.body) return this.#retry();
    try {
      await this.#read(response.body, generation);
    } catch {
      // a reset connection, or our own abort
    }
    if (generation === this.#generation) this.#retry();
  }

  async #read(body, generation) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    this.#heard(generation);
    for (;;) {
      const { value, done } = await reader.read();
      if (done || generation !== this.#generation) return;
      this.#heard(generation);
      // Only the server's ping comments end lines with CR LF; event JSON
      // never holds a raw CR.
      buffer += value.includes("\r") ? value.replaceAll("\r", "") : value;
      const end = buffer.lastIndexOf("\n\n");
      if (end < 0) continue;
      const frames = buffer.slice(0, end).split("\n\n");
      buffer = buffer.slice(end + 2);
      this.#dispatch(frames);
    }
  }

  #heard(generation) {
    this.#heardAt = Date.now();
    clearTimeout(this.#silenceTimer);
    this.#silenceTimer = setTimeout(() => {
      if (generation === this.#generation) this.reconnectNow();
    }, SILENT_MS);
  }

  // Frames of one read, delivered as one message per watcher, in order.
  #dispatch(frames) {
    const batches = new Map();
    for (const frame of frames) {
      let name = "message", id = null;
      const data = [];
      for (const line of frame.split("\n")) {
        if (line === "" || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") name = value;
        else if (field === "id") id = value;
        else if (field === "data") data.push(value);
      }
      if (data.length === 1 && name === "mux-info") this.#opened(data[0]);
      else if (data.length === 2) this.#collect(batches, data[0], name, data[1], id);
    }
    for (const [sub, events] of batches) {
      const entry = this.#subs.get(sub);
      if (entry) entry.sink({ type: "events", sub, events });
    }
  }

  #collect(batches, sub, name, text, id) {
    const entry = this.#subs.get(sub);
    if (!entry) return; // detached meanwhile
    if (id) entry.lastEventId = id;
    if (name === "detached") {
      entry.attached = false;
      this.#attachLater(sub, entry, BACKOFF_MIN_MS);
      return;
    }
    if (name === "connection-info" || name === "session-renamed") {
      // Attach again to the session by its name, never as "the default".
      try {
        const data = JSON.parse(text);
        entry.session = name === "connection-info" ? data.session.name : data.name;
      } catch {
        // the tab's own parse reports it
      }
    }
    let batch = batches.get(sub);
    if (!batch) batches.set(sub, (batch = []));
    batch.push([name, text, id]);
    if (name === "exit") {
      // The server ended this watcher: deliver, then forget it.
      queueMicrotask(() => this.#subs.get(sub) === entry && this.#subs.delete(sub));
    }
  }

  #opened(text) {
    try {
      this.#muxToken = JSON.parse(text).mux_token;
    } catch {
      return;
    }
    this.#attempt = 0;
    for (const [sub, entry] of this.#subs) this.#attachOne(sub, entry);
  }

  async #attachOne(sub, entry) {
    const generation = this.#generation;
    clearTimeout(entry.timer);
    try {
      await this.#post("mux/attach", { sub, session: entry.session, last_event_id: entry.lastEventId });
      if (this.#subs.get(sub) === entry && generation === this.#generation) entry.attached = true;
      else if (generation === this.#generation) this.#post("mux/detach", { sub }).catch(() => {});
    } catch (err) {
      if (this.#subs.get(sub) !== entry || generation !== this.#generation) return;
      if (err.status === 401) return this.#unauthorized();
      if (err.status === 404) {
        this.#subs.delete(sub);
        return entry.sink({ type: "status", sub, status: "missing", detail: entry.session });
      }
      // 403: the server no longer knows this stream; open another.
      if (err.status === 403) return this.reconnectNow();
      this.#attachLater(sub, entry, this.#backoff(1));
    }
  }

  #attachLater(sub, entry, delay) {
    clearTimeout(entry.timer);
    entry.sink({ type: "status", sub, status: "retrying", detail: delay });
    entry.timer = setTimeout(() => {
      if (this.#subs.get(sub) === entry && this.#muxToken !== null) this.#attachOne(sub, entry);
    }, delay);
  }

  #backoff(attempt) {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }

  #retry() {
    this.#close();
    if (this.#stopped || this.#suspended || this.#subs.size === 0) return;
    const delay = this.#backoff(this.#attempt++);
    this.#status(globalThis.navigator?.onLine === false ? "offline" : "retrying", delay);
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
  }

  #unauthorized() {
    this.#stopped = true;
    this.#close();
    this.#status("unauthorized");
    this.#subs.clear();
  }
}
