// The server's structure and output events (DATA-FLOW.md, "Events"),
// applied to the workspace. connection-info, state and session-renamed
// concern more than the workspace: attachment.js handles those.

/** Apply one event; `afterOutput` (optional) runs once an output event is written. */
export function applyEvent(ws, type, data, afterOutput) {
  switch (type) {
    case "output": return ws.output(data.pane, data.data, afterOutput);
    case "pane-reset": return ws.resetPane(data.pane);
    case "window-added": return ws.addWindow(data.window);
    case "window-closed": return ws.removeWindow(data.window);
    case "window-renamed": return ws.renameWindow(data.window, data.name);
    case "window-flags": return ws.setWindowFlags(data.window, data);
    case "window-selected": return ws.selectWindow(data.window);
    case "layout": return ws.setLayout(data);
    case "pane-added": return ws.addPane(data.pane);
    case "pane-closed": return ws.removePane(data.pane);
    case "pane-selected": return ws.selectPane(data.window, data.pane);
    case "pane-changed": return ws.paneChanged(data);
    default: return undefined;
  }
}
