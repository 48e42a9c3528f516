"""The HTTP/1.1 wire protocol uvicorn runs for us: its httptools one, bounded.

httptools (llhttp, in C) parses a request and encodes a response several
times faster than h11 in pure Python; on a keystroke that was about a third
of the server's work (benchmarks/README.md). But uvicorn bounds an
incomplete request head only for h11 (`h11_max_incomplete_event_size`),
and llhttp buffers a header of any length until it ends. So this subclass
keeps that bound: a request head larger than `MAX_HEAD` bytes, or one still
unfinished after that many bytes, gets 431 and the connection is closed,
before any of it reaches the application.

It also bounds connections in time and number, which uvicorn does not do
for a connection that never completes a request: a head must be complete
within `head_timeout` (408, or a silent close if nothing came at all), and
each connection is admitted by the ConnectionGate (admission.py), which
makes room by dropping connections that do no work, or answers 503; and a
client that takes none of a response for a while is reset, so that
not reading cannot hold a connection busy (never dropped) for ever.

It refuses (400) what the application's checks could be fooled by: a
repeated Host, Authorization, Origin, Content-Length or Content-Type (the
checks read the first one, something behind them might read the last), and
a request target in absolute form whose authority is not the Host header's
(HostCheck then checks that Host). Every response written here, uvicorn's
own 400 for an unparsable request included, carries the security headers.

It also tells the application when a request's body has arrived whole
(the `BODY_RECEIVED` extension), so that BodyLimit need not put a deadline
on reading a body that is already in memory: nearly every request here is
one read, and that deadline was a timer per keystroke.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tmuxweb.admission import ConnectionGate
from tmuxweb.errors import error_body

log = logging.getLogger("tmuxweb.http")

# Request line and headers together. Browsers send 1-3 KiB; nginx's
# default buffers for a whole head are 1 KiB + 4 x 8 KiB.
MAX_HEAD = 16 * 1024

# scope["extensions"][BODY_RECEIVED]["complete"] turns True once the whole
# body of the request is buffered, so that `receive()` cannot wait.
BODY_RECEIVED = "tmuxweb.body_received"

# Headers a request may carry once: the checks read the first of each.
SINGLE_HEADERS = frozenset({b"host", b"authorization", b"origin", b"content-length", b"content-type"})

Headers = tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True, slots=True)
class Wire:
    """What all connections of one server share (see cli.uvicorn_config)."""

    head_timeout: float = 10.0
    # A response the client has taken nothing of for this long, while our
    # buffer is full, is abandoned (a connection reset). For streams a
    # backstop: stream.py ends a stalled stream after config.send_timeout,
    # but closing waits for the buffer to drain, which it never does.
    send_timeout: float = 60.0
    gate: ConnectionGate | None = None
    # For the responses written here, which bypass the application's
    # SecurityHeaders: the same headers (middleware.SECURITY_HEADERS).
    headers: Headers = ((b"x-content-type-options", b"nosniff"),)


def refusal(status: int, message: str, headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """A complete JSON error response that closes the connection."""
    body = error_body(message)
    lines = [
        b"HTTP/1.1 %d %s" % (status, http.HTTPStatus(status).phrase.encode()),
        b"content-type: application/json",
        b"content-length: %d" % len(body),
        b"cache-control: no-store",
        b"connection: close",
        *(name + b": " + value for name, value in headers),
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def head_problem(url: bytes, headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """Why a complete request head must be refused (400), or None."""
    seen: set[bytes] = set()
    host: bytes | None = None
    for name, value in headers:
        if name in SINGLE_HEADERS:
            if name in seen:
                return f"more than one {name.decode()} header"
            seen.add(name)
            if name == b"host":
                host = value
    if url.startswith(b"/") or url == b"*":
        return None
    # Absolute form (RFC 9112 3.2.2): its authority must be the Host that
    # HostCheck checks, or the route would be chosen for another host.
    scheme, sep, rest = url.partition(b"://")
    if not sep or scheme.lower() not in (b"http", b"https"):
        return "the request target is not a path"
    authority = rest
    for end in b"/?#":
        authority = authority.split(bytes([end]), 1)[0]
    if host is None or authority.lower() != host.lower():
        return "the request target names another host than the Host header"
    return None


class BoundedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with bounds on each request head and on
    connections, strict about what the checks after it rely on.

    uvicorn methods this overrides besides the asyncio and llhttp callbacks
    (its seams; tests/unit/test_httpproto.py fails if upstream renames one):
    `send_400_response` (its answer to an unparsable request, which would
    lack our headers) and `on_response_complete` (a request ended: the
    connection is idle for the gate).
    """

    wire: ClassVar[Wire] = Wire()

    @classmethod
    def configured(cls, wire: Wire) -> type[BoundedHttpTools]:
        """This protocol for one server: uvicorn instantiates the class."""
        return type(cls.__name__, (cls,), {"wire": wire})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        # Bytes of reads that ended while a head was still incomplete.
        self._head_bytes = 0
        # loop.time() by which the head now awaited must be complete; None
        # between requests (uvicorn's keep-alive timeout closes idle ones).
        self._head_deadline: float | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_began = False
        self._write_timer: asyncio.TimerHandle | None = None
        # Set by a parser callback, written once the parser returns.
        self._refusal: tuple[int, str] | None = None
        self._refused = False
        self._body: dict[object, object] = {"complete": False}  # (ASGI types extensions so)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_deadline = self.loop.time() + self.wire.head_timeout
        self._head_timer = self.loop.call_at(self._head_deadline, self._head_overdue)
        gate = self.wire.gate
        if gate is not None and not gate.admit(self, self.client[0] if self.client else None):
            self._refuse(503, "too many connections; try again later")

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        self._cancel_write_timer()
        if self.wire.gate is not None:
            self.wire.gate.release(self)
        super().connection_lost(exc)

    def drop(self) -> None:
        """Closed by the gate to make room for a newcomer."""
        self._refused = True
        self._cancel_head_timer()
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head and self._head_bytes + len(data) > MAX_HEAD and b"\r\n\r\n" not in data:
            # Still no end of the head in sight: refuse before llhttp keeps it.
            self._refuse(431, f"request head over {MAX_HEAD // 1024} KiB")
            return
        super().data_received(data)
        if self._refusal is not None:
            self._refuse(*self._refusal)
            return
        if self._in_head:
            self._head_bytes += len(data)
        if self._head_deadline is not None and self._head_timer is None:
            # A head began on a kept-alive connection and is not complete:
            # only now a timer (a head in one read, nearly all, needs none).
            self._head_timer = self.loop.call_at(self._head_deadline, self._head_overdue)

    def send_400_response(self, msg: str) -> None:
        # uvicorn's answer when llhttp cannot parse the request (its message
        # is logged by uvicorn); ours has the security headers.
        self._refuse(400, "invalid HTTP request")

    def on_message_begin(self) -> None:
        self._head_began = True
        if self._head_deadline is None:
            self._head_deadline = self.loop.time() + self.wire.head_timeout
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        if self._refusal is not None:
            return
        self._in_head = False
        self._head_bytes = 0
        self._head_began = False
        self._head_deadline = None
        self._cancel_head_timer()
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > MAX_HEAD:
            # Checked here too: a head that arrived in one read was never
            # counted in data_received. No request cycle is started.
            self._refusal = (431, f"request head over {MAX_HEAD // 1024} KiB")
            return
        problem = head_problem(self.url, self.headers)
        if problem is not None:
            self._refusal = (400, problem)
            return
        if self.wire.gate is not None:
            self.wire.gate.busy(self)
        # Before the request's task is created: every copy of the scope
        # the middleware makes shares this one dict.
        self._body = {"complete": False}
        self.scope.setdefault("extensions", {})[BODY_RECEIVED] = self._body
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self._refusal is None:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        if self._refusal is None:
            super().on_message_complete()
            self._body["complete"] = True

    def on_response_complete(self) -> None:
        queued = bool(self.pipeline)
        super().on_response_complete()
        if self.wire.gate is not None and not queued:
            self.wire.gate.idle(self)

    def pause_writing(self) -> None:
        # The client does not read (our buffer is over its high-water mark):
        # a connection held busy that way would never be dropped by the gate.
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self.wire.send_timeout, self._write_overdue)

    def resume_writing(self) -> None:
        self._cancel_write_timer()
        super().resume_writing()

    def _write_overdue(self) -> None:
        self._write_timer = None
        client = self.client[0] if self.client else "-"
        log.info("%s closed: took nothing of a response for %.0f s", client, self.wire.send_timeout)
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            # A reset: else the kernel keeps the unread response (its memory)
            # for an orphaned socket, probing a window that stays shut.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # abort, not close: close would wait for our buffer to drain.
        self.transport.abort()

    def _cancel_write_timer(self) -> None:
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _head_overdue(self) -> None:
        self._head_timer = None
        if self._head_began:
            self._refuse(408, "the request head did not arrive in time")
        elif not self._refused:
            # Nothing sent at all: a silent close, as for an idle keep-alive
            # (a browser's unused preconnect would take a 408 for the
            # answer to the request it sends next).
            self._refused = True
            self.transport.close()

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _refuse(self, status: int, message: str) -> None:
        if self._refused:
            return
        self._refused = True
        self._cancel_head_timer()
        client = self.client[0] if self.client else "-"
        log.info("%s refused with %d: %s", client, status, message)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(refusal(status, message, self.wire.headers))
            self.transport.close()
