"""The overview, the title count, the favicon badge and one-tap answers in
real Chromium, against the real server's pane states (lane S's tracker)
and programs that behave like agent CLIs in real tmux panes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helpers import RunningServer, TmuxServer
from states_support import STATE_CONFIG, agent_command, new_pane
from tmuxweb.auth import new_secret
from tmuxweb.tokens import TokenStore

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
# Playwright evaluates plain-expression strings with eval, which the CSP
# forbids: every predicate is a function.
CARD_STATE = "([pane, state]) => document.querySelector(`#overview-list .pane-card[data-pane='${pane}']`)?.dataset.state === state"
TITLE_STARTS = "(prefix) => document.title.startsWith(prefix)"
SHOWS_PANE = "(pane) => window.__tmuxweb.view() === 'terminal' && window.__tmuxweb.activePane() === pane"


def phone(devices: dict[str, dict[str, Any]], name: str = "Pixel 7") -> dict[str, Any]:
    """A device descriptor as browser.new_context takes it."""
    return {k: v for k, v in devices[name].items() if k != "default_browser_type"}


def card(pane: str) -> str:
    return f"#overview-list .pane-card[data-pane='{pane}']"


def open_page(new_page: Any, server: RunningServer, token: str | None = None, **options: Any) -> Any:
    page = new_page(**options)
    page.goto(server.link if token is None else f"{server.base_url}/#token={token}")
    page.wait_for_function("() => window.__tmuxweb && window.__tmuxweb.connected()")
    return page


def wait_sized(page: Any, tmux: TmuxServer) -> None:
    """tmux has taken the page's size. Before agents start: a prompt that
    does not redraw on a resize would otherwise be read at the old size,
    and the first answer refused as stale (the hash covers the screen)."""
    page.wait_for_function("() => window.__tmuxweb.activePane() !== null")
    size = None
    for _ in range(150):
        size = page.evaluate("() => window.__tmuxweb.paneSize(window.__tmuxweb.activePane())")
        if size and tmux.run("display", "-p", "-t", "main", "#{window_width} #{window_height}").split() == [str(n) for n in size]:
            return
        page.wait_for_timeout(100)  # polling interval, not a fixed wait
    raise AssertionError(f"tmux never took the page's size {size}")


def show_overview(page: Any) -> None:
    if page.evaluate("() => window.__tmuxweb.view()") != "overview":
        page.click("#overview-button")
    page.wait_for_selector("#overview:not([hidden])")


def wait_waiting(page: Any, pane: str) -> None:
    page.wait_for_function(CARD_STATE, arg=[pane, "waiting"])


def pane_shows(page: Any, tmux: TmuxServer, pane: str, text: str) -> None:
    """The pane's screen (tmux's own capture, not the page's) shows `text`."""
    for _ in range(150):
        if text in tmux.run("capture-pane", "-p", "-t", pane):
            return
        page.wait_for_timeout(100)  # polling interval, not a fixed wait
    toasts = page.eval_on_selector_all(".toast", "(ts) => ts.map((t) => t.textContent)")
    raise AssertionError(f"{pane} never showed {text!r}: {tmux.run('capture-pane', '-p', '-t', pane)}; toasts: {toasts}")


def test_overview_on_a_desktop(new_page: Any, make_server: Any, tmux_server: TmuxServer, tmp_path: Path, screenshot: Any) -> None:
    server = make_server(**STATE_CONFIG)
    page = open_page(new_page, server, viewport=DESKTOP)
    wait_sized(page, tmux_server)
    waiting = new_pane(tmux_server, agent_command(work=0.3), remain=True)
    busy = new_pane(tmux_server, "while :; do date +%N; sleep 0.1; done")
    # A desktop opens on the terminal; the bar's button shows the overview.
    assert page.evaluate("() => window.__tmuxweb.view()") == "terminal"
    show_overview(page)
    wait_waiting(page, waiting)
    page.wait_for_function(CARD_STATE, arg=[busy, "working"])
    cards = page.eval_on_selector_all("#overview-list .pane-card", "(cards) => cards.map((c) => c.dataset.pane)")
    assert cards[0] == waiting  # who needs attention first
    assert set(cards) >= {waiting, busy, "%0"}
    assert "Shall the fake agent go ahead?" in page.inner_text(f"{card(waiting)} .card-preview")
    assert page.inner_text(f"{card(waiting)} .badge") == "waiting"
    labels = page.eval_on_selector_all(f"{card(waiting)} button.choice", "(bs) => bs.map((b) => b.textContent)")
    assert labels == ["Yes", "No"]
    assert "main:" in page.inner_text(f"{card(waiting)} .card-where")
    # The time in the state is live.
    first = page.inner_text(f"{card(waiting)} .card-since")
    page.wait_for_function("([sel, first]) => document.querySelector(sel).textContent !== first", arg=[f"{card(waiting)} .card-since", first])
    # A working pane's preview is live (the page's own terminal of it).
    busy_preview = f"{card(busy)} .card-preview"
    before = page.inner_text(busy_preview)
    page.wait_for_function("([sel, before]) => document.querySelector(sel).textContent !== before", arg=[busy_preview, before])
    screenshot(page, "overview-desktop")

    # A click on the card (not on a button) opens the pane.
    page.click(f"{card(waiting)} .card-head")
    page.wait_for_function(SHOWS_PANE, arg=waiting)
    # The pane view offers the same answers; one click reaches the program.
    page.wait_for_selector("#answer-bar:not([hidden]) button.choice")
    page.click("#answer-bar button.choice >> text=Yes")
    pane_shows(page, tmux_server, waiting, "answered: 1")
    page.wait_for_selector("#answer-bar", state="hidden")


def test_overview_is_the_first_screen_on_a_phone(new_page: Any, make_server: Any, tmux_server: TmuxServer, tmp_path: Path, devices: Any, screenshot: Any) -> None:
    server = make_server(**STATE_CONFIG)
    page = open_page(new_page, server, **phone(devices))
    wait_sized(page, tmux_server)
    waiting = new_pane(tmux_server, agent_command(work=0.3), remain=True)
    new_pane(tmux_server, "while :; do date +%N; sleep 0.1; done")
    assert page.evaluate("() => window.__tmuxweb.view()") == "overview"
    wait_waiting(page, waiting)
    # On the first screen, nothing wider than the phone.
    box = page.locator(card(waiting)).bounding_box()
    width, height = page.evaluate("() => [innerWidth, innerHeight]")
    assert box["x"] >= 0 and box["x"] + box["width"] <= width and box["y"] + box["height"] <= height
    assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
    assert page.evaluate("() => matchMedia('(pointer: coarse)').matches")  # a touch screen, emulated
    screenshot(page, "overview-phone")
    # A tap on an answer reaches the program; the card moves on.
    page.tap(f"{card(waiting)} button.choice >> text=Yes")
    pane_shows(page, tmux_server, waiting, "answered: 1")
    page.wait_for_function("(sel) => document.querySelector(sel)?.dataset.state !== 'waiting'", arg=card(waiting))
    # A tap on a card opens it in the terminal.
    page.tap(f"{card(waiting)} .card-head")
    page.wait_for_function(SHOWS_PANE, arg=waiting)
    page.wait_for_selector("#overview", state="hidden")


def test_title_count_and_favicon_badge_follow_the_waiting_panes(new_page: Any, make_server: Any, tmux_server: TmuxServer, tmp_path: Path) -> None:
    server = make_server(**STATE_CONFIG)
    page = open_page(new_page, server, viewport=DESKTOP)
    page.wait_for_function("() => document.title === 'main · tmuxweb'")
    assert page.get_attribute('link[rel="icon"]', "data-waiting") in (None, "0")
    first = new_pane(tmux_server, agent_command(work=0.3), remain=True)
    second = new_pane(tmux_server, agent_command(work=0.3), remain=True)
    page.wait_for_function(TITLE_STARTS, arg="(2) main · tmuxweb")
    icon = page.get_attribute('link[rel="icon"]', "href")
    assert icon.startswith("data:image/png;base64,")
    assert page.get_attribute('link[rel="icon"]', "data-waiting") == "2"
    # Answered outside the page (typed in tmux): the count follows.
    tmux_server.run("send-keys", "-t", first, "2")
    page.wait_for_function(TITLE_STARTS, arg="(1) main")
    assert page.get_attribute('link[rel="icon"]', "href") != icon
    tmux_server.run("send-keys", "-t", second, "2")
    page.wait_for_function("() => document.title === 'main · tmuxweb'")
    assert page.get_attribute('link[rel="icon"]', "data-waiting") == "0"


def test_a_card_of_another_session_opens_that_session(new_page: Any, make_server: Any, tmux_server: TmuxServer, tmp_path: Path) -> None:
    tmux_server.run("new-session", "-d", "-s", "other", "-x", "100", "-y", "30")
    server = make_server(**STATE_CONFIG)
    waiting = new_pane(tmux_server, agent_command(work=0.3), session="other", remain=True)
    page = open_page(new_page, server, viewport=DESKTOP)
    show_overview(page)
    wait_waiting(page, waiting)
    assert page.get_attribute(card(waiting), "data-session") == "other"
    page.click(f"{card(waiting)} .card-head")
    page.wait_for_function(SHOWS_PANE, arg=waiting)
    page.wait_for_function("() => document.getElementById('session-picker').value === 'other'")


def test_a_stale_answer_is_refused_and_the_fresh_state_shown(new_page: Any, make_server: Any, tmux_server: TmuxServer, tmp_path: Path) -> None:
    server = make_server(**STATE_CONFIG)
    page = open_page(new_page, server, viewport=DESKTOP)
    wait_sized(page, tmux_server)
    waiting = new_pane(tmux_server, agent_command(work=0.3, rounds=2), remain=True)
    show_overview(page)
    wait_waiting(page, waiting)

    # The tap carries the hash of a screen the pane no longer shows (the
    # state the page had when the person looked, an instant too old): the
    # real server re-reads the screen and refuses.
    def stale(route: Any) -> None:
        body = json.loads(route.request.post_data or "{}")
        if body.get("type") == "answer":
            body["screen"] = "0" * len(body["screen"] or "0")
        route.continue_(post_data=json.dumps(body))

    page.route("**/commands?*", stale)
    page.click(f"{card(waiting)} button.choice >> text=No")
    page.wait_for_selector(".toast.error >> text=has changed")
    page.unroute("**/commands?*")
    # Nothing reached the program; the card still offers the answers.
    assert "answered" not in tmux_server.run("capture-pane", "-p", "-t", waiting)
    page.click(f"{card(waiting)} button.choice >> text=No")
    pane_shows(page, tmux_server, waiting, "answered: 2")


def test_a_read_token_sees_states_but_gets_no_answer_buttons(new_page: Any, make_server: Any, tmux_server: TmuxServer, tmp_path: Path) -> None:
    server = make_server(**STATE_CONFIG)
    token = new_secret()
    assert server.config.tokens_file is not None
    TokenStore(server.config.tokens_file).create("viewer", "read", None, token)
    waiting = new_pane(tmux_server, agent_command(work=0.3), remain=True)
    page = open_page(new_page, server, token=token, viewport=DESKTOP)
    show_overview(page)
    wait_waiting(page, waiting)
    assert "Shall the fake agent go ahead?" in page.inner_text(f"{card(waiting)} .prompt-question")
    assert page.locator(f"{card(waiting)} button.choice").count() == 0
    page.click(f"{card(waiting)} .card-head")
    page.wait_for_function(SHOWS_PANE, arg=waiting)
    assert page.is_hidden("#answer-bar")
    page.wait_for_function(TITLE_STARTS, arg="(1) ")  # a read token still sees the count
