"""Find in scrollback in headless Chromium: a line far back in tmux's
history (beyond the 1000 lines the page received) is found through the
server and shown with the match marked; a recent match is selected in the
terminal itself."""

from __future__ import annotations

from typing import Any

import pytest

from helpers import RunningServer, TmuxServer

pytestmark = pytest.mark.browser


def test_line_far_back_in_history_is_found_and_shown(
    new_page: Any, tmuxweb_server: RunningServer, tmux_server: TmuxServer, screenshot: Any
) -> None:
    tmux_server.wait_for_prompt()
    tmux_server.run("send-keys", "-t", "%0", "-l", "clear; echo NEED''LE-far-back; seq 1 3000; echo recent-nee''dle; echo fill-done-$((6*7))")
    tmux_server.run("send-keys", "-t", "%0", "Enter")
    tmux_server.wait_for_text("%0", "fill-done-42", timeout=30)
    page = new_page(**{"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 3})
    page.goto(f"{tmuxweb_server.base_url}/#token={tmuxweb_server.token}")
    page.wait_for_function("() => window.__tmuxweb && window.__tmuxweb.connected() && window.__tmuxweb.activePane() !== null")
    if page.is_visible("#overview-close"):  # a phone opens on the overview
        page.click("#overview-close")
    page.click("#search-button")
    page.fill(".search-input", "needle")
    page.press(".search-input", "Enter")
    # Newest first: the recent line is in the page, so it is selected in the terminal.
    page.wait_for_selector(".search-count:has-text('2/2')")
    assert page.is_hidden(".search-context")
    assert page.evaluate("() => window.__tmuxweb.selection()") == "needle"
    page.wait_for_selector(".tmux-pane .search-match")  # highlighted in the terminal
    page.click(".search-prev")
    page.wait_for_selector(".search-context:not([hidden])")
    assert page.inner_text(".search-context mark") == "NEEDLE"
    assert "NEEDLE-far-back" in page.inner_text(".search-hit")
    assert "1" in page.inner_text(".search-context")
    box = page.locator(".search-bar").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    screenshot(page, "search-far-back-phone")
    page.click(".search-close")
    page.wait_for_selector(".tmux-pane .search-match", state="detached")
