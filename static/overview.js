// The overview: every pane of every session as a card (state badge, time in
// that state, title, command, its last lines as a miniature preview, and
// the prompt's answers), who needs attention first. A click or tap opens
// the pane in the terminal view. It is the first screen on a narrow
// viewport (a phone): the question there is "who needs me", not a terminal.

import { button, el } from "./dom.js";

// Below this width the page opens on the overview.
export const NARROW_PX = 700;
const TICK_MS = 1000;
const PREVIEW_LINES = 8; // as many as the server's `lines`

const LABELS = {
  waiting: "waiting", bell: "bell", exited: "exited", done: "done", working: "working", idle: "idle",
};

/** "45 s", "3 min", "2 h 5 min", "3 d 4 h": the time in a state. */
export function duration(seconds) {
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

function stateLabel(state) {
  if (state.state === "exited" && state.exit_status !== null && state.exit_status !== undefined) {
    return `exited ${state.exit_status}`;
  }
  return LABELS[state.state] ?? state.state;
}

/** Where a pane is, as tmux users write it: session:window plus the pane id. */
export function paneWhere(state) {
  return `${state.session_name}:${state.window_index} ${state.pane}`;
}

export class Overview {
  #cards = new Map();
  #timer = null;

  /**
   * root: the overview's element; list: the <ol> of cards; summary: a line
   * of counts; states: the PaneStates; hooks: open(state), answer(state,
   * choiceIndex, button), canAnswer(), liveText(pane): the pane's screen
   * as this page's terminal has it, or null (a pane of another session).
   */
  constructor({ root, list, summary, empty, states, hooks }) {
    this.root = root;
    this.list = list;
    this.summary = summary;
    this.empty = empty;
    this.states = states;
    this.hooks = hooks;
    states.listen(() => this.#render());
    list.addEventListener("click", (event) => this.#clicked(event));
    list.addEventListener("keydown", (event) => {
      if ((event.key === "Enter" || event.key === " ") && event.target.classList.contains("pane-card")) {
        event.preventDefault();
        this.#open(event.target.dataset.pane);
      }
    });
  }

  get shown() {
    return !this.root.hidden;
  }

  show() {
    this.root.hidden = false;
    this.#render();
    clearInterval(this.#timer);
    // Only the times change between events: one text update a second.
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  hide() {
    this.root.hidden = true;
    clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Answer buttons appear or go (the connection's scope became known). */
  refresh() {
    for (const card of this.#cards.values()) card.key = null;
    this.#render();
  }

  #clicked(event) {
    const choice = event.target.closest("button[data-choice]");
    const card = event.target.closest(".pane-card");
    if (!card) return;
    if (choice) {
      const state = this.states.get(card.dataset.pane);
      if (state) this.hooks.answer(state, Number(choice.dataset.choice), choice);
      return;
    }
    this.#open(card.dataset.pane);
  }

  #open(pane) {
    const state = this.states.get(pane);
    if (state) this.hooks.open(state);
  }

  #render() {
    if (!this.shown) return;
    const sorted = this.states.sorted();
    const seen = new Set();
    const canAnswer = this.hooks.canAnswer();
    const items = sorted.map((state) => {
      seen.add(state.pane);
      let card = this.#cards.get(state.pane);
      if (!card) {
        card = { element: this.#makeCard(state.pane), key: null };
        this.#cards.set(state.pane, card);
      }
      // Rebuild a card only when its state changed (keeps hover and focus).
      const key = `${state.version}:${canAnswer}`;
      if (card.key !== key) {
        this.#fill(card.element, state, canAnswer);
        card.key = key;
      }
      return card.element;
    });
    for (const [pane, card] of this.#cards) {
      if (!seen.has(pane)) {
        card.element.remove();
        this.#cards.delete(pane);
      }
    }
    // append moves existing nodes: the list follows the attention order.
    items.forEach((item, index) => {
      if (this.list.children[index] !== item) this.list.insertBefore(item, this.list.children[index] ?? null);
    });
    this.empty.hidden = sorted.length > 0;
    this.empty.textContent = this.states.loaded ? "No panes." : "Pane states are not available from this server.";
    this.#summarise(sorted);
    this.#tick();
  }

  #summarise(sorted) {
    const counts = new Map();
    for (const state of sorted) counts.set(state.state, (counts.get(state.state) ?? 0) + 1);
    const parts = [];
    for (const name of Object.keys(LABELS)) if (counts.get(name)) parts.push(`${counts.get(name)} ${name}`);
    this.summary.textContent = parts.join(" · ");
  }

  #tick() {
    for (const [pane, card] of this.#cards) {
      const state = this.states.get(pane);
      if (!state) continue;
      const since = card.element.querySelector(".card-since");
      if (since) since.textContent = duration(this.states.age(state));
      // The server reads a screen when output goes quiet, so a working
      // pane's lines would stand still: this session's panes are previewed
      // from the page's own terminals instead, once a second.
      if (state.state === "working") this.#livePreview(card.element, pane);
    }
  }

  #livePreview(card, pane) {
    const text = this.hooks.liveText(pane);
    const preview = card.querySelector(".card-preview");
    if (text === null || !preview) return;
    const lines = text.split("\n").map((line) => line.trimEnd()).filter(Boolean).slice(-PREVIEW_LINES);
    const joined = lines.join("\n");
    if (preview.textContent !== joined) preview.textContent = joined;
  }

  #makeCard(pane) {
    const card = el("li", "pane-card");
    card.dataset.pane = pane;
    card.tabIndex = 0;
    return card;
  }

  #fill(card, state, canAnswer) {
    card.dataset.state = state.state;
    card.dataset.session = state.session_name;
    card.setAttribute("aria-label", `${paneWhere(state)}: ${stateLabel(state)}${state.title ? `, ${state.title}` : ""}`);
    const head = el("div", "card-head");
    const badge = el("span", `badge state-${state.state}`, stateLabel(state));
    head.append(badge, el("span", "card-since", duration(this.states.age(state))), el("span", "card-where", paneWhere(state)));
    const meta = el("div", "card-meta");
    meta.append(el("span", "card-title", state.title || state.command || ""), el("span", "card-command", state.command || ""));
    const preview = el("pre", "card-preview", (state.lines ?? []).join("\n"));
    preview.setAttribute("aria-hidden", "true");
    const parts = [head, meta, preview];
    if (state.prompt) parts.push(promptBlock(state, canAnswer));
    card.replaceChildren(...parts);
  }
}

/** The prompt's question and, for a token that may type, one button per choice. */
export function promptBlock(state, canAnswer) {
  const block = el("div", "prompt");
  const tool = state.prompt.tool ? `${state.prompt.tool}: ` : "";
  block.append(el("p", "prompt-question", `${tool}${state.prompt.question || "needs an answer"}`));
  const choices = state.prompt.choices ?? [];
  if (canAnswer && choices.length) {
    const row = el("div", "prompt-choices");
    choices.forEach((choice, index) => {
      const b = button("choice", choice.label, `Answer “${choice.label}”`);
      b.dataset.choice = String(index);
      row.append(b);
    });
    block.append(row);
  }
  return block;
}

/** Whether the page should open on the overview (a phone-sized viewport). */
export function startsOnOverview() {
  return window.innerWidth < NARROW_PX;
}
