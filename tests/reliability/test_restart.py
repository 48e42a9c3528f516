"""Restarting tmuxweb while sessions run (stopped by SIGTERM, SIGINT, or
killed outright with SIGKILL, each while watchers stream and a pane
prints) leaves every session, pane and process exactly as it was."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest

from helpers import Session, TmuxServer, wait_until
from rig import Tmuxweb, alive, children

COUNTER = "i=0; while :; do i=$((i + 1)); echo count-$i; sleep 0.01; done"


def panes_and_pids(tmux: TmuxServer) -> dict[str, tuple[str, int]]:
    """Every pane of the server: id → (session name, pid of its program)."""
    out = tmux.run("list-panes", "-a", "-F", "#{pane_id} #{session_name} #{pane_pid}")
    return {pane: (name, int(pid)) for pane, name, pid in (line.split() for line in out.splitlines())}


def descendants(pid: int) -> set[int]:
    found = set()
    for child in children(pid):
        found |= {child, *descendants(child)}
    return found


def latest_count(tmux: TmuxServer, pane: str) -> int:
    lines = [line for line in tmux.capture(pane).split("\n") if line.startswith("count-")]
    return int(lines[-1][6:]) if lines else 0


@pytest.mark.slow
def test_restarts_leave_sessions_panes_and_processes_untouched(
    tmux_server: TmuxServer, start_tmuxweb: Callable[..., Tmuxweb]
) -> None:
    # Every session and pane exists before tmuxweb first attaches (TMUX-NOTES).
    tmux_server.run("split-window", "-h", "-t", "%0", "sleep 100000")
    tmux_server.run("new-session", "-d", "-s", "work", "-x", "100", "-y", "30", "cat")
    tmux_server.run("new-window", "-d", "-t", "work", "bash --norc --noprofile -c 'sleep 100000 & wait'")
    tmux_server.wait_for_prompt("%0")
    tmux_server.run("send-keys", "-t", "%0", "-l", COUNTER)
    tmux_server.run("send-keys", "-t", "%0", "Enter")
    wait_until(lambda: latest_count(tmux_server, "%0") > 0, what="the counter")
    before = panes_and_pids(tmux_server)
    # The pane programs and what they started (the counter's own children
    # come and go: only its shell is followed).
    processes = {pane: {pid, *(descendants(pid) if pane != "%0" else ())} for pane, (_, pid) in before.items()}
    assert sum(len(procs) for procs in processes.values()) >= len(before) + 1  # the `sleep &` in bash
    cat_pane = next(p for p, (name, _) in before.items() if name == "work")

    app = start_tmuxweb()
    for sig in (signal.SIGTERM, signal.SIGKILL, signal.SIGINT, signal.SIGKILL):
        sessions = [Session(app, app.stream(name), name) for name in ("main", "work")]  # type: ignore[arg-type]
        try:
            main, work = sessions
            assert {p["id"] for p in main.state["panes"]} | {p["id"] for p in work.state["panes"]} == set(before)
            # Streaming output and typing, right up to the moment it stops.
            main.stream.until(lambda e: e.name == "output" and "count-" in e.data["data"])
            assert work.command(type="input", pane=cat_pane, text=f"typed-{sig.name}\r").status_code == 200
            work.stream.until(lambda e: e.name == "output" and f"typed-{sig.name}" in e.data["data"])  # noqa: B023 (called before the loop moves on)
            control = app.control_clients()
            assert len(control) == 2
            counted = latest_count(tmux_server, "%0")
            app.stop(sig)
        finally:
            for session in sessions:
                session.close()
        # Its control clients went with it (detached, or killed by the
        # parent-death signal); tmux has no client of ours left.
        wait_until(lambda: not any(alive(pid) for pid in control), what="the old control clients to go")  # noqa: B023 (called before the loop moves on)
        wait_until(lambda: not tmux_server.control_clients(), what="tmux to see no control client")
        assert panes_and_pids(tmux_server) == before, f"after {sig.name}"
        for pane, procs in processes.items():
            assert all(alive(pid) for pid in procs), f"{pane}'s processes after {sig.name}"
        # The counter never stopped: its pane was not frozen by a control
        # client that nobody reads.
        wait_until(lambda: latest_count(tmux_server, "%0") > counted + 10, what="the counter to go on")  # noqa: B023 (called before the loop moves on)
        app = start_tmuxweb()
    assert panes_and_pids(tmux_server) == before
