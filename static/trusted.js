// The page's one Trusted Types policy. The CSP (tmuxweb/middleware.py)
// requires Trusted Types for every script sink and names only this policy,
// so a string given to innerHTML, a <script>'s src or `new Worker(...)`
// throws. The sinks we use are the Markdown parser's worker, the service
// worker's registration (notifications.js) and the shared stream's
// SharedWorker (streamlink.js): this policy turns exactly those three URLs,
// and nothing else, into a TrustedScriptURL.

const MARKDOWN_WORKER = new URL("./markdown-worker.js", import.meta.url).href;
// Served by the server at the page's own level (GET /sw.js, under a prefix
// too), not under /static/: a service worker's scope is its URL's directory.
const SERVICE_WORKER = new URL("../sw.js", import.meta.url).href;
const STREAM_WORKER = new URL("./stream-worker.js", import.meta.url).href;
const ALLOWED = new Set([MARKDOWN_WORKER, SERVICE_WORKER, STREAM_WORKER]);

// Browsers without Trusted Types take the plain URL (they enforce nothing).
const policy = globalThis.trustedTypes?.createPolicy("tmuxweb-worker", {
  createScriptURL(url) {
    if (!ALLOWED.has(url)) throw new TypeError(`not a worker of ours: ${url}`);
    return url;
  },
});

function trusted(url) {
  return policy ? policy.createScriptURL(url) : url;
}

/** The Markdown worker's script URL, as the Worker constructor must get it. */
export function markdownWorkerUrl() {
  return trusted(MARKDOWN_WORKER);
}

/** The service worker's script URL, as navigator.serviceWorker.register must get it. */
export function serviceWorkerUrl() {
  return trusted(SERVICE_WORKER);
}

/** The shared stream's SharedWorker script URL (streamlink.js). */
export function streamWorkerUrl() {
  return trusted(STREAM_WORKER);
}
