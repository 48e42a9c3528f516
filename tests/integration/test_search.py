"""Find in scrollback (search.py) against the real server and tmux: a line
far back in tmux's history, beyond the snapshot the page received, is
found with its line number, column and context; read tokens may search;
bad input is 400; a pane of an unwatched session is 409."""

from __future__ import annotations


import httpx
import pytest

from helpers import RunningServer, Session, TmuxServer, wait_until
from tmuxweb.auth import new_secret
from tmuxweb.tokens import TokenStore


def fill(session: Session, tmux: TmuxServer, lines: int) -> str:
    """A new pane (history-limit applies to panes made after it is set)
    with `lines` lines, a needle, and `lines` more."""
    tmux.run("set-option", "-g", "history-limit", "50000")
    pane = tmux.run("new-window", "-P", "-F", "#{pane_id}", "-t", "main").strip()
    tmux.wait_for_prompt(pane)
    wait_until(lambda: session.client.get("/api/search", params={"pane": pane, "q": "x"}).status_code == 200, what="the hub sees the pane")
    tmux.run("send-keys", "-t", pane, "-l", f"clear; seq -f 'row %05g' 1 {lines}; echo NEEDLE-far-back; seq 1 {lines}; echo fill-done-$((6*7))")
    tmux.run("send-keys", "-t", pane, "Enter")
    tmux.wait_for_text(pane, "fill-done-42", timeout=30)
    return pane


def test_a_line_far_back_in_history_is_found(session: Session, tmux_server: TmuxServer) -> None:
    pane = fill(session, tmux_server, 12000)
    r = session.client.get("/api/search", params={"pane": pane, "q": "needle-FAR"})
    assert r.status_code == 200, r.text
    body = r.json()
    found = [m for m in body["matches"] if m["text"] == "NEEDLE-far-back"]
    assert len(found) == 1, body["matches"]
    match = found[0]
    assert match["col"] == 0 and match["before"] == ["row 11999", "row 12000"] and match["after"] == ["1", "2"]
    assert match["line"] < -11000  # far beyond the 1000 lines of a snapshot
    assert body["history_size"] > 23000 and body["lines_searched"] == body["history_size"] + body["rows"]
    exact = session.client.get("/api/search", params={"pane": pane, "q": "needle-FAR", "case": "1"}).json()
    assert [m for m in exact["matches"] if m["text"] == "NEEDLE-far-back"] == []


def test_read_token_may_search(session: Session, tmuxweb_server: RunningServer) -> None:
    secret = new_secret()
    assert tmuxweb_server.config.tokens_file is not None
    TokenStore(tmuxweb_server.config.tokens_file).create("viewer", "read", None, secret)
    with httpx.Client(base_url=tmuxweb_server.base_url, headers={"Authorization": f"Bearer {secret}"}) as c:
        assert c.get("/api/search", params={"pane": "%0", "q": "$"}).status_code == 200


@pytest.mark.parametrize(
    "params",
    [{"pane": "%0"}, {"q": "x"}, {"pane": "0", "q": "x"}, {"pane": "%0", "q": "x" * 201}, {"pane": "%0", "q": "a\x1bb"}, {"pane": "%0", "q": "x", "case": "2"}, {"pane": "%0", "q": "x", "extra": "1"}],
)
def test_bad_input_is_400(session: Session, params: dict[str, str]) -> None:
    r = session.client.get("/api/search", params=params)
    assert r.status_code == 400 and "error" in r.json()


def test_pane_not_watched_is_409(session: Session) -> None:
    r = session.client.get("/api/search", params={"pane": "%999", "q": "x"})
    assert r.status_code == 409 and "error" in r.json()


def test_without_a_token_is_401(tmuxweb_server: RunningServer) -> None:
    with httpx.Client(base_url=tmuxweb_server.base_url) as c:
        assert c.get("/api/search", params={"pane": "%0", "q": "x"}).status_code == 401
