"""Attacks on the server's connections, made by a stranger with no token
against the real server: idle and half-sent sockets (to lock the owner
out), and heads the checks after the protocol could misread (a second Host,
an absolute-form target naming another host, bytes llhttp cannot parse).

Every refusal must be a JSON error that carries the security headers, and
the owner must always get in.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import pytest

import helpers
from helpers import RunningServer, TmuxServer, free_socket, wait_until

SECURITY = ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy")


def connect(server: RunningServer, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.config.port), timeout=10, source_address=(source, 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST on close: no TIME_WAIT pile
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes (or resets) the connection."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def read_one(sock: socket.socket) -> bytes:
    """One response with a Content-Length, on a connection kept open."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += receive(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(parse(head + b"\r\n\r\n")[1]["content-length"])
    while len(body) < length:
        body += receive(sock)
    return head + b"\r\n\r\n" + body


def receive(sock: socket.socket) -> bytes:
    chunk = sock.recv(65536)
    if not chunk:
        raise AssertionError("the server closed the connection")
    return chunk


def parse(data: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def exchange(server: RunningServer, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with connect(server) as sock:
        sock.sendall(request)
        return parse(read_all(sock))


def assert_refusal(reply: tuple[int, dict[str, str], bytes], status: int) -> None:
    got, headers, body = reply
    assert got == status, (got, body)
    assert headers["content-type"] == "application/json"
    assert "error" in json.loads(body)
    missing = [name for name in SECURITY if name not in headers]
    assert not missing, f"{status} without {missing}"


def is_closed(sock: socket.socket) -> bool:
    """Whether the server has closed `sock` (without sending anything)."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    finally:
        sock.setblocking(True)


@contextmanager
def stranger_sockets(server: RunningServer, count: int, source: str = "127.0.0.1") -> Iterator[list[socket.socket]]:
    """`count` sockets that never complete a request: every other one sends
    half a head, the rest nothing."""
    with ExitStack() as stack:
        socks = []
        for i in range(count):
            sock = stack.enter_context(connect(server, source))
            if i % 2:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            socks.append(sock)
        yield socks


def get(server: RunningServer, path: str, source: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    with connect(server, source) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.config.port}\r\n"
            f"Authorization: Bearer {server.token}\r\nConnection: close\r\n\r\n".encode()
        )
        return parse(read_all(sock))


# -- a stranger's idle sockets ---------------------------------------------------------


def test_idle_and_half_sent_sockets_of_a_stranger_do_not_lock_the_owner_out(
    tmuxweb_server: RunningServer, tmux_server: TmuxServer
) -> None:
    """600 sockets from the owner's own address (a local user, or a VPN peer
    behind the same proxy), more than both caps: the owner's requests and
    new streams still get 200, and a stream opened before keeps flowing."""
    tmux_server.wait_for_prompt()
    with tmuxweb_server.stream() as before:
        before.named("state")
        with stranger_sockets(tmuxweb_server, 600):
            status, _, body = get(tmuxweb_server, "/api/sessions")
            assert status == 200, body
            with tmuxweb_server.stream() as after:
                assert after.status == 200
                after.named("state")
            tmux_server.run("send-keys", "-t", "main", "echo still-here-$((6*7))", "Enter")
            before.until(lambda e: e.name == "output" and "still-here-42" in e.data["data"])


def test_a_per_address_cap_keeps_one_address_from_holding_the_server(make_server: Callable[..., RunningServer]) -> None:
    """A stranger on 127.0.0.2 opens far more sockets than its address may
    hold: the server closes its own oldest ones, never the owner's idle
    keep-alive connections on 127.0.0.1, and the stranger keeps no more than
    the cap (half the overall 64 for a loopback address)."""
    server = make_server(max_connections=64, max_connections_per_address=8)
    request = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{server.config.port}\r\n\r\n".encode()
    with ExitStack() as stack:
        owners = [stack.enter_context(connect(server)) for _ in range(10)]
        for sock in owners:
            sock.sendall(request)
            assert read_one(sock).startswith(b"HTTP/1.1 200 ")
        socks = stack.enter_context(stranger_sockets(server, 100, source="127.0.0.2"))
        # The newest 32 stay; the server has closed the 68 before them.
        wait_until(lambda: sum(is_closed(s) for s in socks) == 100 - 32, what="the stranger's oldest sockets to be closed")
        assert not any(is_closed(s) for s in socks[-32:])
        for sock in owners:
            sock.sendall(request)
            assert read_one(sock).startswith(b"HTTP/1.1 200 ")


def test_when_every_connection_is_busy_the_newcomer_gets_503_with_the_security_headers(
    make_server: Callable[..., RunningServer], tmux_server: TmuxServer
) -> None:
    """Streams are never dropped to make room; a connection that finds
    nothing to drop is refused with our 503, not uvicorn's bare one."""
    tmux_server.wait_for_prompt()
    server = make_server(max_connections=4, max_connections_per_address=4)
    with ExitStack() as stack:
        streams = [stack.enter_context(server.stream()) for _ in range(4)]
        for stream in streams:
            stream.named("state")
        assert_refusal(exchange(server, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), 503)
        tmux_server.run("send-keys", "-t", "main", "echo busy-$((6*7))", "Enter")
        for stream in streams:
            stream.until(lambda e: e.name == "output" and "busy-42" in e.data["data"])


@pytest.fixture
def small_send_buffers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Servers started in the test get a small send buffer (accepted
    sockets inherit the listener's), as a slow network keeps it: on
    loopback the kernel would otherwise take a whole response at once."""

    def small_send_buffer() -> socket.socket:
        sock = free_socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        return sock

    monkeypatch.setattr(helpers, "free_socket", small_send_buffer)


def test_a_response_the_client_never_reads_is_abandoned_after_the_send_timeout(
    make_server: Callable[..., RunningServer], small_send_buffers: None
) -> None:
    """A stranger asks for a large public file through a tiny receive
    window and reads nothing: the connection stays in a request (never
    dropped by the gate) until the server gives up on it."""
    server = make_server(send_timeout=0.5)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", server.config.port))
        sock.sendall(b"GET /static/vendor/xterm/xterm.mjs HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        # The server resets the connection; the client's TCP state leaves ESTABLISHED.
        wait_until(lambda: tcp_state(sock) != TCP_ESTABLISHED, what="the server to abandon the response")


def test_a_stream_whose_client_never_reads_is_reset_not_left_open(
    make_server: Callable[..., RunningServer], tmux_server: TmuxServer, small_send_buffers: None
) -> None:
    """stream.py ends a stalled stream after send_timeout, but closing a
    connection waits for its buffer to drain, which a client that reads
    nothing never lets happen: the socket stayed open for good."""
    server = make_server(send_timeout=0.5)
    tmux_server.wait_for_prompt()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # No second watcher waits for the flood here: with a send_timeout this
    # short, a test-side reader busy with 3 MB on a loaded machine is itself
    # dropped as stalled, and never sees the end. tmux's screen tells when
    # the flood has been written.
    with sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", server.config.port))
        sock.sendall(f"GET /events?session=main HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.token}\r\n\r\n".encode())
        seen = b""
        while b"event: state" not in seen:
            seen += receive(sock)  # the stream is live; from now on nothing is read
        tmux_server.run("send-keys", "-t", "main", "head -c 3000000 /dev/zero | tr '\\0' x; echo; echo FLOOD-$((6*7))", "Enter")
        tmux_server.wait_for_text("%0", "FLOOD-42", timeout=60)
        wait_until(lambda: tcp_state(sock) != TCP_ESTABLISHED, timeout=30, what="the server to reset the stalled stream")


TCP_ESTABLISHED = 1


def tcp_state(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]


# -- heads that never end ----------------------------------------------------------------


def test_a_half_sent_head_gets_408_and_is_closed_after_the_head_timeout(make_server: Callable[..., RunningServer]) -> None:
    server = make_server(head_timeout=0.5)
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        assert_refusal(parse(read_all(sock)), 408)


def test_a_head_half_sent_on_a_kept_alive_connection_gets_408(make_server: Callable[..., RunningServer]) -> None:
    server = make_server(head_timeout=0.5)
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = read_one(sock)
        assert first.startswith(b"HTTP/1.1 200 "), first
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert_refusal(parse(read_all(sock)), 408)


def test_a_socket_that_sends_nothing_is_closed_after_the_head_timeout(make_server: Callable[..., RunningServer]) -> None:
    """Closed without a response (a browser's unused preconnect would take a
    408 for the answer to its next request)."""
    server = make_server(head_timeout=0.5)
    with connect(server) as sock:
        assert read_all(sock) == b""


# -- heads the checks could misread ------------------------------------------------------


def test_uvicorns_400_for_an_unparsable_request_is_json_with_the_security_headers(tmuxweb_server: RunningServer) -> None:
    assert_refusal(exchange(tmuxweb_server, b"GET /\x01 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), 400)


@pytest.mark.parametrize(
    "twice",
    [
        "Host: evil.test",
        "Authorization: Bearer x",
        "Origin: http://evil.test",
        "Content-Type: text/plain",
        "Content-Length: 0",
    ],
)
def test_a_repeated_header_the_checks_read_is_400(tmuxweb_server: RunningServer, twice: str) -> None:
    """The checks read the first Host (allowed here), something behind
    them could read the second: refused whichever it is."""
    port = tmuxweb_server.config.port
    request = (
        f"POST /api/ticket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {tmuxweb_server.token}\r\n"
        f"Origin: http://127.0.0.1:{port}\r\nContent-Type: application/json\r\n{twice}\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    assert_refusal(exchange(tmuxweb_server, request.encode()), 400)


def test_an_absolute_form_target_naming_another_host_is_400(tmuxweb_server: RunningServer) -> None:
    """`GET http://evil.test/...` with an allowed Host: the target's
    authority was ignored, the request served as if for 127.0.0.1."""
    status, headers, body = get(tmuxweb_server, "http://evil.test/api/sessions")
    assert_refusal((status, headers, body), 400)


def test_an_absolute_form_target_naming_the_host_is_served(tmuxweb_server: RunningServer) -> None:
    status, _, body = get(tmuxweb_server, f"http://127.0.0.1:{tmuxweb_server.config.port}/api/sessions")
    assert status == 200, body
    assert "sessions" in json.loads(body)

