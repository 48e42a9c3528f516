"""Faults: tmux SIGKILLed mid-stream, the watched session killed, panes
exiting, our control client killed, tmux started again. tmuxweb stays up,
tells every watcher, serves the new state when tmux is back, and holds no
more descriptors or child processes afterwards than before.

Descriptors and children are compared in the same shape (the same number of
open streams and control clients) rather than after the control client's
10 s linger, and waited for with a deadline: a leak never settles.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import EventStream, Session, TmuxServer, wait_until
from rig import Tmuxweb, alive, children, proc_state

LOOP = "while :; do echo tick $RANDOM; done"


def shape(app: Tmuxweb, streams: int) -> tuple[int, int, int]:
    """The footprint once exactly `streams` HTTP connections remain."""
    wait_until(lambda: app.footprint()[2] == streams, what=f"{streams} open connection(s)")
    return app.footprint()


def settle(app: Tmuxweb, expected: tuple[int, int, int], what: str) -> None:
    try:
        wait_until(lambda: app.footprint() == expected, timeout=15, what=what)
    except AssertionError:
        raise AssertionError(
            f"{what}: (fds, children, connections) {app.footprint()} != {expected}; fds {sorted(app.fds().values())}"
        ) from None


def ended(stream: EventStream, timeout: float = 15) -> list[str]:
    """Every remaining event name up to the end of the stream."""
    names = []
    while True:
        try:
            names.append(stream.next(timeout).name)
        except EOFError:
            return names


def type_line(tmux: TmuxServer, pane: str, line: str) -> None:
    tmux.run("send-keys", "-t", pane, "-l", line)
    tmux.run("send-keys", "-t", pane, "Enter")


def healthy(app: Tmuxweb) -> None:
    assert app.running(), app.stderr()
    with app.client() as client:
        assert client.get("/healthz").status_code == 200


def session_names(app: Tmuxweb) -> list[str]:
    with app.client() as client:
        return [s["name"] for s in client.get("/api/sessions").json()["sessions"]]


def test_tmux_sigkilled_mid_flood_three_times_then_restarted(tmux_server: TmuxServer, tmuxweb_proc: Tmuxweb) -> None:
    app = tmuxweb_proc
    tmux_server.wait_for_prompt()
    one: tuple[int, int, int] | None = None
    for round_ in range(3):
        with app.stream() as stream:
            state = stream.named("state").data
            assert state["windows"][0]["width"] == 120 - 10 * round_
            if one is None:
                one = shape(app, 1)  # one stream, one control client
            else:
                settle(app, one, f"round {round_}: back to one stream and one control client")
            type_line(tmux_server, "%0", LOOP)
            stream.until(lambda e: e.name == "output" and "tick" in e.data["data"])
            tmux_pid = int(tmux_server.run("display", "-p", "#{pid}").strip())
            os.kill(tmux_pid, signal.SIGKILL)
            assert "exit" in ended(stream)
        healthy(app)
        # Its control client is gone and reaped: no zombie.
        wait_until(lambda: not app.children(), what="the control client to be reaped")
        assert session_names(app) == []
        with app.client() as client:
            assert client.get("/events", params={"session": "main"}).status_code == 404
        tmux_server.start("main", 110 - 10 * round_, 30)
        tmux_server.wait_for_prompt()
    assert one is not None
    with app.stream() as stream:
        assert stream.named("state").data["windows"][0]["width"] == 90
        settle(app, one, "after three kills")


def test_killing_the_watched_session_ends_its_streams_only(tmux_server: TmuxServer, tmuxweb_proc: Tmuxweb) -> None:
    app = tmuxweb_proc
    tmux_server.run("new-session", "-d", "-s", "other", "-x", "80", "-y", "24")
    tmux_server.wait_for_prompt("other:")
    with app.stream("other") as other:
        other.named("state")
        one = shape(app, 1)
        watchers = [app.stream() for _ in range(3)]
        for watcher in watchers:
            watcher.named("state")
        type_line(tmux_server, "%0", LOOP)
        tmux_server.run("kill-session", "-t", "main")
        for watcher in watchers:
            assert "exit" in ended(watcher)
            watcher.close()
        # The other session's watcher never noticed, and still streams.
        type_line(tmux_server, "other:", "echo still-$((40 + 2))")
        other.until(lambda e: e.name == "output" and "still-42" in e.data["data"])
        assert all(e.name != "exit" for e in other.seen)
        settle(app, one, "main's streams and control client gone")
    healthy(app)
    assert session_names(app) == ["other"]


def test_panes_exiting_are_reported_and_the_last_one_ends_the_session(
    tmux_server: TmuxServer, start_tmuxweb: Callable[..., Tmuxweb]
) -> None:
    tmux_server.run("new-session", "-d", "-s", "keep")  # tmux outlives main
    tmux_server.run("split-window", "-h", "-t", "%0")
    tmux_server.run("split-window", "-v", "-t", "%0")
    panes = tmux_server.pane_ids("main")
    for pane in panes:
        tmux_server.wait_for_prompt(pane)
    app = start_tmuxweb()
    healthy(app)
    none = shape(app, 0)  # no stream, no control client
    stream = app.stream()
    session = Session(app, stream)  # type: ignore[arg-type]
    try:
        assert sorted(p["id"] for p in session.state["panes"]) == sorted(panes)
        # One pane's program exits, another is killed from tmux: both closed.
        type_line(tmux_server, panes[1], "exit 3")
        stream.until(lambda e: e.name == "pane-closed" and e.data["pane"] == panes[1])
        os.kill(int(tmux_server.run("display", "-p", "-t", panes[2], "#{pane_pid}").strip()), signal.SIGKILL)
        stream.until(lambda e: e.name == "pane-closed" and e.data["pane"] == panes[2])
        layout = stream.until(lambda e: e.name == "layout" and [p["id"] for p in e.data["panes"]] == [panes[0]])
        assert layout.data["panes"][0]["width"] == 120
        # The survivor still types and prints through tmuxweb.
        assert session.command(type="input", pane=panes[0], text="echo alive-$((6 * 7))\r").status_code == 200
        stream.until(lambda e: e.name == "output" and "alive-42" in e.data["data"])
        # The last pane exits: the session ends, its watchers are told.
        assert session.command(type="input", pane=panes[0], text="exit\r").status_code == 200
        assert "exit" in ended(stream)
    finally:
        session.close()
    settle(app, none, "no stream and no control client")
    healthy(app)
    assert session_names(app) == ["keep"]


def test_killed_control_client_is_reported_reaped_and_replaced(tmux_server: TmuxServer, tmuxweb_proc: Tmuxweb) -> None:
    app = tmuxweb_proc
    tmux_server.wait_for_prompt()
    one: tuple[int, int, int] | None = None
    for round_ in range(3):
        stream = app.stream()
        session = Session(app, stream)  # type: ignore[arg-type]
        try:
            if one is None:
                one = shape(app, 1)
            else:
                settle(app, one, f"round {round_}: one stream, one new control client")
            (control,) = app.control_clients()
            assert proc_state(control) not in ("", "Z")
            os.kill(control, signal.SIGKILL)
            assert "exit" in ended(stream)
            wait_until(lambda: control not in children(app.pid), what="the killed control client to be reaped")  # noqa: B023 (called before the loop moves on)
            # The session itself lives on: tmux never noticed more than a client leaving.
            assert "main" in tmux_server.run("list-sessions", "-F", "#{session_name}").split()
            # Its session token died with the stream.
            assert session.command(type="input", pane="%0", text="x").status_code == 403
        finally:
            session.close()
    assert one is not None
    stream = app.stream()
    session = Session(app, stream)  # type: ignore[arg-type]
    try:
        assert session.command(type="input", pane="%0", text="echo again-$((6 * 7))\r").status_code == 200
        stream.until(lambda e: e.name == "output" and "again-42" in e.data["data"])
        session.client.close()
        settle(app, one, "after three killed control clients")
    finally:
        session.close()


def test_requests_while_tmux_is_down_fail_cleanly_and_leak_nothing(tmux_server: TmuxServer, tmuxweb_proc: Tmuxweb) -> None:
    app = tmuxweb_proc
    healthy(app)
    none = shape(app, 0)
    tmux_server.kill()
    with app.client() as client:
        for _ in range(20):
            assert client.get("/api/sessions").json()["sessions"] == []
            assert client.get("/events", params={"session": "main"}).status_code == 404
            assert client.post("/api/ticket").status_code == 200
    healthy(app)
    settle(app, none, "after requests against a missing tmux")


HEAVY = (
    "import sys\n"
    "line = ''.join('\\x1b[3%dm%s' % (j % 8, 'abcdefghi') for j in range(40)) + '\\x1b[0m\\n'\n"
    "sys.stdout.write(line * 1200 + 'READY\\n')\n"
)


def tmux_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    fields = stat[stat.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def kill_tmux_during_a_snapshot(tmux: TmuxServer, start_tmuxweb: Callable[..., Tmuxweb], tmp: Path) -> Tmuxweb:
    """tmux SIGKILLed while it captures a newly arriving watcher's panes;
    both that watcher and one already streaming must be told (`exit`)."""
    # Ten windows whose every character has its own colour: capturing them
    # keeps tmux busy for a few hundred ms, so it can be killed mid-capture.
    script = tmp / "heavy.py"
    script.write_text(HEAVY)
    command = f"sh -c '{sys.executable} {script}; exec cat'"
    old = int(tmux.run("display", "-p", "#{pid}").strip())
    tmux.run("kill-server")
    wait_until(lambda: not alive(old), what="the fixture's tmux server to exit")
    tmux.run("new-session", "-d", "-s", "main", "-x", "400", "-y", "50", command)
    for _ in range(9):
        tmux.run("new-window", "-d", "-t", "main", command)
    for pane in tmux.pane_ids("main"):
        tmux.wait_for_text(pane, "READY", timeout=60)
    app = start_tmuxweb()
    tmux_pid = int(tmux.run("display", "-p", "#{pid}").strip())
    with app.stream() as first:
        first.named("state")  # the control client is attached: no start-up in the way
        late = EventStream(app.base_url + "/events", app.auth, {"session": "main"})
        opener = threading.Thread(target=late.open, daemon=True)
        opener.start()
        # Its response has begun: the session was found and the watcher
        # subscribed; its snapshot is what tmux works on now. (Counting
        # tmux's CPU from before the request could kill tmux before the
        # session was even looked up: a 404 instead of the case under test.)
        wait_until(lambda: late.status, interval=0.002, what="the late watcher's response to begin")
        busy = tmux_cpu(tmux_pid)
        # tmux has spent 50 ms of CPU since: it is capturing the late watcher's panes.
        wait_until(lambda: tmux_cpu(tmux_pid) - busy >= 0.05, interval=0.002, what="tmux to be capturing")
        os.kill(tmux_pid, signal.SIGKILL)
        assert "exit" in ended(first)
        opener.join(20)
        try:
            assert late.status == 200
            assert "exit" in ended(late, timeout=10), "the late watcher was told nothing"
        finally:
            late.close()
    healthy(app)
    return app


@pytest.mark.slow
def test_tmux_dying_during_a_new_watchers_snapshot_still_ends_its_stream(
    tmux_server: TmuxServer, start_tmuxweb: Callable[..., Tmuxweb], tmp_path: Path
) -> None:
    kill_tmux_during_a_snapshot(tmux_server, start_tmuxweb, tmp_path)


@pytest.mark.slow
def test_tmux_dying_with_commands_pending_logs_no_unretrieved_future_errors(
    tmux_server: TmuxServer, start_tmuxweb: Callable[..., Tmuxweb], tmp_path: Path
) -> None:
    app = kill_tmux_during_a_snapshot(tmux_server, start_tmuxweb, tmp_path)
    app.stop()  # (stopping collects anything left for the garbage collector)
    assert "exception was never retrieved" not in app.stderr(), app.stderr()[:2000]
