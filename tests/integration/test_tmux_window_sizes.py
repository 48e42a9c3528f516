"""What tmux 3.3a does with window sizes when a person's terminal and
control clients share a session: the facts the size claim (tmuxweb/tmux/
claim.py, DATA-FLOW "Window sizes") is built on, checked on this machine.

Each test is a transcript of one experiment: a real `tmux attach` in a pty
of 200x50 (the test config has no status line, so its windows are 200x50),
control clients over pipes (tmuxweb's own ControlClient), and the sizes tmux
reports after each step. If a newer tmux changes one of these, this file
says which.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from helpers import TMUX, TmuxServer, wait_until
from ptyclient import TerminalClient, window_size, window_sizes
from tmuxweb.tmux.client import ControlClient

Scenario = Callable[[], Awaitable[None]]


def control(tmux: TmuxServer) -> ControlClient:
    return ControlClient(
        [TMUX, "-u", "-L", tmux.socket_name, "-f", str(tmux.config_path)],
        "main",
        on_events=lambda events: None,
        on_exit=lambda reason: None,
        position=lambda: 0,
    )


_started: list[ControlClient] = []


async def attached(tmux: TmuxServer, *lines: str) -> ControlClient:
    client = control(tmux)
    _started.append(client)
    await client.start()
    if lines:
        await client.run(list(lines))
    return client


def run(scenario: Scenario) -> None:
    """Run one experiment; whatever it attached is detached, pass or fail."""

    async def guarded() -> None:
        try:
            await scenario()
        finally:
            while _started:
                await _started.pop().close()

    asyncio.run(guarded())


def settled(tmux: TmuxServer, expected: str, window: str = "@0") -> None:
    wait_until(lambda: window_size(tmux, window) == expected, what=f"{window} at {expected} (is {window_size(tmux, window)})")


def test_a_control_client_without_a_size_never_changes_the_terminals_window(tmux_server: TmuxServer) -> None:
    with TerminalClient(tmux_server, cols=200, rows=50):
        settled(tmux_server, "200x50")

        async def scenario() -> None:
            hub = await attached(tmux_server)
            # It attached last, so it is the window's `latest` client; having
            # no size, it does not count, and neither does select-window.
            await hub.run(["select-window -t @0", "new-window -t main:", "select-window -t @0"])
            assert window_sizes(tmux_server) == {"@0": "200x50", "@1": "200x50"}
            await hub.close()

        run(scenario)


def test_a_sized_control_client_wins_while_it_is_latest(tmux_server: TmuxServer) -> None:
    with TerminalClient(tmux_server, cols=200, rows=50) as terminal:
        settled(tmux_server, "200x50")

        async def scenario() -> None:
            hub = await attached(tmux_server)
            claim = await attached(tmux_server, "refresh-client -f no-output", "refresh-client -C 53x52")
            assert window_size(tmux_server) == "53x52"  # attach made it latest
            # The terminal's person types: the terminal is latest again.
            terminal.type(b"x")
            settled(tmux_server, "200x50")
            # A new size from a client that is not latest changes nothing ...
            await claim.run(["refresh-client -C 54x52"])
            assert window_size(tmux_server) == "200x50"
            # ... until it selects the (current) window: latest once more.
            await claim.run(["select-window"])
            assert window_size(tmux_server) == "54x52"
            # A sizeless client becoming latest leaves the size alone.
            await hub.run(["select-window -t @0"])
            assert window_size(tmux_server) == "54x52"
            # Resizing the terminal (SIGWINCH) makes it latest too.
            terminal.resize(180, 45)
            settled(tmux_server, "180x45")
            await claim.run(["select-window"])
            assert window_size(tmux_server) == "54x52"
            # The sized client leaves: the terminal's size comes back.
            await claim.close()
            settled(tmux_server, "180x45")
            await hub.close()

        run(scenario)


def test_without_a_terminal_the_last_size_stays_unless_set_per_window_before_leaving(tmux_server: TmuxServer) -> None:
    async def scenario() -> None:
        hub = await attached(tmux_server)
        assert window_size(tmux_server) == "120x40"  # new-session -x 120 -y 40
        claim = await attached(tmux_server, "refresh-client -C 53x52")
        assert window_size(tmux_server) == "53x52"
        # A per-window size (3.2+) overrides the client's size for that window.
        await claim.run(["refresh-client -C @0:120x40"])
        assert window_size(tmux_server) == "120x40"
        await claim.close()
        assert window_size(tmux_server) == "120x40"
        # Without the per-window step, the claimed size outlives the client.
        claim = await attached(tmux_server, "refresh-client -C 53x52")
        await claim.close()
        assert window_size(tmux_server) == "53x52"
        await hub.close()

    run(scenario)


def test_latest_is_per_window(tmux_server: TmuxServer) -> None:
    with TerminalClient(tmux_server, cols=200, rows=50):
        settled(tmux_server, "200x50")

        async def scenario() -> None:
            hub = await attached(tmux_server, "new-window -t main:", "select-window -t @0")
            claim = await attached(tmux_server, "refresh-client -C 53x52")
            assert window_sizes(tmux_server) == {"@0": "53x52", "@1": "200x50"}
            # Switching windows through another client: the new window keeps
            # its size until the sized client selects it.
            await hub.run(["select-window -t @1"])
            assert window_sizes(tmux_server) == {"@0": "53x52", "@1": "200x50"}
            await claim.run(["select-window"])
            assert window_sizes(tmux_server) == {"@0": "53x52", "@1": "53x52"}
            await claim.close()
            settled(tmux_server, "200x50", "@1")
            # A window no client shows keeps its size until it is shown.
            assert window_size(tmux_server, "@0") == "53x52"
            await hub.run(["select-window -t @0"])
            assert window_sizes(tmux_server) == {"@0": "200x50", "@1": "200x50"}
            await hub.close()

        run(scenario)


@pytest.mark.parametrize(
    ("option", "claimed", "after_typing"),
    [
        ("latest", "53x52", "200x50"),
        ("largest", "200x52", "200x52"),  # each dimension the largest
        ("smallest", "53x50", "53x50"),
        ("manual", "120x40", "120x40"),  # nobody's size counts
    ],
)
def test_the_window_size_option_decides(tmux_server: TmuxServer, option: str, claimed: str, after_typing: str) -> None:
    tmux_server.run("set-option", "-g", "window-size", option)
    with TerminalClient(tmux_server, cols=200, rows=50) as terminal:
        if option != "manual":
            settled(tmux_server, "200x50")

        async def scenario() -> None:
            claim = await attached(tmux_server, "refresh-client -C 53x52", "select-window")
            assert window_size(tmux_server) == claimed
            terminal.type(b"x")
            settled(tmux_server, after_typing)
            await claim.close()
            settled(tmux_server, "120x40" if option == "manual" else "200x50")

        run(scenario)


def test_ignore_size_takes_effect_at_the_next_recalculation(tmux_server: TmuxServer) -> None:
    with TerminalClient(tmux_server, cols=200, rows=50):
        settled(tmux_server, "200x50")

        async def scenario() -> None:
            claim = await attached(tmux_server, "refresh-client -C 53x52")
            await claim.run(["refresh-client -f ignore-size"])
            assert window_size(tmux_server) == "53x52"
            await claim.run(["select-window"])
            assert window_size(tmux_server) == "200x50"
            await claim.close()

        run(scenario)


def test_a_zero_size_is_refused(tmux_server: TmuxServer) -> None:
    async def scenario() -> None:
        claim = await attached(tmux_server)
        (answer,) = await asyncio.gather(*claim.send(["refresh-client -C 0x0"]))
        assert not answer.reply.ok
        await claim.close()

    run(scenario)
