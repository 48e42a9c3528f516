"""Fixtures of the reliability tests: tmuxweb as a subprocess of its own."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers import TmuxServer
from rig import Tmuxweb


@pytest.fixture
def start_tmuxweb(tmp_path: Path, tmux_server: TmuxServer) -> Iterator[Callable[..., Tmuxweb]]:
    """Start `python -m tmuxweb` on the test's tmux server; every one
    started is stopped (SIGTERM, then SIGKILL) at the end."""
    started: list[Tmuxweb] = []

    def start(*args: str) -> Tmuxweb:
        app = Tmuxweb(tmux_server, tmp_path, tuple(args)).start()
        started.append(app)
        return app

    try:
        yield start
    finally:
        for app in started:
            if app.proc is not None:
                try:
                    app.stop(signal.SIGTERM, timeout=10)
                except AssertionError:
                    pass


@pytest.fixture
def tmuxweb_proc(start_tmuxweb: Callable[..., Tmuxweb]) -> Tmuxweb:
    return start_tmuxweb()
