// The toolbar's buttons (data-action) as commands and dialogs.

import { ask } from "./ui.js";

export class Toolbar {
  /** element: the toolbar; workspace; commander; sizing; osc52: the Osc52 toggle. */
  constructor(element, { workspace, commander, sizing, osc52 }) {
    this.workspace = workspace;
    this.commander = commander;
    this.sizing = sizing;
    this.osc52 = osc52;
    // Buttons must not take the focus (and on phones close the keyboard).
    element.addEventListener("pointerdown", (event) => {
      if (event.target.closest("button")) event.preventDefault();
    });
    element.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (button) this.action(button.dataset.action);
    });
  }

  /** The next (step 1) or previous (-1) window. */
  stepWindow(step) {
    if (this.workspace.windows.size < 2) return; // tmux would answer "no next window"
    this.commander.command({ type: step > 0 ? "next-window" : "previous-window" });
  }

  async action(name) {
    const ws = this.workspace;
    const command = (c) => this.commander.command(c);
    const pane = ws.activePaneId();
    const win = ws.windows.get(ws.activeWindow);
    switch (name) {
      case "prev-window": return this.stepWindow(-1);
      case "next-window": return this.stepWindow(1);
      case "new-window": return command({ type: "new-window" });
      case "split-horizontal": return pane && command({ type: "split", pane, direction: "horizontal" });
      case "split-vertical": return pane && command({ type: "split", pane, direction: "vertical" });
      case "zoom": return pane && command({ type: "zoom", pane });
      case "font-smaller": return this.sizing.stepFont(-1);
      case "font-larger": return this.sizing.stepFont(1);
      case "fit": return this.sizing.toggleClaim();
      case "keyboard": return ws.focusActive();
      case "osc52": return this.osc52.toggle();
      case "kill-pane": {
        if (!pane) return undefined;
        const current = ws.panes.get(pane)?.info.current_command || "";
        const ok = await ask(`Close pane ${pane}${current ? ` (${current})` : ""}? Its program will be killed.`, { ok: "Close pane" });
        if (ok) command({ type: "kill-pane", pane });
        return ws.focusActive();
      }
      case "rename-window": {
        if (!win) return undefined;
        const newName = await ask("Rename window to:", { input: win.name, ok: "Rename" });
        if (newName && newName !== win.name) command({ type: "rename-window", window: win.id, name: newName });
        return ws.focusActive();
      }
      default: return undefined;
    }
  }
}
