"""The HTTP/1.1 wire protocol uvicorn runs for us: its httptools one, bounded.

httptools (llhttp, in C) parses a request and encodes a response several
times faster than h11 in pure Python; on a keystroke that was about a third
of the server's work (benchmarks/README.md). But uvicorn bounds an
incomplete request head only for h11 (`h11_max_incomplete_event_size`),
and llhttp buffers a header of any length until it ends. So this subclass
keeps that bound: a request head larger than `MAX_HEAD` bytes, or one still
unfinished after that many bytes, gets 431 and the connection is closed,
before any of it reaches the application.

It also tells the application when a request's body has arrived whole
(the `BODY_RECEIVED` extension), so that BodyLimit need not put a deadline
on reading a body that is already in memory: nearly every request here is
one read, and that deadline was a timer per keystroke.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tmuxweb.errors import error_body

# Request line and headers together. Browsers send 1-3 KiB; nginx's
# default buffers for a whole head are 1 KiB + 4 x 8 KiB.
MAX_HEAD = 16 * 1024

# scope["extensions"][BODY_RECEIVED]["complete"] turns True once the whole
# body of the request is buffered, so that `receive()` cannot wait.
BODY_RECEIVED = "tmuxweb.body_received"

_BODY = error_body(f"request head over {MAX_HEAD // 1024} KiB")
_REFUSAL = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: application/json\r\n"
    b"x-content-type-options: nosniff\r\n"
    b"content-length: %d\r\n"
    b"connection: close\r\n"
    b"\r\n" % len(_BODY)
) + _BODY


class BoundedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bound on each request head."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        # Bytes of reads that ended while a head was still incomplete.
        self._head_bytes = 0
        self._too_large = False
        self._body: dict[object, object] = {"complete": False}  # (ASGI types extensions so)

    def data_received(self, data: bytes) -> None:
        if self._too_large:
            return
        if self._in_head and self._head_bytes + len(data) > MAX_HEAD and b"\r\n\r\n" not in data:
            # Still no end of the head in sight: refuse before llhttp keeps it.
            self._refuse()
            return
        super().data_received(data)
        if self._too_large:
            self._refuse()
        elif self._in_head:
            self._head_bytes += len(data)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > MAX_HEAD:
            # Checked here too: a head that arrived in one read was never
            # counted in data_received. No request cycle is started.
            self._too_large = True
            return
        # Before the request's task is created: every copy of the scope
        # the middleware makes shares this one dict.
        self._body = {"complete": False}
        self.scope.setdefault("extensions", {})[BODY_RECEIVED] = self._body
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._too_large:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        if not self._too_large:
            super().on_message_complete()
            self._body["complete"] = True

    def _refuse(self) -> None:
        self._too_large = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_REFUSAL)
            self.transport.close()
