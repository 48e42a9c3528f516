// Markdown to DOM, safely: every element is made with createElement and
// every piece of text set with textContent (or appended as a text node),
// so raw HTML in a document shows as the text it is. Links keep only
// http(s) URLs as href; relative links and images are handed to the
// caller (the file viewer opens them through the API). No id, name, style
// or event attribute is ever set from the document.

const MAX_DEPTH = 8; // nested quotes and lists

/**
 * Render `source` into a new element. hooks: openPath(relative) for a
 * relative link, image(relative, img) to fill a relative image.
 */
export function renderMarkdown(source, hooks = {}) {
  const root = document.createElement("div");
  root.className = "markdown";
  renderBlocks(root, source.replace(/\r\n?/g, "\n").split("\n"), hooks, 0);
  return root;
}

// ---- blocks ----

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const ITEM = /^( {0,3})([-*+]|\d{1,9}[.)])([ \t]+(.*))?$/;
const TABLE_RULE = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;
const SETEXT = /^ {0,3}(=+|-+)\s*$/;

function renderBlocks(parent, lines, hooks, depth) {
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) { i++; continue; }
    let m;
    if ((m = line.match(FENCE))) {
      i = fencedCode(parent, lines, i, m);
    } else if ((m = line.match(HEADING))) {
      const h = document.createElement(`h${m[1].length}`);
      inline(h, m[2] ?? "", hooks);
      parent.append(h);
      i++;
    } else if (RULE.test(line)) {
      parent.append(document.createElement("hr"));
      i++;
    } else if (QUOTE.test(line) && depth < MAX_DEPTH) {
      const inner = [];
      while (i < lines.length && lines[i].trim() && (m = lines[i].match(QUOTE))) { inner.push(m[1]); i++; }
      const quote = document.createElement("blockquote");
      renderBlocks(quote, inner, hooks, depth + 1);
      parent.append(quote);
    } else if (ITEM.test(line) && depth < MAX_DEPTH) {
      i = list(parent, lines, i, hooks, depth);
    } else if (/^( {4}|\t)/.test(line)) {
      const code = [];
      while (i < lines.length && (/^( {4}|\t)/.test(lines[i]) || !lines[i].trim())) {
        code.push(lines[i].replace(/^( {4}|\t)/, ""));
        i++;
      }
      while (code.length && !code[code.length - 1].trim()) code.pop();
      parent.append(codeBlock(code.join("\n"), ""));
    } else if (line.includes("|") && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1]) && lines[i + 1].includes("-")) {
      i = table(parent, lines, i, hooks);
    } else {
      i = paragraph(parent, lines, i, hooks);
    }
  }
}

function fencedCode(parent, lines, start, match) {
  const fence = match[1];
  const body = [];
  let i = start + 1;
  const closes = (line) => {
    const m = line.match(/^ {0,3}(`{3,}|~{3,})\s*$/);
    return m && m[1][0] === fence[0] && m[1].length >= fence.length;
  };
  while (i < lines.length && !closes(lines[i])) {
    body.push(lines[i]);
    i++;
  }
  parent.append(codeBlock(body.join("\n"), match[2]));
  return i + 1;
}

function codeBlock(text, language) {
  const pre = document.createElement("pre");
  const code = document.createElement("code");
  if (/^[A-Za-z0-9_+-]{1,20}$/.test(language)) code.dataset.language = language;
  code.textContent = text;
  pre.append(code);
  return pre;
}

function startsBlock(line) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || ITEM.test(line);
}

function paragraph(parent, lines, start, hooks) {
  const text = [lines[start]];
  let i = start + 1;
  while (i < lines.length && lines[i].trim() && !startsBlock(lines[i])) {
    if (SETEXT.test(lines[i]) && text.length) break;
    text.push(lines[i]);
    i++;
  }
  let element = document.createElement("p");
  const setext = i < lines.length ? lines[i].match(SETEXT) : null;
  if (setext) {
    element = document.createElement(setext[1][0] === "=" ? "h1" : "h2");
    i++;
  }
  inline(element, text.map((l) => l.replace(/^\s+/, "")).join("\n"), hooks);
  parent.append(element);
  return i;
}

function list(parent, lines, start, hooks, depth) {
  const first = lines[start].match(ITEM);
  const ordered = /\d/.test(first[2]);
  const element = document.createElement(ordered ? "ol" : "ul");
  if (ordered && Number.parseInt(first[2], 10) !== 1) element.start = Number.parseInt(first[2], 10);
  let i = start;
  while (i < lines.length) {
    const m = lines[i].match(ITEM);
    if (!m || /\d/.test(m[2]) !== ordered) break;
    const indent = m[1].length + m[2].length + 1;
    const body = [m[4] ?? ""];
    i++;
    // The item goes on while lines are indented under it, or continue its
    // paragraph; a blank line followed by an indented line stays inside.
    while (i < lines.length) {
      const line = lines[i];
      if (!line.trim()) {
        if (i + 1 < lines.length && /^\s{2,}\S/.test(lines[i + 1])) { body.push(""); i++; continue; }
        break;
      }
      if (/^\s{2,}/.test(line)) { body.push(line.slice(Math.min(indent, line.search(/\S/)))); i++; continue; }
      if (startsBlock(line)) break;
      body.push(line);
      i++;
    }
    const li = document.createElement("li");
    const task = body[0].match(/^\[([ xX])\][ \t]+/);
    if (task) {
      body[0] = body[0].slice(task[0].length);
      const box = document.createElement("input");
      box.type = "checkbox";
      box.disabled = true;
      box.checked = task[1] !== " ";
      li.append(box, " ");
    }
    if (body.length === 1 || !body.slice(1).some((l) => startsBlock(l.trim()) || !l.trim())) {
      inline(li, body.join("\n"), hooks);
    } else {
      renderBlocks(li, body, hooks, depth + 1);
    }
    element.append(li);
    while (i < lines.length && !lines[i].trim() && i + 1 < lines.length && ITEM.test(lines[i + 1])) i++;
  }
  parent.append(element);
  return i;
}

function cells(line) {
  let text = line.trim();
  if (text.startsWith("|")) text = text.slice(1);
  if (text.endsWith("|") && !text.endsWith("\\|")) text = text.slice(0, -1);
  return text.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, "|"));
}

function table(parent, lines, start, hooks) {
  const head = cells(lines[start]);
  const aligns = cells(lines[start + 1]).map((c) => (c.startsWith(":") && c.endsWith(":") ? "center" : c.endsWith(":") ? "right" : c.startsWith(":") ? "left" : ""));
  const element = document.createElement("table");
  const thead = document.createElement("thead");
  const tbody = document.createElement("tbody");
  const row = (values, tag) => {
    const tr = document.createElement("tr");
    head.forEach((_, k) => {
      const cell = document.createElement(tag);
      if (aligns[k]) cell.className = `align-${aligns[k]}`;
      inline(cell, values[k] ?? "", hooks);
      tr.append(cell);
    });
    return tr;
  };
  thead.append(row(head, "th"));
  let i = start + 2;
  while (i < lines.length && lines[i].trim() && lines[i].includes("|")) {
    tbody.append(row(cells(lines[i]), "td"));
    i++;
  }
  element.append(thead, tbody);
  parent.append(element);
  return i;
}

// ---- inline ----

const ESCAPABLE = "\\`*_{}[]()#+-.!|<>~\"'";

/** Parse inline Markdown in `text` and append the result to `parent`. */
export function inline(parent, text, hooks, depth = 0) {
  let buffer = "";
  const flush = () => {
    if (buffer) parent.append(buffer);
    buffer = "";
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const rest = text.slice(i);
    let m;
    if (c === "\\" && i + 1 < text.length && ESCAPABLE.includes(text[i + 1])) {
      buffer += text[i + 1];
      i += 2;
    } else if (c === "\\" && text[i + 1] === "\n") {
      flush();
      parent.append(document.createElement("br"));
      i += 2;
    } else if (c === "\n") {
      flush();
      if (/ {2,}$/.test(text.slice(0, i))) parent.append(document.createElement("br"));
      else parent.append("\n");
      i++;
    } else if (c === "`" && (m = rest.match(/^(`+)([\s\S]*?[^`])\1(?!`)/))) {
      flush();
      const code = document.createElement("code");
      code.textContent = m[2].replace(/^ (.*) $/s, "$1");
      parent.append(code);
      i += m[0].length;
    } else if (c === "<" && !hooks.noLinks && (m = rest.match(/^<(https?:\/\/[^\s<>]+)>/i))) {
      flush();
      parent.append(link(m[1], m[1], "", hooks, depth));
      i += m[0].length;
    } else if ((c === "!" || (c === "[" && !hooks.noLinks)) && (m = matchLink(rest))) {
      flush();
      parent.append(c === "!" ? image(m.label, m.href, hooks) : link(m.label, m.href, m.title, hooks, depth));
      i += m.length;
    } else if ((c === "*" || c === "_" || c === "~") && depth < MAX_DEPTH && (m = matchEmphasis(text, i))) {
      flush();
      const element = document.createElement(m.tag);
      inline(element, m.inner, hooks, depth + 1);
      parent.append(element);
      i += m.length;
    } else if ((c === "h" || c === "H") && !hooks.noLinks && /[^\p{L}\p{N}]$|^$/u.test(text.slice(Math.max(0, i - 1), i)) && (m = rest.match(/^https?:\/\/[^\s<>"')\]]+[^\s<>"')\].,;:!?]/i))) {
      flush();
      parent.append(link(m[0], m[0], "", hooks, depth));
      i += m[0].length;
    } else {
      buffer += c;
      i++;
    }
  }
  flush();
}

/** `[label](href "title")` or `![alt](src)` at the start of `text`. */
function matchLink(text) {
  const offset = text[0] === "!" ? 1 : 0;
  if (text[offset] !== "[") return null;
  let level = 0;
  let end = -1;
  for (let k = offset; k < text.length; k++) {
    if (text[k] === "\\") { k++; continue; }
    if (text[k] === "[") level++;
    else if (text[k] === "]" && --level === 0) { end = k; break; }
  }
  if (end < 0 || text[end + 1] !== "(") return null;
  const m = text.slice(end + 1).match(/^\(\s*(<[^<>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+("[^"]*"|'[^']*'))?\s*\)/);
  if (!m) return null;
  return {
    label: text.slice(offset + 1, end),
    href: m[1].replace(/^<(.*)>$/, "$1"),
    title: m[2] ? m[2].slice(1, -1) : "",
    length: end + 1 + m[0].length,
  };
}

function matchEmphasis(text, i) {
  const c = text[i];
  const double = text[i + 1] === c;
  if (c === "~" && !double) return null;
  const marker = double ? c + c : c;
  const after = text[i + marker.length];
  if (!after || /\s/.test(after)) return null;
  // `_` inside a word (snake_case) is not emphasis.
  if (c === "_" && /[\p{L}\p{N}]/u.test(text[i - 1] ?? "")) return null;
  let k = i + marker.length + 1;
  while ((k = text.indexOf(marker, k)) !== -1) {
    const before = text[k - 1];
    const next = text[k + marker.length] ?? "";
    if (before !== "\\" && !/\s/.test(before) && (marker.length === 2 || next !== c) && !(c === "_" && /[\p{L}\p{N}]/u.test(next))) {
      const tag = c === "~" ? "del" : double ? "strong" : "em";
      return { tag, inner: text.slice(i + marker.length, k), length: k + marker.length - i };
    }
    k += marker.length;
  }
  return null;
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

function link(label, href, title, hooks, depth) {
  const target = classifyUrl(href);
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
    // Not a link we follow (javascript:, data:, file:, …): plain text.
    const span = document.createElement("span");
    inline(span, label, hooks, depth + 1);
    return span;
  }
  if (title) a.title = title;
  inline(a, label, { ...hooks, noLinks: true }, depth + 1);
  return a;
}

function image(alt, src, hooks) {
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
  return target?.external && !hooks.noLinks ? link(text, target.external, "", hooks, 0) : document.createTextNode(text);
}
