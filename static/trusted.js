// The page's one Trusted Types policy. The CSP (tmuxweb/middleware.py)
// requires Trusted Types for every script sink and names only this policy,
// so a string given to innerHTML, a <script>'s src or `new Worker(...)`
// throws. The one sink we use is the Markdown parser's worker: this policy
// turns exactly that URL, and nothing else, into a TrustedScriptURL.

const MARKDOWN_WORKER = new URL("./markdown-worker.js", import.meta.url).href;

// Browsers without Trusted Types take the plain URL (they enforce nothing).
const policy = globalThis.trustedTypes?.createPolicy("tmuxweb-worker", {
  createScriptURL(url) {
    if (url !== MARKDOWN_WORKER) throw new TypeError(`not a worker of ours: ${url}`);
    return url;
  },
});

/** The Markdown worker's script URL, as the Worker constructor must get it. */
export function markdownWorkerUrl() {
  return policy ? policy.createScriptURL(MARKDOWN_WORKER) : MARKDOWN_WORKER;
}
