"""Fixtures of the integration tests beyond tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import RunningServer, Session, TmuxServer
from pushservice import PushService


@pytest.fixture
def session(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> Iterator[Session]:
    """A watcher of `main` (its stream and session token), once the shell
    in %0 has drawn its prompt."""
    tmux_server.wait_for_prompt()
    s = Session(tmuxweb_server, tmuxweb_server.stream())
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def push_service() -> Iterator[PushService]:
    """A real push service (RFC 8030) on loopback, standing in for the
    browsers' own, which these machines cannot reach."""
    service = PushService().start()
    try:
        yield service
    finally:
        service.stop()
