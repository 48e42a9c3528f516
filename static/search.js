// Find in scrollback: a search bar over the terminal that asks the server
// (GET /api/search) to search the active pane's whole tmux history, not
// only the lines this page holds. Every match the page holds is
// highlighted (xterm.js decorations); the current one is selected in the
// terminal and scrolled to; a match further
// back than the page's scrollback is shown in the bar's context view
// (the lines around it from tmux, the match marked). Next/previous step
// through matches, newest first.

import { el, button } from "./dom.js";
import { request } from "./http.js";
import { toast } from "./ui.js";

export class ScrollbackSearch {
  #token;

  /** toggle: the toolbar's Find button; parent: where the bar goes; pane(): the active pane's PaneTerminal or null; refocus(). */
  constructor(token, { toggle, parent, pane, refocus }) {
    this.#token = token;
    this.pane = pane;
    this.refocus = refocus;
    this.matches = [];
    this.decorations = []; // every match the page holds, highlighted
    this.index = -1;
    this.result = null;
    this.bar = el("form", "search-bar");
    this.bar.hidden = true;
    this.bar.setAttribute("role", "search");
    this.input = el("input", "search-input");
    this.input.type = "search";
    this.input.placeholder = "Find in scrollback";
    this.input.setAttribute("aria-label", "Find in the pane's scrollback");
    this.input.autocomplete = "off";
    this.input.spellcheck = false;
    this.count = el("span", "search-count");
    this.count.setAttribute("role", "status");
    const prev = button("search-prev", "\u2191", "Previous (older) match");
    const next = button("search-next", "\u2193", "Next (newer) match");
    const close = button("search-close", "\u2715", "Close the search");
    this.context = el("pre", "search-context");
    this.context.hidden = true;
    this.bar.append(this.input, this.count, prev, next, close, this.context);
    parent.append(this.bar);
    this.bar.addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.result && this.result.query === this.input.value) this.step(-1);
      else this.search(this.input.value);
    });
    prev.addEventListener("click", () => this.step(-1));
    next.addEventListener("click", () => this.step(1));
    close.addEventListener("click", () => this.close());
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.close();
    });
    toggle.addEventListener("click", () => (this.bar.hidden ? this.open() : this.close()));
  }

  open() {
    this.bar.hidden = false;
    this.input.focus();
    this.input.select();
  }

  close() {
    this.bar.hidden = true;
    this.context.hidden = true;
    this.#unhighlight();
    this.pane()?.term.clearSelection();
    this.refocus();
  }

  async search(query) {
    const pane = this.pane();
    if (!pane || !query) return;
    const params = new URLSearchParams({ pane: pane.id, q: query });
    this.count.textContent = "\u2026";
    try {
      const answer = await (await request(this.#token, `./api/search?${params}`)).json();
      this.result = { ...answer, query, pane: pane.id };
      this.matches = answer.matches;
      this.index = this.matches.length; // the first step (-1) shows the newest
      this.#highlight(pane);
      this.step(-1);
    } catch (err) {
      this.count.textContent = "";
      toast(`Search failed: ${err.message}`, { error: true });
    }
  }

  /** The row of `match` in the page's buffer, or -1 when the page does not hold it. */
  #row(pane, match) {
    const buffer = pane.term.buffer.active;
    // Counted from the bottom, which new output shifts alike here and in tmux.
    const row = buffer.length - 1 - (this.result.rows - 1 - match.line);
    const text = row >= 0 ? (buffer.getLine(row)?.translateToString(true) ?? "") : "";
    return text.toLowerCase().includes(this.result.query.toLowerCase()) ? row : -1;
  }

  #highlight(pane) {
    this.#unhighlight();
    const term = pane.term;
    const buffer = term.buffer.active;
    const width = [...this.result.query].length;
    for (const match of this.matches) {
      const row = this.#row(pane, match);
      if (row < 0) continue;
      const marker = term.registerMarker(row - (buffer.baseY + buffer.cursorY));
      const decoration = marker && term.registerDecoration({ marker, x: match.col, width, backgroundColor: "#ffd54f", layer: "top" });
      if (decoration) decoration.onRender((element) => element.classList.add("search-match"));
      if (marker) this.decorations.push(marker);
    }
  }

  #unhighlight() {
    for (const marker of this.decorations) marker.dispose(); // disposes its decoration
    this.decorations = [];
  }

  step(direction) {
    if (!this.result) return;
    if (this.matches.length === 0) {
      this.count.textContent = "no matches";
      this.context.hidden = true;
      return;
    }
    const n = this.matches.length;
    this.index = (this.index + direction + n) % n;
    const suffix = this.result.truncated ? "+" : "";
    this.count.textContent = `${this.index + 1}/${n}${suffix}`;
    this.show(this.matches[this.index]);
  }

  /** Select the match in the terminal, or show it from tmux's lines when the page does not hold its line. */
  show(match) {
    const pane = this.pane();
    if (!pane || pane.id !== this.result.pane) return;
    const term = pane.term;
    const row = this.#row(pane, match);
    const length = [...this.result.query].length;
    if (row >= 0) {
      this.context.hidden = true;
      term.scrollToLine(Math.max(0, row - Math.floor(term.rows / 2)));
      term.select(match.col, row, length);
      return;
    }
    term.clearSelection();
    this.context.replaceChildren();
    const line = (text, cls) => this.context.append(el("span", cls, `${text}\n`));
    this.context.append(el("span", "search-where", `history line ${match.line} (older than this page holds)\n`));
    for (const text of match.before) line(text, "search-line");
    const hit = el("span", "search-line search-hit");
    const chars = [...match.text];
    hit.append(chars.slice(0, match.col).join(""));
    hit.append(el("mark", null, chars.slice(match.col, match.col + length).join("")));
    hit.append(`${chars.slice(match.col + length).join("")}\n`);
    this.context.append(hit);
    for (const text of match.after) line(text, "search-line");
    this.context.hidden = false;
  }
}
