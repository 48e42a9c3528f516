"""The phone UI (issue 14) in real Chromium with phone emulation (touch,
scale factor 2-3): at 390x844 and 360 px wide, portrait and landscape, the
bar never overflows and the toolbar folds into a menu whose every action
still works. Screenshots: test-artifacts/phone-*.png.
"""

from __future__ import annotations

from typing import Any

import pytest

from helpers import TmuxServer, wait_until

pytestmark = pytest.mark.browser

READY = "() => window.__tmuxweb && window.__tmuxweb.connected() && window.__tmuxweb.activePane() !== null"
SHAPES = {
    "portrait-390": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3},
    "portrait-360": {"viewport": {"width": 360, "height": 780}, "device_scale_factor": 2},
    "landscape-844": {"viewport": {"width": 844, "height": 390}, "device_scale_factor": 3},
    "landscape-780": {"viewport": {"width": 780, "height": 360}, "device_scale_factor": 2},
}
# Nothing wider than its box: the page, the bar, and the open menu.
FITS = """() => ['html', '#bar', '#toolbar'].every((s) => {
    const e = document.querySelector(s);
    return e.scrollWidth <= e.clientWidth + 1 && e.getBoundingClientRect().right <= window.innerWidth + 1;
})"""


def phone_page(new_page: Any, server: Any, shape: str) -> Any:
    page = new_page(**SHAPES[shape], is_mobile=True, has_touch=True)
    page.goto(server.link)
    page.wait_for_function(READY)
    return page


def open_menu(page: Any) -> None:
    if page.get_attribute("#toolbar-menu", "aria-expanded") != "true":
        page.tap("#toolbar-menu")
    page.wait_for_function("() => document.getElementById('toolbar').checkVisibility()")


def to_terminal(page: Any) -> None:
    if page.evaluate("() => window.__tmuxweb.view()") == "overview":
        page.tap("#overview-close")
    page.wait_for_function("() => window.__tmuxweb.view() === 'terminal'")


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_everything_fits_and_the_toolbar_folds_into_a_menu(
    new_page: Any, tmuxweb_server: Any, shape: str, screenshot: Any
) -> None:
    page = phone_page(new_page, tmuxweb_server, shape)
    screenshot(page, f"phone-{shape}-opened")
    to_terminal(page)
    assert page.is_visible("#toolbar-menu")
    assert not page.is_visible("#toolbar [data-action='zoom']")
    assert page.evaluate(FITS)
    screenshot(page, f"phone-{shape}-terminal")
    open_menu(page)
    assert page.evaluate(FITS)
    # Every action of the toolbar is in the menu, inside the screen.
    actions = page.eval_on_selector_all("#toolbar button[data-action]", "bs => bs.map((b) => b.dataset.action)")
    assert {"fit", "zoom", "new-window", "font-larger", "keyboard"} <= set(actions)
    for action in actions:
        box = page.locator(f"#toolbar [data-action='{action}']").bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"] + 1, action
    screenshot(page, f"phone-{shape}-menu")
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.getElementById('toolbar').checkVisibility()")


def test_every_folded_action_works_from_the_menu(
    new_page: Any, tmuxweb_server: Any, tmux_server: TmuxServer, screenshot: Any
) -> None:
    page = phone_page(new_page, tmuxweb_server, "portrait-360")
    to_terminal(page)

    def act(action: str) -> None:
        open_menu(page)
        page.tap(f"#toolbar [data-action='{action}']")
        # Choosing an action closes the menu.
        page.wait_for_function("() => document.getElementById('toolbar-menu').getAttribute('aria-expanded') === 'false'")

    def windows() -> int:
        return len(tmux_server.run("list-windows", "-F", "#{window_id}").split())

    def panes() -> int:
        return len(tmux_server.run("list-panes", "-F", "#{pane_id}").split())

    act("new-window")
    wait_until(lambda: windows() == 2, what="a new window")
    act("prev-window")
    wait_until(lambda: tmux_server.run("display-message", "-p", "#{window_index}").strip() == "0", what="the previous window")
    act("next-window")
    wait_until(lambda: tmux_server.run("display-message", "-p", "#{window_index}").strip() == "1", what="the next window")
    act("split-horizontal")
    wait_until(lambda: panes() == 2, what="a split")
    act("split-vertical")
    wait_until(lambda: panes() == 3, what="another split")
    act("zoom")
    wait_until(lambda: tmux_server.run("display-message", "-p", "#{window_zoomed_flag}").strip() == "1", what="zoom")
    act("zoom")
    wait_until(lambda: tmux_server.run("display-message", "-p", "#{window_zoomed_flag}").strip() == "0", what="unzoom")
    # The preferred font size (what a fitted window uses; a looking phone
    # shows the window scaled to its width whatever it is).
    preferred = "() => Number(localStorage.getItem('tmuxweb.fontSize') || 0)"
    before = page.evaluate(preferred)
    act("font-larger")
    page.wait_for_function(f"(b) => ({preferred})() > b", arg=before)
    larger = page.evaluate(preferred)
    act("font-smaller")
    page.wait_for_function(f"(b) => ({preferred})() < b", arg=larger)
    act("fit")
    page.wait_for_function("() => document.getElementById('fit-button').getAttribute('aria-pressed') === 'true'")
    act("fit")
    page.wait_for_function("() => document.getElementById('fit-button').getAttribute('aria-pressed') === 'false'")
    act("osc52")
    page.wait_for_function("() => document.getElementById('osc52-toggle').getAttribute('aria-pressed') === 'true'")
    act("rename-window")
    page.fill("#dialog-input", "phone-named")
    page.click("#dialog-ok")
    wait_until(lambda: "phone-named" in tmux_server.run("list-windows", "-F", "#{window_name}"), what="the rename")
    act("kill-pane")
    page.click("#dialog-ok")
    wait_until(lambda: panes() == 2, what="the pane closed")
    screenshot(page, "phone-portrait-360-after-actions")
    act("keyboard")
    page.wait_for_function("() => document.activeElement && document.activeElement.closest('#workspace') !== null")


RAW_READER = """
import os, sys, tty
tty.setraw(0)
out = open(sys.argv[1], 'ab', buffering=0)
os.write(1, b'READY\\r\\n')
while True:
    out.write(os.read(0, 1024))
"""


def test_every_key_of_the_key_row_reaches_the_pane(
    new_page: Any, tmuxweb_server: Any, tmux_server: TmuxServer, tmp_path: Any, screenshot: Any
) -> None:
    script, log = tmp_path / "raw.py", tmp_path / "raw.log"
    script.write_text(RAW_READER)
    log.write_bytes(b"")
    tmux_server.run("send-keys", "-t", "%0", "-l", f"python3 {script} {log}")
    tmux_server.run("send-keys", "-t", "%0", "Enter")
    wait_until(lambda: "READY" in tmux_server.run("capture-pane", "-p", "-t", "%0"), what="the raw reader")
    page = phone_page(new_page, tmuxweb_server, "portrait-360")
    to_terminal(page)
    assert page.evaluate(FITS)

    def got() -> bytes:
        return log.read_bytes()

    def press(selector: str, expected: bytes) -> None:
        start = len(got())
        page.tap(f"#keyrow {selector}")
        wait_until(lambda: got()[start:] == expected, what=f"{selector} as {expected!r} (got {got()[start:]!r})")

    def typed(text: str, expected: bytes) -> None:
        start = len(got())
        page.keyboard.type(text)
        wait_until(lambda: got()[start:] == expected, what=f"{text} as {expected!r} (got {got()[start:]!r})")

    press("[data-key='Escape']", b"\x1b")
    press("[data-key='Tab']", b"\t")
    press("[data-key='Left']", b"\x1b[D")
    press("[data-key='Up']", b"\x1b[A")
    press("[data-key='Down']", b"\x1b[B")
    press("[data-key='Right']", b"\x1b[C")
    press("[data-key='PPage']", b"\x1b[5~")
    press("[data-key='NPage']", b"\x1b[6~")
    press("[data-key='Home']", b"\x1b[1~")
    press("[data-key='End']", b"\x1b[4~")
    for ch in "|~/-_":
        press(f"[data-text='{ch}']", ch.encode())
    # Sticky Ctrl and Alt: one shot, on a key of the row or of the keyboard.
    page.tap("#keyrow [data-latch='ctrl']")
    typed("a", b"\x01")
    typed("a", b"a")
    page.tap("#keyrow [data-latch='alt']")
    press("[data-text='|']", b"\x1b|")
    page.tap("#keyrow [data-latch='ctrl']")
    press("[data-key='Left']", b"\x1b[1;5D")
    # A long press locks Ctrl until it is tapped again.
    ctrl = page.locator("#keyrow [data-latch='ctrl']")
    box = ctrl.bounding_box()
    cdp = page.context.new_cdp_session(page)
    point = [{"x": box["x"] + box["width"] / 2, "y": box["y"] + box["height"] / 2, "id": 1}]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": point})
    page.wait_for_function("() => document.querySelector(\"#keyrow [data-latch='ctrl']\").classList.contains('locked')")
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()
    screenshot(page, "phone-keyrow-ctrl-locked")
    typed("a", b"\x01")
    typed("d", b"\x04")  # not C-b: that is the tmux prefix
    page.tap("#keyrow [data-latch='ctrl']")
    page.wait_for_function("() => document.querySelector(\"#keyrow [data-latch='ctrl']\").getAttribute('aria-pressed') === 'false'")
    typed("c", b"c")


ROW = "() => [...document.querySelectorAll('#keyrow button:not(#composer-button):not(#keyrow-edit)')].filter((b) => b.checkVisibility()).map((b) => b.textContent)"


def test_the_key_row_is_customised_and_remembered(new_page: Any, tmuxweb_server: Any, screenshot: Any) -> None:
    page = phone_page(new_page, tmuxweb_server, "portrait-390")
    to_terminal(page)
    assert page.evaluate(ROW)[:2] == ["Esc", "Tab"]
    page.tap("#keyrow-edit")
    page.wait_for_selector("#keyrow-editor[open]")
    page.uncheck("#keyrow-editor li[data-id='Tab'] input")
    for _ in range(3):
        page.click("#keyrow-editor li[data-id='|'] .up")
    screenshot(page, "phone-keyrow-editor")
    page.click("#keyrow-editor-done")
    page.wait_for_selector("#keyrow-editor", state="detached")
    row = page.evaluate(ROW)
    assert "Tab" not in row
    assert row.index("|") < row.index("Home")  # moved left past Home and End
    page.reload()
    page.wait_for_function(READY)
    to_terminal(page)
    assert page.evaluate(ROW) == row
    screenshot(page, "phone-keyrow-customised")


def test_the_composer_sends_one_bracketed_paste_and_remembers_it(
    new_page: Any, tmuxweb_server: Any, tmux_server: TmuxServer, tmp_path: Any, screenshot: Any
) -> None:
    script, log = tmp_path / "raw.py", tmp_path / "raw.log"
    script.write_text(RAW_READER.replace("tty.setraw(0)", "tty.setraw(0); os.write(1, b'\\x1b[?2004h')"))
    log.write_bytes(b"")
    tmux_server.run("send-keys", "-t", "%0", "-l", f"python3 {script} {log}")
    tmux_server.run("send-keys", "-t", "%0", "Enter")
    wait_until(lambda: "READY" in tmux_server.run("capture-pane", "-p", "-t", "%0"), what="the raw reader")
    page = phone_page(new_page, tmuxweb_server, "portrait-360")
    to_terminal(page)
    page.tap("#composer-button")
    text = "Hello there, line one\nand line two"
    page.fill("#composer-text", text)
    assert page.get_attribute("#composer-text", "autocorrect") == "on"
    screenshot(page, "phone-composer")
    page.tap("#composer-send")
    expected = b"\x1b[200~" + text.encode().replace(b"\n", b"\r") + b"\x1b[201~\r"
    wait_until(lambda: log.read_bytes() == expected, what=f"one paste (got {log.read_bytes()!r})")
    assert page.eval_on_selector_all("#composer-history option", "os => os.map((o) => o.value)") == ["", text]
