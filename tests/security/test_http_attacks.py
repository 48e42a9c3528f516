"""Attacks on the HTTP surface of the real server: DNS rebinding, cross-site
requests, token handling, session tokens, response headers, error bodies,
secrets in logs, injection through names, guessing.

Every test states the attack it makes. A server started by a test counts
failed logins from 127.0.0.1 (a rate limiter may answer 429 after a burst),
so tests that need an exact 401 make only a few failed attempts each.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import RunningServer, Session, TmuxServer, parse_sse, wait_until
from tmuxweb.tmux.snapshot import unvis

REFUSED_LOGIN = (401, 429)  # 429 once a rate limiter has seen enough failures


# -- helpers --------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: httpx.Headers
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Reply:
    """One request; an event stream is not read (it would never end), so a
    check that wrongly lets a request through fails instead of hanging."""
    with client.stream(method, path, **kwargs) as r:
        if r.headers.get("content-type", "").startswith("text/event-stream"):
            return Reply(r.status_code, r.headers, b"")
        r.read()
        return Reply(r.status_code, r.headers, r.content)


def raw_http(server: RunningServer, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Bytes on a socket, for requests httpx will not make (no Host header,
    un-normalised paths). The request must ask for `Connection: close`."""
    with socket.create_connection(("127.0.0.1", server.config.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


@contextmanager
def open_stream(
    server: RunningServer, session: str | None = "main", headers: dict[str, str] | None = None, **params: str
) -> Iterator[tuple[httpx.Response, dict[str, Any]]]:
    """A stream read in this thread, so leaving the block really closes the
    connection at once. Yields the response and the connection-info data."""
    query = {**({"session": session} if session else {}), **params}
    with httpx.Client(timeout=httpx.Timeout(15, read=15)) as client:
        with client.stream("GET", server.base_url + "/events", params=query, headers=server.auth if headers is None else headers) as r:
            assert r.status_code == 200, r.read()
            # Keep the iterator referenced: collecting it would close the stream.
            events = parse_sse(r.iter_lines())
            first = next(events)
            assert first.name == "connection-info"
            yield r, first.data


def windows(tmux: TmuxServer, session: str = "main") -> dict[str, str]:
    """Window id → name as tmux stores it (unescaped as the hub does)."""
    out = tmux.run("list-windows", "-t", session, "-F", "#{window_id}\t#{window_name}")
    return {wid: unvis(name) for wid, _, name in (line.partition("\t") for line in out.splitlines())}


def sessions(tmux: TmuxServer) -> list[str]:
    return [unvis(name) for name in tmux.run("list-sessions", "-F", "#{session_name}").splitlines()]


def no_traceback(body: bytes) -> None:
    text = body.decode("utf-8", "replace")
    for tell in ("Traceback", 'File "', ".py", "tmuxweb.", "starlette", "Exception"):
        assert tell not in text, text


@pytest.fixture
def watcher(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> Iterator[Session]:
    """A live stream of `main` with its session token."""
    tmux_server.wait_for_prompt()
    session = Session(tmuxweb_server, tmuxweb_server.stream())
    try:
        yield session
    finally:
        session.close()


# -- DNS rebinding: the Host allow-list --------------------------------------------------

REBOUND_HOSTS = ["evil.example", "evil.example:{port}", "localhost.evil.example:{port}", "127.0.0.1.nip.io:{port}", "attacker.test:80"]


def every_route(session_token: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Each route with a request that would succeed from an allowed Host."""
    return [
        ("GET", "/healthz", {}),
        ("GET", "/", {}),
        ("GET", "/static/main.js", {}),
        ("GET", "/api/sessions", {}),
        ("POST", "/api/sessions", {"json": {"name": "rebound"}}),
        ("POST", "/api/ticket", {}),
        ("GET", "/events", {"params": {"session": "main"}}),
        ("POST", "/commands", {"params": {"session": "main"}, "json": {"type": "new-window", "name": "rebound"}, "headers": {"X-Session-Token": session_token}}),
    ]


def test_dns_rebinding_forged_host_is_refused_on_every_route(watcher: Session, tmux_server: TmuxServer) -> None:
    port = watcher.server.config.port
    before = windows(tmux_server)
    with watcher.server.client() as client:
        for method, path, kwargs in every_route(watcher.info["session_token"]):
            for host in REBOUND_HOSTS:
                headers = {**kwargs.get("headers", {}), "Host": host.format(port=port)}
                r = call(client, method, path, **{**kwargs, "headers": headers})
                assert r.status == 403, (method, path, host)
                assert "host" in r.json()["error"]
            # the same request from an allowed Host works, so the 403 was the Host's doing
            if "json" in kwargs:
                kwargs = {**kwargs, "json": {**kwargs["json"], "name": "allowed"}}
            assert call(client, method, path, **kwargs).status in (200, 201), (method, path)
    assert "rebound" not in sessions(tmux_server) and "allowed" in sessions(tmux_server)
    after = windows(tmux_server)
    assert "rebound" not in after.values() and list(after.values()).count("allowed") == 1
    assert len(after) == len(before) + 1


def test_dns_rebinding_missing_host_header_is_refused(tmuxweb_server: RunningServer) -> None:
    for path in ("/healthz", "/", "/api/sessions"):
        request = f"GET {path} HTTP/1.0\r\nAuthorization: Bearer {tmuxweb_server.token}\r\nConnection: close\r\n\r\n"
        status, _, body = raw_http(tmuxweb_server, request.encode())
        assert status == 403, path
        assert "error" in json.loads(body)


def test_host_check_comes_before_authentication_and_body_limit(tmuxweb_server: RunningServer) -> None:
    with httpx.Client(base_url=tmuxweb_server.base_url, timeout=15) as anonymous:
        for method, path in [("GET", "/api/sessions"), ("POST", "/api/ticket"), ("GET", "/events"), ("POST", "/commands")]:
            r = call(anonymous, method, path, headers={"Host": "evil.example"})
            assert r.status == 403, path  # not 401: nothing past the Host check ran
        big = call(anonymous, "POST", "/commands", headers={"Host": "evil.example", "Content-Type": "application/json"}, content=b"x" * 100_000)
        assert big.status == 403


def test_loopback_hosts_on_any_port_are_allowed(tmuxweb_server: RunningServer) -> None:
    port = tmuxweb_server.config.port
    with tmuxweb_server.client() as client:
        for host in (f"localhost:{port}", "localhost", "127.0.0.1", f"127.0.0.1:{port}", f"[::1]:{port}", "[::1]", "LOCALHOST:1"):
            assert call(client, "GET", "/api/sessions", headers={"Host": host}).status == 200, host


def test_allowed_host_name_passes_and_look_alikes_do_not(make_server: Callable[..., RunningServer]) -> None:
    server = make_server(allowed_hosts=("tmux.example",))
    port = server.config.port
    with server.client() as client:
        for host in ("tmux.example", f"tmux.example:{port}", "TMUX.example"):
            assert call(client, "GET", "/api/sessions", headers={"Host": host}).status == 200, host
        for host in ("evil.tmux.example", "tmux.example.evil", f"tmux-example:{port}"):
            assert call(client, "GET", "/api/sessions", headers={"Host": host}).status == 403, host


# -- cross-site requests: Origin, CORS, simple POSTs ------------------------------------

FOREIGN_ORIGINS = [
    "https://evil.example",
    "null",
    "http://127.0.0.1:{port}.evil.example",
    "http://127.0.0.1:{other}",
    "https://127.0.0.1:{port}",
    "http://localhost:{port}",  # a different origin than the page's 127.0.0.1
]


def test_cross_site_stream_hijack_foreign_origin_cannot_open_the_stream(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> None:
    port = tmuxweb_server.config.port
    with tmuxweb_server.client() as client:
        for origin in FOREIGN_ORIGINS:
            r = call(client, "GET", "/events", params={"session": "main"}, headers={"Origin": origin.format(port=port, other=port + 1)})
            assert r.status == 403, origin
            assert r.json() == {"error": "origin not allowed"}
    assert tmux_server.control_clients() == []  # no stream was ever started


def test_csrf_foreign_origin_cannot_post_to_any_route(watcher: Session, tmux_server: TmuxServer) -> None:
    port = watcher.server.config.port
    before = windows(tmux_server)
    posts = [
        ("/api/sessions", {"json": {"name": "csrf"}}),
        ("/api/ticket", {}),
        ("/commands", {"params": {"session": "main"}, "json": {"type": "new-window", "name": "csrf"}, "headers": {"X-Session-Token": watcher.info["session_token"]}}),
    ]
    with watcher.server.client() as client:
        for path, kwargs in posts:
            for origin in FOREIGN_ORIGINS:
                headers = {**kwargs.get("headers", {}), "Origin": origin.format(port=port, other=port + 1)}
                r = call(client, "POST", path, **{**kwargs, "headers": headers})
                assert r.status == 403, (path, origin)
    assert windows(tmux_server) == before
    assert "csrf" not in sessions(tmux_server)


def test_own_origin_and_configured_origins_are_accepted(make_server: Callable[..., RunningServer]) -> None:
    server = make_server(allowed_origins=("https://tmux.example",))
    own = f"http://127.0.0.1:{server.config.port}"
    with server.client() as client:
        for origin in (own, own + "/", "https://tmux.example", "HTTPS://TMUX.EXAMPLE"):
            assert call(client, "POST", "/api/ticket", headers={"Origin": origin}).status == 200, origin
        assert call(client, "GET", "/events", params={"session": "main"}, headers={"Origin": own}).status == 200
        for origin in ("https://tmux.example:8443", "http://tmux.example", "https://sub.tmux.example"):
            assert call(client, "POST", "/api/ticket", headers={"Origin": origin}).status == 403, origin


def test_cors_no_access_control_header_on_any_response_even_a_preflight(watcher: Session) -> None:
    foreign = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type, x-session-token"}
    with watcher.server.client() as client:
        for method, path, kwargs in every_route(watcher.info["session_token"]):
            for m in ("OPTIONS", method):
                headers = {**kwargs.get("headers", {}), **foreign}
                r = call(client, m, path, **{**kwargs, "headers": headers})
                leaked = [k for k in r.headers if k.lower().startswith("access-control-")]
                assert not leaked, (m, path, leaked)
                if m == "OPTIONS":
                    assert r.status >= 400, path


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain; charset=application/json"])
def test_csrf_simple_post_with_a_form_content_type_executes_nothing(watcher: Session, tmux_server: TmuxServer, content_type: str) -> None:
    before = windows(tmux_server)
    command = json.dumps({"type": "new-window", "name": "simple-post"}).encode()
    r = watcher.client.post("/commands", params={"session": "main"}, content=command, headers={"Content-Type": content_type})
    assert r.status_code == 415 and "error" in r.json()
    r = watcher.client.post("/api/sessions", content=b'{"name": "simple-post"}', headers={"Content-Type": content_type})
    assert r.status_code == 415
    assert watcher.command(type="select-pane", pane="%0").status_code == 200  # a real command still works
    assert windows(tmux_server) == before
    assert "simple-post" not in sessions(tmux_server)


# -- the access token ------------------------------------------------------------------------

PROTECTED = [
    ("GET", "/api/sessions"),
    ("POST", "/api/sessions"),
    ("POST", "/api/ticket"),
    ("GET", "/events"),
    ("POST", "/commands"),
]


def test_missing_token_is_401_with_a_bearer_challenge_on_every_protected_route(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> None:
    with httpx.Client(base_url=tmuxweb_server.base_url, timeout=15) as anonymous:
        for method, path in PROTECTED:
            r = call(anonymous, method, path, params={"session": "main"}, json={"name": "anon"} if method == "POST" else None)
            assert r.status == 401, path
            assert r.headers["www-authenticate"] == "Bearer"
            assert r.json() == {"error": "missing or invalid access token"}
    assert "anon" not in sessions(tmux_server)


def test_wrong_token_or_wrong_scheme_is_401(tmuxweb_server: RunningServer) -> None:
    token = tmuxweb_server.token
    attempts = [
        f"Bearer {token[:-1]}",
        f"Basic {base64.b64encode(f'user:{token}'.encode()).decode()}",
        f"Basic {base64.b64encode(f'{token}:'.encode()).decode()}",
        f"Token {token}",
        token,
        "Bearer",
        f"Bearer{token}",
    ]
    with httpx.Client(base_url=tmuxweb_server.base_url, timeout=15) as client:
        for authorization in attempts:
            assert call(client, "GET", "/api/sessions", headers={"Authorization": authorization}).status == 401, authorization


def test_bearer_scheme_is_case_insensitive(tmuxweb_server: RunningServer) -> None:
    with httpx.Client(base_url=tmuxweb_server.base_url, timeout=15) as client:
        for scheme in ("Bearer", "bearer", "BEARER"):
            r = call(client, "GET", "/api/sessions", headers={"Authorization": f"{scheme} {tmuxweb_server.token}"})
            assert r.status == 200, scheme


def test_token_leak_token_in_the_query_string_is_never_accepted(tmuxweb_server: RunningServer) -> None:
    token = tmuxweb_server.token
    with httpx.Client(base_url=tmuxweb_server.base_url, timeout=15) as anonymous:
        for name in ("token", "access_token"):
            assert call(anonymous, "GET", "/api/sessions", params={name: token}).status == 401, name
            assert call(anonymous, "GET", "/events", params={"session": "main", name: token}).status == 401, name
        # nor a ticket that is really the access token
        assert call(anonymous, "GET", "/events", params={"session": "main", "ticket": token}).status == 401


def test_oversized_authorization_header_is_refused(tmuxweb_server: RunningServer) -> None:
    with httpx.Client(base_url=tmuxweb_server.base_url, timeout=10) as client:
        r = call(client, "GET", "/api/sessions", headers={"Authorization": "Bearer " + "A" * 300})
        assert r.status == 401
        try:
            huge = call(client, "GET", "/api/sessions", headers={"Authorization": "Bearer " + "A" * 200_000}).status
        except httpx.TransportError:
            huge = None  # the server may drop the connection instead
        assert huge != 200


def _head(server: RunningServer, extra: bytes) -> bytes:
    return (
        b"GET /api/sessions HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
        % (server.config.port, server.token.encode())
    ) + extra


def _answer(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_request_head_over_16_kib_in_one_piece_is_431_and_closed(tmuxweb_server: RunningServer) -> None:
    """A greedy head (many headers, or one huge one) never reaches the
    application: 431 and the connection closed, whatever the token."""
    for extra in (b"X-Pad: " + b"a" * 17_000 + b"\r\n", b"".join(b"X-%d: %s\r\n" % (i, b"b" * 90) for i in range(200))):
        with socket.create_connection(("127.0.0.1", tmuxweb_server.config.port), timeout=10) as sock:
            sock.sendall(_head(tmuxweb_server, extra) + b"\r\n")
            data = _answer(sock)
        assert data.startswith(b"HTTP/1.1 431 "), data[:100]
        assert json.loads(data.partition(b"\r\n\r\n")[2]) == {"error": "request head over 16 KiB"}


def test_request_head_that_never_ends_is_refused_once_over_16_kib(tmuxweb_server: RunningServer) -> None:
    """Headers dribbled in small pieces without an end: once 16 KiB have
    come the server answers 431 and hangs up, without waiting for the end
    of the head (a server that buffered it would wait for ever)."""
    with socket.create_connection(("127.0.0.1", tmuxweb_server.config.port), timeout=10) as sock:
        sock.sendall(_head(tmuxweb_server, b""))
        try:
            for _ in range(20):
                sock.sendall(b"X-Slow: " + b"c" * 1000 + b"\r\n")
                time.sleep(0.01)  # a slow sender's pace, not synchronisation
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            data = _answer(sock)  # the head is still unfinished
        except ConnectionResetError:
            data = b"reset"
    assert data.startswith(b"HTTP/1.1 431 ") or data == b"reset", data[:100]


def test_request_head_under_the_bound_is_served(tmuxweb_server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", tmuxweb_server.config.port), timeout=10) as sock:
        sock.sendall(_head(tmuxweb_server, b"X-Pad: " + b"d" * 12_000 + b"\r\nConnection: close\r\n\r\n"))
        data = _answer(sock)
    assert data.startswith(b"HTTP/1.1 200 "), data[:100]


def test_ticket_is_single_use(tmuxweb_server: RunningServer) -> None:
    with tmuxweb_server.client() as client:
        ticket = client.post("/api/ticket").json()["ticket"]
    with open_stream(tmuxweb_server, headers={}, ticket=ticket) as (_, info):
        assert info["session"]["name"] == "main"
    with httpx.Client(base_url=tmuxweb_server.base_url, timeout=15) as anonymous:
        r = call(anonymous, "GET", "/events", params={"session": "main", "ticket": ticket})
        assert r.status == 401


def test_expired_ticket_is_refused(make_server: Callable[..., RunningServer]) -> None:
    server = make_server(ticket_ttl=0.2)
    with server.client() as client:
        r = client.post("/api/ticket")
        issued_by = time.monotonic()  # the server's deadline is before issued_by + ttl
    ticket = r.json()["ticket"]
    assert r.json()["expires_in"] <= 1
    wait_until(lambda: time.monotonic() > issued_by + 0.2, what="ticket deadline")
    with httpx.Client(base_url=server.base_url, timeout=15) as anonymous:
        assert call(anonymous, "GET", "/events", params={"session": "main", "ticket": ticket}).status == 401


def test_ticket_is_accepted_only_on_get_events(tmuxweb_server: RunningServer) -> None:
    with tmuxweb_server.client() as client:
        ticket = client.post("/api/ticket").json()["ticket"]
    misuses = [
        ("GET", "/api/sessions", {"params": {"ticket": ticket}}),
        ("POST", "/api/sessions", {"params": {"ticket": ticket}, "json": {"name": "by-ticket"}}),
        ("POST", "/api/ticket", {"params": {"ticket": ticket}}),
        ("POST", "/commands", {"params": {"session": "main", "ticket": ticket}, "json": {"type": "new-window"}}),
        ("HEAD", "/events", {"params": {"session": "main", "ticket": ticket}}),
        ("GET", "/api/sessions", {"headers": {"Authorization": f"Bearer {ticket}"}}),
        ("GET", "/events", {"params": {"session": "main"}, "headers": {"Authorization": f"Bearer {ticket}"}}),
    ]
    with httpx.Client(base_url=tmuxweb_server.base_url, timeout=15) as anonymous:
        for method, path, kwargs in misuses:
            assert call(anonymous, method, path, **kwargs).status == 401, (method, path, kwargs)
    # the ticket was valid all along: it still opens the stream, once
    with open_stream(tmuxweb_server, headers={}, ticket=ticket):
        pass


# -- session tokens ------------------------------------------------------------------------


def post_command(server: RunningServer, session_token: str, headers: dict[str, str] | None = None, **params: str) -> int:
    body = {"type": "select-pane", "pane": "%0"}
    with server.client() as client:
        r = client.post("/commands", params={"session": "main", **params}, json=body, headers={"X-Session-Token": session_token, **(headers or {})})
        return r.status_code


def test_session_token_of_a_closed_stream_dies_while_a_sibling_stream_of_the_same_session_lives(tmuxweb_server: RunningServer) -> None:
    with open_stream(tmuxweb_server) as (_, staying):
        with open_stream(tmuxweb_server) as (_, leaving):
            assert post_command(tmuxweb_server, leaving["session_token"]) == 200
        wait_until(lambda: post_command(tmuxweb_server, leaving["session_token"]) == 403, what="closed stream's token to die")
        assert post_command(tmuxweb_server, staying["session_token"]) == 200


def test_session_token_is_useless_after_a_server_restart(make_server: Callable[..., RunningServer]) -> None:
    first = make_server()
    with open_stream(first) as (_, info):
        old = info["session_token"]
        assert post_command(first, old) == 200
    first.stop()
    second = make_server(token=first.config.token)  # same access token, new process state
    with open_stream(second):  # a live stream of the same session exists
        assert post_command(second, old) == 403


def test_session_token_cannot_stand_in_for_the_access_token_or_vice_versa(watcher: Session) -> None:
    server, session_token = watcher.server, watcher.info["session_token"]
    with httpx.Client(base_url=server.base_url, timeout=15) as anonymous:
        assert call(anonymous, "GET", "/api/sessions", headers={"Authorization": f"Bearer {session_token}"}).status == 401
        r = call(anonymous, "POST", "/commands", params={"session": "main"}, json={"type": "select-pane", "pane": "%0"}, headers={"X-Session-Token": session_token})
        assert r.status == 401  # a session token alone is not enough
    assert post_command(server, server.token) == 403


def test_session_token_in_the_query_string_is_not_accepted(watcher: Session) -> None:
    token = watcher.info["session_token"]
    with watcher.server.client() as client:
        for name in ("session_token", "X-Session-Token", "x-session-token"):
            r = client.post("/commands", params={"session": "main", name: token}, json={"type": "select-pane", "pane": "%0"})
            assert r.status_code == 403, name


# -- response headers -------------------------------------------------------------------------


def check_security_headers(headers: httpx.Headers | dict[str, str], what: str, api: bool) -> None:
    csp = headers.get("content-security-policy", "")
    directives = {d.strip().split()[0]: d.strip().split()[1:] for d in csp.split(";") if d.strip()}
    assert directives.get("frame-ancestors") == ["'none'"], what
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, what
    for source in ("default-src", "script-src"):
        assert not {"*", "data:", "http:", "https:"} & set(directives.get(source, [])), what
    assert "script-src" in directives or "default-src" in directives, what
    assert headers.get("x-frame-options") == "DENY", what
    assert headers.get("x-content-type-options") == "nosniff", what
    assert headers.get("referrer-policy") == "no-referrer", what
    if api:
        assert "no-store" in headers.get("cache-control", ""), what


def test_clickjacking_and_sniffing_headers_on_every_kind_of_response(watcher: Session) -> None:
    server = watcher.server
    with server.client() as client, httpx.Client(base_url=server.base_url, timeout=15) as anonymous:
        token_headers = {"X-Session-Token": watcher.info["session_token"]}
        cases: list[tuple[str, httpx.Client, str, str, dict[str, Any], int, bool]] = [
            ("healthz", anonymous, "GET", "/healthz", {}, 200, True),
            ("index", anonymous, "GET", "/", {}, 200, False),
            ("static", anonymous, "GET", "/static/main.js", {}, 200, False),
            ("api", client, "GET", "/api/sessions", {}, 200, True),
            ("ticket", client, "POST", "/api/ticket", {}, 200, True),
            ("command", client, "POST", "/commands", {"params": {"session": "main"}, "json": {"type": "select-pane", "pane": "%0"}, "headers": token_headers}, 200, True),
            ("400", client, "POST", "/api/sessions", {"content": b"{nope", "headers": {"Content-Type": "application/json"}}, 400, True),
            ("401", anonymous, "GET", "/api/sessions", {}, 401, True),
            ("403 host", client, "GET", "/api/sessions", {"headers": {"Host": "evil.example"}}, 403, True),
            ("403 origin", client, "POST", "/api/ticket", {"headers": {"Origin": "https://evil.example"}}, 403, True),
            ("403 session token", client, "POST", "/commands", {"params": {"session": "main"}, "json": {"type": "select-pane", "pane": "%0"}}, 403, True),
            ("404", client, "GET", "/no/such/route", {}, 404, True),
            ("404 static", anonymous, "GET", "/static/no-such-file.js", {}, 404, False),
            ("405", client, "GET", "/commands", {}, 405, True),
            ("413", client, "POST", "/commands", {"content": b"{" + b" " * 70_000 + b"}", "headers": {"Content-Type": "application/json", **token_headers}}, 413, True),
            ("415", client, "POST", "/api/sessions", {"content": b'{"name": "x"}', "headers": {"Content-Type": "text/plain"}}, 415, True),
        ]
        for what, c, method, path, kwargs, status, api in cases:
            r = call(c, method, path, **kwargs)
            assert r.status == status, (what, r.status, r.body)
            check_security_headers(r.headers, what, api)
        with open_stream(server) as (stream, _):
            check_security_headers(stream.headers, "event stream", api=True)
            assert stream.headers["x-accel-buffering"] == "no"
    status, headers, _ = raw_http(server, b"GET /healthz HTTP/1.0\r\nConnection: close\r\n\r\n")
    assert status == 403
    check_security_headers(headers, "403 without Host", api=True)


# -- error bodies ---------------------------------------------------------------------------------


def test_errors_are_json_with_only_a_message_and_no_traceback(watcher: Session) -> None:
    server = watcher.server
    token_headers = {"X-Session-Token": watcher.info["session_token"]}
    with server.client() as client, httpx.Client(base_url=server.base_url, timeout=15) as anonymous:
        cases: list[tuple[int, httpx.Client, str, str, dict[str, Any]]] = [
            (400, client, "POST", "/api/sessions", {"content": b'{"name": ', "headers": {"Content-Type": "application/json"}}),
            (400, client, "POST", "/commands", {"params": {"session": "main"}, "content": b"\xff\xfe", "headers": {"Content-Type": "application/json", **token_headers}}),
            (400, client, "GET", "/events", {"params": {"session": "-t"}}),
            (401, anonymous, "POST", "/commands", {"json": {"type": "input"}}),
            (403, client, "GET", "/healthz", {"headers": {"Host": "evil.example"}}),
            (403, client, "POST", "/commands", {"params": {"session": "main"}, "json": {"type": "new-window"}, "headers": {"X-Session-Token": "forged"}}),
            (404, client, "GET", "/nope", {}),
            (404, client, "GET", "/events", {"params": {"session": "no-such-session"}}),
            (404, client, "POST", "/commands", {"params": {"session": "main"}, "json": {"type": "kill-pane", "pane": "%999"}, "headers": token_headers}),
            (405, client, "DELETE", "/api/sessions", {}),
            (405, client, "PUT", "/commands", {}),
            (413, client, "POST", "/api/sessions", {"content": b"x" * 70_000, "headers": {"Content-Type": "application/json"}}),
            (415, client, "POST", "/commands", {"params": {"session": "main"}, "content": b"{}", "headers": {"Content-Type": "text/html", **token_headers}}),
        ]
        for status, c, method, path, kwargs in cases:
            r = call(c, method, path, **kwargs)
            assert r.status == status, (method, path, r.status, r.body)
            assert r.headers["content-type"].startswith("application/json"), path
            body = r.json()
            assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"], body
            assert len(body["error"]) <= 200
            no_traceback(r.body)


def test_deeply_nested_json_is_a_400_not_an_internal_error(watcher: Session) -> None:
    for path, params, extra in [("/api/sessions", {}, {}), ("/commands", {"session": "main"}, {"X-Session-Token": watcher.info["session_token"]})]:
        with watcher.server.client() as client:
            r = call(client, "POST", path, params=params, content=b"[" * 60_000, headers={"Content-Type": "application/json", **extra})
        assert r.status == 400, (path, r.status)
        no_traceback(r.body)


# -- secrets never reach a log ---------------------------------------------------------------------


def full_session(server: RunningServer, tmux: TmuxServer) -> list[str]:
    """Everything a browser does, plus failed attempts; the secrets it saw."""
    tmux.wait_for_prompt()
    secrets = [server.token]
    with server.client() as client:
        assert client.get("/api/sessions").status_code == 200
        ticket = client.post("/api/ticket").json()["ticket"]
        secrets.append(ticket)
        with open_stream(server, headers={}, ticket=ticket) as (_, info):
            session_token = info["session_token"]
            secrets.append(session_token)
            headers = {"X-Session-Token": session_token}
            r = client.post("/commands", params={"session": "main"}, json={"type": "input", "pane": "%0", "text": "echo logged\r"}, headers=headers)
            assert r.status_code == 200
            tmux.wait_for_text("%0", "logged")
            # failures log too: a wrong token, a replayed ticket, a wrong session token
            wrong = server.token[:-2] + "zz"
            secrets.append(wrong)
            assert client.get("/api/sessions", headers={"Authorization": f"Bearer {wrong}"}).status_code == 401
            with httpx.Client(base_url=server.base_url, timeout=15) as anonymous:
                assert call(anonymous, "GET", "/events", params={"session": "main", "ticket": ticket}).status == 401
            assert client.post("/commands", params={"session": "main"}, json={"type": "zoom", "pane": "%0"}, headers={"X-Session-Token": session_token + "x"}).status_code == 403
    server.stop()
    return secrets


def server_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Every record but those of this test's own HTTP client (httpx logs the
    URLs it requests, tickets included)."""
    return [r for r in caplog.records if r.name.split(".")[0] not in ("httpx", "httpcore")]


def assert_no_secret(records: list[logging.LogRecord], secrets: list[str]) -> None:
    assert records, "the server logged nothing at all"
    formatter = logging.Formatter()
    for record in records:
        text = formatter.format(record) + repr(record.args)
        for secret in secrets:
            assert secret not in text, (record.name, record.getMessage()[:300])


def test_token_leak_no_secret_in_any_log_record_during_a_full_session(
    make_server: Callable[..., RunningServer], tmux_server: TmuxServer, caplog: pytest.LogCaptureFixture
) -> None:
    # The CLI's default level. (At DEBUG, sse_starlette logs every chunk it
    # sends; the CLI keeps that logger at INFO: see test_cli.py.)
    caplog.set_level(logging.INFO)
    secrets = full_session(make_server(), tmux_server)
    records = server_records(caplog)
    assert_no_secret(records, secrets)
    events_lines = [r.getMessage() for r in records if r.name == "tmuxweb.access" and "/events" in r.getMessage()]
    assert events_lines, "no access log line for /events"
    for line in events_lines:
        assert "?" not in line and "ticket" not in line and "session=" not in line, line


# -- injection through names ---------------------------------------------------------------------------

LITERAL_NAMES = [
    "a;b",
    "x ; kill-server",
    "x \\; kill-server",
    "#{pane_id}",
    "#{session_name}",
    "#{E:HOME}",
    "x##y",
    "it's \"quoted\"",
    "'",
    '"',
    "$HOME",
    "${HOME}",
    "a\\b",
    "\\",
    "~root",
    "%1",
    "@1",
    "{}",
    "<img src=x onerror=alert(1)>",
    "é🙂",
    "t -t %0",
]
REFUSED_NAMES = ["-t", "-t @0", "--", "a\nkill-server", "a\rb", "a\x00b", "\x1b[31mred", "a\tb", "a\u2028b", "a\x9bb", " lead", "trail ", "", "x" * 65]


@pytest.fixture
def marker() -> Iterator[Path]:
    """A short path (names are at most 64 characters) that an injected
    shell command would create."""
    path = Path(f"/tmp/tw-{uuid.uuid4().hex[:8]}")
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def test_injection_window_names_are_stored_literally_or_refused(watcher: Session, tmux_server: TmuxServer, marker: Path) -> None:
    names = [*LITERAL_NAMES, f"#(touch {marker})", f"`touch {marker}`", f"$(touch {marker})"]
    window = watcher.state["windows"][0]["id"]
    for name in names:
        r = watcher.command(type="rename-window", window=window, name=name)
        assert r.status_code == 200, (name, r.text)
        assert watcher.stream.until(lambda e: e.name == "window-renamed").data == {"window": window, "name": name}
        assert windows(tmux_server)[window] == name
    count = len(windows(tmux_server))
    for name in names[:6]:
        assert watcher.command(type="new-window", name=name).status_code == 200
        added = watcher.stream.named("window-added").data["window"]
        assert added["name"] == name and windows(tmux_server)[added["id"]] == name
    for name in REFUSED_NAMES:
        for body in ({"type": "rename-window", "window": window, "name": name}, {"type": "new-window", "name": name}):
            r = watcher.command(**body)
            assert r.status_code == 400, (name, r.text)
    assert windows(tmux_server)[window] == names[-1]
    assert len(windows(tmux_server)) == count + 6
    assert not marker.exists()


@pytest.mark.parametrize("live_stream", [False, True], ids=["without-control-client", "through-control-client"])
def test_injection_session_names_are_stored_literally_or_refused(tmuxweb_server: RunningServer, tmux_server: TmuxServer, marker: Path, live_stream: bool) -> None:
    # tmux forbids ':' and '.' in session names (the API refuses them below)
    names = [n for n in LITERAL_NAMES if ":" not in n and "." not in n] + [f"#(touch {marker})".replace(".", "")]
    with tmuxweb_server.client() as client:

        def create_all() -> None:
            for name in names:
                r = client.post("/api/sessions", json={"name": name})
                assert r.status_code == 201, (name, r.text)
                assert r.json()["name"] == name and r.headers["content-type"] == "application/json"
            for name in [*REFUSED_NAMES, "a:b", "a.b"]:
                r = client.post("/api/sessions", json={"name": name})
                assert r.status_code == 400, (name, r.text)
            for body in ({"name": 5}, {"name": None}, {"name": ["x"]}, {"name": "x", "extra": 1}, {}):
                assert client.post("/api/sessions", json=body).status_code == 400, body

        if live_stream:
            with open_stream(tmuxweb_server):
                create_all()
        else:
            create_all()
        listed = [s["name"] for s in client.get("/api/sessions").json()["sessions"]]
    assert sorted(listed) == sorted(["main", *names])
    assert sorted(sessions(tmux_server)) == sorted(["main", *names])
    assert not marker.exists()


def test_injection_style_sequence_in_a_window_name_is_stored_literally(watcher: Session, tmux_server: TmuxServer) -> None:
    window = watcher.state["windows"][0]["id"]
    assert watcher.command(type="rename-window", window=window, name="#[fg=red]x").status_code == 200
    assert watcher.stream.until(lambda e: e.name == "window-renamed").data["name"] == "#[fg=red]x"


def test_session_named_like_a_session_id_is_not_reported_as_tmux_unavailable(tmuxweb_server: RunningServer) -> None:
    with tmuxweb_server.client() as client:
        r = client.post("/api/sessions", json={"name": "$0"})
    assert r.status_code in (201, 400), r.text


def record_raw(tmux: TmuxServer, path: Path, size: int) -> None:
    """Make %0 copy the next `size` raw bytes it receives to `path`."""
    tmux.run("send-keys", "-t", "%0", "-l", f"stty raw -echo; head -c {size} > {path}; stty sane; echo recorded-$((6*7))")
    tmux.run("send-keys", "-t", "%0", "Enter")
    wait_until(lambda: path.exists(), what="recorder started")


@pytest.mark.parametrize("text", ["- list item", "-w", "-b x"])
def test_option_injection_paste_starting_with_a_dash_is_pasted_literally(watcher: Session, tmux_server: TmuxServer, text: str) -> None:
    out = tmux_server.config_path.parent / "pasted"
    record_raw(tmux_server, out, len(text))
    r = watcher.command(type="paste", pane="%0", text=text)
    assert r.status_code == 200, r.text
    tmux_server.wait_for_text("%0", "recorded-42")
    assert out.read_bytes() == text.encode()


def test_paste_with_a_nul_byte_is_refused_or_delivered_whole(watcher: Session, tmux_server: TmuxServer) -> None:
    text = "before\x00after"
    out = tmux_server.config_path.parent / "pasted"
    record_raw(tmux_server, out, len(text))
    r = watcher.command(type="paste", pane="%0", text=text)
    if r.status_code == 400:
        watcher.command(type="input", pane="%0", text=text)  # end the recorder
        return
    assert r.status_code == 200, r.text
    # fill whatever the paste did not deliver, byte-exact, so the recorder ends
    watcher.command(type="input", pane="%0", text="#" * len(text))
    tmux_server.wait_for_text("%0", "recorded-42")
    assert out.read_bytes()[: len(text)] == text.encode()


# -- path tricks on the public static route -------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/static/../pyproject.toml",
        "/static/../../pyproject.toml",
        "/static/%2e%2e/pyproject.toml",
        "/static/..%2fpyproject.toml",
        "/static//etc/passwd",
        "/static/../tmuxweb/config.py",
        "/static/../api/sessions",
    ],
)
def test_path_traversal_through_the_public_static_route_reveals_nothing(tmuxweb_server: RunningServer, target: str) -> None:
    request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    status, _, body = raw_http(tmuxweb_server, request.encode())
    assert status in (400, 401, 403, 404), (target, status)
    for secret_text in (b"[project]", b"root:", b"class Config", b'"sessions"'):
        assert secret_text not in body


# -- guessing ------------------------------------------------------------------------------------------------


def test_brute_force_200_wrong_tokens_never_succeed(tmuxweb_server: RunningServer) -> None:
    token = tmuxweb_server.token
    guesses = [token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :] for i in range(len(token))]
    guesses += [token[:i] for i in range(1, len(token))]
    guesses += [token + "A", token.swapcase(), token[::-1], token + "\x00", "A" * len(token)]
    guesses += [f"{i:043d}" for i in range(200 - len(guesses))]
    assert len(guesses) >= 200 and token not in guesses
    statuses = set()
    # A new connection per guess, as a distributed guesser would make (and a
    # reused one waits for delayed ACKs behind the test server's Nagle).
    with httpx.Client(base_url=tmuxweb_server.base_url, timeout=15, headers={"Connection": "close"}) as client:
        for guess in guesses:
            try:
                r = client.get("/api/sessions", headers={"Authorization": f"Bearer {guess}"})
            except httpx.LocalProtocolError:  # httpx refuses some bytes in headers itself
                continue
            statuses.add(r.status_code)
    assert statuses <= set(REFUSED_LOGIN), statuses


def test_brute_force_guessed_tickets_never_open_the_stream(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> None:
    with tmuxweb_server.client() as client:
        real = client.post("/api/ticket").json()["ticket"]
    with httpx.Client(base_url=tmuxweb_server.base_url, timeout=15, headers={"Connection": "close"}) as anonymous:
        for i in range(60):
            guess = real[:-1] + ("A" if real[-1] != "A" else "B") if i == 0 else f"{i:043d}"
            r = call(anonymous, "GET", "/events", params={"session": "main", "ticket": guess})
            assert r.status in REFUSED_LOGIN
    assert tmux_server.control_clients() == []
