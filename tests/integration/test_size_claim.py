"""Nobody's layout is disturbed by a glance (issue 14): watching never
changes a window's size; a `resize` command claims it; leaving gives it
back. Real tmux, a real `tmux attach` in a pty, the real app, real streams.

The session `main` starts at 120x40; the terminal client is 200x50 (no
status line in the test config), so its windows are 200x50.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from helpers import RunningServer, Session, TmuxServer, wait_until
from ptyclient import TerminalClient, window_size, window_sizes
from tmuxweb.auth import new_secret
from tmuxweb.tokens import TokenStore


@pytest.fixture
def terminal(tmux_server: TmuxServer) -> Iterator[TerminalClient]:
    with TerminalClient(tmux_server, cols=200, rows=50) as client:
        settled(tmux_server, "200x50")
        yield client


def settled(tmux: TmuxServer, expected: str, window: str = "@0") -> None:
    wait_until(lambda: window_size(tmux, window) == expected, what=f"{window} at {expected}, not {window_size(tmux, window)}")


def viewer(server: RunningServer, token: str | None = None) -> Session:
    """A watcher; with `token`, its stream and its commands use that token."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    session = Session(server, server.stream(headers=headers))
    if token:
        session.client.close()
        session.client = server.client(headers={**(headers or {}), "X-Session-Token": session.info["session_token"]})
    return session


def claim_becomes(session: Session, expected: object) -> None:
    """`session` is told (a `size-claim` event) that the claim is `expected`."""
    session.stream.until(lambda e: e.name == "size-claim" and e.data["claim"] == expected)


def test_watching_and_typing_never_change_the_size(tmuxweb_server: RunningServer, tmux_server: TmuxServer, terminal: TerminalClient) -> None:
    desk = viewer(tmuxweb_server)
    phone = viewer(tmuxweb_server)
    try:
        assert phone.state["size_claim"] is None
        tmux_server.wait_for_prompt()
        assert phone.command(type="input", text="echo typed-$((6*7))\r").status_code == 200
        tmux_server.wait_for_text("%0", "typed-42")
        assert phone.command(type="new-window").status_code == 200
        wait_until(lambda: len(window_sizes(tmux_server)) == 2, what="the new window")
        assert set(window_sizes(tmux_server).values()) == {"200x50"}
    finally:
        desk.close()
        phone.close()


def test_a_claim_fits_the_windows_and_leaving_gives_the_size_back(
    tmuxweb_server: RunningServer, tmux_server: TmuxServer, terminal: TerminalClient
) -> None:
    desk = viewer(tmuxweb_server)
    phone = viewer(tmuxweb_server)
    try:
        assert phone.command(type="resize", cols=53, rows=52).status_code == 200
        assert window_size(tmux_server) == "53x52"
        claim = {"connection": phone.info["connection_id"], "cols": 53, "rows": 52}
        claim_becomes(desk, claim)
        late = viewer(tmuxweb_server)
        assert late.state["size_claim"] == claim
        late.close()
        # The person at the terminal types: tmux gives the terminal its size.
        terminal.type(b"x")
        settled(tmux_server, "200x50")
        # Claiming again takes it back.
        assert phone.command(type="resize", cols=53, rows=52).status_code == 200
        assert window_size(tmux_server) == "53x52"
        phone.close()
        claim_becomes(desk, None)
        settled(tmux_server, "200x50")
    finally:
        desk.close()
        phone.close()


def test_without_a_terminal_leaving_restores_the_size_before_the_claim(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> None:
    desk = viewer(tmuxweb_server)
    phone = viewer(tmuxweb_server)
    try:
        assert window_size(tmux_server) == "120x40"
        assert phone.command(type="resize", cols=53, rows=52).status_code == 200
        assert window_size(tmux_server) == "53x52"
        phone.close()
        claim_becomes(desk, None)
        settled(tmux_server, "120x40")
    finally:
        desk.close()
        phone.close()


def test_claims_stack_and_the_previous_claimant_gets_its_size_back(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> None:
    desk = viewer(tmuxweb_server)
    phone = viewer(tmuxweb_server)
    try:
        assert desk.command(type="resize", cols=100, rows=30).status_code == 200
        assert window_size(tmux_server) == "100x30"
        assert phone.command(type="resize", cols=53, rows=52).status_code == 200
        assert window_size(tmux_server) == "53x52"
        phone.close()
        settled(tmux_server, "100x30")
        claim_becomes(desk, {"connection": desk.info["connection_id"], "cols": 100, "rows": 30})
        assert desk.command(type="release-size").status_code == 200
        claim_becomes(desk, None)
        settled(tmux_server, "120x40")
    finally:
        desk.close()
        phone.close()


def test_the_claim_follows_its_holder_to_other_windows_only(
    tmuxweb_server: RunningServer, tmux_server: TmuxServer, terminal: TerminalClient
) -> None:
    desk = viewer(tmuxweb_server)
    phone = viewer(tmuxweb_server)
    try:
        assert desk.command(type="new-window").status_code == 200
        wait_until(lambda: len(window_sizes(tmux_server)) == 2, what="the new window")
        assert desk.command(type="select-window", window="@0").status_code == 200
        assert phone.command(type="resize", cols=53, rows=52).status_code == 200
        assert window_sizes(tmux_server) == {"@0": "53x52", "@1": "200x50"}
        # Another viewer switching windows carries nobody's claim.
        assert desk.command(type="select-window", window="@1").status_code == 200
        assert window_sizes(tmux_server) == {"@0": "53x52", "@1": "200x50"}
        # The holder switching does.
        assert phone.command(type="previous-window").status_code == 200
        assert phone.command(type="next-window").status_code == 200
        wait_until(lambda: window_sizes(tmux_server) == {"@0": "53x52", "@1": "53x52"}, 3, what=f"the claim on @1 {window_sizes(tmux_server)}")
        phone.close()
        wait_until(lambda: window_size(tmux_server, "@1") == "200x50", what="the terminal's size back on @1")
    finally:
        desk.close()
        phone.close()


def test_a_read_token_can_neither_claim_nor_release(tmuxweb_server: RunningServer, tmux_server: TmuxServer, terminal: TerminalClient) -> None:
    secret = new_secret()
    assert tmuxweb_server.config.tokens_file is not None
    TokenStore(tmuxweb_server.config.tokens_file).create("glance", "read", None, secret)
    owner = viewer(tmuxweb_server)
    reader = viewer(tmuxweb_server, secret)
    try:
        for body in ({"type": "resize", "cols": 53, "rows": 52}, {"type": "release-size"}):
            r = reader.command(**body)
            assert r.status_code == 403, r.text
            assert "read-only" in r.json()["error"]
        assert window_size(tmux_server) == "200x50"
        assert owner.command(type="resize", cols=60, rows=30).status_code == 200
        assert reader.command(type="release-size").status_code == 403
        assert window_size(tmux_server) == "60x30"
        # Its session token cannot be used under the owner's token either.
        with httpx.Client(base_url=tmuxweb_server.base_url, headers={**tmuxweb_server.auth, "X-Session-Token": reader.info["session_token"]}) as client:
            r = client.post("/commands", params={"session": "main"}, json={"type": "resize", "cols": 53, "rows": 52})
            assert r.status_code == 403
        assert window_size(tmux_server) == "60x30"
    finally:
        owner.close()
        reader.close()


def test_stopping_tmuxweb_gives_the_size_back(make_server, tmux_server: TmuxServer) -> None:  # type: ignore[no-untyped-def]
    server = make_server()
    phone = viewer(server)
    assert phone.command(type="resize", cols=53, rows=52).status_code == 200
    assert window_size(tmux_server) == "53x52"
    phone.client.close()
    server.stop()
    settled(tmux_server, "120x40")
    assert tmux_server.control_clients() == []


def test_a_page_that_comes_back_within_the_grace_renews_its_claim_without_a_change(
    make_server, tmux_server: TmuxServer, terminal: TerminalClient  # type: ignore[no-untyped-def]
) -> None:
    server = make_server(claim_grace=30)
    desk = viewer(server)
    phone = viewer(server)
    again = None
    try:
        assert phone.command(type="resize", cols=53, rows=52).status_code == 200
        first = phone.info["connection_id"]
        claim_becomes(desk, {"connection": first, "cols": 53, "rows": 52})
        phone.close()  # the phone's connection drops
        again = viewer(server)
        assert again.state["size_claim"] == {"connection": first, "cols": 53, "rows": 52}
        assert again.command(type="resize", cols=53, rows=52, renew=first).status_code == 200
        claim_becomes(desk, {"connection": again.info["connection_id"], "cols": 53, "rows": 52})
        assert all(e.data["claim"] is not None for e in desk.stream.seen if e.name == "size-claim")
        assert window_size(tmux_server) == "53x52"
    finally:
        desk.close()
        phone.close()
        if again is not None:
            again.close()


def test_renewing_after_the_grace_changes_nothing(tmuxweb_server: RunningServer, tmux_server: TmuxServer, terminal: TerminalClient) -> None:
    desk = viewer(tmuxweb_server)
    phone = viewer(tmuxweb_server)
    again = None
    try:
        assert phone.command(type="resize", cols=53, rows=52).status_code == 200
        first = phone.info["connection_id"]
        phone.close()
        claim_becomes(desk, None)
        settled(tmux_server, "200x50")
        again = viewer(tmuxweb_server)
        assert again.command(type="resize", cols=53, rows=52, renew=first).status_code == 200
        assert window_size(tmux_server) == "200x50"
        assert again.command(type="resize", cols=53, rows=52, renew="0" * 16).status_code == 200
        assert window_size(tmux_server) == "200x50"
        assert again.command(type="resize", cols=53, rows=52, renew="not-an-id").status_code == 400
    finally:
        desk.close()
        phone.close()
        if again is not None:
            again.close()


def test_a_claim_can_be_renewed_only_from_its_own_token_once_its_stream_has_ended(
    make_server, tmux_server: TmuxServer, terminal: TerminalClient  # type: ignore[no-untyped-def]
) -> None:
    server = make_server(claim_grace=30)
    secret = new_secret()
    assert server.config.tokens_file is not None
    TokenStore(server.config.tokens_file).create("typist", "write", None, secret)
    desk = viewer(server)
    other = viewer(server, secret)
    phone = viewer(server)
    try:
        assert desk.command(type="resize", cols=100, rows=30).status_code == 200
        assert phone.command(type="resize", cols=53, rows=52).status_code == 200
        first = phone.info["connection_id"]
        # Taking over an open stream's claim would push the desk's claim out.
        r = desk.command(type="resize", cols=60, rows=20, renew=first)
        assert r.status_code == 409, r.text
        assert window_size(tmux_server) == "53x52"
        phone.close()
        # Another access token cannot renew it either: nothing happens.
        assert other.command(type="resize", cols=60, rows=20, renew=first).status_code == 200
        assert window_size(tmux_server) == "53x52"
        late = viewer(server)
        assert late.state["size_claim"]["connection"] == first
        late.close()
    finally:
        desk.close()
        other.close()
        phone.close()


def test_the_issue_scenario_with_a_status_line(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> None:
    """Issue 14 as reported: a 200x50 terminal with tmux's status line (its
    window 200x49), then a phone opens the page: nothing moves until it fits."""
    tmux_server.run("set-option", "-g", "status", "on")
    with TerminalClient(tmux_server, cols=200, rows=50):
        settled(tmux_server, "200x49")
        desk = viewer(tmuxweb_server)
        phone = viewer(tmuxweb_server)
        try:
            assert window_size(tmux_server) == "200x49"
            assert phone.command(type="resize", cols=53, rows=52).status_code == 200
            assert window_size(tmux_server) == "53x52"  # a control client has no status line
            phone.close()
            settled(tmux_server, "200x49")
        finally:
            desk.close()
            phone.close()
