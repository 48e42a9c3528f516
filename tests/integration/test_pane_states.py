"""Pane states against a real tmux and the real app: programs that behave
like agent CLIs in real panes, states read from GET /api/states and from
`pane-state` events on real streams."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tmuxweb.cli import UsageError, parse_config

from helpers import EventStream, RunningServer, Session, TmuxServer, wait_until
from states_support import (
    RULES,
    STATE_CONFIG,
    agent_command,
    new_pane,
    next_state,
    pane_state,
    states,
    wait_state,
)

Make = Callable[..., RunningServer]


def answer(session: Session, state: dict[str, Any], choice: int) -> httpx.Response:
    return session.command(type="answer", pane=state["pane"], choice=choice, screen=state["screen"])


def test_an_agent_goes_through_working_waiting_answered_and_exited(make_server: Make, tmux_server: TmuxServer) -> None:
    server = make_server(**STATE_CONFIG)
    session = Session(server, server.stream())
    try:
        pane = new_pane(tmux_server, agent_command(rounds=2, exit_status=3), remain=True)
        assert next_state(session.stream, pane, lambda s: s["state"] == "working")["command"]
        waiting = next_state(session.stream, pane, lambda s: s["state"] != "working")
        assert waiting["state"] == "waiting"
        assert waiting["prompt"] == {
            "rule": "fake-agent-menu",
            "tool": "Fake agent",
            "question": "Shall the fake agent go ahead?",
            "choices": [{"label": "Yes"}, {"label": "No"}],
        }
        assert waiting["screen"] and waiting["session"] == session.info["session"]["id"]
        assert "keys" not in json.dumps(states(server))  # a choice's keys never leave the server
        r = answer(session, waiting, 0)
        assert r.status_code == 200, r.text
        tmux_server.wait_for_text(pane, "answered: 1")
        assert next_state(session.stream, pane)["state"] == "working"
        second = next_state(session.stream, pane, lambda s: s["state"] != "working")
        assert second["state"] == "waiting" and second["screen"] != waiting["screen"]
        assert answer(session, second, 1).status_code == 200
        exited = next_state(session.stream, pane, lambda s: s["state"] == "exited")
        # What tmux knows: 3.3a sometimes never learns a dead pane's status.
        status = tmux_server.run("display", "-p", "-t", pane, "#{pane_dead_status}").strip()
        assert exited["exit_status"] == (int(status) if status else None)
        assert exited["gone"] is False
        assert "answered: 2" in tmux_server.capture(pane)
        tmux_server.run("kill-pane", "-t", pane)
        gone = next_state(session.stream, pane, lambda s: s["gone"])
        assert (gone["state"], gone["exit_status"]) == ("exited", None)
        wait_until(lambda: pane_state(server, pane) is None, what="the gone pane dropped from the table")
    finally:
        session.close()


def test_a_pane_that_exits_without_remain_on_exit_is_gone(make_server: Make, tmux_server: TmuxServer) -> None:
    server = make_server(**STATE_CONFIG)
    with server.stream() as stream:
        stream.named("state")
        pane = new_pane(tmux_server, "sleep 0.5")
        wait_until(lambda: pane_state(server, pane) is not None, what="the new pane's state")
        gone = next_state(stream, pane, lambda s: s["gone"])
        assert (gone["state"], gone["exit_status"]) == ("exited", None)
    wait_until(lambda: pane_state(server, pane) is None, what="the gone pane dropped")


def test_shell_bell_done_and_idle(make_server: Make, tmux_server: TmuxServer) -> None:
    server = make_server(**STATE_CONFIG)
    tmux_server.wait_for_prompt()
    with server.stream() as stream:
        stream.named("state")
        tmux_server.run("send-keys", "-t", "%0", "printf 'ding\\a\\n'", "Enter")
        assert next_state(stream, "%0", lambda s: s["state"] not in ("working", "idle"))["state"] == "bell"
        # A command that runs longer than the test rule's min_busy (1 s), silently.
        # (Typed while the bell's screen may not have been read yet: then the
        # bell stands until the command ends, and the pane goes on to done.)
        tmux_server.run("send-keys", "-t", "%0", "sleep 1.5", "Enter")
        after = [next_state(stream, "%0", lambda s: s["state"] != "bell")]
        while after[-1]["state"] == "working":
            after.append(next_state(stream, "%0"))
        assert [s["state"] for s in after] in (["done"], ["working", "done"])
        assert after[-1]["prompt"]["rule"] == "test-shell-done"
        # A quick command is not "done": working, then idle after idle_after.
        tmux_server.run("send-keys", "-t", "%0", "true", "Enter")
        assert next_state(stream, "%0")["state"] == "working"
        assert next_state(stream, "%0", lambda s: s["state"] != "working")["state"] == "idle"


def test_nothing_but_working_while_a_pane_keeps_printing(make_server: Make, tmux_server: TmuxServer) -> None:
    server = make_server(**STATE_CONFIG)
    tmux_server.wait_for_prompt()
    with server.stream() as stream:
        stream.named("state")
        # 4 s of a line every 50 ms: never quiet for the 0.2 s settle.
        tmux_server.run("send-keys", "-t", "%0", "for i in $(seq 80); do echo line $i; sleep 0.05; done; echo END", "Enter")
        seen = []
        while not seen or seen[-1]["state"] == "working":
            seen.append(next_state(stream, "%0"))
        assert "END" in "\n".join(seen[-1]["lines"])  # the first state after working came after the loop
        assert [s["state"] for s in seen[:-1]] == ["working"] * (len(seen) - 1)
        assert seen[-1]["state"] == "done"
        assert seen[0]["version"] < seen[-1]["version"]


def test_an_answer_to_a_stale_screen_is_refused_with_the_fresh_state(make_server: Make, tmux_server: TmuxServer) -> None:
    server = make_server(**STATE_CONFIG)
    session = Session(server, server.stream())
    try:
        # Working 1.5 s between questions: longer than the tracker's
        # sticky_wait, so a key typed at the terminal shows as an answer.
        pane = new_pane(tmux_server, agent_command(work=1.5, rounds=3))
        first = wait_state(server, pane, "waiting")
        # Someone answers at the terminal; the agent asks the same question again.
        tmux_server.run("send-keys", "-t", pane, "2")
        tmux_server.wait_for_text(pane, "answered: 2")
        second = wait_until(
            lambda: (s := pane_state(server, pane)) and s["state"] == "waiting" and s["screen"] != first["screen"] and s,
            what="the second prompt",
        )
        r = answer(session, first, 0)
        assert r.status_code == 409
        body = r.json()
        assert "changed" in body["error"]
        assert body["state"]["screen"] == second["screen"] and body["state"]["state"] == "waiting"
        # Out of range, and not waiting.
        r = answer(session, second, 5)
        assert r.status_code == 409 and "no choice 5" in r.json()["error"]
        r = session.command(type="answer", pane="%0", choice=0, screen=second["screen"])
        assert r.status_code == 409 and r.json()["state"]["pane"] == "%0"
        assert "answered:" not in tmux_server.capture(pane)  # nothing reached the pane
        # The fresh state answers; a second tap on it is refused.
        assert answer(session, second, 0).status_code == 200
        # (The pane is working on it, or, read before it reacted, shows the
        # prompt as a new question with a new hash.)
        r = answer(session, second, 0)
        assert r.status_code == 409 and r.json()["state"]["screen"] != second["screen"]
    finally:
        session.close()


def test_the_screen_changing_under_a_prompt_makes_an_answer_stale(make_server: Make, tmux_server: TmuxServer, tmp_path: Path) -> None:
    server = make_server(**STATE_CONFIG)
    session = Session(server, server.stream())
    go = tmp_path / "go"
    menu = "Shall the fake agent go ahead?\\n 1. Yes\\n 2. No"
    try:
        tmux_server.wait_for_prompt()
        # One question, then (once `go` exists) another in its place.
        script = f"clear; printf 'first\\n{menu}'; until [ -e {go} ]; do sleep 0.05; done; clear; printf 'second\\n{menu}'; read -n1 k"
        tmux_server.run("send-keys", "-t", "%0", script, "Enter")
        before = wait_until(lambda: (s := wait_state(server, "%0", "waiting")) and "first" in s["lines"] and s, what="the first question")
        go.touch()
        tmux_server.wait_for_text("%0", "second")
        # Whether or not the tracker has read the new screen yet, the
        # answer reads it again itself.
        r = answer(session, before, 0)
        assert r.status_code == 409, r.text
        assert r.json()["state"]["screen"] != before["screen"]
    finally:
        session.close()


def test_states_of_sessions_nobody_watches_and_sessions_created_later(make_server: Make, tmux_server: TmuxServer) -> None:
    server = make_server(**STATE_CONFIG)
    wait_until(lambda: pane_state(server, "%0") is not None, what="the first session's pane")
    tmux_server.run("new-session", "-d", "-s", "later", "-x", "80", "-y", "24")
    later = tmux_server.pane_ids("later")[0]
    found = wait_until(lambda: pane_state(server, later), what="the later session's pane")
    assert found["session_name"] == "later" and found["window_index"] == 0
    # Nobody watches "later", yet its pane's states follow what it does.
    tmux_server.wait_for_prompt(later)
    tmux_server.run("send-keys", "-t", later, "printf '\\a'", "Enter")
    wait_state(server, later, "bell")
    # Every session gone, then a new one: the slow poll finds it.
    tmux_server.run("kill-session", "-t", "later")
    tmux_server.run("kill-session", "-t", "main")
    wait_until(lambda: states(server)["panes"] == [], what="no panes")
    tmux_server.run("new-session", "-d", "-s", "again")
    again = tmux_server.pane_ids("again")[0]
    wait_until(lambda: pane_state(server, again), what="a session created while there were none")


def test_states_are_on_every_stream_sorted_by_attention(make_server: Make, tmux_server: TmuxServer) -> None:
    server = make_server(**STATE_CONFIG)
    tmux_server.run("new-session", "-d", "-s", "other")
    with server.stream(session="other") as stream:
        stream.named("state")
        pane = new_pane(tmux_server, agent_command())  # in "main"
        assert next_state(stream, pane, lambda s: s["state"] == "waiting")["session_name"] == "main"
    body = states(server)
    assert body["panes"][0]["pane"] == pane and body["now"] > 0
    order = ["waiting", "bell", "exited", "done", "working", "idle"]
    ranks = [(order.index(p["state"]), p["since"]) for p in body["panes"]]
    assert ranks == sorted(ranks)


def test_seen_is_handed_to_the_hooks_and_unknown_panes_are_404(make_server: Make, tmux_server: TmuxServer) -> None:
    server = make_server(**STATE_CONFIG)
    session = Session(server, server.stream())
    try:
        assert session.command(type="seen", pane="%0").status_code == 200
        r = session.command(type="seen", pane="%999")
        assert r.status_code == 404 and r.json()["error"]
        r = session.command(type="answer", pane="%999", choice=0, screen="ab")
        assert r.status_code == 404
    finally:
        session.close()


def test_no_states_switches_the_tracker_off(make_server: Make) -> None:
    server = make_server(states=False)
    with server.client() as client:
        r = client.get("/api/states")
    assert r.status_code == 404 and "--no-states" in r.json()["error"]


def test_one_control_client_per_session_shared_with_watchers_and_kept(make_server: Make, tmux_server: TmuxServer) -> None:
    server = make_server(**STATE_CONFIG)
    wait_until(lambda: pane_state(server, "%0") is not None, what="the tracker attached")
    assert len(tmux_server.control_clients()) == 1
    with server.stream() as a, server.stream() as b:
        a.named("state")
        b.named("state")
        assert len(tmux_server.control_clients()) == 1  # the tracker's hub is the watchers' hub
    # Well past `linger` (0.2 s): the tracker holds the hub, so states go on.
    tmux_server.wait_for_prompt()
    tmux_server.run("send-keys", "-t", "%0", "printf '\\a'", "Enter")
    wait_state(server, "%0", "bell")
    assert len(tmux_server.control_clients()) == 1


def test_options_and_a_bad_rules_file_stops_the_server_with_a_clear_message(tmp_path: Path) -> None:
    config, _ = parse_config(["--settle", "0.3", "--idle-after", "12", "--rules", str(RULES)])
    assert (config.states, config.settle, config.idle_after, config.rules_files) == (True, 0.3, 12.0, (RULES,))
    assert parse_config(["--no-states"])[0].states is False
    bad = tmp_path / "bad.toml"
    bad.write_text('version = 1\n[[rules]]\nname = "x"\ntool = "t"\nstate = "waiting"\nmatch = "("\n')
    with pytest.raises(UsageError, match="bad.toml"):
        parse_config(["--rules", str(bad)])
    with pytest.raises(UsageError, match="--settle"):
        parse_config(["--settle", "0"])


def output_until(stream: EventStream, text: str) -> str | None:
    """Read output events until their text holds `text`; the last event id."""
    seen, last = "", None
    while text not in seen:
        event = stream.named("output")
        seen, last = seen + event.data["data"], event.id
    return last


def test_a_stream_resumes_within_linger_from_a_held_hub(make_server: Make, tmux_server: TmuxServer) -> None:
    server = make_server(**STATE_CONFIG, linger=30)
    tmux_server.wait_for_prompt()
    with server.stream() as first:
        first.named("state")
        tmux_server.run("send-keys", "-t", "%0", "echo before-$((1+1))", "Enter")
        last = output_until(first, "before-2\r\n")
    # Disconnected; the tracker holds the hub, which keeps the output for `linger`.
    tmux_server.run("send-keys", "-t", "%0", "echo missed-$((3+4))", "Enter")
    tmux_server.wait_for_text("%0", "missed-7")
    assert last is not None
    with server.stream(headers={"Last-Event-ID": last}) as second:
        assert second.named("connection-info").data["resumed"] is True
        output_until(second, "missed-7")
        assert all(e.name != "state" for e in second.seen)


def test_renaming_the_session_or_moving_the_window_updates_the_state(make_server: Make, tmux_server: TmuxServer) -> None:
    server = make_server(**STATE_CONFIG)
    with server.stream() as stream:
        stream.named("state")
        wait_until(lambda: pane_state(server, "%0") is not None, what="the pane's state")
        tmux_server.run("rename-session", "-t", "main", "renamed")
        assert next_state(stream, "%0", lambda s: s["session_name"] == "renamed")["window_index"] == 0
        tmux_server.run("move-window", "-s", "renamed:0", "-t", "renamed:7")
        assert next_state(stream, "%0", lambda s: s["window_index"] == 7)["session_name"] == "renamed"


def test_a_working_pane_is_read_again_each_time_its_output_settles(make_server: Make, tmux_server: TmuxServer) -> None:
    # idle_after far beyond the test: only the settle timer can bring the reads.
    server = make_server(**{**STATE_CONFIG, "idle_after": 600.0})
    tmux_server.wait_for_prompt()
    with server.stream() as stream:
        stream.named("state")
        for n in range(3):
            tmux_server.run("send-keys", "-t", "%0", f"echo burst-$(({n}+100))", "Enter")
            state = next_state(stream, "%0", lambda s, n=n: f"burst-{n + 100}" in s["lines"], timeout=8)
            assert state["state"] == "working"
