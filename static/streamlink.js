// How a tab reaches the shared event stream (DATA-FLOW.md, "Tabs share one
// stream"): through the SharedWorker all tabs with this token share, or,
// where the browser has none (Chrome on Android), a StreamHub of the tab's
// own that holds its connection only while the page is visible.
//
// A link: attach(sub, session, lastEventId, sink), detach(sub), wake(),
// reconnectNow(), pause() before the page goes into the back-forward cache,
// and `{type: "lost", sub}` given to every sink when the worker died.

import { StreamHub } from "./streamhub.js";
import { streamWorkerUrl } from "./trusted.js";

// A hidden page without the worker gives its connection back after this
// long (a phone keeps one tab visible), and resumes on being shown.
const HIDDEN_RELEASE_MS = 10_000;

let link = null;

/** This page's link for `token` (one per page, shared by its connections). */
export function streamLink(token) {
  if (link?.token !== token) link = makeLink(token);
  return link;
}

function makeLink(token) {
  if (typeof SharedWorker === "function") {
    try {
      return new WorkerLink(token);
    } catch {
      // refused (CSP, a browser setting): the page holds its own stream
    }
  }
  return new LocalLink(token);
}

// Not a secret and not for security: it only keeps the tabs of different
// tokens apart, and the worker checks the token itself.
function nameFor(token) {
  let h1 = 0xdeadbeef, h2 = 0x41c6ce57;
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return `tmuxweb-stream-${(h2 >>> 0).toString(16)}${(h1 >>> 0).toString(16)}`;
}

class WorkerLink {
  #port = null;
  #sinks = new Map();
  #lock = null;
  #watching = null; // AbortController of the wait for the worker's end
  #local = null; // set when the worker refused this token
  #releaseTab = null; // ends this tab's own lock (below)

  constructor(token) {
    this.token = token;
    this.#start();
    window.addEventListener("pageshow", (event) => {
      if (!event.persisted) return;
      this.#holdTab();
      this.#watch();
    });
  }

  #start() {
    const worker = new SharedWorker(streamWorkerUrl(), { type: "module", name: nameFor(this.token) });
    this.#port = worker.port;
    this.#port.onmessage = ({ data }) => this.#message(data);
    this.#port.postMessage({ type: "hello", token: this.token });
    this.#holdTab();
  }

  // A lock held for as long as this tab lives, which the worker waits for:
  // the browser releases it with the tab, even one whose renderer crashed
  // (no pagehide then), and the worker then ends the tab's watchers.
  #holdTab() {
    this.#releaseTab?.();
    this.#releaseTab = null;
    if (!navigator.locks) return;
    const lock = `${nameFor(this.token)}-tab-${crypto.getRandomValues(new Uint32Array(2)).join("")}`;
    const port = this.#port;
    navigator.locks.request(lock, () => new Promise((release) => {
      this.#releaseTab = release;
      port.postMessage({ type: "tab-lock", lock });
    }));
  }

  #message(message) {
    if (message.type === "ready") {
      this.#lock = message.lock;
      return this.#watch();
    }
    if (message.type === "refused") return this.#useLocal();
    if (message.type === "events") this.#port.postMessage({ type: "ack", size: message.size });
    return this.#sinks.get(message.sub)?.(message);
  }

  // Wait for the worker's lock: granted only once the worker is gone.
  #watch() {
    if (!this.#lock || !navigator.locks || this.#watching) return;
    const watching = new AbortController();
    this.#watching = watching;
    navigator.locks.request(this.#lock, { signal: watching.signal }, () => {
      if (this.#watching === watching) this.#lost();
    }).catch(() => {}); // aborted
  }

  #lost() {
    this.#watching = null;
    this.#lock = null;
    this.#port.close();
    this.#start();
    for (const [sub, sink] of [...this.#sinks]) sink({ type: "lost", sub });
  }

  #useLocal() {
    this.#local = new LocalLink(this.token);
    for (const [sub, sink] of [...this.#sinks]) sink({ type: "lost", sub });
  }

  attach(sub, session, lastEventId, sink) {
    if (this.#local) return this.#local.attach(sub, session, lastEventId, sink);
    this.#sinks.set(sub, sink);
    return this.#port.postMessage({ type: "attach", sub, session, lastEventId });
  }

  detach(sub) {
    if (this.#local) return this.#local.detach(sub);
    this.#sinks.delete(sub);
    return this.#port.postMessage({ type: "detach", sub });
  }

  wake() {
    if (this.#local) return this.#local.wake();
    return this.#port.postMessage({ type: "wake" });
  }

  reconnectNow() {
    if (this.#local) return this.#local.reconnectNow();
    return this.#port.postMessage({ type: "reconnect" });
  }

  /** Going into the back-forward cache: a waiting lock request would keep it out. */
  pause() {
    this.#watching?.abort();
    this.#watching = null;
    // Held locks keep a page out of the cache too. The worker first forgets
    // the lock, so that its release cannot end watchers attached on pageshow.
    this.#port.postMessage({ type: "tab-lock", lock: null });
    this.#releaseTab?.();
    this.#releaseTab = null;
    this.#local?.pause();
  }
}

class LocalLink {
  #hub;
  #hiddenTimer = null;

  constructor(token) {
    this.token = token;
    this.#hub = new StreamHub(new URL("./", window.location.href).href, token);
    document.addEventListener("visibilitychange", () => this.#visibility());
  }

  #visibility() {
    clearTimeout(this.#hiddenTimer);
    if (document.visibilityState === "hidden") {
      this.#hiddenTimer = setTimeout(() => this.#hub.suspend(), HIDDEN_RELEASE_MS);
    } else {
      this.#hub.resume();
    }
  }

  attach(sub, session, lastEventId, sink) {
    this.#hub.attach(sub, session, lastEventId, sink);
  }

  detach(sub) {
    this.#hub.detach(sub);
  }

  wake() {
    this.#hub.resume();
    this.#hub.wake();
  }

  reconnectNow() {
    this.#hub.reconnectNow();
  }

  pause() {
    this.#hub.suspend();
  }
}
