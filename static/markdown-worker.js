// Parses Markdown off the page's thread, so that a hostile file cannot
// freeze the page: markdown.js gives this worker a deadline and ends it
// when it passes. The answer is a flat list of operations (no HTML, no
// tree): markdown.js builds elements from it with a stack.
//
// markdown-it with raw HTML off (`<script>` stays text), no linkify, no
// typographer; its own validateLink drops javascript:, vbscript:, file:
// and data: URLs, and markdown.js checks every URL again.

import MarkdownIt from "./vendor/markdown-it/markdown-it.esm.min.mjs";

const md = new MarkdownIt("default", {
  html: false,
  linkify: false,
  typographer: false,
  // Nested quotes, lists and links deeper than this stay text: nobody
  // reads 20 levels, and each level is work for the parser and the DOM.
  maxNesting: 20,
});

/**
 * Operations: [kind, tag, text, attrs]. kind: "open" (push an element),
 * "close" (pop), "text", "leaf" (an element with text, or none: code, hr,
 * br, img, fenced code). attrs: a plain object, only href/src/title/alt/
 * start/align/language.
 */
function operations(tokens) {
  const ops = [];
  let text = "";
  const flush = () => {
    if (text) ops.push(["text", "", text, null]);
    text = "";
  };
  const emit = (token) => {
    if (token.type === "text") { text += token.content; return; }
    if (token.type === "softbreak") { text += "\n"; return; }
    flush();
    const attrs = {};
    for (const [name, value] of token.attrs ?? []) attrs[name] = value;
    if (token.type === "image") {
      ops.push(["leaf", "img", "", { src: attrs.src ?? "", alt: token.content, title: attrs.title ?? "" }]);
    } else if (token.type === "fence" || token.type === "code_block") {
      ops.push(["leaf", "pre", token.content.replace(/\n$/, ""), { language: token.info.trim().split(/\s/, 1)[0] }]);
    } else if (token.type === "code_inline") {
      ops.push(["leaf", "code", token.content, null]);
    } else if (token.type === "hardbreak") {
      ops.push(["leaf", "br", "", null]);
    } else if (token.type === "hr") {
      ops.push(["leaf", "hr", "", null]);
    } else if (token.nesting === 1) {
      const style = attrs.style ?? "";
      ops.push(["open", token.tag, "", {
        href: attrs.href, title: attrs.title, start: attrs.start,
        align: style.startsWith("text-align:") ? style.slice(11) : undefined,
      }]);
    } else if (token.nesting === -1) {
      ops.push(["close", token.tag, "", null]);
    } else if (token.content) {
      text += token.content; // anything else that holds text stays text
    }
  };
  // Block tokens, and one level below: an inline token's children.
  for (const token of tokens) {
    if (token.type === "inline") for (const child of token.children ?? []) emit(child);
    else emit(token);
  }
  flush();
  return ops;
}

self.onmessage = (event) => {
  const started = performance.now();
  const ops = operations(md.parse(event.data, {}));
  self.postMessage({ ops, ms: performance.now() - started });
};
