// Touch gestures on the workspace: a horizontal swipe switches windows, a
// pinch changes the font size (applied when the fingers lift).

const SWIPE_MIN_PX = 80;

export function watchGestures(element, { onSwipe, onPinch }) {
  let start = null;
  let pinch = null;
  const distance = (touches) => Math.hypot(touches[0].clientX - touches[1].clientX, touches[0].clientY - touches[1].clientY);

  const onStart = (event) => {
    if (event.touches.length === 1) {
      start = { x: event.touches[0].clientX, y: event.touches[0].clientY };
    } else if (event.touches.length === 2) {
      start = null;
      pinch = { from: distance(event.touches), scale: 1 };
    }
  };
  const onMove = (event) => {
    if (pinch && event.touches.length === 2) pinch.scale = distance(event.touches) / pinch.from;
  };
  const onEnd = (event) => {
    if (pinch && event.touches.length === 0) {
      if (Math.abs(pinch.scale - 1) > 0.1) onPinch(pinch.scale);
      pinch = null;
    }
    if (start && event.changedTouches.length === 1) {
      const dx = event.changedTouches[0].clientX - start.x;
      const dy = event.changedTouches[0].clientY - start.y;
      if (Math.abs(dx) > SWIPE_MIN_PX && Math.abs(dx) > 2 * Math.abs(dy)) onSwipe(dx < 0 ? 1 : -1);
      start = null;
    }
  };
  const options = { passive: true, capture: true };
  element.addEventListener("touchstart", onStart, options);
  element.addEventListener("touchmove", onMove, options);
  element.addEventListener("touchend", onEnd, options);
  return () => {
    element.removeEventListener("touchstart", onStart, options);
    element.removeEventListener("touchmove", onMove, options);
    element.removeEventListener("touchend", onEnd, options);
  };
}
