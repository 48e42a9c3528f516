"""What the pane-state tests share: the rules and screens under
tests/fixtures/states/, a program that behaves like an agent CLI, and
waits on a pane's `pane-state` events."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers import Event, EventStream, RunningServer, TmuxServer, wait_until

FIXTURES = Path(__file__).parent / "fixtures"
RULES = FIXTURES / "states" / "rules.toml"
MENU = FIXTURES / "states" / "menu.txt"
# Quick enough for tests; the defaults are 0.5 and 30.
STATE_CONFIG: dict[str, Any] = {"states": True, "settle": 0.2, "idle_after": 2.0, "rules_files": (RULES,)}

# Until lane R's tests/fixtures/agents/fake_agent.py: the same behaviour.
_FAKE_AGENT = r"""
import os, select, sys, termios, time, tty
screen, work, rounds, status = open(sys.argv[1]).read(), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for r in range(rounds):
    end, i = time.monotonic() + work, 0
    while time.monotonic() < end:
        sys.stdout.write("\r\x1b[Kworking %s %d" % ("|/-\\"[i % 4], i)); sys.stdout.flush()
        i += 1; time.sleep(0.05)
    sys.stdout.write("\x1b[2J\x1b[H" + screen.replace("\n", "\r\n")); sys.stdout.flush()
    old = termios.tcgetattr(0); tty.setraw(0, termios.TCSANOW)
    try:
        # select with a timeout: a blocking read of a pty right after a
        # termios change sometimes missed its wake-up on this kernel.
        while not select.select([0], [], [], 0.1)[0]:
            pass
        key = os.read(0, 1).decode(errors="replace")
    finally:
        termios.tcsetattr(0, termios.TCSADRAIN, old)
    sys.stdout.write("\r\nanswered: %s\r\n" % key); sys.stdout.flush()
sys.exit(status)
"""


def agent_command(tmp: Path, screen: Path = MENU, work: float = 0.6, rounds: int = 1, exit_status: int = 0) -> str:
    """A shell command that runs the fake agent."""
    script = tmp / "fake_agent.py"
    script.write_text(_FAKE_AGENT)
    return shlex.join([sys.executable, str(script), str(screen), str(work), str(rounds), str(exit_status)])


def new_pane(tmux: TmuxServer, command: str, session: str = "main", remain: bool = False) -> str:
    """A new window running `command`; its pane id."""
    pane = tmux.run("new-window", "-d", "-t", f"{session}:", "-P", "-F", "#{pane_id}", command).strip()
    if remain:
        tmux.run("set-option", "-p", "-t", pane, "remain-on-exit", "on")
    return pane


def states(server: RunningServer) -> dict[str, Any]:
    with server.client() as client:
        r = client.get("/api/states")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def pane_state(server: RunningServer, pane: str) -> dict[str, Any] | None:
    return next((p for p in states(server)["panes"] if p["pane"] == pane), None)


def wait_state(server: RunningServer, pane: str, state: str, timeout: float = 15.0) -> dict[str, Any]:
    """GET /api/states until `pane` is in `state`."""
    found: dict[str, Any] = wait_until(
        lambda: (s := pane_state(server, pane)) is not None and s["state"] == state and s,
        timeout,
        interval=0.05,
        what=f"{pane} {state}",
    )
    return found


def next_state(stream: EventStream, pane: str, predicate: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 15.0) -> dict[str, Any]:
    """The next `pane-state` event of `pane` (that satisfies `predicate`)."""

    def wanted(e: Event) -> bool:
        return e.name == "pane-state" and e.data["pane"] == pane and (predicate is None or predicate(e.data))

    data: dict[str, Any] = stream.until(wanted, timeout).data
    return data
