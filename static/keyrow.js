// The on-screen key row for touch screens: Esc, Tab, arrows, paging keys,
// sticky Ctrl/Alt that apply to the next key typed on the soft keyboard, and
// the tmux prefix.

/** The byte a terminal sends for Ctrl+ch, or null if Ctrl does not apply. */
export function ctrlByte(ch) {
  if (ch === "?") return "\x7f";
  if (ch === " ") return "\x00";
  const code = ch.toUpperCase().charCodeAt(0);
  return code >= 0x40 && code <= 0x5f ? String.fromCharCode(code & 0x1f) : null;
}

export class KeyRow {
  /** sendKeys(names), prefix(), refocus(); names are tmux key names. */
  constructor(element, { sendKeys, prefix, refocus }) {
    this.element = element;
    this.latched = { ctrl: false, alt: false };
    // Keep the focus (and the soft keyboard) in the terminal.
    element.addEventListener("pointerdown", (event) => event.preventDefault());
    element.addEventListener("click", (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      if (button.dataset.latch) {
        this.#toggle(button.dataset.latch);
      } else if (button.dataset.prefix !== undefined) {
        prefix();
      } else if (button.dataset.key) {
        sendKeys([this.#modified(button.dataset.key)]);
        this.#release();
      }
      refocus();
    });
  }

  #toggle(name) {
    this.latched[name] = !this.latched[name];
    this.#paint();
  }

  #release() {
    this.latched.ctrl = this.latched.alt = false;
    this.#paint();
  }

  #paint() {
    for (const button of this.element.querySelectorAll("[data-latch]")) {
      button.setAttribute("aria-pressed", String(this.latched[button.dataset.latch]));
    }
  }

  #modified(key) {
    return `${this.latched.ctrl ? "C-" : ""}${this.latched.alt ? "M-" : ""}${key}`;
  }

  /** Apply latched modifiers to typed data (from xterm's onData). */
  apply(data) {
    if (!this.latched.ctrl && !this.latched.alt) return data;
    let out = data;
    if (this.latched.ctrl && [...data].length === 1) out = ctrlByte(data) ?? data;
    if (this.latched.alt) out = `\x1b${out}`;
    this.#release();
    return out;
  }
}
