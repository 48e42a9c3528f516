"""The browser UI against a real tmuxweb and a real tmux, in headless Chromium."""

from __future__ import annotations

import json
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
    # A phone-sized page opens on the overview (test_overview.py): these
    # tests are about the terminal, one tap away.
    if page.evaluate("() => window.__tmuxweb.view()") == "overview":
        page.click("#overview-close")
    return ui


def tmux_lines(tmux_server: Any, *args: str) -> list[str]:
    output: str = tmux_server.run(*args)
    return output.strip().splitlines()


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


def test_wrong_token_shows_a_message_and_does_not_retry(
    new_page: Any, make_server: Any, tmp_path: Any, screenshot: Any
) -> None:
    # The stream is opened by the tabs' SharedWorker, whose requests
    # Playwright does not report: the server's audit log counts them.
    audit = tmp_path / "audit.jsonl"
    server = make_server(audit_log=audit)
    page = new_page()
    page.goto(server.base_url + "/#token=not-the-token")
    page.wait_for_selector("#page-message:not([hidden])")
    assert "refused" in page.inner_text("#page-message-title")
    assert "#token" not in page.url
    assert page.evaluate("() => sessionStorage.length") == 0
    failures = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [f["route"] for f in failures if f["event"] == "auth-failure"].count("/mux") == 1
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


def test_fit_claims_the_viewport_size_and_follows_it(new_page: Any, tmuxweb_server: Any, tmux_server: Any) -> None:
    ui = open_ui(new_page, tmuxweb_server, viewport={"width": 1000, "height": 600})
    # Looking changes nothing; "Fit to this screen" claims the size.
    assert tmux_server.run("display", "-p", "-t", "main", "#{window_width}x#{window_height}").strip() == "120x40"
    ui.action("fit")
    ui.page.wait_for_function("() => document.getElementById('fit-button').getAttribute('aria-pressed') === 'true'")

    def tmux_matches_page() -> bool:
        cols, rows = expected_size(ui.page)
        size: str = tmux_server.run("display", "-p", "-t", "main", "#{window_width}x#{window_height}")
        return size.strip() == f"{cols}x{rows}"

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


def test_reconnect_resumes_from_the_last_event_without_a_new_snapshot(
    new_page: Any, make_server: Any, tmux_server: Any
) -> None:
    server = make_server(linger=30)
    ui = open_ui(new_page, server)
    pane = ui.active_pane()
    ui.wait_text(pane, "$")
    assert ui.page.evaluate("() => window.__tmuxweb.resumed()") is False
    ui.page.context.set_offline(True)
    ui.page.wait_for_function("() => !window.__tmuxweb.connected()")
    tmux_server.run("send-keys", "-t", pane, "-l", "for i in 1 2 3; do echo missed-$i; done")
    tmux_server.run("send-keys", "-t", pane, "Enter")
    wait_until(ui.page, lambda: "missed-3" in tmux_server.run("capture-pane", "-p", "-t", pane), "no output in tmux")
    ui.page.context.set_offline(False)
    ui.wait_ready()
    ui.page.wait_for_function("() => window.__tmuxweb.resumed()")
    ui.wait_text(pane, "missed-3")
    wait_until(
        ui.page,
        lambda: screen(tmux_server.run("capture-pane", "-p", "-t", pane)) == screen(ui.text(pane)),
        "the resumed screen differs from tmux capture-pane",
    )


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
    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    ui.page.on("dialog", dismiss)
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
    # The phone only looks: tmux keeps its size, the page pans what does not fit.
    assert tmux_server.run("display", "-p", "-t", "main", "#{window_width}x#{window_height}").strip() == "120x40"
    page.wait_for_function("() => { const w = document.getElementById('workspace'); return w.scrollWidth > w.clientWidth; }")
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


# ---- the tmux prefix and key bindings ----


def press_prefix(ui: UI) -> None:
    ui.page.keyboard.press("Control+b")
    ui.page.wait_for_selector("#prefix-indicator:not([hidden])")
    assert ui.page.inner_text("#prefix-indicator") == "C-b"


def prefix_key(ui: UI, key: str) -> None:
    """The tmux prefix, then `key` (a Playwright key name)."""
    press_prefix(ui)
    ui.page.keyboard.press(key)
    ui.page.wait_for_selector("#prefix-indicator", state="hidden")


def pane_geometry(tmux_server: Any) -> list[tuple[str, int, int, int, int]]:
    """(id, left, top, width, height) of every pane of the current window."""
    rows = tmux_lines(tmux_server, "list-panes", "-t", "main", "-F", "#{pane_id} #{pane_left} #{pane_top} #{pane_width} #{pane_height}")
    geometry = []
    for row in rows:
        pane, left, top, width, height = row.split()
        geometry.append((pane, int(left), int(top), int(width), int(height)))
    return geometry


def test_key_names_follow_tmux(new_page: Any, tmuxweb_server: Any) -> None:
    ui = open_ui(new_page, tmuxweb_server)
    names = ui.page.evaluate(
        """async () => {
            const { keyName, keyNameFromData } = await import('./static/keys.js');
            const key = (key, init = {}) => keyName(new KeyboardEvent('keydown', { key, ...init }));
            return [
                key('b', { ctrlKey: true }), key(' ', { ctrlKey: true }), key('%', { shiftKey: true }),
                key('"', { shiftKey: true }), key('x', { altKey: true }), key('ArrowUp'),
                key('ArrowLeft', { ctrlKey: true }), key('F1'), key('PageUp'), key('Tab', { shiftKey: true }),
                key('Control', { ctrlKey: true }), key('Dead'),
                keyNameFromData('\\x02'), keyNameFromData('\\x1bx'), keyNameFromData('\\x1b[A'), keyNameFromData(':'),
            ];
        }"""
    )
    assert names == [
        "C-b", "C-Space", "%", '"', "M-x", "Up", "C-Left", "F1", "PPage", "BTab", None, None,
        "C-b", "M-x", "Up", ":",
    ]


def test_prefix_percent_and_quote_split(new_page: Any, tmuxweb_server: Any, tmux_server: Any, screenshot: Any) -> None:
    ui = open_ui(new_page, tmuxweb_server)
    first = ui.active_pane()
    ui.wait_text(first, "$")
    assert ui.page.is_hidden("#prefix-indicator")
    press_prefix(ui)
    assert ui.page.evaluate("() => window.__tmuxweb.prefixPending()")
    screenshot(ui.page, "prefix-pending")
    ui.page.keyboard.press("%")
    ui.page.wait_for_selector("#prefix-indicator", state="hidden")
    wait_until(ui.page, lambda: len(pane_geometry(tmux_server)) == 2, "prefix % did not split")
    (_, left1, top1, _, _), (_, left2, top2, _, _) = pane_geometry(tmux_server)
    assert top1 == top2 and left1 != left2  # side by side
    ui.page.wait_for_function("() => window.__tmuxweb.panes().length === 2")
    second = ui.active_pane()
    assert second != first
    # Neither the prefix nor the key reached the shell.
    assert tmux_server.capture(first).rstrip().endswith("$")

    prefix_key(ui, '"')
    wait_until(ui.page, lambda: len(pane_geometry(tmux_server)) == 3, 'prefix " did not split')
    stacked = [g for g in pane_geometry(tmux_server) if g[0] != first]
    assert stacked[0][1] == stacked[1][1] and stacked[0][2] != stacked[1][2]  # one above the other
    ui.page.wait_for_function("() => window.__tmuxweb.panes().length === 3")


def test_prefix_twice_sends_the_prefix_to_the_program(new_page: Any, tmuxweb_server: Any, tmux_server: Any) -> None:
    ui = open_ui(new_page, tmuxweb_server)
    pane = ui.active_pane()
    ui.wait_text(pane, "$")
    ui.type_line("cat -v")
    wait_until(ui.page, lambda: tmux_server.run("display", "-p", "-t", pane, "#{pane_current_command}").strip() == "cat", "no cat")
    prefix_key(ui, "Control+b")
    ui.page.keyboard.press("Enter")
    tmux_server.wait_for_text(pane, "^B")
    ui.wait_text(pane, "^B")
    ui.page.keyboard.press("Control+c")
    wait_until(ui.page, lambda: tmux_server.run("display", "-p", "-t", pane, "#{pane_current_command}").strip() == "bash", "cat kept running")


def test_prefix_c_creates_a_window(new_page: Any, tmuxweb_server: Any, tmux_server: Any) -> None:
    ui = open_ui(new_page, tmuxweb_server)
    first_window = ui.page.evaluate("() => window.__tmuxweb.activeWindow()")
    ui.wait_text(ui.active_pane(), "$")
    prefix_key(ui, "c")
    wait_until(ui.page, lambda: len(tmux_lines(tmux_server, "list-windows", "-t", "main")) == 2, "prefix c made no window")
    ui.page.locator("#tabs button").nth(1).wait_for()
    ui.page.wait_for_function("(w) => window.__tmuxweb.activeWindow() !== w", arg=first_window)
    pane = ui.active_pane()
    ui.wait_text(pane, "$")
    ui.type_line("echo in-new-window")
    ui.wait_text(pane, "in-new-window")
    # prefix n / p: next and previous window, as tmux binds them.
    prefix_key(ui, "n")
    ui.page.wait_for_function("(w) => window.__tmuxweb.activeWindow() === w", arg=first_window)
    prefix_key(ui, "p")
    ui.page.wait_for_function("(w) => window.__tmuxweb.activeWindow() !== w", arg=first_window)


def test_prefix_x_asks_then_kills_the_pane(new_page: Any, tmuxweb_server: Any, tmux_server: Any, screenshot: Any) -> None:
    ui = open_ui(new_page, tmuxweb_server)
    first = ui.active_pane()
    tmux_server.run("split-window", "-t", first)
    ui.page.wait_for_function("() => window.__tmuxweb.panes().length === 2")
    second = tmux_server.run("display", "-p", "-t", "main", "#{pane_id}").strip()
    ui.page.wait_for_function("(p) => window.__tmuxweb.activePane() === p", arg=second)
    index = tmux_server.run("display", "-p", "-t", second, "#{pane_index}").strip()

    prefix_key(ui, "x")
    ui.page.wait_for_selector("#dialog[open]")
    assert ui.page.inner_text("#dialog-message") == f"kill-pane {index}? (y/n)"
    screenshot(ui.page, "prefix-confirm")
    ui.page.keyboard.press("n")  # like tmux's prompt: n says no
    ui.page.wait_for_selector("#dialog", state="hidden")
    assert len(tmux_server.pane_ids()) == 2

    prefix_key(ui, "x")
    ui.page.wait_for_selector("#dialog[open]")
    ui.page.click("#dialog-ok")
    wait_until(ui.page, lambda: tmux_server.pane_ids() == [first], "the confirmed kill-pane did not run")
    ui.page.wait_for_function("(p) => !window.__tmuxweb.panes().includes(p)", arg=second)


def test_prefix_refusals_are_shown(new_page: Any, tmuxweb_server: Any, tmux_server: Any, screenshot: Any) -> None:
    ui = open_ui(new_page, tmuxweb_server)
    pane = ui.active_pane()
    ui.wait_text(pane, "$")
    prefix_key(ui, ":")
    toast = ui.page.locator(".toast.error", has_text="command-prompt")
    toast.wait_for()
    assert "not available" in toast.inner_text()
    assert toast.inner_text().startswith("C-b :")
    screenshot(ui.page, "prefix-refused")
    prefix_key(ui, "y")  # not bound by default: 404
    ui.page.locator(".toast.error", has_text="not bound").wait_for()
    assert tmux_server.capture(pane).rstrip().endswith("$")  # nothing was typed
    assert len(tmux_server.pane_ids()) == 1


def test_prefix_button_on_the_key_row(new_page: Any, tmuxweb_server: Any, tmux_server: Any) -> None:
    ui = open_ui(new_page, tmuxweb_server, viewport={"width": 390, "height": 740}, is_mobile=True, has_touch=True)
    ui.wait_text(ui.active_pane(), "$")
    ui.page.tap("#prefix-key")
    ui.page.wait_for_selector("#prefix-indicator:not([hidden])")
    assert ui.page.get_attribute("#prefix-key", "aria-pressed") == "true"
    ui.page.keyboard.type('"')
    wait_until(ui.page, lambda: len(pane_geometry(tmux_server)) == 2, "Prefix then \" did not split")
    assert ui.page.get_attribute("#prefix-key", "aria-pressed") == "false"
    # Prefix, then a key from the row: prefix Up selects the pane above.
    ui.page.wait_for_function("() => window.__tmuxweb.panes().length === 2")
    top = min(pane_geometry(tmux_server), key=lambda g: g[2])[0]
    ui.page.tap("#prefix-key")
    ui.page.tap('#keyrow [data-key="Up"]')
    wait_until(ui.page, lambda: tmux_server.run("display", "-p", "-t", "main", "#{pane_id}").strip() == top, "prefix Up did not select")
    ui.page.wait_for_function("(p) => window.__tmuxweb.activePane() === p", arg=top)
    # The row's sticky Ctrl, then b on the soft keyboard, is the prefix too.
    ui.page.tap('#keyrow [data-latch="ctrl"]')
    ui.page.keyboard.type("b")
    ui.page.wait_for_selector("#prefix-indicator:not([hidden])")
    ui.page.keyboard.type("c")
    wait_until(ui.page, lambda: len(tmux_lines(tmux_server, "list-windows", "-t", "main")) == 2, "Ctrl, b, c made no window")


def drag(page: Any, selector: str, dx: float, dy: float) -> None:
    box = page.locator(selector).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y + dy, steps=8)
    page.mouse.up()


def test_dragging_a_border_resizes_tmux_panes(new_page: Any, tmuxweb_server: Any, tmux_server: Any, screenshot: Any) -> None:
    ui = open_ui(new_page, tmuxweb_server)
    first = ui.active_pane()
    ui.action("split-horizontal")
    ui.page.wait_for_selector(".tmux-divider.vertical.draggable")
    cell = ui.page.evaluate("() => window.__tmuxweb.cellSize()")
    width = {g[0]: g[3] for g in pane_geometry(tmux_server)}[first]
    drag(ui.page, ".tmux-divider.vertical", 6 * cell["width"], 0)
    wait_until(
        ui.page,
        lambda: {g[0]: g[3] for g in pane_geometry(tmux_server)}[first] == width + 6,
        "dragging the border 6 cells right did not widen the left pane by 6",
    )
    ui.page.wait_for_function("([p, w]) => window.__tmuxweb.paneSize(p)[0] === w", arg=[first, width + 6])
    # The divider is drawn where tmux now has it.
    box = ui.page.locator(".tmux-divider.vertical").bounding_box()
    left = ui.page.locator(f'.tmux-pane[data-pane="{first}"]').bounding_box()
    assert abs(box["x"] - (left["x"] + left["width"])) < 1

    # A stacked split in the right-hand pane: drag its border 3 cells up.
    right = next(g[0] for g in pane_geometry(tmux_server) if g[0] != first)
    tmux_server.run("split-window", "-v", "-t", right)
    ui.page.wait_for_selector(".tmux-divider.horizontal.draggable")
    height = {g[0]: g[4] for g in pane_geometry(tmux_server)}[right]
    drag(ui.page, ".tmux-divider.horizontal", 0, -3 * cell["height"])
    wait_until(
        ui.page,
        lambda: {g[0]: g[4] for g in pane_geometry(tmux_server)}[right] == height - 3,
        "dragging the border 3 cells up did not shrink the upper pane by 3",
    )
    screenshot(ui.page, "dragged-borders")


@pytest.mark.slow
def test_bell_in_a_background_window_marks_its_tab(new_page: Any, tmuxweb_server: Any, tmux_server: Any, screenshot: Any) -> None:
    ui = open_ui(new_page, tmuxweb_server)
    ui.wait_text(ui.active_pane(), "$")
    background = tmux_server.run("new-window", "-d", "-P", "-F", "#{window_id}", "-t", "main").strip()
    tab = f'#tabs button[data-window="{background}"]'
    ui.page.wait_for_selector(tab)
    pane = tmux_server.run("display", "-p", "-t", background, "#{pane_id}").strip()
    tmux_server.wait_for_prompt(pane)
    tmux_server.run("send-keys", "-t", pane, "printf '\\a'", "Enter")
    ui.page.wait_for_selector(f"{tab} .flag.bell")
    assert tmux_server.run("display", "-p", "-t", background, "#{window_bell_flag}").strip() == "1"
    # tmux's flags, not a guess: monitor-activity is off, so no activity mark.
    assert ui.page.locator(f"{tab} .flag.activity").count() == 0
    screenshot(ui.page, "bell")
    # Selecting the window clears the bell in tmux, and so on the tab.
    ui.page.click(tab)
    ui.page.wait_for_selector(f"{tab} .flag.bell", state="detached")
    assert tmux_server.run("display", "-p", "-t", background, "#{window_bell_flag}").strip() == "0"


def test_activity_marker_follows_tmux_monitor_activity(new_page: Any, tmuxweb_server: Any, tmux_server: Any) -> None:
    tmux_server.run("set-option", "-g", "monitor-activity", "on")
    ui = open_ui(new_page, tmuxweb_server)
    background = tmux_server.run("new-window", "-d", "-P", "-F", "#{window_id}", "-t", "main").strip()
    tab = f'#tabs button[data-window="{background}"]'
    ui.page.wait_for_selector(tab)
    pane = tmux_server.run("display", "-p", "-t", background, "#{pane_id}").strip()
    tmux_server.wait_for_prompt(pane)
    tmux_server.run("send-keys", "-t", pane, "echo busy", "Enter")
    ui.page.wait_for_selector(f"{tab} .flag.activity")


def test_a_pane_moved_to_another_window_is_replaced(new_page: Any, tmuxweb_server: Any, tmux_server: Any) -> None:
    ui = open_ui(new_page, tmuxweb_server)
    first = ui.active_pane()
    home = ui.page.evaluate("() => window.__tmuxweb.activeWindow()")
    second = tmux_server.run("split-window", "-P", "-F", "#{pane_id}", "-t", first).strip()
    ui.page.wait_for_function("(p) => window.__tmuxweb.panes().includes(p)", arg=second)
    tmux_server.wait_for_prompt(second)
    tmux_server.run("send-keys", "-t", second, "echo moved-pane", "Enter")
    ui.wait_text(second, "moved-pane")
    # break-pane: the pane moves to a new window of its own.
    window = tmux_server.run("break-pane", "-d", "-P", "-F", "#{window_id}", "-s", second).strip()
    ui.page.wait_for_selector(f'.tmux-window[data-window="{window}"] .tmux-pane[data-pane="{second}"]', state="attached")
    assert ui.page.locator(f'.tmux-pane[data-pane="{second}"]').count() == 1
    ui.page.click(f'#tabs button[data-window="{window}"]')
    ui.page.wait_for_function("(w) => window.__tmuxweb.activeWindow() === w", arg=window)
    ui.wait_text(second, "moved-pane")
    ui.type_line("echo still-typing")
    ui.wait_text(second, "still-typing")
    # join-pane: back again, and the window it leaves closes.
    tmux_server.run("join-pane", "-h", "-s", second, "-t", first)
    ui.page.wait_for_selector(f'#tabs button[data-window="{window}"]', state="detached")
    ui.page.wait_for_selector(f'.tmux-window[data-window="{home}"] .tmux-pane[data-pane="{second}"]')
    assert ui.page.locator(f'.tmux-pane[data-pane="{second}"]').count() == 1
    ui.page.wait_for_function("(w) => window.__tmuxweb.activeWindow() === w", arg=home)
    ui.wait_text(second, "still-typing")
