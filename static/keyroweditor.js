// The key row's layout chosen by the user: which keys show and in what
// order, remembered in localStorage. The buttons stay those of index.html;
// this only reorders them and hides some (a class, not `hidden`, which
// prefix.js owns for the prefix key).

const STORE_KEY = "tmuxweb.keyrow";

function keyId(button) {
  const d = button.dataset;
  return d.key || d.text || d.latch || (d.prefix !== undefined ? "prefix" : "");
}

function keyLabel(button) {
  return button.getAttribute("aria-label") || button.textContent;
}

export class KeyRowEditor {
  constructor(row, { refocus }) {
    this.row = row;
    this.refocus = refocus;
    this.buttons = [...row.querySelectorAll("button")].filter(keyId);
    this.apply(this.load());
    this.edit = document.createElement("button");
    this.edit.type = "button";
    this.edit.id = "keyrow-edit";
    this.edit.textContent = "\u2699";
    this.edit.setAttribute("aria-label", "Customise the key row");
    this.edit.addEventListener("click", () => this.open());
    row.append(this.edit);
  }

  load() {
    try {
      const saved = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
      if (Array.isArray(saved?.order) && Array.isArray(saved?.hidden)) return saved;
    } catch { /* a damaged entry falls back to the default row */ }
    return { order: this.buttons.map(keyId), hidden: [] };
  }

  apply({ order, hidden }) {
    const byId = new Map(this.buttons.map((b) => [keyId(b), b]));
    // Keys added to index.html after the layout was saved go at the end.
    const ids = [...order.filter((id) => byId.has(id)), ...[...byId.keys()].filter((id) => !order.includes(id))];
    for (const id of ids) this.row.insertBefore(byId.get(id), this.edit ?? null);
    for (const [id, button] of byId) button.classList.toggle("user-hidden", hidden.includes(id));
  }

  current() {
    const buttons = [...this.row.querySelectorAll("button")].filter(keyId);
    return { order: buttons.map(keyId), hidden: buttons.filter((b) => b.classList.contains("user-hidden")).map(keyId) };
  }

  save(layout) {
    localStorage.setItem(STORE_KEY, JSON.stringify(layout));
    this.apply(layout);
  }

  open() {
    const dialog = document.createElement("dialog");
    dialog.id = "keyrow-editor";
    const list = document.createElement("ol");
    const layout = this.current();
    const render = () => {
      list.replaceChildren(...layout.order.map((id, index) => {
        const button = this.buttons.find((b) => keyId(b) === id);
        const item = document.createElement("li");
        item.dataset.id = id;
        const label = document.createElement("label");
        const box = document.createElement("input");
        box.type = "checkbox";
        box.checked = !layout.hidden.includes(id);
        box.addEventListener("change", () => {
          layout.hidden = box.checked ? layout.hidden.filter((h) => h !== id) : [...layout.hidden, id];
        });
        label.append(box, ` ${keyLabel(button)}`);
        const up = document.createElement("button");
        up.type = "button";
        up.className = "up";
        up.textContent = "\u2191";
        up.setAttribute("aria-label", `Move ${keyLabel(button)} left`);
        up.disabled = index === 0;
        up.addEventListener("click", () => {
          layout.order.splice(index - 1, 0, ...layout.order.splice(index, 1));
          render();
        });
        item.append(label, up);
        return item;
      }));
    };
    render();
    const done = document.createElement("button");
    done.type = "button";
    done.id = "keyrow-editor-done";
    done.textContent = "Done";
    done.addEventListener("click", () => { this.save(layout); dialog.close(); });
    const reset = document.createElement("button");
    reset.type = "button";
    reset.textContent = "Reset";
    reset.addEventListener("click", () => {
      layout.order = this.buttons.map(keyId); // index.html's order
      layout.hidden = [];
      render();
    });
    dialog.addEventListener("close", () => { dialog.remove(); this.refocus(); });
    dialog.append(list, reset, done);
    document.body.append(dialog);
    dialog.showModal();
  }
}
