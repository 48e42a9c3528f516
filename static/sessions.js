// The session picker: a <select> of tmux sessions plus "New session…".

const NEW = "\u0000new"; // cannot collide with a tmux session name

export class SessionPicker {
  constructor(select, { list, onSwitch, onCreate }) {
    this.select = select;
    this.list = list;
    this.current = null;
    select.addEventListener("focus", () => this.refresh());
    select.addEventListener("change", () => {
      const value = select.value;
      if (value === NEW) {
        this.#show(this.names);
        onCreate();
      } else if (value !== this.current) {
        onSwitch(value);
      }
    });
    this.names = [];
  }

  setCurrent(name) {
    this.current = name;
    this.refresh();
  }

  async refresh() {
    try {
      const { sessions } = await this.list();
      this.names = sessions.map((s) => s.name);
    } catch {
      // keep the old list; the connection indicator tells the story
    }
    this.#show(this.names);
  }

  #show(names) {
    if (this.current && !names.includes(this.current)) names = [this.current, ...names];
    const options = names.map((name) => {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      return option;
    });
    const create = document.createElement("option");
    create.value = NEW;
    create.textContent = "New session…";
    this.select.replaceChildren(...options, create);
    if (this.current) this.select.value = this.current;
  }
}
