"""Notifications end to end: a program behaving like an agent CLI in a real
pane of a real tmux, the real server's state tracker, a real stream, the
loopback push service and a real --notify-command. One transition into
`waiting` gives exactly one notification everywhere; `seen` clears it; a
hung push service holds up nothing else."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers import RunningServer, Session, TmuxServer, wait_until
from pushservice import Browser, PushService
from states_support import STATE_CONFIG, agent_command, new_pane, next_state

Make = Callable[..., RunningServer]

RECORDER = """\
import json, os, sys
event = json.loads(sys.stdin.read())
out = os.path.join({out!r}, event["id"] + ".json")
with open(out + ".tmp", "w") as f:
    json.dump(event, f)
os.rename(out + ".tmp", out)
"""


def recorder(tmp_path: Path) -> tuple[Path, Path]:
    out = tmp_path / "runs"
    out.mkdir()
    script = tmp_path / "record.py"
    script.write_text(f"#!{sys.executable}\n" + RECORDER.format(out=str(out)))
    script.chmod(0o700)
    return script, out


def runs(out: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]


def subscribe(server: RunningServer, service: PushService, browser: Browser) -> None:
    with server.client() as c:
        key = c.get("/api/push/key").json()["key"]
        r = c.post("/api/push/subscriptions", json=browser.subscription(service.subscribe(browser, key)))
    assert r.status_code == 201, r.text


def notified_server(make_server: Make, tmp_path: Path, **overrides: Any) -> tuple[RunningServer, Path]:
    script, out = recorder(tmp_path)
    server = make_server(
        **STATE_CONFIG, push_loopback_http=True, notify_debounce=0.5, notify_command=(str(script),), **overrides
    )
    return server, out


def test_an_agent_waiting_is_notified_once_everywhere_and_seen_clears_it(
    make_server: Make, tmux_server: TmuxServer, tmp_path: Path, push_service: PushService
) -> None:
    server, out = notified_server(make_server, tmp_path)
    subscribe(server, push_service, Browser())
    session = Session(server, server.stream())
    try:
        pane = new_pane(tmux_server, agent_command(work=1.0))
        waiting = next_state(session.stream, pane, lambda s: s["state"] == "waiting")
        note = session.stream.until(lambda e: e.name == "notification" and e.data["pane"] == pane).data
        assert (note["state"], note["session"], note["tag"]) == ("waiting", waiting["session"], f"tmuxweb-pane-{pane}")
        # The default content policy: not a word of what the agent printed.
        question = waiting["prompt"]["question"]
        assert question and question not in json.dumps(note)
        assert waiting["command"] and waiting["command"] not in json.dumps(note)
        for label in (c["label"] for c in waiting["prompt"]["choices"]):
            assert f"{label}" not in note["title"]
        [pushed] = wait_until(lambda: push_service.messages, what="the push received and decrypted")
        assert pushed.payload == {"type": "notification", **note}
        assert pushed.urgency == "high" and pushed.claims["aud"] == push_service.origin
        assert wait_until(lambda: runs(out), what="the notify command's run") == [note]

        r = session.command(type="seen", pane=pane)
        assert r.status_code == 200, r.text
        cleared = session.stream.until(lambda e: e.name == "notification-cleared").data
        assert cleared == {"pane": pane, "tag": note["tag"]}
        # Everything the stream said about this pane up to the clear: one notification.
        assert [e.data["id"] for e in session.stream.seen if e.name == "notification" and e.data["pane"] == pane] == [note["id"]]
        wait_until(lambda: len(push_service.messages) == 2, what="the push clear")
        assert push_service.messages[1].payload == {"type": "clear", "pane": pane, "tag": note["tag"]}
        assert runs(out) == [note]  # the command is told of notifications, not clears
    finally:
        session.close()


def test_a_hung_push_service_holds_up_neither_stream_nor_command(
    make_server: Make, tmux_server: TmuxServer, tmp_path: Path, push_service: PushService
) -> None:
    server, out = notified_server(make_server, tmp_path, push_timeout=60.0)
    subscribe(server, push_service, Browser())
    push_service.mode = "slow"
    session = Session(server, server.stream())
    try:
        pane = new_pane(tmux_server, agent_command(work=0.6))
        note = session.stream.until(lambda e: e.name == "notification" and e.data["pane"] == pane, 20).data
        wait_until(lambda: push_service.requests == 1, what="the push delivery held by the service")
        assert wait_until(lambda: runs(out), what="the command's run") == [note]
        # The server answers while the delivery hangs.
        with server.client() as c:
            assert c.get("/api/states").status_code == 200
        assert session.command(type="seen", pane=pane).status_code == 200
        session.stream.until(lambda e: e.name == "notification-cleared")
        assert push_service.messages == []
    finally:
        session.close()


def test_nothing_is_notified_while_a_pane_keeps_working(
    make_server: Make, tmux_server: TmuxServer, tmp_path: Path, push_service: PushService
) -> None:
    """A program busy for several debounces, printing question-like lines
    all the while, then exiting: its only notification is `exited`."""
    server, out = notified_server(make_server, tmp_path)
    subscribe(server, push_service, Browser())
    session = Session(server, server.stream())
    try:
        busy = "for i in $(seq 60); do echo \"Continue? [y/N] $i\"; sleep 0.05; done; exit 4"
        pane = new_pane(tmux_server, busy, remain=True)
        note = session.stream.until(lambda e: e.name == "notification" and e.data["pane"] == pane, 20).data
        assert note["state"] == "exited"
        # When tmux knew the status (3.3a sometimes never learns it), it is said.
        assert "(status" not in note["title"] or "(status 4)" in note["title"]
        assert [e.data["state"] for e in session.stream.seen if e.name == "notification" and e.data["pane"] == pane] == ["exited"]
        assert [m.payload["state"] for m in wait_until(lambda: push_service.messages, what="the push")] == ["exited"]
        assert [r["state"] for r in wait_until(lambda: runs(out), what="the command's run")] == ["exited"]
    finally:
        session.close()
