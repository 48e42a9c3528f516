"""The HTTP protocol's body-received hint, fed bytes directly (no socket),
and the command lane's quick reading of its query string."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl

from hypothesis import given
from hypothesis import strategies as st
from uvicorn.config import Config
from uvicorn.server import ServerState

from tmuxweb.commands import _query_session
from tmuxweb.httpproto import BODY_RECEIVED, BoundedHttpTools

HEAD = (
    b"POST /commands?session=main HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: 11\r\n\r\n"
)


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def feed(*reads: bytes) -> list[tuple[bool, bool]]:
    """Feed the reads to the protocol, letting the app run after each. For
    each `receive()` the app makes: (the hint just before it, as BodyLimit
    looks at it; whether more body follows the message it got)."""
    seen: list[tuple[bool, bool]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        more = True
        while more:
            hint = scope["extensions"][BODY_RECEIVED]["complete"]
            message = await receive()
            if message["type"] != "http.request":
                return  # the connection was lost
            more = message.get("more_body", False)
            seen.append((hint, more))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def main() -> None:
        config = Config(app, http=BoundedHttpTools, access_log=False)
        config.load()
        protocol = BoundedHttpTools(config=config, server_state=ServerState(), app_state={})
        protocol.connection_made(Transport())
        for data in reads:
            protocol.data_received(data)
            for _ in range(5):
                await asyncio.sleep(0)
        protocol.connection_lost(None)

    asyncio.run(main())
    return seen


def test_a_request_in_one_read_is_marked_whole_before_the_app_reads_it() -> None:
    assert feed(HEAD + b'{"a":"bcd"}') == [(True, False)]


def test_a_body_still_on_its_way_is_not_marked_whole() -> None:
    # The app reads before (the rest of) the body is in: the hint says it
    # may wait (BodyLimit then sets a deadline).
    assert feed(HEAD, b'{"a":"bcd"}') == [(False, False)]
    assert feed(HEAD + b'{"a":', b'"bcd"}') == [(False, True), (False, False)]


def test_each_pipelined_request_has_its_own_hint() -> None:
    # The second request's body never completes: its hint stays False
    # although the first one's turned True.
    assert feed(HEAD + b'{"a":"bcd"}' + HEAD + b'{"a":"b') == [(True, False), (False, True)]


def reference(query: bytes) -> str | None:
    found = None
    for key, value in parse_qsl(query.decode("latin-1")):
        if key == "session":
            found = value
    return found or None


@given(st.binary(max_size=40).map(lambda b: b"session=" + b) | st.binary(max_size=40))
def test_the_quick_query_reading_agrees_with_parse_qsl(query: bytes) -> None:
    assert _query_session({"query_string": query}) == reference(query)
