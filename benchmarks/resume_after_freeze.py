"""Coming back: the time from a page becoming visible (or unfrozen) to its
terminal having caught up with what tmux printed meanwhile.

Starts a private tmux server and tmuxweb (as the tests do) and opens the UI
in headless Chromium. Each round, while the page is away, the pane prints
`--lines` numbered lines; the time is taken from the moment the page is
back to the moment the last of them is written into xterm's buffer, and the
page's screen is then compared with `tmux capture-pane`. Scenarios:

* frozen, shared worker: the page was frozen (no task of it ran); the
  tabs' SharedWorker kept reading the stream, so the page only has its
  queued messages to process. CDP Page.setWebLifecycleState is sent, but
  Chromium 156 freezes nothing on a visible page with it (no `freeze`
  event, timers keep firing), so the page's JavaScript is also stopped with
  the debugger's pause, as tests/browser/test_coming_back.py does.
* frozen, own stream: the same without SharedWorker (as Chrome on
  Android): the page's own stream stalled in the socket while frozen.
* hidden, own stream: the page was hidden longer than it keeps its stream
  (a phone in a pocket): on `visibilitychange` it opens a new stream and
  resumes from its last event (Last-Event-ID, the server's ring).

Unfrozen pages take the clock of this script just before the CDP call;
hidden pages take the page's own clock when the event is dispatched; both
end with the page's clock (Date.now(), the same machine clock).

    python benchmarks/resume_after_freeze.py [--rounds 5] [--lines 2000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
READY = "() => window.__tmuxweb && window.__tmuxweb.connected() && window.__tmuxweb.activePane() !== null"
NO_SHARED_WORKER = "Object.defineProperty(window, 'SharedWorker', { value: undefined });"
# The page notes when the output carrying `marker` has been written.
PROBE = """(marker) => {
  window.__caughtUp = null;
  window.__tail = '';
  window.__probeOff?.();
  window.__probeOff = window.__tmuxweb.onOutput((pane, data) => {
    window.__tail = (window.__tail + data).slice(-200);
    if (window.__caughtUp === null && window.__tail.includes(marker)) window.__caughtUp = Date.now();
  });
}"""
HIDE = """() => {
  Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
  Object.defineProperty(document, 'hidden', { value: true, configurable: true });
  document.dispatchEvent(new Event('visibilitychange'));
}"""
SHOW = """() => {
  Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true });
  Object.defineProperty(document, 'hidden', { value: false, configurable: true });
  const shownAt = Date.now();
  document.dispatchEvent(new Event('visibilitychange'));
  return shownAt;
}"""
# streamlink.js: a hidden page without the worker keeps its stream this long.
HIDDEN_RELEASE_S = 10.0


def start_servers(stack: ExitStack) -> tuple[Any, Any]:
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT))
    from helpers import RunningServer, new_tmux_server, server_config  # type: ignore[import-not-found]

    tmux = new_tmux_server(Path(stack.enter_context(tempfile.TemporaryDirectory())))
    tmux.start("main", 120, 40)
    stack.callback(tmux.kill)
    server = RunningServer(server_config(tmux, linger=30)).start()
    stack.callback(server.stop)
    return server, tmux


def screen(text: str) -> list[str]:
    return [line.rstrip() for line in text.rstrip("\n").split("\n")]


def print_lines(tmux: Any, word: str, lines: int) -> str:
    marker = f"{word}-end"
    tmux.run("send-keys", "-t", "%0", f"for i in $(seq 1 {lines}); do echo {word}-$i; done; echo {marker}", "Enter")
    deadline = time.monotonic() + 30
    while f"\n{marker}" not in tmux.capture("%0"):
        if time.monotonic() > deadline:
            raise RuntimeError("tmux did not print the lines")
        time.sleep(0.01)
    return marker + "\r\n"


def same_screen(page: Any, tmux: Any) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if screen(tmux.capture("%0")) == screen(page.evaluate("() => window.__tmuxweb.paneText('%0')") or ""):
            return True
        time.sleep(0.02)
    return False


def open_page(browser: Any, link: str, shared: bool) -> Any:
    page = browser.new_context(viewport={"width": 1100, "height": 700}).new_page()
    page.set_default_timeout(30_000)
    if not shared:
        page.add_init_script(NO_SHARED_WORKER)
    page.goto(link)
    page.wait_for_function(READY)
    return page


def frozen_round(page: Any, tmux: Any, word: str, lines: int) -> tuple[float, bool]:
    cdp = page.context.new_cdp_session(page)
    paused: list[bool] = []
    cdp.on("Debugger.paused", lambda _: paused.append(True))
    cdp.send("Debugger.enable")
    page.evaluate(PROBE, f"{word}-end\r\n")
    page.evaluate("() => { window.__tick ??= setInterval(() => {}, 50); }")  # something to pause in
    cdp.send("Page.setWebLifecycleState", {"state": "frozen"})
    cdp.send("Debugger.pause")
    while not paused:
        page.wait_for_timeout(5)
    print_lines(tmux, word, lines)
    back_at = time.time() * 1000
    cdp.send("Page.setWebLifecycleState", {"state": "active"})
    cdp.send("Debugger.resume")
    caught_up = page.wait_for_function("() => window.__caughtUp").json_value()
    cdp.send("Debugger.disable")
    cdp.detach()
    return caught_up - back_at, same_screen(page, tmux)


def hidden_round(page: Any, tmux: Any, word: str, lines: int) -> tuple[float, bool]:
    page.evaluate(PROBE, f"{word}-end\r\n")
    page.evaluate(HIDE)
    time.sleep(HIDDEN_RELEASE_S + 1)  # let the page give its stream back
    print_lines(tmux, word, lines)
    shown_at = page.evaluate(SHOW)
    caught_up = page.wait_for_function("() => window.__caughtUp").json_value()
    return caught_up - shown_at, same_screen(page, tmux)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lines", type=int, default=2000)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    scenarios = [
        ("frozen, shared worker", True, frozen_round),
        ("frozen, own stream", False, frozen_round),
        ("hidden, own stream", False, hidden_round),
    ]
    with ExitStack() as stack, sync_playwright() as playwright:
        server, tmux = start_servers(stack)
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        print(f"visible to caught up, {args.lines} lines printed while away, {args.rounds} rounds (headless Chromium):")
        for n, (name, shared, run) in enumerate(scenarios):
            page = open_page(browser, server.link, shared)
            times, same = [], True
            for r in range(args.rounds):
                ms, ok = run(page, tmux, f"s{n}r{r}", args.lines)
                times.append(ms)
                same = same and ok
            page.context.close()
            print(
                f"  {name:<22} median {statistics.median(times):7.1f} ms  max {max(times):7.1f} ms  "
                f"min {min(times):7.1f} ms  screen equals capture-pane: {'yes' if same else 'NO'}"
            )
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
