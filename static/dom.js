// Element builders for the page's own markup. Text goes in with
// textContent only (the CSP's Trusted Types would refuse HTML strings anyway).

export function el(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

export function button(className, text, title) {
  const b = el("button", className, text);
  b.type = "button";
  if (title) b.title = title;
  return b;
}
