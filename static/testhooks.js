// Read-only accessors for the browser tests and the latency benchmark:
// window.__tmuxweb. Nothing here changes what the page does.

export class TestHooks {
  #outputHooks = new Set();

  constructor({ workspace: ws, attachment, prefix, states, views }) {
    window.__tmuxweb = Object.freeze({
      paneText: (id) => ws.panes.get(id)?.term.text() ?? null,
      paneSize: (id) => {
        const term = ws.panes.get(id)?.term.term;
        return term ? [term.cols, term.rows] : null;
      },
      selection: () => ws.panes.get(ws.activePaneId())?.term.term.getSelection() ?? null,
      cellSize: () => ws.cellSize(),
      fontSize: () => ws.fontSize,
      panes: () => [...ws.panes.keys()],
      activePane: () => ws.activePaneId(),
      activeWindow: () => ws.activeWindow,
      connected: () => attachment().connected,
      resumed: () => attachment().info?.resumed === true,
      connectionId: () => attachment().info?.connection_id ?? null,
      prefixPending: () => prefix.pending,
      paneStates: () => states.sorted(),
      view: () => views.view,
      onOutput: (hook) => {
        this.#outputHooks.add(hook);
        return () => this.#outputHooks.delete(hook);
      },
    });
  }

  /** Called for each output event once written, or null while nobody listens. */
  get output() {
    if (!this.#outputHooks.size) return null;
    return (pane, data) => {
      for (const hook of this.#outputHooks) hook(pane, data);
    };
  }
}
