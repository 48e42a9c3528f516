// OSC 52 from programs: writes go to the clipboard; reads are never granted
// silently: the user is asked each time, and a refusal answers nothing.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function toBase64(text) {
  let binary = "";
  for (const byte of encoder.encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(data) {
  const binary = atob(data);
  return decoder.decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

/**
 * payload: the OSC 52 data after "52;", e.g. "c;aGVsbG8=" or "c;?".
 * ask(message) → Promise<boolean>; reply(text) sends bytes to the pane.
 */
export async function handleOsc52(payload, { ask, reply, paneLabel }) {
  const split = payload.indexOf(";");
  if (split < 0) return;
  const selection = payload.slice(0, split) || "c";
  const data = payload.slice(split + 1);
  if (data === "?") {
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
  try {
    await navigator.clipboard.writeText(fromBase64(data));
  } catch {
    // not base64, or the page has no focus: nothing to do
  }
}
