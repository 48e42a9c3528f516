// Run xterm.js under our CSP (style-src 'self': no inline styles).
//
// xterm.js writes CSS in two ways the CSP blocks:
// 1. <style> elements (scrollbar colours; for the DOM renderer, per-terminal
//    colours and cell metrics). Instead of a <style>, createElement("style")
//    called by xterm.js returns an inert <tmuxweb-style> element that
//    browsers never parse as CSS (so there is nothing to block and no
//    console noise). Its text is mirrored into a constructed stylesheet
//    that the document adopts.
// 2. setAttribute("style", …) on the DOM renderer's cell <span>s, for
//    24-bit colours. That call is routed through element.style, the CSSOM.
// Both are CSSOM operations, which CSP permits to our own scripts (they
// could set element.style anyway); styles injected through markup stay
// blocked. Import this module before xterm.js creates any terminal.
//
// Narrowed to exactly that: a <style> is swapped only when the caller is
// xterm.js itself (anyone else's is a real one, which the CSP refuses), and
// setAttribute is adapted on <span> elements only, the one kind xterm.js
// styles this way (checked for 6.0.0: its three createElement("style") and
// its one setAttribute("style", …), in DomRendererRowFactory._addStyle).

const TAG = "tmuxweb-style";
const NODE_NAME = TAG.toUpperCase();
const XTERM = new URL("./vendor/xterm/", import.meta.url).href;
const HERE = import.meta.url;

/** Is the function that called our wrapper part of xterm.js? (A stack frame names its script's URL.) */
function calledByXterm() {
  const frames = String(new Error().stack ?? "").split("\n").filter((line) => line.includes("://"));
  // The first frame outside this module is the caller of our createElement.
  const caller = frames.find((line, i) => i > 0 && !line.includes(HERE));
  return Boolean(caller?.includes(XTERM));
}

const nativeCreateElement = Document.prototype.createElement;
Document.prototype.createElement = function createElement(name, options) {
  const tag = String(name).toLowerCase() === "style" && calledByXterm() ? TAG : name;
  return nativeCreateElement.call(this, tag, options);
};

const nativeSetAttribute = Element.prototype.setAttribute;
HTMLSpanElement.prototype.setAttribute = function setAttribute(name, value) {
  if (String(name).toLowerCase() === "style") {
    this.style.cssText = String(value);
    return;
  }
  nativeSetAttribute.call(this, name, value);
};

const mirrored = new WeakMap(); // <tmuxweb-style> element → CSSStyleSheet

function sync(element) {
  let sheet = mirrored.get(element);
  if (!sheet) {
    sheet = new CSSStyleSheet();
    mirrored.set(element, sheet);
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
  }
  sheet.replaceSync(element.textContent);
}

function forget(element) {
  const sheet = mirrored.get(element);
  if (!sheet) return;
  document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => s !== sheet);
  mirrored.delete(element);
}

function eachStyle(node, fn) {
  if (node.nodeType !== Node.ELEMENT_NODE) return;
  if (node.nodeName === NODE_NAME) fn(node);
  else for (const element of node.getElementsByTagName(TAG)) fn(element);
}

/** Mirror every xterm style element under root, now and later; returns a disposer. */
export function mirrorStyles(root) {
  eachStyle(root, sync);
  const observer = new MutationObserver((records) => {
    for (const record of records) {
      const target = record.target.nodeName === NODE_NAME ? record.target : record.target.parentNode;
      if (target && target.nodeName === NODE_NAME) {
        if (target.isConnected) sync(target);
        continue;
      }
      for (const node of record.addedNodes) eachStyle(node, sync);
      for (const node of record.removedNodes) eachStyle(node, forget);
    }
  });
  observer.observe(root, { childList: true, subtree: true, characterData: true });
  return () => {
    observer.disconnect();
    eachStyle(root, forget);
  };
}
