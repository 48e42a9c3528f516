// A text file as numbered, coloured lines: one element per line (the
// number in data-n, shown by CSS), a last line without its newline marked
// "partial" so that appended text continues it.

import { el } from "../dom.js";
import { appendTokens, lineClass } from "../syntax.js";

const MAX_LINES = 20000; // lines kept while text is appended

/** A new element holding `text`'s lines, numbered from 1 if `numbered`. */
export function renderLines(text, mode, numbered) {
  const code = el("div", "files-code");
  code.dataset.mode = mode.kind;
  code.append(lineElements(text, mode, numbered ? 1 : null));
  return code;
}

/** Add `text` to the end of `code`, continuing a partial last line; keeps the last MAX_LINES. */
export function appendLines(code, text, mode, numbered) {
  const last = code.lastElementChild;
  let n = 1;
  if (last?.classList.contains("partial")) {
    text = last.textContent + text;
    n = last.dataset.n ? Number(last.dataset.n) : 1;
    last.remove();
  } else if (last?.dataset.n) {
    n = Number(last.dataset.n) + 1;
  }
  code.append(lineElements(text, mode, numbered ? n : null));
  while (code.childElementCount > MAX_LINES) code.firstElementChild.remove();
}

/** Mark line `number` of `code` and scroll it into the middle of the view. */
export function scrollToLine(code, number) {
  const target = code?.querySelector(`.line[data-n="${Number(number)}"]`);
  if (!target) return;
  target.classList.add("target");
  target.scrollIntoView({ block: "center" });
}

function lineElements(text, mode, first) {
  const fragment = document.createDocumentFragment();
  const lines = text.split("\n");
  const partial = lines.pop();
  let n = first;
  for (const line of lines) fragment.append(lineElement(line, mode, n === null ? null : n++));
  if (partial) fragment.append(lineElement(partial, mode, n, true));
  return fragment;
}

function lineElement(text, mode, number, partial = false) {
  const line = el("div", "line");
  const cls = lineClass(text, mode);
  if (cls) line.classList.add(cls);
  if (partial) line.classList.add("partial");
  if (number !== null) line.dataset.n = String(number);
  appendTokens(line, text, mode);
  return line;
}
