// The SharedWorker that all tabs of this browser holding the same access
// token share (streamlink.js names it after the token): it owns their one
// event stream (streamhub.js) and relays each tab's watcher to that tab's
// port. A browser keeps six HTTP/1.1 connections per host; one stream per
// tab left the seventh tab without any (DATA-FLOW.md, "Tabs share one stream").

import { StreamHub } from "./streamhub.js";

// The app's URL: this script is served from <app>/static/.
const BASE = new URL("../", self.location.href).href;
// With no tab left, the stream stays this long for a reload to reuse.
const IDLE_CLOSE_MS = 5_000;
// Held for as long as this worker lives: a tab that asks for it after
// `ready` is granted it only when the worker is gone (crashed, killed).
const LOCK = `${self.name}-alive`;
// Event text posted to a tab and not yet acknowledged by it. A tab that the
// browser froze acknowledges nothing; past this much its watchers are ended
// (they resume from their last event when the tab runs again), so a frozen
// tab never makes the worker hold a flood in memory.
const UNACKED_MAX = 4 * 1024 * 1024;

let hub = null;
let alive = !self.navigator.locks; // without Web Locks there is no signal to give
const waiting = [];

self.navigator.locks?.request(LOCK, () => {
  alive = true;
  for (const port of waiting.splice(0)) port.postMessage({ type: "ready", lock: LOCK });
  return new Promise(() => {}); // never released while the worker runs
});

self.addEventListener("connect", (event) => {
  const port = event.ports[0];
  const subs = new Set();
  let tabLock = null;
  let unacked = 0;
  const deliver = (message) => {
    if (message.type === "events") {
      const size = message.events.reduce((sum, [, text]) => sum + text.length, 0);
      message.size = size;
      unacked += size;
      if (unacked > UNACKED_MAX) return park();
    }
    return port.postMessage(message);
  };
  // Behind everything already queued for the tab: each watcher is told to
  // start again, from the last event the tab will by then have seen.
  const park = () => {
    for (const sub of subs) port.postMessage({ type: "lost", sub });
    forget();
    unacked = 0;
  };
  const forget = () => {
    for (const sub of subs) hub?.detach(sub);
    subs.clear();
  };
  port.addEventListener("message", ({ data }) => {
    switch (data?.type) {
      case "hello":
        hub ??= new StreamHub(BASE, data.token, { idleCloseMs: IDLE_CLOSE_MS });
        // The name is a hash of the token: never serve another token's tab.
        if (data.token !== hub.token) return port.postMessage({ type: "refused" });
        if (alive) return port.postMessage({ type: "ready", lock: self.navigator.locks ? LOCK : null });
        return waiting.push(port);
      case "attach":
        if (!hub) return undefined;
        subs.add(data.sub);
        return hub.attach(data.sub, data.session, data.lastEventId, deliver);
      case "detach":
        subs.delete(data.sub);
        return hub?.detach(data.sub);
      case "wake": return hub?.wake();
      case "reconnect": return hub?.reconnectNow();
      case "ack":
        unacked = Math.max(0, unacked - data.size);
        return undefined;
      case "bye": return forget();
      case "tab-lock":
        // Granted once the tab is gone (closed, crashed) or gave it back.
        tabLock = data.lock;
        if (!data.lock) return undefined; // given back before the back-forward cache
        return self.navigator.locks?.request(data.lock, () => {
          if (tabLock === data.lock) forget();
        });
      default: return undefined;
    }
  });
  port.start();
});
