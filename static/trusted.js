// The page's one Trusted Types policy. The CSP (tmuxweb/middleware.py)
// requires Trusted Types for every script sink and names only this policy,
// so a string given to innerHTML, a <script>'s src or `new Worker(...)`
// throws. The sinks we use are the Markdown parser's worker and the shared
// stream's SharedWorker: this policy turns exactly those URLs, and nothing
// else, into a TrustedScriptURL.

const MARKDOWN_WORKER = new URL("./markdown-worker.js", import.meta.url).href;
const STREAM_WORKER = new URL("./stream-worker.js", import.meta.url).href;

// Browsers without Trusted Types take the plain URL (they enforce nothing).
const policy = globalThis.trustedTypes?.createPolicy("tmuxweb-worker", {
  createScriptURL(url) {
    if (url !== MARKDOWN_WORKER && url !== STREAM_WORKER) throw new TypeError(`not a worker of ours: ${url}`);
    return url;
  },
});

/** The Markdown worker's script URL, as the Worker constructor must get it. */
export function markdownWorkerUrl() {
  return policy ? policy.createScriptURL(MARKDOWN_WORKER) : MARKDOWN_WORKER;
}

/** The shared stream's SharedWorker script URL (streamlink.js). */
export function streamWorkerUrl() {
  return policy ? policy.createScriptURL(STREAM_WORKER) : STREAM_WORKER;
}
