// The composer: a text box for longer input (dictation and autocorrect work
// in a textarea, not in the terminal), sent as one bracketed paste through
// the `paste` command, Enter optional, with a remembered, capped history.

const HISTORY_KEY = "tmuxweb.composer.history";
const HISTORY_MAX = 50;

function el(tag, props = {}) {
  return Object.assign(document.createElement(tag), props);
}

export class Composer {
  /** row: the key row to put the opening button in; paste(text); enter(); refocus(). */
  constructor(row, { paste, enter, refocus }) {
    this.panel = el("section", { id: "composer", hidden: true });
    this.panel.setAttribute("aria-label", "Compose text");
    this.text = el("textarea", { id: "composer-text", rows: 4, spellcheck: true });
    for (const [k, v] of [["autocapitalize", "sentences"], ["autocorrect", "on"], ["placeholder", "Text to send (dictation works here)"]]) {
      this.text.setAttribute(k, v);
    }
    this.enter = el("input", { type: "checkbox", id: "composer-enter", checked: true });
    const enterLabel = el("label");
    enterLabel.append(this.enter, " Enter");
    this.history = el("select", { id: "composer-history" });
    this.history.setAttribute("aria-label", "Sent before");
    this.history.addEventListener("change", () => {
      if (this.history.value) this.text.value = this.history.value;
      this.history.selectedIndex = 0;
    });
    const send = el("button", { type: "button", id: "composer-send", textContent: "Send" });
    send.addEventListener("click", () => {
      const value = this.text.value;
      if (!value) return;
      paste(value);
      if (this.enter.checked) enter();
      this.remember(value);
      this.text.value = "";
    });
    const close = el("button", { type: "button", textContent: "Close" });
    close.addEventListener("click", () => { this.panel.hidden = true; refocus(); });
    const controls = el("div", { className: "composer-controls" });
    controls.append(this.history, enterLabel, close, send);
    this.panel.append(this.text, controls);
    row.before(this.panel);
    const open = el("button", { type: "button", id: "composer-button", textContent: "\u270E" });
    open.setAttribute("aria-label", "Compose text");
    open.addEventListener("click", () => {
      this.panel.hidden = !this.panel.hidden;
      if (!this.panel.hidden) this.text.focus();
    });
    row.prepend(open);
    this.renderHistory();
  }

  load() {
    try {
      const list = JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]");
      return Array.isArray(list) ? list.filter((x) => typeof x === "string") : [];
    } catch { return []; }
  }

  remember(value) {
    const list = [value, ...this.load().filter((x) => x !== value)].slice(0, HISTORY_MAX);
    localStorage.setItem(HISTORY_KEY, JSON.stringify(list));
    this.renderHistory();
  }

  renderHistory() {
    const list = this.load();
    this.history.replaceChildren(
      el("option", { value: "", textContent: `History (${list.length})` }),
      ...list.map((x) => el("option", { value: x, textContent: x.length > 40 ? `${x.slice(0, 40)}\u2026` : x })),
    );
  }
}
