"""Shared fixtures: a private tmux server per test and the real app on
uvicorn. Never touches the user's default tmux server."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import RunningServer, TmuxServer, new_tmux_server, server_config  # noqa: E402

# Test tiers by directory (markers registered in pyproject.toml); `slow` is
# put on single tests by hand. `pytest -m "not deploy and not slow"` is the
# inner loop (README).
TIERS = {"browser", "deploy", "reliability"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        parts = item.path.relative_to(here).parts if item.path.is_relative_to(here) else ()
        if parts and parts[0] in TIERS:
            item.add_marker(parts[0])


@pytest.fixture
def tmux_server(tmp_path: Path) -> Iterator[TmuxServer]:
    """A private tmux server with a session `main` of 120x40 running bash."""
    server = new_tmux_server(tmp_path)
    server.start("main", 120, 40)
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def make_server(tmux_server: TmuxServer) -> Iterator[Callable[..., RunningServer]]:
    """Start the app with config overrides; every server started is stopped."""
    started: list[RunningServer] = []

    def make(**overrides: Any) -> RunningServer:
        server = RunningServer(server_config(tmux_server, **overrides)).start()
        started.append(server)
        return server

    try:
        yield make
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def tmuxweb_server(make_server: Callable[..., RunningServer]) -> RunningServer:
    """The real app on an ephemeral loopback port, driving `tmux_server`."""
    return make_server()
