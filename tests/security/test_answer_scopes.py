"""Attacks on answering prompts: a read token sees states and says `seen`
but never answers; --readonly refuses every answer; answers are audited."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from helpers import RunningServer, TmuxServer
from states_support import STATE_CONFIG, agent_command, new_pane, next_state, wait_state
from tmuxweb.auth import new_secret
from tmuxweb.tokens import TokenStore

Make = Callable[..., RunningServer]


def add_token(server: RunningServer, name: str, scope: str) -> str:
    secret = new_secret()
    assert server.config.tokens_file is not None
    TokenStore(server.config.tokens_file).create(name, scope, None, secret)
    return secret


def post(server: RunningServer, token: str, session_token: str, body: dict[str, Any]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "X-Session-Token": session_token}
    with httpx.Client(base_url=server.base_url, headers=headers) as client:
        return client.post("/commands", params={"session": "main"}, json=body)


def test_a_read_token_sees_states_and_says_seen_but_cannot_answer(make_server: Make, tmux_server: TmuxServer, tmp_path: Path) -> None:
    audit = tmp_path / "audit.log"
    server = make_server(**STATE_CONFIG, audit_log=audit)
    viewer = add_token(server, "viewer", "read")
    pane = new_pane(tmux_server, agent_command())
    with server.stream(headers={"Authorization": f"Bearer {viewer}"}) as stream:
        session_token = stream.named("connection-info").data["session_token"]
        # The read token's stream carries the states, prompt included.
        waiting = next_state(stream, pane, lambda s: s["state"] == "waiting")
        assert [c["label"] for c in waiting["prompt"]["choices"]] == ["Yes", "No"]
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {viewer}"}) as client:
            assert client.get("/api/states").status_code == 200
        for choice in (0, 1):
            body = {"type": "answer", "pane": pane, "choice": choice, "screen": waiting["screen"]}
            r = post(server, viewer, session_token, body)
            assert r.status_code == 403, r.text
        assert post(server, viewer, session_token, {"type": "seen", "pane": pane}).status_code == 200
    # Nothing reached the agent: it still waits on the same question.
    assert "answered:" not in tmux_server.capture(pane)
    assert wait_state(server, pane, "waiting")["screen"] == waiting["screen"]
    refused = [r for r in map(json.loads, audit.read_text().splitlines()) if r.get("type") == "answer"]
    assert len(refused) == 2 and all(r["token"] == "viewer" and "refused" in r for r in refused)


def test_a_readonly_server_refuses_answers_even_from_the_owner(make_server: Make, tmux_server: TmuxServer) -> None:
    server = make_server(**STATE_CONFIG, readonly=True)
    pane = new_pane(tmux_server, agent_command())
    with server.stream() as stream:
        session_token = stream.named("connection-info").data["session_token"]
        waiting = next_state(stream, pane, lambda s: s["state"] == "waiting")
        body = {"type": "answer", "pane": pane, "choice": 0, "screen": waiting["screen"]}
        assert post(server, server.token, session_token, body).status_code == 403
        assert post(server, server.token, session_token, {"type": "seen", "pane": pane}).status_code == 200
    assert "answered:" not in tmux_server.capture(pane)


def test_a_write_token_answers_and_the_answer_is_audited_with_rule_and_label(make_server: Make, tmux_server: TmuxServer, tmp_path: Path) -> None:
    audit = tmp_path / "audit.log"
    server = make_server(**STATE_CONFIG, audit_log=audit)
    typist = add_token(server, "typist", "write")
    pane = new_pane(tmux_server, agent_command(), remain=True)  # kept after the agent exits
    with server.stream(headers={"Authorization": f"Bearer {typist}"}) as stream:
        session_token = stream.named("connection-info").data["session_token"]
        waiting = next_state(stream, pane, lambda s: s["state"] == "waiting")
        body = {"type": "answer", "pane": pane, "choice": 1, "screen": waiting["screen"]}
        assert post(server, typist, session_token, body).status_code == 200
    tmux_server.wait_for_text(pane, "answered: 2")
    (record,) = [r for r in map(json.loads, audit.read_text().splitlines()) if r.get("type") == "answer"]
    assert record["token"] == "typist" and record["pane"] == pane
    assert (record["rule"], record["choice"], record["label"]) == ("fake-agent-menu", 1, "No")
    assert "refused" not in record and "keys" not in record
