"""Prefix key bindings resolved by the server into typed commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import RunningServer, Session, TmuxServer, wait_until


@pytest.fixture
def session(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> Iterator[Session]:
    s = Session(tmuxweb_server, tmuxweb_server.stream())
    try:
        yield s
    finally:
        s.close()


def windows(tmux: TmuxServer) -> list[str]:
    return tmux.run("list-windows", "-t", "main", "-F", "#{window_id}").split()


def test_default_bindings_split_zoom_and_cycle_panes(session: Session, tmux_server: TmuxServer) -> None:
    assert session.command(type="binding", key="%").json() == {"ok": True}
    session.stream.named("pane-added")
    layout = session.stream.seen_or_next(lambda e: e.name == "layout" and len(e.data["panes"]) == 2).data
    assert layout["layout"]["type"] == "row"
    assert session.command(type="binding", key='"').json() == {"ok": True}
    session.stream.named("pane-added")
    assert len(tmux_server.pane_ids()) == 3
    active = tmux_server.run("display", "-p", "-t", "main", "#{pane_id}").strip()
    assert session.command(type="binding", key="o").json() == {"ok": True}
    wait_until(lambda: tmux_server.run("display", "-p", "-t", "main", "#{pane_id}").strip() != active)
    assert session.command(type="binding", key="z").json() == {"ok": True}
    session.stream.until(lambda e: e.name == "layout" and e.data["zoomed"])


def test_window_bindings_new_next_previous_and_index(session: Session, tmux_server: TmuxServer) -> None:
    first = windows(tmux_server)[0]
    assert session.command(type="binding", key="c").json() == {"ok": True}
    second = session.stream.named("window-added").data["window"]["id"]
    assert session.command(type="binding", key="p").json() == {"ok": True}
    session.stream.until(lambda e: e.name == "window-selected" and e.data["window"] == first)
    assert session.command(type="binding", key="n").json() == {"ok": True}
    session.stream.until(lambda e: e.name == "window-selected" and e.data["window"] == second)
    assert session.command(type="binding", key="0").json() == {"ok": True}
    session.stream.until(lambda e: e.name == "window-selected" and e.data["window"] == first)
    assert session.command(type="binding", key="7").status_code == 400  # no window 7


def test_confirm_before_binding_asks_first(session: Session, tmux_server: TmuxServer) -> None:
    tmux_server.run("split-window", "-t", "%0")
    session.stream.named("pane-added")
    r = session.command(type="binding", key="x")
    assert r.status_code == 200
    assert r.json()["ok"] is False and "kill-pane" in r.json()["confirm"]
    assert len(tmux_server.pane_ids()) == 2  # nothing happened yet
    r = session.command(type="binding", key="x", confirmed=True)
    assert r.json() == {"ok": True}
    wait_until(lambda: len(tmux_server.pane_ids()) == 1)


def test_user_bindings_follow_their_configuration(session: Session, tmux_server: TmuxServer) -> None:
    tmux_server.run("bind-key", "-T", "prefix", "|", "split-window", "-h", "-c", "#{pane_current_path}")
    assert session.command(type="binding", key="|").json() == {"ok": True}
    session.stream.named("pane-added")
    assert len(tmux_server.pane_ids()) == 2


@pytest.mark.parametrize(
    ("key", "bound", "message"),
    [
        ("R", ["run-shell", "touch {canary}"], "not available"),
        ("S", ["source-file", "{canary}"], "not available"),
        ("Y", ["new-window", "\\;", "run-shell", "touch {canary}"], "single commands"),
        ("P", ["pipe-pane", "-o", "cat > {canary}"], "not available"),
        ("Q", ["split-window", "-c", "/tmp", "touch {canary}"], "not available"),
    ],
)
def test_bindings_outside_the_policy_are_refused_and_run_nothing(
    session: Session, tmux_server: TmuxServer, tmp_path: Path, key: str, bound: list[str], message: str
) -> None:
    canary = tmp_path / "canary"
    tmux_server.run("bind-key", "-T", "prefix", key, *[w.format(canary=canary) for w in bound])
    r = session.command(type="binding", key=key)
    assert r.status_code == 400, r.text
    assert message in r.json()["error"]
    assert not canary.exists()
    assert len(tmux_server.pane_ids()) == 1


def test_default_interactive_bindings_are_refused(session: Session) -> None:
    for key in (":", "d", "s", "?", "$"):
        r = session.command(type="binding", key=key)
        assert r.status_code == 400, (key, r.text)


def test_unbound_or_invalid_keys(session: Session) -> None:
    assert session.command(type="binding", key="F12").status_code == 404
    assert session.command(type="binding", key="C-c;kill-server").status_code == 400
    assert session.command(type="binding", key="c", table="copy-mode").status_code == 400


def test_repeatable_binding_says_so(session: Session, tmux_server: TmuxServer) -> None:
    tmux_server.run("split-window", "-t", "%0")
    session.stream.named("pane-added")
    assert session.command(type="binding", key="Up").json() == {"ok": True, "repeat": True}
    assert session.command(type="binding", key="o").json() == {"ok": True}


def test_a_binding_is_audited_as_the_command_it_ran(make_server, tmp_path: Path, tmux_server: TmuxServer) -> None:
    """The audit record of a binding once failed on the binding itself (a
    500 for every binding while an audit log was on): mypy found it."""
    audit = tmp_path / "audit.jsonl"
    server = make_server(audit_log=audit)
    with server.stream() as stream:
        s = Session(server, stream)
        assert s.command(type="binding", key="%").json() == {"ok": True}
        s.close()
    server.stop()
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    (command,) = [r for r in records if r["event"] == "command"]
    assert command["type"] == "split" and command["token"] == "owner"
