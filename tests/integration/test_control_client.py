"""The control client releases everything it opened: after `close()`, and
when its start is cancelled, no `tmux -C` process stays attached and no pipe
transport is left for the garbage collector (`ResourceWarning: unclosed
transport <_UnixReadPipeTransport>`, which `filterwarnings = error` turns
into a failure of whichever later test happens to collect it)."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Awaitable, Callable

import pytest

from helpers import TMUX, TmuxServer, wait_until
from tmuxweb.tmux.client import ControlClient

ROUNDS = 20


def client(tmux: TmuxServer) -> ControlClient:
    return ControlClient(
        [TMUX, "-u", "-L", tmux.socket_name, "-f", str(tmux.config_path)],
        "main",
        on_events=lambda events: None,
        on_exit=lambda reason: None,
        position=lambda: 0,
    )


def leaks(scenario: Callable[[], Awaitable[None]]) -> list[str]:
    """Run `scenario` on a fresh event loop that is closed right after it,
    then collect garbage: what the loop's objects complain about."""
    found: list[str] = []
    previous = sys.unraisablehook
    sys.unraisablehook = lambda u: found.append(f"{u.exc_type.__name__}: {u.exc_value}")
    try:
        asyncio.run(scenario())  # type: ignore[arg-type]
        gc.collect()
    finally:
        sys.unraisablehook = previous
    return found


@pytest.mark.slow
def test_close_leaves_no_transport_for_the_garbage_collector(tmux_server: TmuxServer) -> None:
    async def start_and_close() -> None:
        c = client(tmux_server)
        await c.start()
        await c.close()

    # The exit status and the end of stdout arrive in either order: repeat.
    found = [leak for _ in range(ROUNDS) for leak in leaks(start_and_close)]
    assert found == []
    assert tmux_server.control_clients() == []


@pytest.mark.parametrize("phase", ["spawning", "attaching"])
def test_a_cancelled_start_detaches_and_leaves_nothing_open(tmux_server: TmuxServer, phase: str) -> None:
    cancelled = 0

    async def cancelled_start() -> None:
        nonlocal cancelled
        c = client(tmux_server)
        task = asyncio.ensure_future(c.start())
        if phase == "attaching":  # spawned, waiting for tmux to attach it
            while c.pid is None and not task.done():  # noqa: ASYNC110 (a pid, not an event)
                await asyncio.sleep(0)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            cancelled += 1
            # Nobody calls close(): the start cleaned up after itself.
            assert c.reaped
        else:  # attached before the cancel came: not this test's case
            await c.close()

    found = [leak for _ in range(5) for leak in leaks(cancelled_start)]
    assert cancelled > 0
    assert found == []
    wait_until(lambda: tmux_server.control_clients() == [], what="no control client attached")
