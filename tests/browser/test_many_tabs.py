"""Many tabs of one browser on one tmuxweb over HTTP/1.1, in headless Chromium.

A browser opens at most six HTTP/1.1 connections to one host. With one
event stream per tab, the seventh tab never loaded and typing queued behind
the streams (issue 14). Here every tab of a browser shares one stream."""

from __future__ import annotations

from typing import Any

import pytest


pytestmark = pytest.mark.browser

TIMEOUT_MS = 15_000  # as tests/browser/conftest.py

READY = "() => window.__tmuxweb && window.__tmuxweb.connected() && window.__tmuxweb.activePane() !== null"
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
