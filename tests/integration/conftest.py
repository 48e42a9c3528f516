"""Fixtures of the integration tests beyond tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pushservice import PushService


@pytest.fixture
def push_service() -> Iterator[PushService]:
    """A real push service (RFC 8030) on loopback, standing in for the
    browsers' own, which these machines cannot reach."""
    service = PushService().start()
    try:
        yield service
    finally:
        service.stop()
