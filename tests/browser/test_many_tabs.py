"""Many tabs of one browser on one tmuxweb over HTTP/1.1, in headless Chromium.

A browser opens at most six HTTP/1.1 connections to one host. With one
event stream per tab, the seventh tab never loaded and typing queued behind
the streams (issue 14). Here every tab of a browser shares one stream."""

from __future__ import annotations

import json
from typing import Any

import pytest

from helpers import wait_until


pytestmark = pytest.mark.browser

TIMEOUT_MS = 15_000  # as tests/browser/conftest.py
VIOLATION = "Content Security Policy violation:"
REPORT_VIOLATIONS = (
    "document.addEventListener('securitypolicyviolation', (event) => console.error("
    f"{VIOLATION!r} + ` ${{event.effectiveDirective}} blocked ${{event.blockedURI}}`), true);"
)

READY = "() => window.__tmuxweb && window.__tmuxweb.connected() && window.__tmuxweb.activePane() !== null"
# Connected again through a watcher that took up where the last one stopped.
RESUMED = "() => window.__tmuxweb.connected() && window.__tmuxweb.resumed()"
PANE_TEXT_HAS = "([pane, needle]) => (window.__tmuxweb.paneText(pane) || '').includes(needle)"


class Tabs:
    """Tabs of one browser context (one profile: one connection pool), each
    opened on its own tmux session."""

    def __init__(self, browser: Any, server: Any, errors: list[str]) -> None:
        self.context = browser.new_context(viewport={"width": 900, "height": 500})
        self.server = server
        self.errors = errors
        self.pages: list[Any] = []

    def open(self, session: str) -> Any:
        page = self.context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        # As tests/browser/conftest.py's new_page: CSP and Trusted Types
        # violations (the worker's URL goes through the one policy) fail the test.
        page.add_init_script(REPORT_VIOLATIONS)
        page.on(
            "console",
            lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" and VIOLATION in m.text else None,
        )
        # The tab remembers its session (sessionStorage) as after a pick.
        page.add_init_script(f"sessionStorage.setItem('tmuxweb.session', {session!r})")
        page.goto(self.server.link)
        self.pages.append(page)
        return page

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tabs(browser: Any, tmuxweb_server: Any) -> Any:
    errors: list[str] = []
    made = Tabs(browser, tmuxweb_server, errors)
    yield made
    made.close()
    assert errors == []


def sessions(tmux_server: Any, count: int) -> list[str]:
    names = [f"t{i}" for i in range(count)]
    for name in names:
        tmux_server.run("new-session", "-d", "-s", name, "-x", "80", "-y", "20")
    return names


def type_into(page: Any, text: str) -> None:
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def test_seven_tabs_all_load_and_take_input(tabs: Any, tmux_server: Any) -> None:
    names = sessions(tmux_server, 7)
    pages = [tabs.open(name) for name in names]
    for page in pages:
        page.wait_for_function(READY)
    for i, page in enumerate(pages):
        pane = page.evaluate("() => window.__tmuxweb.activePane()")
        type_into(page, f"echo tab-{i}-$((6*7))")
        page.wait_for_function(PANE_TEXT_HAS, arg=[pane, f"tab-{i}-42"])


def interleaved_typing(pages: list[Any], texts: list[str]) -> None:
    """One key in each tab in turn, so that every tab's commands are in
    flight among the others'; then Enter everywhere."""
    for j in range(max(len(t) for t in texts)):
        for page, text in zip(pages, texts):
            if j < len(text):
                page.keyboard.type(text[j])
    for page in pages:
        page.keyboard.press("Enter")


def wait_screen_is_tmuxs(page: Any, tmux_server: Any, pane: str) -> None:
    """The page's screen of `pane` is what `tmux capture-pane` shows."""
    def same() -> bool:
        mine = page.evaluate("(p) => window.__tmuxweb.paneText(p)", pane) or ""
        return screen(tmux_server.run("capture-pane", "-p", "-t", pane)) == screen(mine)

    wait_until(same, timeout=TIMEOUT_MS / 1000, what=f"the page's {pane} to show what tmux shows")


def screen(text: str) -> list[str]:
    return [line.rstrip() for line in text.rstrip("\n").split("\n")]


def test_twelve_tabs_load_show_output_and_keep_each_tabs_keys_in_order(tabs: Any, tmux_server: Any) -> None:
    names = sessions(tmux_server, 12)
    pages = [tabs.open(name) for name in names]
    for page in pages:
        page.wait_for_function(READY)
    panes = [tmux_server.pane_ids(name)[0] for name in names]
    for pane in panes:
        tmux_server.wait_for_prompt(pane)
    # Output that tmux prints by itself reaches every tab.
    for name, pane in zip(names, panes):
        tmux_server.run("send-keys", "-t", pane, f"echo shown-in-{name}-$((40+2))", "Enter")
    for page, name, pane in zip(pages, names, panes):
        page.wait_for_function(PANE_TEXT_HAS, arg=[pane, f"shown-in-{name}-42"])
    texts = [f"echo {name}-abcdefghijklmnop-$((1+1))" for name in names]
    interleaved_typing(pages, texts)
    for page, name, pane, text in zip(pages, names, panes, texts):
        page.wait_for_function(PANE_TEXT_HAS, arg=[pane, f"{name}-abcdefghijklmnop-2"])
        # What tmux received is the text as typed: every key, in order.
        assert f"$ {text}" in screen(tmux_server.capture(pane))


def test_closing_a_tab_leaves_the_others_working_and_ends_its_watcher(
    browser: Any, make_server: Any, tmux_server: Any, tmp_path: Any
) -> None:
    audit = tmp_path / "audit.jsonl"
    server = make_server(audit_log=audit)
    errors: list[str] = []
    tabs = Tabs(browser, server, errors)
    try:
        names = sessions(tmux_server, 3)
        pages = [tabs.open(name) for name in names]
        for page in pages:
            page.wait_for_function(READY)
        closing = tmux_server.run("display-message", "-p", "-t", names[1], "#{session_id}").strip()
        pages[1].close()

        def closed() -> bool:
            records = [json.loads(line) for line in audit.read_text().splitlines()]
            return any(r["event"] == "stream-close" and r.get("session") == closing for r in records)

        wait_until(closed, what="the closed tab's watcher to end on the server")
        kept = [(pages[0], names[0]), (pages[2], names[2])]
        for page, name in kept:
            pane = tmux_server.pane_ids(name)[0]
            type_into(page, f"echo still-{name}-$((2*3))")
            page.wait_for_function(PANE_TEXT_HAS, arg=[pane, f"still-{name}-6"])
    finally:
        tabs.close()
    assert errors == []


def shared_workers(browser: Any) -> list[dict[str, Any]]:
    cdp = browser.new_browser_cdp_session()
    try:
        targets: list[dict[str, Any]] = cdp.send("Target.getTargets")["targetInfos"]
        return [t for t in targets if t["type"] == "shared_worker"]
    finally:
        cdp.detach()


def test_tabs_survive_their_shared_worker_going_away(browser: Any, tabs: Any, tmux_server: Any) -> None:
    names = sessions(tmux_server, 3)
    pages = [tabs.open(name) for name in names]
    for page in pages:
        page.wait_for_function(READY)
    workers = shared_workers(browser)
    assert len(workers) == 1  # one for all the tabs
    panes = [tmux_server.pane_ids(name)[0] for name in names]
    for page in pages:
        page.evaluate(COLLECT_OUTPUT)
    cdp = browser.new_browser_cdp_session()
    cdp.send("Target.closeTarget", {"targetId": workers[0]["targetId"]})
    cdp.detach()
    # Output while the worker is gone and being replaced.
    for pane in panes:
        tmux_server.run("send-keys", "-t", pane, "for i in 1 2 3; do echo gone-$i; done", "Enter")
    wait_until(lambda: [w["targetId"] for w in shared_workers(browser)] not in ([], [workers[0]["targetId"]]),
               what="a new shared worker")
    for page, name, pane in zip(pages, names, panes):
        page.wait_for_function(RESUMED)
        type_into(page, f"echo back-{name}-$((3*3))")
        page.wait_for_function(PANE_TEXT_HAS, arg=[pane, f"back-{name}-9"])
        wait_screen_is_tmuxs(page, tmux_server, pane)
        # Nothing missed and nothing doubled across the new worker.
        seen = page.evaluate("(p) => window.__seen[p] || ''", pane)
        assert all(seen.count(f"gone-{i}\r\n") == 1 for i in (1, 2, 3)), seen


# Every output event of the page, by pane, from now on.
COLLECT_OUTPUT = """() => {
  window.__seen = {};
  window.__tmuxweb.onOutput((pane, data) => { window.__seen[pane] = (window.__seen[pane] || '') + data; });
}"""



def test_a_crashed_tabs_watcher_ends_too(browser: Any, make_server: Any, tmux_server: Any, tmp_path: Any) -> None:
    """A renderer that crashed sends no `pagehide`: the worker learns of it
    from the tab's Web Lock, which the browser releases with the tab."""
    audit = tmp_path / "audit.jsonl"
    server = make_server(audit_log=audit)
    tabs = Tabs(browser, server, [])
    try:
        names = sessions(tmux_server, 2)
        pages = [tabs.open(name) for name in names]
        for page in pages:
            page.wait_for_function(READY)
        crashing = tmux_server.run("display-message", "-p", "-t", names[1], "#{session_id}").strip()
        crashed: list[bool] = []
        pages[1].on("crash", lambda _: crashed.append(True))
        try:
            pages[1].goto("chrome://crash", timeout=5000)
        except Exception:  # noqa: BLE001 - the navigation dies with the renderer
            pass
        # Playwright delivers page events only while it is called.
        wait_until(lambda: pages[0].wait_for_timeout(20) or crashed, what="the renderer to crash")

        def closed() -> bool:
            records = [json.loads(line) for line in audit.read_text().splitlines()]
            return any(r["event"] == "stream-close" and r.get("session") == crashing for r in records)

        wait_until(closed, what="the crashed tab's watcher to end on the server")
        pane = tmux_server.pane_ids(names[0])[0]
        type_into(pages[0], "echo alive-$((4*4))")
        pages[0].wait_for_function(PANE_TEXT_HAS, arg=[pane, "alive-16"])
    finally:
        tabs.close()
