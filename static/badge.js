// The tab shows how many panes wait for the person: the title starts with
// "(N) " and the favicon gets a red badge with N. Both are drawn here; the
// favicon is a canvas turned into a data: URL (the CSP's img-src allows data:).

const SIZE = 64;
let base = document.title || "tmuxweb";
let count = 0;
let lastIcon = null;

/** The title without the count (the session's name, set by attachment.js). */
export function setBaseTitle(title) {
  base = title;
  render();
}

export function setWaiting(n) {
  if (n === count) return;
  count = n;
  render();
}

function render() {
  document.title = count > 0 ? `(${count}) ${base}` : base;
  const icon = drawIcon(count);
  if (icon === lastIcon) return;
  lastIcon = icon;
  let link = document.querySelector('link[rel="icon"]');
  if (!link) {
    link = document.createElement("link");
    link.rel = "icon";
    document.head.append(link);
  }
  link.href = icon;
  link.dataset.waiting = String(count);
}

// A terminal prompt on a dark square; with waiting panes, a red disc and
// the count (9+ above nine) in the top right corner.
function drawIcon(n) {
  const canvas = document.createElement("canvas");
  canvas.width = SIZE;
  canvas.height = SIZE;
  const ctx = canvas.getContext("2d");
  if (!ctx) return "data:,";
  ctx.fillStyle = "#1f2328";
  ctx.beginPath();
  ctx.roundRect(2, 2, SIZE - 4, SIZE - 4, 10);
  ctx.fill();
  ctx.strokeStyle = "#3fb950";
  ctx.lineWidth = 6;
  ctx.lineCap = "round";
  ctx.beginPath();
  ctx.moveTo(14, 20);
  ctx.lineTo(28, 32);
  ctx.lineTo(14, 44);
  ctx.moveTo(32, 46);
  ctx.lineTo(48, 46);
  ctx.stroke();
  if (n > 0) {
    ctx.fillStyle = "#cf222e";
    ctx.beginPath();
    ctx.arc(SIZE - 19, 19, 18, 0, 2 * Math.PI);
    ctx.fill();
    ctx.fillStyle = "#ffffff";
    ctx.font = "bold 26px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(n > 9 ? "9+" : String(n), SIZE - 19, 20);
  }
  return canvas.toDataURL("image/png");
}
