// Programs copying to the clipboard (OSC 52): the toolbar's toggle, the
// one-time hint when a copy was kept out, and each request handled by
// clipboard.js's rules (asks before a read, shows each honoured write).

import { handleOsc52, preview, setWritesEnabled, writesEnabled } from "./clipboard.js";
import { ask, toast } from "./ui.js";

export class Osc52 {
  /** button: the toolbar's toggle; canWrite(): may this connection type; reply(pane, text); refocus(). */
  constructor({ button, canWrite, reply, refocus }) {
    this.button = button;
    this.canWrite = canWrite;
    this.reply = reply;
    this.refocus = refocus;
    this.hinted = false;
  }

  async request(pane, payload) {
    await handleOsc52(payload, {
      canWrite: this.canWrite(),
      ask: (message) => ask(message, { ok: "Allow" }),
      reply: (text) => this.reply(pane, text),
      copied: (text) => toast(`Pane ${pane} copied to your clipboard: ${preview(text)}`, {
        actions: [{ label: "Stop allowing this", run: () => this.setWrites(false) }],
      }),
      refused: () => this.#hint(pane),
      paneLabel: pane,
    });
    this.refocus();
  }

  /** Once a page load: a program tried to copy, and the setting kept it out. */
  #hint(pane) {
    if (this.hinted || !this.canWrite()) return;
    this.hinted = true;
    toast(`The program in pane ${pane} tried to copy to your clipboard; that is off. `
      + "The Clip button in the toolbar lets programs copy.");
  }

  /** The toolbar button: flip the setting (never on a read-only connection). */
  toggle() {
    if (this.canWrite()) this.setWrites(!writesEnabled());
  }

  setWrites(on) {
    setWritesEnabled(on);
    this.show();
  }

  /** Bring the toggle up to date with the setting and the connection's scope. */
  show() {
    const canWrite = this.canWrite();
    const on = writesEnabled();
    this.button.disabled = !canWrite;
    this.button.setAttribute("aria-pressed", String(on && canWrite));
    this.button.title = !canWrite
      ? "Read-only connection: programs can never copy to your clipboard"
      : on
        ? "Programs may copy to your clipboard (OSC 52); each copy is shown. Click to stop."
        : "Programs may not copy to your clipboard (OSC 52). Click to allow.";
  }
}
