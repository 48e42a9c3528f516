// Links printed in a pane (xterm's web links addon, OSC 8): opened only
// for http(s), in a new tab that cannot reach back to us.

import { toast } from "./ui.js";

export function openLink(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    toast(`Not opening a ${parsed.protocol} link.`);
    return;
  }
  const a = document.createElement("a");
  a.href = parsed.href;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  a.click();
}
