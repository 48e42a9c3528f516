"""`connection-info` tells the page what its connection may do, so that the
page can keep pane output away from the clipboard on read-only connections
(OSC 52, see static/clipboard.js)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from helpers import RunningServer
from tmuxweb.auth import new_secret
from tmuxweb.tokens import TokenStore


def scope_seen(server: RunningServer, token: str) -> str:
    with server.stream(headers={"Authorization": f"Bearer {token}"}) as stream:
        scope: str = stream.named("connection-info").data["scope"]
        return scope


@pytest.mark.parametrize("scope", ["read", "write"])
def test_connection_info_names_the_token_scope(tmuxweb_server: RunningServer, scope: str) -> None:
    secret = new_secret()
    assert tmuxweb_server.config.tokens_file is not None
    TokenStore(tmuxweb_server.config.tokens_file).create(f"t-{scope}", scope, None, secret)  # type: ignore[arg-type]
    assert scope_seen(tmuxweb_server, secret) == scope
    assert scope_seen(tmuxweb_server, tmuxweb_server.token) == "owner"


def test_readonly_server_gives_even_the_owner_a_read_scope(make_server: Callable[..., RunningServer]) -> None:
    server = make_server(readonly=True)
    assert scope_seen(server, server.token) == "read"
