// The tmux prefix: after one of tmux's prefix keys, the next key is not
// typed into the pane but looked up in tmux's prefix table (the server's
// `binding` command). Pressing the prefix twice sends the prefix's own
// binding (by default `send-prefix`, which types it into the pane).

import { canonicalKey, keyName, keyNameFromData } from "./keys.js";

export class Prefix {
  #keys = [];
  #pending = false;
  #indicator;
  #button;
  #onKey;

  /**
   * indicator: the element shown while the prefix is pending (clicking it
   * cancels); button: the key row's Prefix button or null;
   * onKey(tmuxKeyName): the key typed after the prefix.
   */
  constructor({ indicator, button, onKey }) {
    this.#indicator = indicator;
    this.#button = button;
    this.#onKey = onKey;
    indicator.addEventListener("pointerdown", (event) => event.preventDefault()); // keep the terminal's focus
    indicator.addEventListener("click", () => this.cancel());
  }

  /** tmux's prefix keys (tmux names); an empty list turns the prefix off. */
  setKeys(keys) {
    this.#keys = keys.map(canonicalKey);
    if (this.#button) this.#button.hidden = this.#keys.length === 0;
    this.cancel();
  }

  get enabled() {
    return this.#keys.length > 0;
  }

  /** How to name the prefix to the user: tmux's name of the first prefix key. */
  get label() {
    return this.#keys[0] ?? "prefix";
  }

  get pending() {
    return this.#pending;
  }

  /** The key row's Prefix button: start, or (when pending) send the prefix itself. */
  press() {
    if (!this.enabled) return;
    if (this.#pending) this.#finish(this.#keys[0]);
    else this.#setPending(true);
  }

  cancel() {
    this.#setPending(false);
  }

  /** A keydown in a terminal; true when it was the prefix's and must not reach the pane. */
  keydown(event) {
    if (!this.enabled) return false;
    const name = keyName(event);
    if (name === null) return false; // a modifier alone, a dead key, an IME: nothing yet
    if (this.#pending) {
      this.#finish(name);
      return true;
    }
    if (this.#keys.includes(canonicalKey(name))) {
      this.#setPending(true);
      return true;
    }
    return false;
  }

  /**
   * Typed data that did not come as a keydown we could name (soft keyboards,
   * IME, the key row's latched modifiers). Returns the data still to type
   * into the pane: "" when the prefix took it all.
   */
  data(text) {
    if (!this.enabled || text === "") return text;
    const whole = keyNameFromData(text);
    if (!this.#pending) {
      // The prefix typed some other way (the key row's Ctrl, then b).
      if (whole === null || !this.#keys.includes(canonicalKey(whole))) return text;
      this.#setPending(true);
      return "";
    }
    if (whole !== null) {
      this.#finish(whole);
      return "";
    }
    // Several characters at once (a composition): the first is the key.
    const first = [...text][0];
    const name = keyNameFromData(first);
    if (name === null) {
      this.cancel();
      return text;
    }
    this.#finish(name);
    return text.slice(first.length);
  }

  /** A key name from the key row; true when the prefix took it. */
  key(name) {
    if (!this.#pending) return false;
    this.#finish(name);
    return true;
  }

  #finish(name) {
    this.#setPending(false);
    this.#onKey(name);
  }

  #setPending(pending) {
    this.#pending = pending;
    this.#indicator.hidden = !pending;
    if (pending) this.#indicator.textContent = this.#keys[0] ?? "";
    this.#button?.setAttribute("aria-pressed", String(pending));
    document.documentElement.classList.toggle("prefix-pending", pending);
  }
}
