// Small page furniture: the connection indicator, toasts, a dialog, and the
// full-page messages. Every string is set with textContent.

const $ = (id) => document.getElementById(id);

const STATUS_LABELS = {
  connecting: "connecting…",
  open: "connected",
  retrying: "reconnecting",
  offline: "offline",
  closed: "session ended",
  unauthorized: "token refused",
  missing: "session gone",
};

export function showStatus(state, detail) {
  const conn = $("conn");
  conn.dataset.state = state;
  let label = STATUS_LABELS[state] ?? state;
  if (state === "retrying" && typeof detail === "number") label = `reconnecting in ${Math.ceil(detail / 1000)} s`;
  conn.querySelector(".label").textContent = label;
  conn.title = typeof detail === "string" ? detail : label;
}

/** A transient message; actions: [{label, run}]. Returns a function that closes it. */
export function toast(message, { error = false, actions = [], timeout = 6000 } = {}) {
  const box = document.createElement("div");
  box.className = error ? "toast error" : "toast";
  box.setAttribute("role", error ? "alert" : "status");
  const text = document.createElement("div");
  text.textContent = message;
  box.append(text);
  const close = () => box.remove();
  if (actions.length) {
    const row = document.createElement("div");
    row.className = "actions";
    for (const { label, run } of actions) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.addEventListener("click", () => {
        close();
        run();
      });
      row.append(button);
    }
    box.append(row);
  }
  $("toasts").append(box);
  if (timeout) setTimeout(close, timeout);
  return close;
}

/**
 * Ask the user. With `input` (a default value) resolves to the entered
 * string or null; without, to true/false. `yesNo`: the keys y and n answer
 * too (tmux's confirm-before prompts).
 */
export function ask(message, { input = null, ok = "OK", cancel = "Cancel", yesNo = false } = {}) {
  const dialog = $("dialog");
  const field = $("dialog-input");
  $("dialog-message").textContent = message;
  $("dialog-ok").textContent = ok;
  $("dialog-cancel").textContent = cancel;
  field.hidden = input === null;
  field.value = input ?? "";
  dialog.returnValue = "";
  const onKey = (event) => {
    if (event.ctrlKey || event.altKey || event.metaKey) return;
    const answer = { y: "ok", Y: "ok", n: "cancel", N: "cancel" }[event.key];
    if (!answer) return;
    event.preventDefault();
    dialog.close(answer);
  };
  if (yesNo && input === null) dialog.addEventListener("keydown", onKey);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      dialog.removeEventListener("keydown", onKey);
      const accepted = dialog.returnValue === "ok";
      if (input === null) resolve(accepted);
      else resolve(accepted ? field.value : null);
    }, { once: true });
    dialog.showModal();
    if (input !== null) field.select();
    else $("dialog-ok").focus();
  });
}

/** Replace the app with a full-page message (no token, refused token, …). */
export function showPage({ title, text, help = false, action = null }) {
  $("bar").hidden = true;
  $("workspace").hidden = true;
  $("keyrow").hidden = true;
  $("page-message").hidden = false;
  $("page-message-title").textContent = title;
  $("page-message-text").textContent = text;
  $("page-message-help").hidden = !help;
  const button = $("page-message-action");
  button.hidden = !action;
  button.onclick = null;
  if (action) {
    button.textContent = action.label;
    button.onclick = action.run;
  }
  document.title = `tmuxweb: ${title}`;
}

export function showApp() {
  $("page-message").hidden = true;
  $("bar").hidden = false;
  $("workspace").hidden = false;
}
