// The on-screen key row for touch screens: Esc, Tab, arrows, paging keys,
// sticky Ctrl/Alt that apply to the next key typed on the soft keyboard, and
// the tmux prefix, and the symbols phone keyboards hide (typed as text, so a
// latched Ctrl/Alt applies to them). A long press on Ctrl or Alt locks it
// until it is tapped again; otherwise it applies to one key.

const LOCK_MS = 500;

/** The byte a terminal sends for Ctrl+ch, or null if Ctrl does not apply. */
export function ctrlByte(ch) {
  if (ch === "?") return "\x7f";
  if (ch === " ") return "\x00";
  const code = ch.toUpperCase().charCodeAt(0);
  return code >= 0x40 && code <= 0x5f ? String.fromCharCode(code & 0x1f) : null;
}

export class KeyRow {
  /** sendKeys(names), type(text), prefix(), refocus(); names are tmux key names. */
  constructor(element, { sendKeys, type, prefix, refocus }) {
    this.element = element;
    this.latched = { ctrl: false, alt: false };
    this.locked = { ctrl: false, alt: false };
    let timer = null;
    let lockedNow = null;
    // Keep the focus (and the soft keyboard) in the terminal.
    element.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      const latch = event.target.closest("button[data-latch]")?.dataset.latch;
      clearTimeout(timer);
      if (latch) {
        timer = setTimeout(() => {
          this.latched[latch] = this.locked[latch] = true;
          lockedNow = latch;
          this.#paint();
        }, LOCK_MS);
      }
    });
    for (const end of ["pointerup", "pointercancel", "pointerleave"]) {
      element.addEventListener(end, () => clearTimeout(timer));
    }
    // A long press on a touch screen opens a context menu otherwise.
    element.addEventListener("contextmenu", (event) => event.preventDefault());
    element.addEventListener("click", (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      if (button.dataset.latch) {
        // The click that ends a long press must not undo the lock.
        if (lockedNow === button.dataset.latch) lockedNow = null;
        else this.#toggle(button.dataset.latch);
      } else if (button.dataset.text) {
        type(button.dataset.text);
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
    this.locked[name] = false;
    this.#paint();
  }

  #release() {
    for (const name of ["ctrl", "alt"]) if (!this.locked[name]) this.latched[name] = false;
    this.#paint();
  }

  #paint() {
    for (const button of this.element.querySelectorAll("[data-latch]")) {
      button.setAttribute("aria-pressed", String(this.latched[button.dataset.latch]));
      button.classList.toggle("locked", this.locked[button.dataset.latch]);
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
