"""Copy mode in the browser: tmux's prompts (search, jump, go to line) are
asked in our own dialog and answered without a tmux prompt, which a control
client could never answer (modekeys.py)."""

from __future__ import annotations

from typing import Any

import pytest

from test_ui import open_ui, prefix_key, wait_until

pytestmark = pytest.mark.browser


@pytest.mark.slow
def test_copy_mode_search_is_asked_in_our_dialog_and_finds_old_text(
    new_page: Any, tmuxweb_server: Any, tmux_server: Any, screenshot: Any
) -> None:
    tmux_server.run("set-option", "-g", "mode-keys", "vi")
    ui = open_ui(new_page, tmuxweb_server)
    pane = ui.active_pane()
    ui.wait_text(pane, "$")
    ui.type_line("echo needle-from-long-ago; seq 60")
    tmux_server.wait_for_text(pane, "\n60\n")
    prefix_key(ui, "[")
    mode = lambda: tmux_server.run("display", "-p", "-t", pane, "#{pane_in_mode}").strip()  # noqa: E731
    wait_until(ui.page, lambda: mode() == "1", "prefix [ did not enter copy mode")

    ui.page.keyboard.press("?")
    ui.page.wait_for_selector("#dialog[open]")
    assert ui.page.inner_text("#dialog-message") == "(search up)"
    screenshot(ui.page, "copy-mode-search")
    ui.page.fill("#dialog-input", "needle-from")
    ui.page.click("#dialog-ok")
    line = lambda: tmux_server.run("display", "-p", "-t", pane, "#{copy_cursor_line}")  # noqa: E731
    wait_until(ui.page, lambda: "needle-from-long-ago" in line(), "the search did not find the old line")

    # The control client still answers: q leaves copy mode, typing works.
    ui.page.keyboard.press("q")
    wait_until(ui.page, lambda: mode() == "0", "q did not leave copy mode")
    ui.type_line("echo still-answering")
    tmux_server.wait_for_text(pane, "still-answering\n")
