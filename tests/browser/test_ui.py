"""The browser UI against a real tmuxweb and a real tmux, in headless Chromium."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser

# Playwright evaluates plain-expression strings with eval, which our CSP
# forbids; every predicate below is therefore written as a function.
PANE_TEXT_HAS = "([pane, needle]) => (window.__tmuxweb.paneText(pane) || '').includes(needle)"


class UI:
    """The page as a user sees it, plus read-only peeks through __tmuxweb."""

    def __init__(self, page: Any) -> None:
        self.page = page

    def wait_ready(self) -> None:
        self.page.wait_for_function(
            "() => window.__tmuxweb && window.__tmuxweb.connected() && window.__tmuxweb.activePane() !== null"
        )

    def active_pane(self) -> str:
        pane: str = self.page.evaluate("() => window.__tmuxweb.activePane()")
        return pane

    def panes(self) -> list[str]:
        panes: list[str] = self.page.evaluate("() => window.__tmuxweb.panes()")
        return panes

    def text(self, pane: str) -> str:
        text: str = self.page.evaluate("(p) => window.__tmuxweb.paneText(p)", pane)
        return text

    def wait_text(self, pane: str, needle: str) -> None:
        self.page.wait_for_function(PANE_TEXT_HAS, arg=[pane, needle])

    def type_line(self, line: str) -> None:
        self.page.keyboard.type(line)
        self.page.keyboard.press("Enter")

    def click_pane(self, pane: str) -> None:
        self.page.click(f'.tmux-pane[data-pane="{pane}"] .xterm-screen')

    def action(self, name: str) -> None:
        self.page.click(f'#toolbar [data-action="{name}"]')


def open_ui(new_page: Any, tmuxweb_server: Any, **options: Any) -> UI:
    page = new_page(**options)
    page.goto(tmuxweb_server.link)
    ui = UI(page)
    ui.wait_ready()
    return ui


def tmux_lines(tmux_server: Any, *args: str) -> list[str]:
    return tmux_server.run(*args).strip().splitlines()


def wait_until(page: Any, check: Any, message: str) -> None:
    """Poll a Python-side condition (tmux state) with the page's deadline."""
    for _ in range(150):
        if check():
            return
        page.wait_for_timeout(100)  # polling interval, not a fixed wait
    raise AssertionError(message)


def screen(text: str) -> list[str]:
    return [line.rstrip() for line in text.rstrip("\n").split("\n")]


# ---- login ----


def test_visit_without_token_explains_how_to_get_the_link(new_page: Any, tmuxweb_server: Any, screenshot: Any) -> None:
    page = new_page()
    page.goto(tmuxweb_server.base_url + "/")
    page.wait_for_selector("#page-message:not([hidden])")
    text = page.inner_text("#page-message")
    assert "#token=" in text
    assert "token" in text and "file" in text
    assert page.is_hidden("#workspace")
    screenshot(page, "no-token")


def test_wrong_token_shows_a_message_and_does_not_retry(new_page: Any, tmuxweb_server: Any, screenshot: Any) -> None:
    page = new_page()
    tickets: list[str] = []
    page.on("request", lambda r: tickets.append(r.url) if "/api/ticket" in r.url else None)
    page.goto(tmuxweb_server.base_url + "/#token=not-the-token")
    page.wait_for_selector("#page-message:not([hidden])")
    assert "refused" in page.inner_text("#page-message-title")
    assert "#token" not in page.url
    assert page.evaluate("() => sessionStorage.length") == 0
    assert len(tickets) == 1
    screenshot(page, "wrong-token")


def test_link_token_leaves_the_address_bar(new_page: Any, tmuxweb_server: Any) -> None:
    ui = open_ui(new_page, tmuxweb_server)
    assert "token" not in ui.page.url
    assert tmuxweb_server.token not in ui.page.url


# ---- terminal ----


def test_open_link_shows_the_prompt(new_page: Any, tmuxweb_server: Any, tmux_server: Any, screenshot: Any) -> None:
    ui = open_ui(new_page, tmuxweb_server)
    pane = ui.active_pane()
    assert pane == tmux_server.run("display", "-p", "-t", "main", "#{pane_id}").strip()
    ui.wait_text(pane, "$")
    screenshot(ui.page, "prompt")


def test_typed_command_shows_its_output(new_page: Any, tmuxweb_server: Any, tmux_server: Any) -> None:
    ui = open_ui(new_page, tmuxweb_server)
    pane = ui.active_pane()
    ui.wait_text(pane, "$")
    ui.type_line("echo typed-$((6*7))")
    ui.wait_text(pane, "typed-42")
    wait_until(ui.page, lambda: "typed-42" in tmux_server.run("capture-pane", "-p", "-t", pane), "tmux never ran it")


def test_split_pane_and_type_into_each(new_page: Any, tmuxweb_server: Any, tmux_server: Any, screenshot: Any) -> None:
    ui = open_ui(new_page, tmuxweb_server)
    first = ui.active_pane()
    ui.wait_text(first, "$")
    ui.action("split-horizontal")
    ui.page.wait_for_function("() => window.__tmuxweb.panes().length === 2")
    second = next(p for p in ui.panes() if p != first)
    ui.page.wait_for_function("(p) => window.__tmuxweb.activePane() === p", arg=second)
    assert len(tmux_lines(tmux_server, "list-panes", "-t", "main")) == 2
    ui.wait_text(second, "$")
    ui.type_line("echo right-$((1+1))")
    ui.wait_text(second, "right-2")

    ui.click_pane(first)
    wait_until(
        ui.page,
        lambda: tmux_server.run("display", "-p", "-t", "main", "#{pane_id}").strip() == first,
        "clicking the first pane did not select it in tmux",
    )
    ui.type_line("echo left-$((2+2))")
    ui.wait_text(first, "left-4")
    assert "left-4" not in ui.text(second)
    assert "right-2" not in ui.text(first)
    assert ui.page.locator(".tmux-divider.vertical").count() == 1
    screenshot(ui.page, "split")


def test_switch_windows_with_tabs(new_page: Any, tmuxweb_server: Any, tmux_server: Any, screenshot: Any) -> None:
    ui = open_ui(new_page, tmuxweb_server)
    first_window = ui.page.evaluate("() => window.__tmuxweb.activeWindow()")
    ui.action("new-window")
    ui.page.locator("#tabs button").nth(1).wait_for()
    ui.page.wait_for_function("(w) => window.__tmuxweb.activeWindow() !== w", arg=first_window)
    pane = ui.active_pane()
    ui.wait_text(pane, "$")
    ui.type_line("echo second-window")
    ui.wait_text(pane, "second-window")

    ui.page.click(f'#tabs button[data-window="{first_window}"]')
    ui.page.wait_for_function("(w) => window.__tmuxweb.activeWindow() === w", arg=first_window)
    assert tmux_server.run("display", "-p", "-t", "main", "#{window_id}").strip() == first_window
    assert ui.page.is_visible(f'.tmux-window[data-window="{first_window}"]')
    assert ui.page.get_attribute(f'#tabs button[data-window="{first_window}"]', "aria-selected") == "true"
    screenshot(ui.page, "windows")

    ui.action("next-window")
    ui.page.wait_for_function("(w) => window.__tmuxweb.activeWindow() !== w", arg=first_window)


def expected_size(page: Any) -> tuple[int, int]:
    size: list[int] = page.evaluate(
        """() => {
            const cell = window.__tmuxweb.cellSize();
            const box = document.getElementById('workspace').getBoundingClientRect();
            return [Math.floor(box.width / cell.width), Math.floor(box.height / cell.height)];
        }"""
    )
    return size[0], size[1]


def test_viewport_size_decides_the_tmux_size(new_page: Any, tmuxweb_server: Any, tmux_server: Any) -> None:
    ui = open_ui(new_page, tmuxweb_server, viewport={"width": 1000, "height": 600})

    def tmux_matches_page() -> bool:
        cols, rows = expected_size(ui.page)
        size = tmux_server.run("display", "-p", "-t", "main", "#{window_width}x#{window_height}").strip()
        return size == f"{cols}x{rows}"

    seen = set()
    for width, height in [(1000, 600), (640, 420), (1200, 800)]:
        ui.page.set_viewport_size({"width": width, "height": height})
        ui.page.wait_for_function(
            "(h) => document.documentElement.style.getPropertyValue('--app-height') === `${h}px`", arg=height
        )
        wait_until(ui.page, tmux_matches_page, f"tmux window never fitted a {width}x{height} viewport")
        cols, rows = expected_size(ui.page)
        seen.add((cols, rows))
        pane = ui.active_pane()
        ui.page.wait_for_function(
            "([p, c, r]) => window.__tmuxweb.paneSize(p).join('x') === `${c}x${r}`", arg=[pane, cols, rows]
        )
        panes = tmux_lines(tmux_server, "list-panes", "-t", "main", "-F", "#{pane_width}x#{pane_height}")
        assert panes == [f"{cols}x{rows}"]
    assert len(seen) == 3


def test_reconnect_after_the_stream_is_cut_restores_the_screen(
    new_page: Any, tmuxweb_server: Any, tmux_server: Any, screenshot: Any
) -> None:
    ui = open_ui(new_page, tmuxweb_server)
    pane = ui.active_pane()
    ui.wait_text(pane, "$")
    ui.page.context.set_offline(True)
    ui.page.wait_for_function("() => !window.__tmuxweb.connected()")
    # Output while the browser is away must show after reconnecting.
    tmux_server.run("send-keys", "-t", pane, "-l", "for i in 1 2 3; do echo away-$i; done")
    tmux_server.run("send-keys", "-t", pane, "Enter")
    wait_until(ui.page, lambda: "away-3" in tmux_server.run("capture-pane", "-p", "-t", pane), "no output in tmux")
    ui.page.context.set_offline(False)
    ui.wait_ready()
    ui.wait_text(pane, "away-3")
    ui.type_line("echo back-again")
    ui.wait_text(pane, "back-again")
    wait_until(
        ui.page,
        lambda: screen(tmux_server.run("capture-pane", "-p", "-t", pane)) == screen(ui.text(pane)),
        "the page's screen differs from tmux capture-pane",
    )
    screenshot(ui.page, "reconnected")


def test_paste_multiline_text(new_page: Any, tmuxweb_server: Any, tmux_server: Any) -> None:
    ui = open_ui(new_page, tmuxweb_server)
    pane = ui.active_pane()
    ui.wait_text(pane, "$")
    ui.page.evaluate(
        """(text) => {
            const data = new DataTransfer();
            data.setData('text/plain', text);
            document.activeElement.dispatchEvent(
                new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
        }""",
        "echo one-$((1+1))\necho two-$((2+1))\n",
    )
    ui.page.keyboard.press("Enter")
    ui.wait_text(pane, "one-2")
    ui.wait_text(pane, "two-3")
    captured = tmux_server.run("capture-pane", "-p", "-t", pane)
    assert "one-2" in captured and "two-3" in captured


def test_hostile_window_name_is_shown_as_text(new_page: Any, tmuxweb_server: Any, tmux_server: Any, screenshot: Any) -> None:
    hostile = "<img src=x onerror=alert(1)>"
    ui = open_ui(new_page, tmuxweb_server)
    dialogs: list[str] = []
    ui.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    tmux_server.run("rename-window", "-t", "main", hostile)
    ui.page.wait_for_function(
        "(name) => [...document.querySelectorAll('#tabs .name')].some((e) => e.textContent.endsWith(name))", arg=hostile
    )
    assert ui.page.evaluate("() => document.querySelectorAll('img').length") == 0
    assert dialogs == []
    screenshot(ui.page, "hostile-name")


def test_phone_viewport_has_a_key_row(new_page: Any, tmuxweb_server: Any, tmux_server: Any, screenshot: Any) -> None:
    ui = open_ui(
        new_page,
        tmuxweb_server,
        viewport={"width": 390, "height": 740},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    page = ui.page
    assert page.is_visible("#keyrow")
    pane = ui.active_pane()
    ui.wait_text(pane, "$")
    cols, rows = expected_size(page)
    assert cols < 60
    wait_until(
        page,
        lambda: tmux_server.run("display", "-p", "-t", "main", "#{window_width}x#{window_height}").strip()
        == f"{cols}x{rows}",
        "tmux did not take the phone's size",
    )
    # Sticky Ctrl from the key row, then "c" on the (soft) keyboard: ^C.
    page.keyboard.type("sleep 300")
    page.keyboard.press("Enter")
    wait_until(page, lambda: tmux_server.run("display", "-p", "-t", pane, "#{pane_current_command}").strip() == "sleep", "no sleep")
    page.tap('#keyrow [data-latch="ctrl"]')
    assert page.get_attribute('#keyrow [data-latch="ctrl"]', "aria-pressed") == "true"
    page.keyboard.type("c")
    wait_until(page, lambda: tmux_server.run("display", "-p", "-t", pane, "#{pane_current_command}").strip() == "bash", "^C did not stop sleep")
    # Arrow key from the row: Up recalls the last command line.
    page.tap('#keyrow [data-key="Up"]')
    wait_until(page, lambda: tmux_server.run("capture-pane", "-p", "-t", pane).rstrip().endswith("$ sleep 300"), "Up did nothing")
    screenshot(page, "phone")


def test_toolbar_zoom_rename_and_close_with_confirmation(new_page: Any, tmuxweb_server: Any, tmux_server: Any) -> None:
    ui = open_ui(new_page, tmuxweb_server)
    first = ui.active_pane()
    ui.action("split-vertical")
    ui.page.wait_for_function("() => window.__tmuxweb.panes().length === 2")
    second = next(p for p in ui.panes() if p != first)

    ui.action("zoom")
    ui.page.wait_for_selector("#tabs .flag.zoomed")
    assert tmux_server.run("display", "-p", "-t", "main", "#{window_zoomed_flag}").strip() == "1"
    assert ui.page.is_hidden(f'.tmux-pane[data-pane="{first}"]')
    ui.action("zoom")
    ui.page.wait_for_selector("#tabs .flag.zoomed", state="detached")

    ui.action("rename-window")
    ui.page.fill("#dialog-input", "logs & <b>things</b>")
    ui.page.click("#dialog-ok")
    ui.page.wait_for_function("() => document.querySelector('#tabs .name').textContent === '0:logs & <b>things</b>'")
    assert tmux_server.run("display", "-p", "-t", "main", "#{window_name}").strip() == "logs & <b>things</b>"

    ui.action("kill-pane")  # asks first; Cancel keeps the pane
    ui.page.click("#dialog-cancel")
    assert ui.page.is_hidden("#dialog")
    assert len(tmux_server.pane_ids()) == 2
    ui.action("kill-pane")
    ui.page.click("#dialog-ok")
    ui.page.wait_for_function("() => window.__tmuxweb.panes().length === 1")
    assert tmux_server.pane_ids() == [first]
    assert second not in ui.panes()


def test_session_end_is_shown(new_page: Any, tmuxweb_server: Any, tmux_server: Any) -> None:
    ui = open_ui(new_page, tmuxweb_server)
    tmux_server.run("new-session", "-d", "-s", "other")
    tmux_server.run("kill-session", "-t", "main")
    ui.page.wait_for_selector("#page-message:not([hidden])")
    assert "ended" in ui.page.inner_text("#page-message-title")
