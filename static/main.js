// Wiring only: the token, then each part of the page made and connected to
// the others. What each part does is in its own module.

import { takeToken } from "./auth.js";
import { Api } from "./api.js";
import { Attachment } from "./attachment.js";
import { Commander } from "./commander.js";
import { openLink } from "./external-links.js";
import { FilePanel } from "./files/panel.js";
import { watchGestures } from "./gestures.js";
import { KeyRow } from "./keyrow.js";
import { Osc52 } from "./osc52.js";
import { Prefix } from "./prefix.js";
import { SessionPicker } from "./sessions.js";
import { Sizing, initialFontSize } from "./sizing.js";
import { renderTabs } from "./tabs.js";
import { TestHooks } from "./testhooks.js";
import { currentTheme, watchTheme } from "./theme.js";
import { Toolbar } from "./toolbar.js";
import { ask, showApp, showPage, toast } from "./ui.js";
import { Workspace } from "./workspace.js";

const $ = (id) => document.getElementById(id);

function start(token) {
  const api = new Api(token);
  // Parts made later are reached through these closures, called only
  // once everything exists.
  let attachment, commander, osc52, keyRow, sizing;

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
      },
      resizePane: null, // set when the server advertises "resize-pane"
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
    prefix: () => prefix.press(),
    refocus: () => workspace.focusActive(),
  });
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
  const testHooks = new TestHooks({ workspace, attachment: () => attachment, prefix });
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
      },
      state: (state) => sizing.setClaim(state.size_claim),
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
  attachment.connect(Attachment.remembered());
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
