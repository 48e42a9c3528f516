"""What the pane-state tests share: the rules and screen under
tests/fixtures/states/, the fake agent (tests/fixtures/agents/), and
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

AGENT = FIXTURES / "agents" / "fake_agent.py"


def agent_command(screen: Path = MENU, work: float = 0.6, rounds: int = 1, exit_status: int = 0) -> str:
    """A shell command that runs the fake agent (lane R's) on `screen`."""
    argv = [sys.executable, str(AGENT), str(screen), "--work", str(work), "--rounds", str(rounds), "--exit-status", str(exit_status)]
    return shlex.join(argv)


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
