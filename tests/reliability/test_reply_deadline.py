"""A control client that tmux stops answering is replaced, not waited on.

tmux 3.3a stops running a control client's commands while a prompt it
opened waits for input, which a control client can never give (TMUX-NOTES).
Here a user hook opens one: `after-rename-window` runs `command-prompt` in
the queue of the client that renamed the window, our control client. Every
command after it would hang for good, and a new watcher would never get its
`state`. With a reply deadline, the waiting requests get 503 with a JSON
error, the hub carries on with a fresh control client under a new epoch,
and every watcher gets a fresh `state`.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable

import pytest

from helpers import RunningServer, Session, TmuxServer, wait_until

DEADLINE = 1.0
STALL_HOOK = "command-prompt -p stalled 'display-message never'"


def stall_on_rename(tmux: TmuxServer) -> None:
    tmux.run("set-hook", "-g", "after-rename-window", STALL_HOOK)


def epoch(event_id: str | None) -> str:
    assert event_id is not None
    return event_id.partition("-")[0]


@pytest.mark.slow
def test_a_stuck_control_client_gives_503_and_a_fresh_client_serves_everyone(
    make_server: Callable[..., RunningServer], tmux_server: TmuxServer
) -> None:
    server = make_server(reply_deadline=DEADLINE, linger=30)
    tmux_server.wait_for_prompt()
    watcher = Session(server, server.stream())
    first_epoch = epoch(watcher.stream.seen_or_next(lambda e: e.name == "state").id)
    (stuck_pid,) = tmux_server.control_clients()
    stall_on_rename(tmux_server)
    window = watcher.state["windows"][0]["id"]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        # tmux answers the rename itself; the hook's prompt then blocks
        # everything after it, this command included.
        assert watcher.command(type="rename-window", window=window, name="stall").status_code == 200
        waiting = pool.submit(watcher.command, type="input", pane="%0", text="echo waited-$((1+1))\r")
        # A watcher arriving now needs tmux for its snapshot.
        newcomer = pool.submit(lambda: Session(server, server.stream()))
        answer = waiting.result(timeout=30)
        assert answer.status_code == 503
        assert "did not answer" in answer.json()["error"]
        late = newcomer.result(timeout=30)
    try:
        # The stuck client was killed; one fresh client serves the session.
        wait_until(lambda: (c := tmux_server.control_clients()) and stuck_pid not in c, what="a fresh control client")
        assert len(tmux_server.control_clients()) == 1
        # The watcher was resynchronised: a fresh state of a new epoch.
        fresh = watcher.stream.until(lambda e: e.name == "state" and epoch(e.id) != first_epoch, timeout=30)
        assert fresh.data["windows"][0]["name"] == "stall"
        assert epoch(late.stream.seen_or_next(lambda e: e.name == "state").id) == epoch(fresh.id)
        # Other commands work again, from both watchers.
        tmux_server.run("set-hook", "-gu", "after-rename-window")
        assert watcher.command(type="rename-window", window=window, name="again").status_code == 200
        assert late.command(type="input", pane="%0", text="echo after-$((2+2))\r").status_code == 200
        for session in (watcher, late):
            session.stream.until(lambda e: e.name == "output" and "after-4" in e.data["data"], timeout=15)
        tmux_server.wait_for_text("%0", "after-4")
    finally:
        late.close()
        watcher.close()


@pytest.mark.slow
def test_commands_answered_in_time_never_trip_the_deadline(
    make_server: Callable[..., RunningServer], tmux_server: TmuxServer
) -> None:
    server = make_server(reply_deadline=DEADLINE)
    tmux_server.wait_for_prompt()
    watcher = Session(server, server.stream())
    try:
        (client_pid,) = tmux_server.control_clients()
        # Commands one after another for several deadlines: the watchdog
        # fires only for a reply that is overdue, never for the client's age.
        until, i = time.monotonic() + 3 * DEADLINE, 0
        while time.monotonic() < until:
            i += 1
            assert watcher.command(type="input", pane="%0", text=f"echo ok-{i}-$((0))\r").status_code == 200
            watcher.stream.until(lambda e, i=i: e.name == "output" and f"ok-{i}-0" in e.data["data"])
        assert tmux_server.control_clients() == [client_pid]
        assert [e.name for e in watcher.stream.seen].count("state") == 1
    finally:
        watcher.close()
