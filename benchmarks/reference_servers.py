"""Two stripped-down servers for the keystroke path, to show where echo
latency goes: everything tmuxweb does on a keystroke, minus everything but
the wire protocol.

    python benchmarks/reference_servers.py asyncio|uvicorn SOCKET PORT_FILE

Each attaches one `tmux -C` client to the session `main` of the tmux server
`-L SOCKET`, listens on an ephemeral loopback port (written to PORT_FILE)
and speaks just as much of tmuxweb's protocol as the raw-socket typist of
echo_and_throughput.py uses:

* `GET /events`: a chunked SSE stream, `connection-info` and an empty
  `state`, then one `output` event per `%output` line, encoded as tmuxweb
  encodes it;
* `POST /commands` with `{"type": "input", "pane", "text"}`: `send-keys -H`,
  answered `{"ok":true}` after the next echo, as tmuxweb answers typing;
* `GET /healthz`.

`asyncio` is a bare asyncio Protocol: no framework, the command written to
tmux inside `data_received`, the echo written to the stream socket inside
the pipe's callback. `uvicorn` is a bare ASGI app on uvicorn with tmuxweb's
own protocol class (httptools, head bound): uvicorn's task per request and
its send/receive, none of tmuxweb's checks, validation or stream machinery.
Neither checks anything at all (no token, Host or Origin): they are
measuring sticks, never to be run for use. compare_echo.py `--references`
runs them next to tmuxweb.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

_OCTAL = re.compile(rb"\\([0-7]{3})")
_OK = b'{"ok":true}'
ECHO_WAIT = 0.005  # as tmuxweb's Config.echo_wait: a keystroke that echoes nothing
_START = (
    b'event: connection-info\ndata: {"session_token":"-"}\n\n',
    b"event: state\ndata: {}\n\n",
)


def output_frames(lines: list[bytes]) -> list[bytes]:
    """The SSE frames of the `%output %P DATA` lines of one read: a run of
    one pane's lines joined into one event, as tmuxweb joins them (a
    keystroke's echo can come in two lines, and the typist looks for it in
    one event)."""
    runs: list[tuple[bytes, list[bytes]]] = []
    for line in lines:
        if not line.startswith(b"%output "):
            continue
        _, pane, data = line.split(b" ", 2)
        if runs and runs[-1][0] == pane:
            runs[-1][1].append(data)
        else:
            runs.append((pane, [data]))
    frames = []
    for pane, parts in runs:
        raw = _OCTAL.sub(lambda m: bytes([int(m.group(1), 8)]), b"".join(parts))
        payload = json.dumps({"pane": pane.decode(), "data": raw.decode("utf-8", "replace")}, separators=(",", ":"))
        frames.append(f"event: output\ndata: {payload}\n\n".encode())
    return frames


def send_keys(body: bytes) -> bytes:
    command = json.loads(body)
    hexed = " ".join(f"{b:02x}" for b in command["text"].encode())
    return f"send-keys -t {command['pane']} -H {hexed}\n".encode()


class ControlPipe(asyncio.SubprocessProtocol):
    """tmux's stdout, split into lines; each frame goes to `on_frame`."""

    def __init__(self, on_frame: Callable[[bytes], None]) -> None:
        self.on_frame = on_frame
        self.rest = b""

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        *lines, self.rest = (self.rest + data).split(b"\n")
        for frame in output_frames(lines):
            self.on_frame(frame)


async def attach(socket_name: str, on_frame: Callable[[bytes], None]) -> asyncio.WriteTransport:
    loop = asyncio.get_running_loop()
    process, _ = await loop.subprocess_exec(
        lambda: ControlPipe(on_frame), "tmux", "-L", socket_name, "-C", "attach", "-t", "main"
    )
    stdin = process.get_pipe_transport(0)
    assert isinstance(stdin, asyncio.WriteTransport)
    return stdin


# -- asyncio: no framework -----------------------------------------------------


def chunk(frame: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(frame), frame)


def reply(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)


class Bare:
    """The whole server: open streams, POSTs waiting for their echo."""

    def __init__(self) -> None:
        self.streams: list[asyncio.Transport] = []
        self.waiting: list[asyncio.Transport] = []
        self.tmux: asyncio.WriteTransport | None = None

    def on_frame(self, frame: bytes) -> None:
        for stream in self.streams:
            stream.write(chunk(frame))
        for post in self.waiting:
            post.write(reply(_OK))
        self.waiting.clear()

    def no_echo(self, post: asyncio.Transport) -> None:
        if post in self.waiting:
            self.waiting.remove(post)
            post.write(reply(_OK))


class BareHttp(asyncio.Protocol):
    """HTTP/1.1 keep-alive, just enough of it: Content-Length bodies only."""

    def __init__(self, server: Bare) -> None:
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) != -1:
            lines = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
            size = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + size:
                return
            body, self.buffer = self.buffer[end + 4 : end + 4 + size], self.buffer[end + 4 + size :]
            self.request(lines[0].split(" ")[1], body)

    def request(self, target: str, body: bytes) -> None:
        assert self.transport is not None and self.server.tmux is not None
        if target.startswith("/events"):
            self.transport.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
                + b"".join(chunk(frame) for frame in _START)
            )
            self.server.streams.append(self.transport)
        elif target.startswith("/commands"):
            self.server.tmux.write(send_keys(body))
            self.server.waiting.append(self.transport)
            asyncio.get_running_loop().call_later(ECHO_WAIT, self.server.no_echo, self.transport)
        else:
            self.transport.write(reply(_OK))


async def serve_bare(socket_name: str, port_file: Path) -> None:
    server = Bare()
    server.tmux = await attach(socket_name, server.on_frame)
    listener = await asyncio.get_running_loop().create_server(lambda: BareHttp(server), "127.0.0.1", 0)
    port_file.write_text(str(listener.sockets[0].getsockname()[1]))  # noqa: ASYNC240 (once, at start-up)
    await asyncio.Event().wait()


# -- uvicorn: a bare ASGI app ----------------------------------------------------


class BareApp:
    def __init__(self, socket_name: str) -> None:
        self.socket_name = socket_name
        self.queues: list[asyncio.Queue[bytes]] = []
        self.waiting: list[asyncio.Future[None]] = []
        self.tmux: asyncio.WriteTransport | None = None

    def on_frame(self, frame: bytes) -> None:
        for queue in self.queues:
            queue.put_nowait(frame)
        for fut in self.waiting:
            if not fut.done():
                fut.set_result(None)
        self.waiting.clear()

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "lifespan":
            await receive()
            self.tmux = await attach(self.socket_name, self.on_frame)
            await send({"type": "lifespan.startup.complete"})
            await receive()
            return
        if scope["path"] == "/events":
            queue: asyncio.Queue[bytes] = asyncio.Queue()
            self.queues.append(queue)
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
            for frame in _START:
                await send({"type": "http.response.body", "body": frame, "more_body": True})
            while True:
                await send({"type": "http.response.body", "body": await queue.get(), "more_body": True})
        if scope["path"] == "/commands":
            assert self.tmux is not None
            self.tmux.write(send_keys((await receive())["body"]))
            echoed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.waiting.append(echoed)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(echoed, ECHO_WAIT)
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(_OK))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": _OK})


def serve_uvicorn(socket_name: str, port_file: Path) -> None:
    import uvicorn

    from tmuxweb.httpproto import BoundedHttpTools

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            port_file.write_text(str(self.servers[0].sockets[0].getsockname()[1]))  # noqa: ASYNC240 (once, at start-up)

    config = uvicorn.Config(
        BareApp(socket_name), host="127.0.0.1", port=0, http=BoundedHttpTools,
        log_level="warning", access_log=False, lifespan="on",
    )
    asyncio.run(Server(config).serve())


def main() -> None:
    kind, socket_name, port_file = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    if kind == "asyncio":
        asyncio.run(serve_bare(socket_name, port_file))
    elif kind == "uvicorn":
        serve_uvicorn(socket_name, port_file)
    else:
        raise SystemExit(f"unknown reference server {kind!r}: asyncio or uvicorn")


if __name__ == "__main__":
    main()
