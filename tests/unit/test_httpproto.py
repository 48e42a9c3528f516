"""The HTTP protocol's body-received hint, fed bytes directly (no socket),
the checks of a request head, the uvicorn seams it relies on, and the
command lane's quick reading of its query string."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st
from uvicorn.config import Config
from uvicorn.server import ServerState

from tmuxweb.commands import _query_session
from tmuxweb.httpproto import BODY_RECEIVED, BoundedHttpTools, head_problem, refusal

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


# -- the seams: uvicorn methods the protocol overrides ---------------------------------


def test_the_uvicorn_methods_overridden_are_still_called_where_we_expect() -> None:
    """BoundedHttpTools overrides two uvicorn methods that are not part of
    any interface (see its docstring). If upstream renames or stops
    calling one, our override would silently never run: uvicorn's bare 400
    would go out again, or the gate would never see a connection idle."""
    import inspect

    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    assert "self.send_400_response(" in inspect.getsource(HttpToolsProtocol.data_received)
    assert "on_response=self.on_response_complete" in inspect.getsource(HttpToolsProtocol.on_headers_complete)
    for name in ("send_400_response", "on_response_complete"):
        ours = inspect.signature(getattr(BoundedHttpTools, name))
        theirs = inspect.signature(getattr(HttpToolsProtocol, name))
        assert ours.parameters.keys() == theirs.parameters.keys(), name


def test_the_uvicorn_attributes_read_are_still_there_when_we_read_them() -> None:
    """The protocol reads attributes uvicorn sets, no interface either:
    `client` when admitting a connection, `url` and `headers` when a head
    is complete, `scope` for the body hint, `pipeline` when a response
    ends. A rename would be an AttributeError in the middle of a request."""

    async def main() -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            pass

        config = Config(app, http=BoundedHttpTools, access_log=False)
        config.load()
        protocol = BoundedHttpTools(config=config, server_state=ServerState(), app_state={})
        protocol.connection_made(Transport())
        assert protocol.client == ("127.0.0.1", 50000)
        protocol.data_received(HEAD)
        assert protocol.url == b"/commands?session=main"
        assert (b"content-length", b"11") in protocol.headers
        assert protocol.scope["extensions"][BODY_RECEIVED] is not None
        assert len(protocol.pipeline) == 0
        protocol.connection_lost(None)

    asyncio.run(main())


@pytest.mark.parametrize(
    ("url", "headers", "problem"),
    [
        (b"/a", [(b"host", b"x"), (b"accept", b"1"), (b"accept", b"2")], None),
        (b"/a", [(b"host", b"x"), (b"host", b"x")], "more than one host header"),
        (b"/a", [(b"content-type", b"a"), (b"content-type", b"a")], "more than one content-type header"),
        (b"*", [(b"host", b"x")], None),
        (b"http://x:1/a?b", [(b"host", b"X:1")], None),
        (b"https://x:1", [(b"host", b"x:1")], None),
        (b"http://x:2/a", [(b"host", b"x:1")], "the request target names another host than the Host header"),
        (b"http://u@x:1/a", [(b"host", b"x:1")], "the request target names another host than the Host header"),
        (b"http://x:1/a", [], "the request target names another host than the Host header"),
        (b"ftp://x:1/a", [(b"host", b"x:1")], "the request target is not a path"),
        (b"x:443", [(b"host", b"x:443")], "the request target is not a path"),
    ],
)
def test_head_problems(url: bytes, headers: list[tuple[bytes, bytes]], problem: str | None) -> None:
    assert head_problem(url, headers) == problem


def test_a_refusal_is_a_whole_json_response_with_the_given_headers() -> None:
    data = refusal(408, "late", [(b"x-frame-options", b"DENY")])
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"\r\nx-frame-options: DENY" in head and b"\r\nconnection: close" in head
    assert body == b'{"error": "late"}' and f"content-length: {len(body)}".encode() in head
