// Markdown to DOM, safely and within a deadline.
//
// markdown-it (vendored, see vendor/VERSIONS.md) parses in a Web Worker
// (markdown-worker.js) with raw HTML off. A hostile file cannot freeze the
// page: past DEADLINE_MS the worker is ended and the caller shows the file
// as plain text. From the worker's flat list of operations this module
// builds elements with createElement and a stack (no recursion), and sets
// every piece of text with textContent or as a text node, so raw HTML in a
// document shows as the text it is. Only a fixed set of tags is made;
// links keep only http(s) URLs as href; relative links and images are
// handed to the caller (the file viewer opens them through the API). No
// id, name, style or event attribute is ever set from the document.

import { markdownWorkerUrl } from "./trusted.js";

// For parsing and building together; showing the plain text instead is one
// text node, so a 1 MiB file is on screen within about a second either way.
export const DEADLINE_MS = 600;
// How many operations are built between two looks at the clock.
const CHECK_EVERY = 4096;

const TAGS = new Set([
  "p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "li",
  "table", "thead", "tbody", "tr", "th", "td", "em", "strong", "s", "a",
]);
const ALIGNS = new Set(["left", "center", "right"]);

export class MarkdownTimeout extends Error {}

/** Parse `source` in a worker: the operations, or MarkdownTimeout past `deadline` ms. */
export function parseMarkdown(source, deadline = DEADLINE_MS) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(markdownWorkerUrl(), { type: "module" });
    const timer = setTimeout(() => {
      worker.terminate();
      reject(new MarkdownTimeout(`rendering took longer than ${deadline / 1000} s`));
    }, deadline);
    worker.onmessage = (event) => {
      clearTimeout(timer);
      worker.terminate();
      resolve(event.data.ops);
    };
    worker.onerror = (event) => {
      clearTimeout(timer);
      worker.terminate();
      event.preventDefault();
      reject(new Error(`the Markdown parser failed (${event.message || "no message"})`));
    };
    worker.postMessage(source);
  });
}

/**
 * Render `source` into a new element (a Promise; rejects with
 * MarkdownTimeout or another Error: show the source as text then).
 * hooks: openPath(relative) for a relative link, image(relative, img) to
 * fill a relative image.
 */
export async function renderMarkdown(source, hooks = {}, deadline = DEADLINE_MS) {
  const started = performance.now();
  const ops = await parseMarkdown(source, deadline);
  return buildElements(ops, hooks, started + deadline);
}

/**
 * Elements from the worker's operations: [kind, tag, text, attrs]. Throws
 * MarkdownTimeout once performance.now() passes `until`: a document of
 * hundreds of thousands of elements is better read as text.
 */
export function buildElements(ops, hooks = {}, until = Infinity) {
  const root = document.createElement("div");
  root.className = "markdown";
  const stack = [root];
  // Inside a link, images and links become text: no nested anchors.
  let links = 0;
  for (let i = 0; i < ops.length; i++) {
    if (i % CHECK_EVERY === 0 && performance.now() > until) {
      throw new MarkdownTimeout(`rendering it would take too long (${ops.length} parts)`);
    }
    const [kind, tag, text, attrs] = ops[i];
    const parent = stack[stack.length - 1];
    if (kind === "text") {
      parent.append(text);
    } else if (kind === "close") {
      if (stack.length > 1) {
        if (stack.pop().tagName === "A") links--;
      }
    } else if (kind === "open") {
      let element;
      if (tag === "a") {
        element = link(attrs, hooks, links > 0);
        if (element.tagName === "A") links++;
      } else {
        element = document.createElement(TAGS.has(tag) ? tag : "span");
        if ((tag === "th" || tag === "td") && ALIGNS.has(attrs?.align)) element.className = `align-${attrs.align}`;
        const start = Number.parseInt(attrs?.start ?? "", 10);
        if (tag === "ol" && Number.isSafeInteger(start) && start !== 1) element.start = start;
      }
      parent.append(element);
      stack.push(element);
    } else if (tag === "pre") {
      parent.append(codeBlock(text, attrs?.language ?? ""));
    } else if (tag === "code") {
      const code = document.createElement("code");
      code.textContent = text;
      parent.append(code);
    } else if (tag === "br" || tag === "hr") {
      parent.append(document.createElement(tag));
    } else if (tag === "img") {
      parent.append(image(attrs, hooks, links > 0));
    }
  }
  return root;
}

function codeBlock(text, language) {
  const pre = document.createElement("pre");
  const code = document.createElement("code");
  if (/^[A-Za-z0-9_+-]{1,20}$/.test(language)) code.dataset.language = language;
  code.textContent = text;
  pre.append(code);
  return pre;
}

/** What a link may point to: {external: URL} for http(s), {relative: path}, or null. */
export function classifyUrl(href) {
  const value = href.trim();
  if (!value || /[\u0000-\u001f\u007f]/.test(value) || value.startsWith("//") || value.startsWith("\\")) return null;
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(value)) {
    let url;
    try {
      url = new URL(value);
    } catch {
      return null;
    }
    return url.protocol === "http:" || url.protocol === "https:" ? { external: url.href } : null;
  }
  if (value.startsWith("#")) return null;
  let path = value.split(/[?#]/, 1)[0];
  try {
    path = decodeURIComponent(path);
  } catch {
    return null;
  }
  return path ? { relative: path } : null;
}

function link(attrs, hooks, nested) {
  const target = nested ? null : classifyUrl(attrs?.href ?? "");
  const a = document.createElement("a");
  if (target?.external) {
    a.href = target.external;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
  } else if (target?.relative && hooks.openPath) {
    a.href = "#";
    a.dataset.path = target.relative;
    a.addEventListener("click", (event) => {
      event.preventDefault();
      hooks.openPath(target.relative);
    });
  } else {
    // Not a link we follow (javascript:, data:, file:, …): its text only.
    return document.createElement("span");
  }
  if (attrs.title) a.title = attrs.title;
  return a;
}

function image(attrs, hooks, inLink) {
  const src = attrs?.src ?? "";
  const alt = attrs?.alt ?? "";
  const target = classifyUrl(src);
  if (target?.relative && hooks.image) {
    const img = document.createElement("img");
    img.alt = alt;
    hooks.image(target.relative, img);
    return img;
  }
  // Remote images are not loaded (the page's CSP forbids them, and they
  // would tell a third party that the file was opened): a link instead.
  const text = `[image: ${alt || src}]`;
  if (!target?.external || inLink) return document.createTextNode(text);
  const a = link({ href: target.external }, hooks, false);
  a.textContent = text;
  return a;
}
