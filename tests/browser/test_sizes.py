"""Nobody's layout is disturbed by a glance (issue 14), in real Chromium: a
desktop page (1280x800) and a phone (touch, scale factor 3, 390x844) on one
session, with a real `tmux attach` of 200x50 in a pty on the desk.

The phone joining changes no size; it shows the window scaled to the
readable minimum and panned, zooms with a pinch, and only "Fit" changes the
size; when the phone leaves, the terminal gets its size back.
Screenshots: test-artifacts/sizes-*.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from helpers import TmuxServer, wait_until
from ptyclient import TerminalClient, window_size
from tmuxweb.auth import new_secret
from tmuxweb.tokens import TokenStore

pytestmark = pytest.mark.browser

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
READY = "() => window.__tmuxweb && window.__tmuxweb.connected() && window.__tmuxweb.activePane() !== null"
PANNED = "() => { const w = document.getElementById('workspace'); return w.scrollWidth > w.clientWidth + 1; }"
FITS = "() => { const w = document.getElementById('workspace'); return w.scrollWidth <= w.clientWidth + 1; }"
AT_REST = """() => {
    const x = document.getElementById('workspace').scrollLeft;
    const still = window.__lastScrollLeft === x;
    window.__lastScrollLeft = x;
    return still;
}"""
PRESSED = "(p) => document.getElementById('fit-button').getAttribute('aria-pressed') === p"


@pytest.fixture
def terminal(tmux_server: TmuxServer) -> Iterator[TerminalClient]:
    with TerminalClient(tmux_server, cols=200, rows=50) as client:
        wait_until(lambda: window_size(tmux_server) == "200x50", what="the terminal's size")
        yield client


def open_page(new_page: Any, server: Any, options: dict[str, Any]) -> Any:
    page = new_page(**options)
    page.goto(server.link)
    page.wait_for_function(READY)
    # A phone-sized page opens on the overview (test_overview.py): these
    # tests are about the terminal, one tap away.
    if page.evaluate("() => window.__tmuxweb.view()") == "overview":
        page.click("#overview-close")
    return page


def tap_fit(page: Any) -> None:
    """Fit, from the menu the toolbar folds into on a phone (test_phone.py)."""
    if page.is_visible("#toolbar-menu"):
        page.tap("#toolbar-menu")
    page.tap("#fit-button")


def cells_that_fit(page: Any) -> str:
    size: list[int] = page.evaluate(
        """() => {
            const cell = window.__tmuxweb.cellSize();
            const box = document.getElementById('workspace').getBoundingClientRect();
            return [Math.floor(box.width / cell.width), Math.floor(box.height / cell.height)];
        }"""
    )
    return f"{size[0]}x{size[1]}"


def font(page: Any) -> float:
    size: float = page.evaluate("() => window.__tmuxweb.fontSize()")
    return size


def pinch(page: Any, scale: float) -> None:
    """Two fingers on the workspace moving apart (scale > 1), through the
    browser's own touch input (CDP), as a phone's touch screen delivers them."""
    box = page.locator("#workspace").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    cdp = page.context.new_cdp_session(page)

    def points(spread: float) -> list[dict[str, float]]:
        return [{"x": cx - spread, "y": cy, "id": 1}, {"x": cx + spread, "y": cy, "id": 2}]

    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": points(40)})
    for step in range(1, 6):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": points(40 + 40 * (scale - 1) * step / 5)})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def test_a_phone_that_looks_changes_no_size_and_one_that_fits_gives_it_back_when_it_leaves(
    new_page: Any, tmuxweb_server: Any, tmux_server: TmuxServer, terminal: TerminalClient, screenshot: Any
) -> None:
    desk = open_page(new_page, tmuxweb_server, DESKTOP)
    assert window_size(tmux_server) == "200x50"
    # The desk shows the terminal's 200 columns across its width.
    desk.wait_for_function(FITS)
    assert font(desk) < 14
    tmux_server.run("send-keys", "-t", "%0", "-l", "echo desk-$((6*7))")
    tmux_server.run("send-keys", "-t", "%0", "Enter")
    desk.wait_for_function("() => (window.__tmuxweb.paneText('%0') || '').includes('desk-42')")
    screenshot(desk, "sizes-desktop-before-phone")

    phone = open_page(new_page, tmuxweb_server, PHONE)
    assert window_size(tmux_server) == "200x50"
    # 200 columns do not fit 390 px at a readable size: the minimum, panned.
    phone.wait_for_function(PANNED)
    assert font(phone) == 8
    assert window_size(tmux_server) == "200x50"
    screenshot(phone, "sizes-phone-looking")

    # A pinch zooms in (still panned); tmux's size does not move.
    pinch(phone, 2.0)
    phone.wait_for_function("() => window.__tmuxweb.fontSize() > 12")
    assert window_size(tmux_server) == "200x50"
    screenshot(phone, "sizes-phone-pinched")

    # "Fit": the window takes the phone's size, for the terminal too.
    tap_fit(phone)
    phone.wait_for_function(PRESSED, arg="true")
    claimed = cells_that_fit(phone)
    wait_until(lambda: window_size(tmux_server) == claimed, what=f"the phone's size {claimed}")
    phone.wait_for_function(FITS)
    cols, rows = (int(n) for n in claimed.split("x"))
    assert cols < 60
    desk.wait_for_function(PRESSED, arg="false")
    assert "another screen" in desk.get_attribute("#fit-button", "title")
    desk.wait_for_function(f"() => window.__tmuxweb.paneSize('%0').join('x') === '{cols}x{rows}'")
    screenshot(phone, "sizes-phone-fitted")
    screenshot(desk, "sizes-desktop-while-phone-fits")

    # The phone leaves: the terminal's size is back, for the desk too.
    phone.context.close()
    wait_until(lambda: window_size(tmux_server) == "200x50", what="the terminal's size back")
    desk.wait_for_function("() => window.__tmuxweb.paneSize('%0').join('x') === '200x50'")
    desk.wait_for_function(FITS)
    assert "another screen" not in desk.get_attribute("#fit-button", "title")
    screenshot(desk, "sizes-desktop-after-phone-left")


def test_fit_again_gives_the_size_back(new_page: Any, tmuxweb_server: Any, tmux_server: TmuxServer) -> None:
    page = open_page(new_page, tmuxweb_server, DESKTOP)
    assert window_size(tmux_server) == "120x40"
    page.click("#fit-button")
    page.wait_for_function(PRESSED, arg="true")
    claimed = cells_that_fit(page)
    wait_until(lambda: window_size(tmux_server) == claimed, what=f"the page's size {claimed}")
    page.wait_for_function(f"() => window.__tmuxweb.paneSize('%0').join('x') === '{claimed}'")
    page.click("#fit-button")
    page.wait_for_function(PRESSED, arg="false")
    wait_until(lambda: window_size(tmux_server) == "120x40", what="the size from before the claim")


def test_a_read_only_page_cannot_fit(new_page: Any, tmuxweb_server: Any, tmux_server: TmuxServer) -> None:
    secret = new_secret()
    TokenStore(tmuxweb_server.config.tokens_file).create("glance", "read", None, secret)
    page = new_page(**PHONE)
    page.goto(f"{tmuxweb_server.base_url}/#token={secret}")
    page.wait_for_function(READY)
    assert page.is_disabled("#fit-button")
    assert window_size(tmux_server) == "120x40"


def test_a_phone_whose_connection_drops_keeps_its_claim(
    new_page: Any, make_server: Any, tmux_server: TmuxServer, terminal: TerminalClient
) -> None:
    server = make_server(claim_grace=30)
    phone = open_page(new_page, server, PHONE)
    tap_fit(phone)
    phone.wait_for_function(PRESSED, arg="true")
    claimed = cells_that_fit(phone)
    wait_until(lambda: window_size(tmux_server) == claimed, what=f"the phone's size {claimed}")
    first = phone.evaluate("() => window.__tmuxweb.connectionId()")
    phone.context.set_offline(True)
    phone.wait_for_function("() => !window.__tmuxweb.connected()")
    phone.context.set_offline(False)
    phone.wait_for_function(f"() => window.__tmuxweb.connected() && window.__tmuxweb.connectionId() !== '{first}'")
    phone.wait_for_function(PRESSED, arg="true")
    assert window_size(tmux_server) == claimed


def swipe(page: Any, dx: float) -> None:
    """One finger across the workspace, through the browser's touch input."""
    box = page.locator("#workspace").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y, "id": 1}]})
    for step in range(1, 9):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x + dx * step / 8, "y": y, "id": 1}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def test_a_swipe_pans_a_window_wider_than_the_phone_and_switches_windows_otherwise(
    new_page: Any, tmuxweb_server: Any, tmux_server: TmuxServer, terminal: TerminalClient
) -> None:
    tmux_server.run("new-window", "-d", "-t", "main:")
    phone = open_page(new_page, tmuxweb_server, PHONE)
    phone.wait_for_function(PANNED)
    swipe(phone, -150)
    phone.wait_for_function("() => document.getElementById('workspace').scrollLeft > 0")
    assert phone.evaluate("() => window.__tmuxweb.activeWindow()") == "@0"
    # Fitted to the phone, nothing to pan: the same swipe goes to the next window.
    # A tap while the pan still glides only stops it (as on a phone): wait
    # until it has come to rest.
    phone.wait_for_function(AT_REST, polling=100)
    tap_fit(phone)
    phone.wait_for_function(PRESSED, arg="true")
    phone.wait_for_function(FITS)
    swipe(phone, -150)
    phone.wait_for_function("() => window.__tmuxweb.activeWindow() === '@1'")
