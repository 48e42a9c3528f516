"""Attacks through keys typed into a pane in copy mode, where tmux runs the
key's binding instead of typing it (modekeys.py): a `write` token must not
run what its scope may not, and no key may stall the control client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import RunningServer, TmuxServer, wait_until
from tmuxweb.auth import new_secret
from tmuxweb.tokens import TokenStore


def add_token(server: RunningServer, name: str, scope: str) -> str:
    secret = new_secret()
    assert server.config.tokens_file is not None
    TokenStore(server.config.tokens_file).create(name, scope, None, secret)
    return secret


class Watcher:
    """A stream and a command client for one token."""

    def __init__(self, server: RunningServer, token: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.stream = server.stream(headers=headers)
        info = self.stream.named("connection-info").data
        self.stream.named("state")
        auth = headers or server.auth
        # A stalled control client must fail the test, not hang it.
        self.client = httpx.Client(
            base_url=server.base_url, headers={**auth, "X-Session-Token": info["session_token"]}, timeout=5
        )

    def command(self, **body: Any) -> httpx.Response:
        return self.client.post("/commands", params={"session": "main"}, json=body)

    def close(self) -> None:
        self.client.close()
        self.stream.close()


@pytest.fixture
def watchers(tmuxweb_server: RunningServer) -> Iterator[list[Watcher]]:
    opened: list[Watcher] = []
    yield opened
    for w in opened:
        w.close()


def open_watcher(watchers: list[Watcher], server: RunningServer, token: str | None = None) -> Watcher:
    watcher = Watcher(server, token)
    watchers.append(watcher)
    return watcher


def in_mode(tmux: TmuxServer, pane: str = "%0") -> bool:
    return tmux.run("display", "-p", "-t", pane, "#{pane_in_mode}").strip() == "1"


def enter_copy_mode(w: Watcher, tmux: TmuxServer) -> None:
    assert w.command(type="copy-mode", pane="%0").status_code == 200
    wait_until(lambda: in_mode(tmux), what="copy mode")


def audit_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def hostile_bindings(tmux_server: TmuxServer, tmp_path: Path) -> dict[str, Path]:
    """Bindings a user commonly has in copy mode, each leaving a marker."""
    markers = {k: tmp_path / f"marker-{k}" for k in ("x", "y", "p")}
    tmux_server.run("bind-key", "-T", "copy-mode", "x", "run-shell", f"touch {markers['x']}")
    tmux_server.run("bind-key", "-T", "copy-mode", "y", "send-keys", "-X", "copy-pipe-and-cancel", f"touch {markers['y']}")
    tmux_server.run("bind-key", "-T", "copy-mode", "K", "kill-pane")
    tmux_server.run("bind-key", "-T", "copy-mode", "P", "command-prompt", "-p", "run?", f"run-shell 'touch {markers['p']}'")
    tmux_server.wait_for_prompt()
    return markers


def test_write_token_cannot_run_copy_mode_bindings(
    make_server, tmux_server: TmuxServer, hostile_bindings: dict[str, Path], watchers: list[Watcher], tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    server = make_server(audit_log=audit)
    w = open_watcher(watchers, server, add_token(server, "helper", "write"))
    enter_copy_mode(w, tmux_server)
    for body in (
        {"type": "input", "pane": "%0", "text": "x"},
        {"type": "input", "text": "x"},  # no pane: tmux's active pane
        {"type": "keys", "pane": "%0", "keys": ["x"]},
        {"type": "keys", "pane": "%0", "keys": ["K"]},
        {"type": "input", "pane": "%0", "text": "jx"},  # one bad key refuses the whole command
    ):
        r = w.command(**body)
        assert r.status_code == 403, (body, r.text)
        assert "owner" in r.json()["error"]
    assert w.command(type="input", pane="%0", text="P").status_code == 409
    # copy-pipe runs no program for this token: it copies into tmux's buffers.
    assert w.command(type="input", pane="%0", text="y").status_code == 200
    wait_until(lambda: not in_mode(tmux_server), what="copy-selection-and-cancel left copy mode")
    assert tmux_server.pane_ids() == ["%0"]
    assert not any(m.exists() for m in hostile_bindings.values())
    records = [r for r in audit_records(audit) if r.get("event") == "command" and r.get("mode")]
    assert any("run-shell" in " ".join(r["resolved"]) and r["refused"] for r in records)
    assert any("copy-pipe-and-cancel" in " ".join(r["resolved"]) and "refused" not in r for r in records)


def test_write_token_key_right_after_copy_mode_is_resolved(
    tmuxweb_server: RunningServer, tmux_server: TmuxServer, hostile_bindings: dict[str, Path], watchers: list[Watcher]
) -> None:
    """No waiting for tmux's notification: the key written right after our
    copy-mode command must already be resolved."""
    w = open_watcher(watchers, tmuxweb_server, add_token(tmuxweb_server, "helper", "write"))
    for _ in range(5):
        assert w.command(type="copy-mode", pane="%0").status_code == 200
        assert w.command(type="input", pane="%0", text="x").status_code == 403
        assert w.command(type="input", pane="%0", text="q").status_code == 200
        wait_until(lambda: not in_mode(tmux_server), what="q left copy mode")
    assert not hostile_bindings["x"].exists()


def test_write_token_moves_selects_and_copies_in_copy_mode(
    tmuxweb_server: RunningServer, tmux_server: TmuxServer, watchers: list[Watcher]
) -> None:
    tmux_server.run("send-keys", "-t", "%0", "echo first-line-of-text", "Enter")
    tmux_server.wait_for_text("%0", "first-line-of-text\n")
    w = open_watcher(watchers, tmuxweb_server, add_token(tmuxweb_server, "helper", "write"))
    enter_copy_mode(w, tmux_server)
    # Up, start of line, select, end of line, copy (emacs keys).
    for text in ("\x1b[A", "\x1b[A", "\x01", "\x00", "\x05", "\x1bw"):
        assert w.command(type="input", pane="%0", text=text).status_code == 200, text
    wait_until(lambda: not in_mode(tmux_server), what="M-w left copy mode")
    assert "first-line-of-text" in tmux_server.run("show-buffer")


def test_owner_keeps_bindings_but_no_key_stalls_the_control_client(
    tmuxweb_server: RunningServer, tmux_server: TmuxServer, hostile_bindings: dict[str, Path], watchers: list[Watcher]
) -> None:
    owner = open_watcher(watchers, tmuxweb_server)
    enter_copy_mode(owner, tmux_server)
    r = owner.command(type="input", pane="%0", text="P")  # command-prompt
    assert r.status_code == 409 and "not sent" in r.json()["error"]
    assert owner.command(type="input", pane="%0", text="x").status_code == 200
    wait_until(hostile_bindings["x"].exists, what="the owner's run-shell binding")
    # The control client still answers everyone, and a new watcher gets its state.
    assert owner.command(type="select-pane", pane="%0").status_code == 200
    open_watcher(watchers, tmuxweb_server)
    assert not hostile_bindings["p"].exists()


def test_no_destroy_refuses_kill_bindings_in_copy_mode_to_the_owner(
    make_server, tmux_server: TmuxServer, hostile_bindings: dict[str, Path], watchers: list[Watcher]
) -> None:
    server = make_server(no_destroy=True)
    owner = open_watcher(watchers, server)
    enter_copy_mode(owner, tmux_server)
    r = owner.command(type="keys", pane="%0", keys=["K"])
    assert r.status_code == 403 and "no-destroy" in r.json()["error"]
    assert tmux_server.pane_ids() == ["%0"]


@pytest.mark.parametrize("token_scope", ["owner", "write"])
def test_vi_search_is_asked_and_answered_without_a_prompt(
    tmuxweb_server: RunningServer, tmux_server: TmuxServer, watchers: list[Watcher], token_scope: str
) -> None:
    tmux_server.run("set-option", "-g", "mode-keys", "vi")
    tmux_server.run("send-keys", "-t", "%0", "echo needle-in-history", "Enter")
    tmux_server.wait_for_text("%0", "needle-in-history\n")
    for _ in range(30):
        tmux_server.run("send-keys", "-t", "%0", "echo filler", "Enter")
    token = None if token_scope == "owner" else add_token(tmuxweb_server, "helper", "write")
    w = open_watcher(watchers, tmuxweb_server, token)
    enter_copy_mode(w, tmux_server)
    for key in ("/", "?", ":", "f"):
        r = w.command(type="input", pane="%0", text=key)
        assert r.status_code == 200, (key, r.text)
        assert r.json()["ok"] is False and r.json()["ask"]["pane"] == "%0", key
    assert w.command(type="input", pane="%0", text="3").json()["error"]  # a repeat count: never sent
    ask = w.command(type="input", pane="%0", text="?").json()["ask"]
    assert ask["command"] == "search-backward" and ask["takes"] == "text"
    r = w.command(type="copy-prompt", pane="%0", command=ask["command"], text="needle-in")
    assert r.status_code == 200, r.text
    line = lambda: tmux_server.run("display", "-p", "-t", "%0", "#{copy_cursor_line}")  # noqa: E731
    wait_until(lambda: "needle-in-history" in line(), what="the search found the old line")
    assert w.command(type="select-pane", pane="%0").status_code == 200
    open_watcher(watchers, tmuxweb_server)


def test_copy_prompt_text_is_one_literal_argument(
    tmuxweb_server: RunningServer, tmux_server: TmuxServer, watchers: list[Watcher], tmp_path: Path
) -> None:
    w = open_watcher(watchers, tmuxweb_server, add_token(tmuxweb_server, "helper", "write"))
    enter_copy_mode(w, tmux_server)
    marker = tmp_path / "injected"
    for text in (f"x' ; run-shell 'touch {marker}", f'x" \\; run-shell "touch {marker}', f"#(touch {marker})"):
        assert w.command(type="copy-prompt", pane="%0", command="search-forward", text=text).status_code in (200, 409)
    for body in (
        {"command": "search-forward", "text": "a\nb"},
        {"command": "search-forward", "text": ""},
        {"command": "search-forward", "text": "x" * 201},
        {"command": "run-shell", "text": "x"},
        {"command": "jump-forward", "text": "ab"},
        {"command": "goto-line", "text": "1; kill-server"},
    ):
        assert w.command(type="copy-prompt", pane="%0", **body).status_code == 400, body
    assert not marker.exists()
    assert in_mode(tmux_server)
