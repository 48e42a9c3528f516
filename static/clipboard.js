// OSC 52 from programs. Anything printed in a pane can carry one (a `cat`
// of a hostile file, a remote host's output), so:
// - writes replace the clipboard only when the user has turned them on
//   (off by default, a per-browser setting), never on a read-only
//   connection, and every write is shown to the user with what was copied;
// - reads are never granted silently: the user is asked each time, and a
//   refusal answers nothing. A read-only connection cannot answer at all.

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

const WRITES_KEY = "tmuxweb.osc52Writes";

/** The user's choice: may programs write the clipboard? Off unless set. */
export function writesEnabled() {
  return localStorage.getItem(WRITES_KEY) === "on";
}

export function setWritesEnabled(on) {
  if (on) localStorage.setItem(WRITES_KEY, "on");
  else localStorage.removeItem(WRITES_KEY);
}

function toBase64(text) {
  let binary = "";
  for (const byte of encoder.encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(data) {
  const binary = atob(data);
  return decoder.decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

/** At most `limit` characters of `text` for a notice, on one line. */
export function preview(text, limit = 120) {
  const flat = text.replace(/\r?\n/g, "⏎").replace(/[\u0000-\u001f\u007f]/g, "�");
  return flat.length > limit ? `${flat.slice(0, limit)}… (${text.length} characters)` : flat;
}

/**
 * payload: the OSC 52 data after "52;", e.g. "c;aGVsbG8=" or "c;?".
 * canWrite: false on a read-only connection. ask(message) → Promise<boolean>;
 * reply(text) sends bytes to the pane; copied(text) tells the user what a
 * write put on the clipboard; refused() tells that one was not honoured.
 */
export async function handleOsc52(payload, { canWrite, ask, reply, copied, refused, paneLabel }) {
  const split = payload.indexOf(";");
  if (split < 0) return;
  const selection = payload.slice(0, split) || "c";
  const data = payload.slice(split + 1);
  if (data === "?") {
    if (!canWrite) return; // the answer would be typed input, which this connection may not send
    const allowed = await ask(`The program in pane ${paneLabel} asks to read your clipboard. Allow this once?`);
    if (!allowed) return;
    let text = "";
    try {
      text = await navigator.clipboard.readText();
    } catch {
      return;
    }
    reply(`\x1b]52;${selection};${toBase64(text)}\x07`);
    return;
  }
  if (!canWrite || !writesEnabled()) {
    refused();
    return;
  }
  let text;
  try {
    text = fromBase64(data);
  } catch {
    return; // not base64 or not UTF-8: nothing to copy
  }
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    return; // the page has no focus, or the browser said no
  }
  copied(text);
}
