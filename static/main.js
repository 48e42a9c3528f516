// Wiring only: the token, then each part of the page made and connected to
// the others. What each part does is in its own module.

import { takeToken } from "./auth.js";
import { Answers } from "./answers.js";
import { Api } from "./api.js";
import { Attacher } from "./attach.js";
import { Attachment } from "./attachment.js";
import { setBaseTitle, setWaiting } from "./badge.js";
import { Commander } from "./commander.js";
import { openLink } from "./external-links.js";
import { FilePanel } from "./files/panel.js";
import { watchGestures } from "./gestures.js";
import { KeyRow } from "./keyrow.js";
import { KeyRowEditor } from "./keyroweditor.js";
import { Composer } from "./composer.js";
import { Notifications } from "./notifications.js";
import { Osc52 } from "./osc52.js";
import { Overview, startsOnOverview } from "./overview.js";
import { PaneStates } from "./panestates.js";
import { Prefix } from "./prefix.js";
import { ScrollbackSearch } from "./search.js";
import { SessionPicker } from "./sessions.js";
import { Sizing, initialFontSize } from "./sizing.js";
import { renderTabs } from "./tabs.js";
import { TestHooks } from "./testhooks.js";
import { currentTheme, watchTheme } from "./theme.js";
import { Toolbar } from "./toolbar.js";
import { ToolbarMenu } from "./toolbarmenu.js";
import { ask, showApp, showPage, toast } from "./ui.js";
import { Views } from "./views.js";
import { Workspace } from "./workspace.js";

const $ = (id) => document.getElementById(id);

function start(token) {
  const api = new Api(token);
  // Parts made later are reached through these closures, called only
  // once everything exists.
  let attachment, commander, osc52, keyRow, sizing, answers, notifications, views;
  const states = new PaneStates();

  const workspace = new Workspace($("workspace"), {
    fontSize: initialFontSize(),
    theme: currentTheme(),
    hooks: {
      onData: (pane, data) => commander.input(pane, data),
      onFocus: (pane) => commander.command({ type: "select-pane", pane }),
      openLink,
      onOsc52: (pane, payload) => osc52.request(pane, payload),
      onWindowsChanged: () => {
        showTabs();
        sizing?.refit(); // the window shown or its size may have changed
        // Another pane on screen: its answer bar, and maybe it is now seen.
        answers?.update();
        notifications?.checkSeen();
      },
      resizePane: null, // set when the server advertises "resize-pane"
      mayFocus: () => views?.view !== "overview",
    },
  });
  const showTabs = () => renderTabs($("tabs"), workspace.sortedWindows(), workspace.activeWindow, (id) => {
    if (id !== workspace.activeWindow) commander.command({ type: "select-window", window: id });
    workspace.focusActive();
  });
  const picker = new SessionPicker($("session-picker"), {
    list: () => api.sessions(),
    onSwitch: (name) => attachment.connect(name),
    onCreate: () => createSession(api, attachment),
  });
  const prefix = new Prefix({
    indicator: $("prefix-indicator"),
    button: $("prefix-key"),
    onKey: (key) => commander.binding(key),
  });
  commander = new Commander({
    connection: () => attachment.connection,
    workspace,
    prefix,
    modifiers: (data) => keyRow.apply(data),
  });
  keyRow = new KeyRow($("keyrow"), {
    sendKeys: (keys) => commander.keys(keys),
    type: (text) => commander.input(workspace.activePaneId(), text),
    prefix: () => prefix.press(),
    refocus: () => workspace.focusActive(),
  });
  new KeyRowEditor($("keyrow"), { refocus: () => workspace.focusActive() });
  new Composer($("keyrow"), { paste: (t) => commander.paste(t), enter: () => commander.keys(["Enter"]), refocus: () => workspace.focusActive() });
  const files = new FilePanel(token, {
    panel: $("files-panel"),
    button: $("files-button"),
    onClose: () => workspace.focusActive(),
  });
  sizing = new Sizing({
    workspace,
    element: $("workspace"),
    keyRow: $("keyrow"),
    fitButton: $("fit-button"),
    command: (c) => commander.command(c),
    connected: () => attachment.connected,
    canClaim: () => attachment?.canWrite ?? false,
  });
  osc52 = new Osc52({
    button: $("osc52-toggle"),
    canWrite: () => attachment.canWrite,
    reply: (pane, text) => commander.command({ type: "input", pane, text }),
    refocus: () => workspace.focusActive(),
  });
  const toolbar = new Toolbar($("toolbar"), { workspace, commander, sizing, osc52 });
  new ToolbarMenu($("toolbar-menu"), $("toolbar"));
  const overview = new Overview({
    root: $("overview"),
    list: $("overview-list"),
    summary: $("overview-summary"),
    empty: $("overview-empty"),
    states,
    hooks: {
      open: (state) => views.open(state),
      answer: (state, index, pressed) => answers.answer(state, index, pressed),
      canAnswer: () => attachment.canWrite,
      liveText: (pane) => workspace.panes.get(pane)?.term.text() ?? null,
    },
  });
  views = new Views({
    overview,
    button: $("overview-button"),
    closeButton: $("overview-close"),
    workspace,
    attachment: {
      get connection() { return attachment.connection; },
      get connected() { return attachment.connected; },
      get canWrite() { return attachment.canWrite; },
      connect: (session) => attachment.connect(session),
    },
    commander,
    onChange: () => {
      answers?.update();
      notifications?.checkSeen();
    },
  });
  answers = new Answers({
    states,
    attachment: {
      get connection() { return attachment.connection; },
      get connected() { return attachment.connected; },
      get canWrite() { return attachment.canWrite; },
    },
    views,
    bar: $("answer-bar"),
  });
  notifications = new Notifications({
    token,
    states,
    views,
    answers,
    send: (command) => attachment.connection?.send(command) ?? Promise.reject(new Error("not connected")),
    button: $("notify-button"),
  });
  states.listen(() => showWaiting(states.waitingCount()));
  const loadStates = () => api.states().then((answer) => states.load(answer), () => {
    // An older server without pane states: the overview says so.
  });
  const testHooks = new TestHooks({ workspace, attachment: () => attachment, prefix, states, views });
  attachment = new Attachment(api, {
    workspace,
    picker,
    hooks: {
      reset: () => {
        prefix.setKeys([]);
        sizing.setClaim(null);
      },
      connected: (info) => {
        sizing.connectedAs(info);
        const capabilities = new Set(info.capabilities ?? []);
        workspace.hooks.resizePane = capabilities.has("resize-pane")
          ? (pane, direction, cells) => commander.command({ type: "resize-pane", pane, direction, cells })
          : null;
        // Without the server's `binding` command the prefix key goes to the
        // program like any other key.
        prefix.setKeys(capabilities.has("binding") && Array.isArray(info.prefix) ? info.prefix : []);
        osc52.show();
        overview.refresh(); // the scope is known: answer buttons or none
        answers.update();
        loadStates(); // events missed while disconnected
      },
      state: (state) => {
        sizing.setClaim(state.size_claim);
        views.loaded();
        answers.update();
        notifications.checkSeen();
      },
      named: (title) => setBaseTitle(title),
      other: (type, data) => {
        if (type === "pane-state") states.apply(data);
        else notifications.onEvent(type, data);
      },
      sizeClaim: (claim) => sizing.setClaim(claim),
      panesAdded: () => files.linkPanes(workspace.panes),
      get output() { return testHooks.output; },
    },
  });

  showApp();
  osc52.show();
  sizing.listen();
  commander.listen($("workspace"));
  watchTheme((theme) => workspace.setTheme(theme));
  watchGestures($("workspace"), {
    onSwipe: (step) => sizing.panned || toolbar.stepWindow(step), // a panned window's swipe pans
    onPinch: (scale) => sizing.zoomBy(scale),
  });
  files.start().then(() => files.linkPanes(workspace.panes));
  new Attacher(token, {
    button: $("attach-button"),
    input: $("attach-input"),
    pane: () => workspace.activePaneId(),
    type: (pane, text) => commander.command({ type: "input", pane, text }),
    refocus: () => workspace.focusActive(),
  }).start();
  new ScrollbackSearch(token, {
    toggle: $("search-button"),
    parent: document.body,
    pane: () => workspace.panes.get(workspace.activePaneId())?.term ?? null,
    refocus: () => workspace.focusActive(),
  });
  notifications.start();
  loadStates();
  const wanted = paneInLink();
  attachment.connect(wanted?.session_name ?? Attachment.remembered());
  if (wanted) views.open(wanted);
  else views.show(startsOnOverview() ? "overview" : "terminal");
}

/** The waiting count on the bar's overview button (the title and favicon: badge.js). */
function showWaiting(count) {
  setWaiting(count);
  const badge = $("overview-button").querySelector(".count");
  badge.hidden = count === 0;
  badge.textContent = String(count);
}

/**
 * `#pane=%3&session=name` (a notification opened the page): the pane to
 * show first. Taken out of the address bar like the token.
 */
function paneInLink() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const pane = params.get("pane");
  if (!pane || !/^%[0-9]+$/.test(pane)) return null;
  params.delete("pane");
  const session = params.get("session");
  params.delete("session");
  const rest = params.toString();
  history.replaceState(history.state, "", window.location.pathname + window.location.search + (rest ? `#${rest}` : ""));
  return { pane, session_name: session, window: null };
}

async function createSession(api, attachment) {
  const name = await ask("Name of the new session:", { input: "", ok: "Create" });
  if (!name) return;
  try {
    const created = await api.createSession(name);
    attachment.connect(created.name);
  } catch (err) {
    toast(`Could not create the session: ${err.message}`, { error: true });
  }
}

function main() {
  // Pasting a new link into this tab changes only the fragment: no reload.
  window.addEventListener("hashchange", () => {
    if (new URLSearchParams(window.location.hash.slice(1)).has("token")) {
      takeToken();
      window.location.reload();
    }
  });
  const token = takeToken();
  if (!token) {
    showPage({
      title: "tmuxweb needs its link",
      text: "This page was opened without an access token.",
      help: true,
    });
    return;
  }
  start(token);
}

main();
