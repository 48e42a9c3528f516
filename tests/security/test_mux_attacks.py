"""Attacks on the shared stream of a browser's tabs (GET /mux): its attach
secret, its owner, the stream caps, revocation, foreign origins."""

from __future__ import annotations

import httpx

from helpers import RunningServer, new_secret, wait_until
from tmuxweb.tokens import TokenStore


def add_token(server: RunningServer, name: str, scope: str) -> str:
    secret = new_secret()
    assert server.config.tokens_file is not None
    TokenStore(server.config.tokens_file).create(name, scope, None, secret)
    return secret


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def open_mux(server: RunningServer, token: str | None = None):  # type: ignore[no-untyped-def]
    stream = server.mux(bearer(token) if token else None)
    info = stream.next()
    assert info.name == "mux-info"
    return stream, info.data["mux_token"]


def attach(server: RunningServer, mux_token: str | None, token: str | None = None, sub: str = "a") -> httpx.Response:
    headers = bearer(token or server.token)
    if mux_token is not None:
        headers["X-Mux-Token"] = mux_token
    with httpx.Client(base_url=server.base_url, headers=headers) as client:
        return client.post("/mux/attach", json={"sub": sub, "session": "main"})


def test_attach_needs_the_shared_streams_secret(tmuxweb_server: RunningServer) -> None:
    stream, mux_token = open_mux(tmuxweb_server)
    with stream:
        for presented in (None, "", "x" * 300, new_secret(), mux_token[:-2]):
            response = attach(tmuxweb_server, presented)
            assert response.status_code == 403, presented
            assert "error" in response.json()
        assert attach(tmuxweb_server, mux_token).status_code == 200


def test_another_tokens_holder_cannot_attach_to_or_detach_from_a_shared_stream(tmuxweb_server: RunningServer) -> None:
    """The secret leaked to someone with another access token: they can
    neither add a watcher (and read the owner's sessions through it) nor
    end the owner's watchers."""
    viewer = add_token(tmuxweb_server, "viewer", "read")
    stream, mux_token = open_mux(tmuxweb_server)
    with stream:
        refused = attach(tmuxweb_server, mux_token, viewer)
        assert refused.status_code == 403 and "another access token" in refused.json()["error"]
        assert attach(tmuxweb_server, mux_token).status_code == 200
        headers = {**bearer(viewer), "X-Mux-Token": mux_token}
        with httpx.Client(base_url=tmuxweb_server.base_url, headers=headers) as client:
            assert client.post("/mux/detach", json={"sub": "a"}).status_code == 403
        assert stream.seen_or_next(lambda e: e.sub == "a" and e.name == "state")


def test_the_shared_stream_and_each_watcher_count_under_the_stream_caps(make_server) -> None:  # type: ignore[no-untyped-def]
    server: RunningServer = make_server(max_streams_per_token=2)
    stream, mux_token = open_mux(server)
    with stream:
        assert attach(server, mux_token, sub="a").status_code == 200
        over = attach(server, mux_token, sub="b")
        assert over.status_code == 429
        with httpx.Client(base_url=server.base_url, headers=server.auth) as client:
            assert client.get("/mux").status_code == 429
    # Closing it gives every place back.
    wait_until(lambda: _opens(server), what="places given back")


def _opens(server: RunningServer) -> bool:
    with httpx.Client(base_url=server.base_url, headers=server.auth) as client:
        with client.stream("GET", "/mux") as response:
            return response.status_code == 200


def test_revoking_a_token_ends_its_shared_stream_after_each_watchers_farewell(tmuxweb_server: RunningServer) -> None:
    phone = add_token(tmuxweb_server, "phone", "write")
    stream, mux_token = open_mux(tmuxweb_server, phone)
    with stream:
        assert attach(tmuxweb_server, mux_token, phone).status_code == 200
        stream.seen_or_next(lambda e: e.sub == "a" and e.name == "state")
        assert tmuxweb_server.config.tokens_file is not None
        TokenStore(tmuxweb_server.config.tokens_file).revoke("phone")
        farewell = stream.until(lambda e: e.sub == "a" and e.name == "exit", timeout=5)
        assert "revoked" in farewell.data["reason"]
        try:
            stream.next(timeout=5)
            raise AssertionError("the shared stream went on after its token was revoked")
        except EOFError:
            pass


def test_a_foreign_origin_cannot_open_the_shared_stream(tmuxweb_server: RunningServer) -> None:
    with tmuxweb_server.client() as client:
        response = client.get("/mux", headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
