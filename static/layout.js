// Pure geometry: tmux's layout tree (in cells) → what to draw, and the
// viewport (in pixels) → the client size to ask tmux for.

export const MIN_CELLS = 2;
export const MAX_CELLS = 1000;

/** Leaves of a Layout tree, in tmux's order. */
export function layoutPanes(node, out = []) {
  if (node.type === "pane") out.push(node);
  else for (const child of node.children) layoutPanes(child, out);
  return out;
}

/**
 * The 1-cell borders between siblings. A `row` holds children side by side,
 * so its borders are vertical lines; a `column` stacks them, so horizontal.
 */
export function layoutDividers(node, out = []) {
  if (node.type === "pane") return out;
  const children = node.children;
  for (let i = 0; i + 1 < children.length; i++) {
    const before = children[i];
    const after = children[i + 1];
    if (node.type === "row") {
      out.push({ orientation: "vertical", x: before.x + before.width, y: node.y, width: 1, height: node.height, parent: node, before, after });
    } else {
      out.push({ orientation: "horizontal", x: node.x, y: before.y + before.height, width: node.width, height: 1, parent: node, before, after });
    }
  }
  for (const child of children) layoutDividers(child, out);
  return out;
}

/**
 * A pane to name in `resize-pane` so that tmux moves this divider. tmux
 * resizes the cell that holds the pane inside its nearest ancestor of the
 * divider's kind, and moves that cell's far border (the near one for the
 * last cell). So pick a pane that is `before` itself or a direct child of
 * it; else `after` when it is the last cell. Returns a pane id or null.
 */
export function dividerHandle(divider) {
  const direct = (node) => {
    if (node.type === "pane") return node.pane;
    const leaf = node.children.find((child) => child.type === "pane");
    return leaf ? leaf.pane : null;
  };
  const before = direct(divider.before);
  if (before) return before;
  const siblings = divider.parent.children;
  return siblings[siblings.length - 1] === divider.after ? direct(divider.after) : null;
}

function clamp(n) {
  return Math.min(MAX_CELLS, Math.max(MIN_CELLS, n));
}

/** How many cells fit in a box of pixels. */
export function fitCells(widthPx, heightPx, cell) {
  return {
    cols: clamp(Math.floor(widthPx / cell.width)),
    rows: clamp(Math.floor(heightPx / cell.height)),
  };
}

/** Pixel box of a cell rectangle. */
export function cellBox(rect, cell) {
  return {
    left: rect.x * cell.width,
    top: rect.y * cell.height,
    width: rect.width * cell.width,
    height: rect.height * cell.height,
  };
}
