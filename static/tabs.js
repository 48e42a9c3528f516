// Window tabs: "index:name" plus tmux-style flags (# activity, ! bell, Z zoomed).

export function renderTabs(container, windows, activeId, onSelect) {
  const buttons = windows.map((win) => {
    const button = document.createElement("button");
    button.type = "button";
    button.setAttribute("role", "tab");
    button.dataset.window = win.id;
    button.setAttribute("aria-selected", String(win.id === activeId));
    const label = document.createElement("span");
    label.className = "name";
    label.textContent = `${win.index}:${win.name}`;
    button.append(label);
    for (const [flag, mark] of [["activity", "#"], ["bell", "!"], ["zoomed", "Z"]]) {
      if (!win[flag]) continue;
      const span = document.createElement("span");
      span.className = `flag ${flag}`;
      span.textContent = mark;
      span.title = flag;
      button.append(span);
    }
    button.title = win.name;
    button.addEventListener("click", () => onSelect(win.id));
    return button;
  });
  container.replaceChildren(...buttons);
  container.querySelector('[aria-selected="true"]')?.scrollIntoView({ block: "nearest", inline: "nearest" });
}
