// Syntax colouring for the file viewer, kept small: whole-line classes for
// diffs and logs, and comments, strings, numbers and keywords for common
// languages. Builds spans with textContent only.

const KEYWORDS = {
  py: "and as assert async await break class continue def del elif else except False finally for from global if import in is lambda None nonlocal not or pass raise return True try while with yield",
  js: "async await break case catch class const continue debugger default delete do else export extends false finally for function if import in instanceof let new null of return static super switch this throw true try typeof undefined var void while with yield",
  sh: "case do done elif else esac export fi for function if in local return select then until while",
  go: "break case chan const continue default defer else fallthrough for func go goto if import interface map nil package range return select struct switch type var true false",
  rs: "as async await break const continue crate dyn else enum extern false fn for if impl in let loop match mod move mut pub ref return self Self static struct super trait true type unsafe use where while",
  c: "auto break case char const continue default do double else enum extern float for goto if inline int long register return short signed sizeof static struct switch typedef union unsigned void volatile while class namespace template typename public private protected virtual nullptr true false",
};
const LANGUAGES = {
  py: { keywords: "py", comment: "#" },
  js: { keywords: "js", comment: "//" }, mjs: { keywords: "js", comment: "//" }, ts: { keywords: "js", comment: "//" },
  jsx: { keywords: "js", comment: "//" }, tsx: { keywords: "js", comment: "//" }, json: { keywords: null, comment: null },
  sh: { keywords: "sh", comment: "#" }, bash: { keywords: "sh", comment: "#" }, zsh: { keywords: "sh", comment: "#" },
  go: { keywords: "go", comment: "//" }, rs: { keywords: "rs", comment: "//" },
  c: { keywords: "c", comment: "//" }, h: { keywords: "c", comment: "//" }, cc: { keywords: "c", comment: "//" },
  cpp: { keywords: "c", comment: "//" }, hpp: { keywords: "c", comment: "//" }, java: { keywords: "c", comment: "//" },
  toml: { keywords: null, comment: "#" }, yaml: { keywords: null, comment: "#" }, yml: { keywords: null, comment: "#" },
  ini: { keywords: null, comment: ";" }, conf: { keywords: null, comment: "#" }, cfg: { keywords: null, comment: "#" },
  mk: { keywords: null, comment: "#" }, makefile: { keywords: null, comment: "#" }, dockerfile: { keywords: null, comment: "#" },
};
const keywordSets = new Map();

/** The display mode for a file name: {kind: "diff"|"log"|"code"|"plain", lang}. */
export function modeFor(name) {
  const lower = name.toLowerCase();
  const ext = lower.includes(".") ? lower.slice(lower.lastIndexOf(".") + 1) : lower;
  if (ext === "diff" || ext === "patch") return { kind: "diff" };
  if (ext === "log" || ext === "out" || ext === "err" || /log/.test(lower)) return { kind: "log" };
  const lang = LANGUAGES[ext];
  return lang ? { kind: "code", lang } : { kind: "plain" };
}

/** A CSS class for a whole line, or "". */
export function lineClass(text, mode) {
  if (mode.kind === "diff") {
    if (text.startsWith("@@")) return "diff-hunk";
    if (text.startsWith("+++") || text.startsWith("---") || text.startsWith("diff ")) return "diff-file";
    if (text.startsWith("+")) return "diff-add";
    if (text.startsWith("-")) return "diff-del";
    return "";
  }
  if (mode.kind === "log") {
    if (/\b(ERROR|FATAL|CRITICAL|PANIC|Traceback|FAILED|error:)/.test(text)) return "log-error";
    if (/\b(WARN|WARNING|warning:)/.test(text)) return "log-warn";
    if (/\b(DEBUG|TRACE)\b/.test(text)) return "log-debug";
  }
  return "";
}

function keywordsOf(name) {
  if (!name) return null;
  if (!keywordSets.has(name)) keywordSets.set(name, new Set(KEYWORDS[name].split(" ")));
  return keywordSets.get(name);
}

function tokenPattern(comment) {
  const parts = [
    String.raw`"(?:[^"\\]|\\.)*"?`,
    String.raw`'(?:[^'\\]|\\.)*'?`,
    "`(?:[^`\\\\]|\\\\.)*`?",
    String.raw`\b\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?\b|\b0[xX][0-9a-fA-F_]+\b`,
    String.raw`[A-Za-z_][A-Za-z0-9_]*`,
  ];
  if (comment) parts.unshift(`${comment.replace(/[/]/g, "\\/")}.*$`);
  return new RegExp(parts.join("|"), "g");
}
const patterns = new Map();

/** Append the tokens of one line of code to `element` as spans and text. */
export function appendTokens(element, text, mode) {
  if (mode.kind !== "code" || text.length > 2000) {
    element.append(text);
    return;
  }
  const { lang } = mode;
  const key = lang.comment ?? "";
  if (!patterns.has(key)) patterns.set(key, tokenPattern(lang.comment));
  const pattern = patterns.get(key);
  const keywords = keywordsOf(lang.keywords);
  let last = 0;
  pattern.lastIndex = 0;
  for (const match of text.matchAll(pattern)) {
    const token = match[0];
    let cls = null;
    if (lang.comment && token.startsWith(lang.comment)) cls = "tok-comment";
    else if (/^["'`]/.test(token)) cls = "tok-string";
    else if (/^\d/.test(token)) cls = "tok-number";
    else if (keywords?.has(token)) cls = "tok-keyword";
    if (!cls) continue;
    if (match.index > last) element.append(text.slice(last, match.index));
    const span = document.createElement("span");
    span.className = cls;
    span.textContent = token;
    element.append(span);
    last = match.index + token.length;
  }
  if (last < text.length) element.append(text.slice(last));
}
