// Where the person is looking: the overview or the terminal, and which pane.
// Opening a pane from the overview (or a notification) switches the
// session if needed, then the window and the pane, locally at once and in
// tmux too when the token may move the focus.

export class Views {
  #pendingPane = null;

  /**
   * overview: the Overview; button: the bar's overview toggle; workspace;
   * attachment; commander; onChange(view) after every switch.
   */
  constructor({ overview, button, closeButton, workspace, attachment, commander, onChange }) {
    this.overview = overview;
    this.button = button;
    this.workspace = workspace;
    this.attachment = attachment;
    this.commander = commander;
    this.onChange = onChange;
    this.view = "terminal";
    button.addEventListener("click", () => this.show(this.view === "overview" ? "terminal" : "overview"));
    closeButton.addEventListener("click", () => this.show("terminal"));
  }

  show(view) {
    this.view = view;
    document.body.dataset.view = view;
    this.button.setAttribute("aria-pressed", String(view === "overview"));
    if (view === "overview") {
      // Keys must not go on reaching a terminal hidden under the overview.
      if (this.workspace.root.contains(document.activeElement)) document.activeElement.blur();
      this.overview.show();
    } else {
      this.overview.hide();
      this.workspace.focusActive();
    }
    this.onChange(view);
  }

  /**
   * Show the pane of `state` (a PaneState, or {pane, session_name,
   * window}) in the terminal view; after a session switch, once that
   * session's state has arrived.
   */
  open(state) {
    this.show("terminal");
    const session = state.session_name;
    const current = this.attachment.connection?.session ?? null;
    if (session && session !== current) {
      this.#pendingPane = state;
      this.attachment.connect(session);
    } else if (this.attachment.connected && this.workspace.panes.has(state.pane)) {
      this.#select(state);
    } else {
      this.#pendingPane = state; // the state of this session is on its way
    }
  }

  /** A session's full state was loaded: finish a pending open. */
  loaded() {
    const pending = this.#pendingPane;
    if (pending && this.workspace.panes.has(pending.pane)) this.#select(pending);
  }

  /** Is the person looking at this pane right now (page visible, terminal view, pane on screen)? */
  lookingAt(pane) {
    if (document.visibilityState !== "visible" || this.view !== "terminal") return false;
    const shown = this.workspace.panes.get(pane);
    if (!shown || shown.info.window !== this.workspace.activeWindow) return false;
    return !shown.term.element.hidden;
  }

  #select(state) {
    this.#pendingPane = null;
    const ws = this.workspace;
    const windowId = ws.panes.get(state.pane)?.info.window ?? state.window;
    // Locally first (a read token may look at any pane without moving tmux's focus).
    ws.selectWindow(windowId);
    ws.selectPane(windowId, state.pane);
    if (this.attachment.canWrite) {
      this.commander.command({ type: "select-window", window: windowId });
      this.commander.command({ type: "select-pane", pane: state.pane });
    }
    ws.focusActive();
    this.onChange(this.view);
  }
}
