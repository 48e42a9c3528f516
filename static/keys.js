// Browser keys → tmux key names (`C-b`, `M-x`, `C-Space`, `%`, `Up`, `F1`),
// for the prefix key and the key typed after it. Pure functions.

const NAMED = {
  Enter: "Enter",
  Tab: "Tab",
  Backspace: "BSpace",
  Escape: "Escape",
  " ": "Space",
  Spacebar: "Space",
  ArrowUp: "Up",
  ArrowDown: "Down",
  ArrowLeft: "Left",
  ArrowRight: "Right",
  Home: "Home",
  End: "End",
  PageUp: "PPage",
  PageDown: "NPage",
  Insert: "IC",
  Delete: "DC",
};
for (let n = 1; n <= 12; n++) NAMED[`F${n}`] = `F${n}`;

// Control characters as typed data (soft keyboards, the key row's latched
// Ctrl) → tmux names.
const DATA_NAMES = {
  "\r": "Enter",
  "\n": "Enter",
  "\t": "Tab",
  "\x7f": "BSpace",
  "\b": "BSpace",
  "\x1b": "Escape",
  " ": "Space",
  "\x00": "C-Space",
  "\x1b[Z": "BTab",
  "\x1b[A": "Up", "\x1bOA": "Up",
  "\x1b[B": "Down", "\x1bOB": "Down",
  "\x1b[C": "Right", "\x1bOC": "Right",
  "\x1b[D": "Left", "\x1bOD": "Left",
  "\x1b[H": "Home", "\x1bOH": "Home", "\x1b[1~": "Home",
  "\x1b[F": "End", "\x1bOF": "End", "\x1b[4~": "End",
  "\x1b[5~": "PPage",
  "\x1b[6~": "NPage",
  "\x1b[2~": "IC",
  "\x1b[3~": "DC",
};

/** One printable character (one code point, not a control character)? */
function printable(text) {
  const chars = [...text];
  return chars.length === 1 && !/[\x00-\x20\x7f-\x9f]/.test(text);
}

/**
 * The tmux name of a keydown, or null for keys that are not keys of their
 * own (modifiers alone, dead keys, IME composition, Cmd/Super shortcuts).
 */
export function keyName(event) {
  if (event.isComposing || event.keyCode === 229) return null;
  if (event.metaKey) return null; // the browser's and the OS's shortcuts
  const key = event.key;
  if (typeof key !== "string") return null;
  let ctrl = event.ctrlKey;
  let alt = event.altKey;
  let shift = event.shiftKey;
  let base;
  if (Object.hasOwn(NAMED, key)) {
    base = NAMED[key];
    if (base === "Tab" && shift) {
      base = "BTab";
      shift = false;
    }
  } else if (printable(key)) {
    base = key;
    shift = false; // already applied to the character ("%", "A")
    if (event.getModifierState?.("AltGraph")) {
      ctrl = alt = false; // AltGr (reported as Ctrl+Alt on Windows) composed the character
    } else if ((ctrl || alt) && !/^[\x21-\x7e]$/.test(key)) {
      // Option on a Mac, or a non-Latin layout: name the key a terminal
      // would see for this position.
      const code = /^(?:Key([A-Z])|Digit([0-9]))$/.exec(event.code ?? "");
      if (code) base = code[1] ? (event.shiftKey ? code[1] : code[1].toLowerCase()) : code[2];
    }
    if (ctrl && /^[A-Z]$/.test(base)) base = base.toLowerCase(); // a terminal sends C-b for both
  } else {
    return null;
  }
  return `${ctrl ? "C-" : ""}${alt ? "M-" : ""}${shift ? "S-" : ""}${base}`;
}

/**
 * The tmux name of one key's worth of typed data ("c", "\x03" → "C-c",
 * "\x1bx" → "M-x", "\x1b[A" → "Up"), or null when the data is not one key.
 */
export function keyNameFromData(data) {
  if (Object.hasOwn(DATA_NAMES, data)) return DATA_NAMES[data];
  if (data.length === 1) {
    const code = data.charCodeAt(0);
    if (code >= 1 && code <= 26) return `C-${String.fromCharCode(code + 96)}`;
    if (code >= 28 && code <= 31) return `C-${String.fromCharCode(code + 64)}`; // C-\ C-] C-^ C-_
  }
  if (printable(data)) return data;
  if (data.length > 1 && data[0] === "\x1b") {
    const rest = keyNameFromData(data.slice(1));
    if (rest && !rest.includes("M-")) return `M-${rest}`;
  }
  return null;
}

/** tmux accepts modifiers in any order; compare names in one order. */
export function canonicalKey(name) {
  const match = /^((?:[CMS]-)*)(.+)$/.exec(name);
  if (!match) return name;
  const mods = match[1];
  let base = match[2];
  const has = (m) => mods.includes(`${m}-`);
  if (has("C") && !has("S") && /^[A-Z]$/.test(base)) base = base.toLowerCase();
  return `${has("C") ? "C-" : ""}${has("M") ? "M-" : ""}${has("S") ? "S-" : ""}${base}`;
}
