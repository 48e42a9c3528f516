// Every pane's state as the server keeps it (DATA-FLOW.md, "Pane states"):
// one snapshot from GET /api/states, then the `pane-state` events that every
// stream carries. The page computes nothing about states itself; it only
// orders them and counts the waiting ones.

// Who needs the person first (the server sorts `GET /api/states` the same way).
const ATTENTION = ["waiting", "bell", "exited", "done", "working", "idle"];
export const ATTENTION_STATES = new Set(["waiting", "bell", "exited", "done"]);

function rank(state) {
  const index = ATTENTION.indexOf(state.state);
  return index < 0 ? ATTENTION.length : index;
}

export function byAttention(a, b) {
  return rank(a) - rank(b) || a.since - b.since || a.pane.localeCompare(b.pane, "en", { numeric: true });
}

export class PaneStates {
  #panes = new Map();
  #listeners = new Set();
  // Server clock minus ours, in seconds: `since` is the server's time.
  #skew = 0;
  #loaded = false;

  /** Has a snapshot or an event arrived (false: the server has no states). */
  get loaded() {
    return this.#loaded;
  }

  get(pane) {
    return this.#panes.get(pane) ?? null;
  }

  /** All panes, who needs attention first. */
  sorted() {
    return [...this.#panes.values()].sort(byAttention);
  }

  waitingCount() {
    let count = 0;
    for (const state of this.#panes.values()) if (state.state === "waiting") count++;
    return count;
  }

  /** Seconds the pane has been in its state, by the server's clock. */
  age(state) {
    return Math.max(0, Date.now() / 1000 + this.#skew - state.since);
  }

  /** onChange(pane or null for everything) after each change; returns the remover. */
  listen(onChange) {
    this.#listeners.add(onChange);
    return () => this.#listeners.delete(onChange);
  }

  /** The answer of GET /api/states: replaces everything known. */
  load({ now, panes }) {
    if (typeof now === "number") this.#skew = now - Date.now() / 1000;
    this.#panes.clear();
    for (const state of panes) if (!state.gone) this.#panes.set(state.pane, state);
    this.#loaded = true;
    this.#changed(null);
  }

  /** One `pane-state` event (or the state a 409 answer carried). */
  apply(state) {
    const known = this.#panes.get(state.pane);
    // `version` grows with every change on the server: an older copy (an
    // event overtaken by a snapshot, a 409's state after the event) is stale.
    if (known && known.version > state.version) return;
    if (state.gone) this.#panes.delete(state.pane);
    else this.#panes.set(state.pane, state);
    this.#loaded = true;
    this.#changed(state.pane);
  }

  #changed(pane) {
    for (const listener of this.#listeners) listener(pane);
  }
}
