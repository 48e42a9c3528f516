"""Keystroke-to-paint latency in the browser UI.

Starts a private tmux server and tmuxweb (as the tests do), opens the UI in
headless Chromium, runs `cat` in the pane, and types one key at a time. For
each key it measures, in the page:

* buffer: keydown → the echoed character is parsed into the xterm buffer
  (xterm's write callback for the `output` event that carries it);
* paint: keydown → the next animation frame after that, when the browser
  paints it.

The page's clock (performance.now) is used for both ends, so the figures
include the HTTP command, tmux, the control client, the SSE event and
xterm.js, and nothing from Playwright.

    python benchmarks/browser_latency.py [--samples 300] [--link URL]

With --link it uses a running tmuxweb (its active pane must run `cat` or a
shell that echoes) instead of starting one.
"""

from __future__ import annotations

import argparse
import statistics
import string
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Installed in the page: one sample at a time, keyed by the character typed.
PROBE = """() => {
  const state = { pending: null, samples: [] };
  document.addEventListener('keydown', (event) => {
    if (event.key.length === 1) state.pending = { key: event.key, t0: performance.now() };
  }, true);
  window.__tmuxweb.onOutput((pane, data) => {
    const p = state.pending;
    if (!p || !data.includes(p.key)) return;
    state.pending = null;
    const buffer = performance.now() - p.t0;
    requestAnimationFrame(() => state.samples.push({ buffer, paint: performance.now() - p.t0 }));
  });
  window.__latency = state;
}"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def report(name: str, values: list[float]) -> str:
    return (
        f"{name:>7}: p50 {percentile(values, 50):6.2f} ms  p90 {percentile(values, 90):6.2f} ms  "
        f"p99 {percentile(values, 99):6.2f} ms  min {min(values):6.2f}  max {max(values):6.2f}  "
        f"mean {statistics.fmean(values):6.2f}"
    )


def start_servers(stack: ExitStack) -> tuple[str, Any]:
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT))
    from helpers import RunningServer, new_tmux_server, server_config  # type: ignore[import-not-found]

    tmux = new_tmux_server(Path(stack.enter_context(tempfile.TemporaryDirectory())))
    tmux.start("main", 120, 40)
    stack.callback(tmux.kill)
    server = RunningServer(server_config(tmux)).start()
    stack.callback(server.stop)
    return server.link, tmux


def measure(link: str, samples: int, warmup: int, tmux: Any) -> list[dict[str, float]]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 700})
        page.set_default_timeout(10_000)
        page.goto(link)
        page.wait_for_function("() => window.__tmuxweb && window.__tmuxweb.connected() && window.__tmuxweb.activePane()")
        pane = page.evaluate("() => window.__tmuxweb.activePane()")
        page.wait_for_function("(p) => window.__tmuxweb.paneText(p).includes('$')", arg=pane)
        page.keyboard.type("exec cat")
        page.keyboard.press("Enter")
        if tmux is not None:
            page.wait_for_function("(p) => window.__tmuxweb.paneText(p).includes('exec cat')", arg=pane)
        page.evaluate(PROBE)
        keys = string.ascii_letters + string.digits
        for i in range(warmup + samples):
            if i and i % 60 == 0:
                page.keyboard.press("Enter")  # keep the line short; not measured
            page.keyboard.press(keys[i % len(keys)])
            page.wait_for_function("(n) => window.__latency.samples.length >= n", arg=i + 1, polling=1)
        result: list[dict[str, float]] = page.evaluate("() => window.__latency.samples")
        browser.close()
    return result[warmup:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--link", help="a running tmuxweb's link (with #token=)")
    args = parser.parse_args()
    with ExitStack() as stack:
        link, tmux = (args.link, None) if args.link else start_servers(stack)
        results = measure(link, args.samples, args.warmup, tmux)
    print(f"keystroke latency over {len(results)} samples (cat in an idle pane, headless Chromium):")
    print(report("buffer", [r["buffer"] for r in results]))
    print(report("paint", [r["paint"] for r in results]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
