// File paths printed in a pane (`src/app.py:42`, `File "…", line N`) as
// links in its terminal, when they resolve, against the pane's directory,
// to a file inside a root.

import { findCandidates, hiddenBelow, resolve, rootOf } from "../filepaths.js";

export class PathLinks {
  /** info: GET /api/files (roots, show_hidden); open(path, line) on a click. */
  constructor(info, open) {
    this.info = info;
    this.open = open;
    this.linked = new WeakSet(); // PaneTerminals with our link provider
  }

  /** Give every pane's terminal a link provider (once per terminal). */
  link(panes) {
    for (const pane of panes.values()) {
      const term = pane.term;
      if (this.linked.has(term)) continue;
      this.linked.add(term);
      term.term.registerLinkProvider({
        provideLinks: (y, callback) => callback(this.#linksOnLine(term.term, y, pane.info)),
      });
    }
  }

  #linksOnLine(terminal, y, info) {
    const line = terminal.buffer.active.getLine(y - 1);
    if (!line) return undefined;
    const { text, cellOf } = cellText(line, terminal.cols);
    const links = [];
    for (const found of findCandidates(text)) {
      const path = resolve(found.text, info.current_path);
      if (!path) continue;
      const root = rootOf(path, this.info.roots);
      if (!root || (!this.info.show_hidden && hiddenBelow(path, root))) continue;
      const first = cellOf[found.index];
      const last = cellOf[found.index + found.length - 1];
      if (first === undefined || last === undefined) continue;
      links.push({
        range: { start: { x: first + 1, y }, end: { x: last + 1, y } },
        text: text.slice(found.index, found.index + found.length),
        decorations: { underline: true, pointerCursor: true },
        activate: (event) => {
          event?.preventDefault?.();
          this.open(path, found.line);
        },
      });
    }
    return links.length ? links : undefined;
  }
}

/** A buffer line's text and, for each UTF-16 unit, the cell it is in. */
function cellText(line, cols) {
  let text = "";
  const cellOf = [];
  for (let x = 0; x < cols; x++) {
    const cell = line.getCell(x);
    if (!cell) break;
    if (cell.getWidth() === 0) continue; // the right half of a wide character
    const chars = cell.getChars() || " ";
    for (let k = 0; k < chars.length; k++) cellOf.push(x);
    text += chars;
  }
  return { text, cellOf };
}
