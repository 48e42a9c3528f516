// File paths in terminal text: finding them, resolving them against a
// pane's directory, and deciding whether they lie inside a file root.
// Pure string work; the server checks every path again on its own terms.

// Characters a path printed by a program is made of (no spaces, quotes,
// brackets or colons: `src/app.py:42:7` ends before the line number).
const PATH_RUN = /[\p{L}\p{N}_.\/+@%~-]+/gu;
// A file extension has a letter (`v1.2.3` and `3.14` are not file names).
const EXTENSION = /\.(?=[\p{N}_+-]{0,11}\p{L})[\p{L}\p{N}_+-]{1,12}$/u;
// What may follow a path to name a line: `:42`, `:42:7`, `", line 42`
// (Python tracebacks), `(42)` / `(42,7)` (MSVC-style).
const LINE_SUFFIXES = [/^:(\d{1,7})(?::(\d{1,5}))?/, /^", line (\d{1,7})/, /^\((\d{1,7})(?:,(\d{1,5}))?\)/];

/** Components of an absolute path with `.` and `..` applied; null if `..` would climb above `/`. */
export function normalize(path) {
  if (!path.startsWith("/")) return null;
  const parts = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (!parts.length) return null;
      parts.pop();
    } else {
      parts.push(part);
    }
  }
  return "/" + parts.join("/");
}

/** An absolute path for `candidate` as seen from directory `cwd` (null when it cannot be known). */
export function resolve(candidate, cwd) {
  if (candidate.startsWith("/")) return normalize(candidate);
  if (candidate.startsWith("~") || !cwd || !cwd.startsWith("/")) return null;
  return normalize(`${cwd}/${candidate}`);
}

function components(path) {
  return path.split("/").filter((p) => p !== "");
}

/** The deepest root holding `path`, compared by components, or null. */
export function rootOf(path, roots) {
  const parts = components(path);
  let best = null;
  for (const root of roots) {
    const rootParts = components(root.path);
    const inside = rootParts.length <= parts.length && rootParts.every((p, i) => p === parts[i]);
    if (inside && (!best || rootParts.length > components(best.path).length)) best = root;
  }
  return best;
}

/** Whether a path inside `root` has a hidden (dot) component below the root. */
export function hiddenBelow(path, root) {
  return components(path).slice(components(root.path).length).some((p) => p.startsWith("."));
}

/** The directory part of an absolute path. */
export function dirname(path) {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

export function basename(path) {
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * Things in a line of text that look like file paths: [{index, length,
 * text, line}] where index/length cover the path and its line suffix.
 * A candidate has a `/` or a file extension; URLs are left to the URL
 * link provider.
 */
export function findCandidates(text) {
  const found = [];
  for (const match of text.matchAll(PATH_RUN)) {
    let path = match[0];
    const index = match.index;
    const before = text[index - 1] ?? "";
    if (before === ":" || before === "\\") continue; // scheme://…, C:\…, user@host:path
    path = path.replace(/[.,;]+$/u, ""); // sentence punctuation after a path
    if (!path || path.startsWith("//") || /^[.~/]+$/u.test(path)) continue;
    if (!path.includes("/") && !EXTENSION.test(path)) continue;
    if (/^\d+(\.\d+)+$/u.test(path)) continue; // a version number, not a file
    let length = path.length;
    let line = null;
    if (path.length === match[0].length) {
      const rest = text.slice(index + path.length);
      for (const suffix of LINE_SUFFIXES) {
        const m = rest.match(suffix);
        if (m) {
          line = Number(m[1]);
          if (suffix === LINE_SUFFIXES[0]) length += m[0].length;
          break;
        }
      }
    }
    found.push({ index, length, text: path, line });
  }
  return found;
}
