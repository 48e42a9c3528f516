"""Coming back: a page frozen by the browser, restored from the back-forward
cache or back online resumes from its last event, and then shows exactly
what `tmux capture-pane` shows, every line once.

Each test runs with the tabs' SharedWorker and without it (as on Chrome
for Android, where a page holds its own stream)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from helpers import wait_until

pytestmark = pytest.mark.browser

TIMEOUT_MS = 15_000  # as tests/browser/conftest.py
READY = "() => window.__tmuxweb && window.__tmuxweb.connected() && window.__tmuxweb.activePane() !== null"
RESUMED = "() => window.__tmuxweb.connected() && window.__tmuxweb.resumed()"
COLLECT_OUTPUT = """() => {
  window.__seen = '';
  window.__tmuxweb.onOutput((pane, data) => { window.__seen += data; });
}"""
NO_SHARED_WORKER = "Object.defineProperty(window, 'SharedWorker', { value: undefined });"


@pytest.fixture(params=["shared-worker", "own-stream"])
def page(request: pytest.FixtureRequest, new_page: Any, tmuxweb_server: Any, tmux_server: Any) -> Iterator[Any]:
    made = new_page()
    if request.param == "own-stream":
        made.add_init_script(NO_SHARED_WORKER)
    made.goto(tmuxweb_server.link)
    made.wait_for_function(READY)
    own = made.evaluate("() => typeof SharedWorker !== 'function'")
    assert own == (request.param == "own-stream")
    tmux_server.wait_for_prompt()
    made.evaluate(COLLECT_OUTPUT)
    yield made


def screen(text: str) -> list[str]:
    return [line.rstrip() for line in text.rstrip("\n").split("\n")]


def shows_what_tmux_shows(page: Any, tmux_server: Any, pane: str = "%0") -> None:
    def same() -> bool:
        mine = page.evaluate("(p) => window.__tmuxweb.paneText(p)", pane) or ""
        return screen(tmux_server.capture(pane)) == screen(mine)

    wait_until(same, timeout=TIMEOUT_MS / 1000, what="the page to show what tmux capture-pane shows")


def print_lines(tmux_server: Any, word: str, count: int) -> None:
    """Print `count` numbered lines in the pane, and wait until tmux shows them."""
    tmux_server.run("send-keys", "-t", "%0", f"for i in $(seq 1 {count}); do echo {word}-$i; done; echo {word}-end", "Enter")
    tmux_server.wait_for_text("%0", f"\n{word}-end")


def each_line_once(page: Any, word: str, count: int) -> None:
    seen: str = page.evaluate("() => window.__seen")
    lines = re.findall(rf"{word}-(\d+)\r\n", seen)
    assert lines == [str(i) for i in range(1, count + 1)], f"missing or doubled: {lines[:10]}…"


class Freezer:
    """Freezes a page the way the browser does: no task of the page runs
    (timers, network reads, messages queue up) until it is resumed.

    `Page.setWebLifecycleState` is sent, but in Chromium 156 it freezes
    nothing on a visible page (headless, or headful under Xvfb: no `freeze`
    event, timers keep firing). The debugger's pause stops the page's
    JavaScript at its next task, which is what freezing does to it."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.cdp = page.context.new_cdp_session(page)
        self.paused = False
        self.cdp.on("Debugger.paused", lambda _: setattr(self, "paused", True))
        self.cdp.send("Debugger.enable")

    def freeze(self) -> float:
        self.cdp.send("Page.setWebLifecycleState", {"state": "frozen"})
        self.cdp.send("Debugger.pause")
        for _ in range(300):  # the page pauses at its next task (a 100 ms tick below)
            if self.paused:
                return time.time() * 1000
            self.page.wait_for_timeout(10)  # polling interval, not a fixed wait
        raise AssertionError("the page did not pause")

    def resume(self) -> float:
        at = time.time() * 1000
        self.cdp.send("Page.setWebLifecycleState", {"state": "active"})
        self.cdp.send("Debugger.resume")
        self.paused = False
        return at


TICKS = "() => { window.__ticks = []; setInterval(() => window.__ticks.push(Date.now()), 100); }"


def test_a_frozen_page_shows_what_tmux_shows_once_resumed(page: Any, tmux_server: Any, screenshot: Any) -> None:
    page.evaluate(TICKS)
    freezer = Freezer(page)
    frozen_at = freezer.freeze()
    print_lines(tmux_server, "frozen", 300)
    resumed_at = freezer.resume()
    shows_what_tmux_shows(page, tmux_server)
    each_line_once(page, "frozen", 300)
    # The page really was frozen while tmux printed: none of its timers ran.
    ticks = page.evaluate("() => window.__ticks")
    assert not [t for t in ticks if frozen_at + 50 < t < resumed_at - 50]
    screenshot(page, "coming-back-after-freeze")


def test_a_page_back_from_the_back_forward_cache_resumes(page: Any, tmux_server: Any) -> None:
    # Headless Chromium keeps no page with a `Cache-Control: no-store`
    # document in the cache, so the two events are the ones a browser sends.
    page.evaluate("() => window.dispatchEvent(new PageTransitionEvent('pagehide', { persisted: true }))")
    page.wait_for_function("() => !window.__tmuxweb.connected()")
    print_lines(tmux_server, "cached", 50)
    page.evaluate("() => window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }))")
    page.wait_for_function(RESUMED)
    shows_what_tmux_shows(page, tmux_server)
    each_line_once(page, "cached", 50)


def test_back_online_the_stream_resumes(page: Any, tmux_server: Any) -> None:
    page.context.set_offline(True)
    page.wait_for_function("() => navigator.onLine === false")
    print_lines(tmux_server, "offline", 50)
    page.context.set_offline(False)
    page.wait_for_function(RESUMED)
    shows_what_tmux_shows(page, tmux_server)
    each_line_once(page, "offline", 50)


def test_a_frozen_tab_does_not_make_the_worker_hold_a_flood(
    new_page: Any, make_server: Any, tmux_server: Any, tmp_path: Any
) -> None:
    """Past 4 MiB unacknowledged by a frozen tab, the worker ends its
    watcher (the server records the stream's close while the tab is still
    frozen); thawed, the tab starts a new one and shows what tmux shows."""
    audit = tmp_path / "audit.jsonl"
    server = make_server(audit_log=audit)
    page = new_page()
    page.goto(server.link)
    page.wait_for_function(READY)
    tmux_server.wait_for_prompt()

    def closes() -> int:
        return sum(1 for line in audit.read_text().splitlines() if '"stream-close"' in line)

    freezer = Freezer(page)
    page.evaluate(TICKS)
    freezer.freeze()
    # About 6 MB of output, then a marker.
    tmux_server.run("send-keys", "-t", "%0", "yes 0123456789abcdef0123456789abcdef0123456789 | head -n 130000; echo flood-$((2+3))", "Enter")
    tmux_server.wait_for_text("%0", "flood-5", timeout=60)
    wait_until(lambda: closes() >= 1, timeout=30, what="the frozen tab's watcher to be ended")
    freezer.resume()
    page.wait_for_function("() => window.__tmuxweb.connected()")
    shows_what_tmux_shows(page, tmux_server)
