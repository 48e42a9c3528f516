"""Test helpers: a private tmux server, the real app on uvicorn in a thread,
and a streaming SSE client. Everything waits on conditions with deadlines."""

from __future__ import annotations

import json
import os
import queue
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tmuxweb.cli import uvicorn_config
from tmuxweb.auth import new_secret
from tmuxweb.config import Config, Secret
from tmuxweb.messages import EVENTS, MUX_EVENTS, check_event

TMUX = shutil.which("tmux") or "tmux"

TMUX_CONF = """\
set -g default-command "env PS1='$ ' HISTFILE=/dev/null bash --norc --noprofile"
set -g history-limit 5000
set -g status off
set -g escape-time 0
"""


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01, what: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy, or fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def tmux_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    env.setdefault("TERM", "xterm-256color")
    env["LANG"] = env.get("LANG") or "C.UTF-8"
    return env


@dataclass
class TmuxServer:
    """A private tmux server on its own socket (`-L`)."""

    socket_name: str
    config_path: Path

    def run(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            [TMUX, "-u", "-L", self.socket_name, "-f", str(self.config_path), *args],
            capture_output=True,
            text=True,
            env=tmux_env(),
            timeout=20,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def start(self, session: str = "main", width: int = 120, height: int = 40) -> None:
        self.run("new-session", "-d", "-s", session, "-x", str(width), "-y", str(height))

    def kill(self) -> None:
        self.run("kill-server", check=False)
        # tmux leaves its socket file behind: hundreds a suite run otherwise.
        self.socket_path.unlink(missing_ok=True)

    @property
    def socket_path(self) -> Path:
        return Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}" / self.socket_name

    def pane_ids(self, target: str = "main") -> list[str]:
        return self.run("list-panes", "-s", "-t", target, "-F", "#{pane_id}").split()

    def capture(self, pane: str) -> str:
        return self.run("capture-pane", "-p", "-t", pane)

    def wait_for_text(self, pane: str, text: str, timeout: float = 10.0) -> str:
        return wait_until(lambda: text in (c := self.capture(pane)) and c, timeout, what=f"{text!r} in {pane}")

    def wait_for_prompt(self, pane: str = "%0") -> None:
        wait_until(lambda: self.capture(pane).rstrip().endswith("$"), what=f"prompt in {pane}")

    def control_clients(self) -> list[str]:
        out = self.run("list-clients", "-F", "#{client_pid} #{client_control_mode}", check=False)
        return [line.split()[0] for line in out.splitlines() if line.endswith(" 1")]


def new_tmux_server(tmp: Path) -> TmuxServer:
    conf = tmp / "tmux.conf"
    conf.write_text(TMUX_CONF)
    return TmuxServer(f"tw-test-{uuid.uuid4().hex[:12]}", conf)


def free_socket() -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets whose
    # proto says TCP, and without it small replies wait on delayed ACKs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@dataclass
class RunningServer:
    """The real app on uvicorn, on an ephemeral loopback port, in a thread."""

    config: Config
    base_url: str = ""
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def token(self) -> str:
        return self.config.token.reveal()

    @property
    def link(self) -> str:
        return f"{self.base_url}/#token={self.token}"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def start(self) -> RunningServer:
        sock = free_socket()
        port = sock.getsockname()[1]
        self.config = replace(self.config, port=port)
        self.base_url = f"http://127.0.0.1:{port}"
        # The command's own uvicorn settings, so tests see what users get.
        options = uvicorn_config(self.config)
        options.timeout_graceful_shutdown = 1
        self._server = uvicorn.Server(options)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        wait_until(lambda: self._server is not None and self._server.started, what="uvicorn start")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)

    def client(self, **kwargs: Any) -> httpx.Client:
        headers = {**self.auth, **kwargs.pop("headers", {})}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=15, **kwargs)

    def stream(self, session: str | None = "main", headers: dict[str, str] | None = None, **params: str) -> EventStream:
        query = {**({"session": session} if session is not None else {}), **params}
        return EventStream(self.base_url + "/events", {**self.auth, **(headers or {})}, query).open()

    def mux(self, headers: dict[str, str] | None = None) -> EventStream:
        """The shared stream of a browser's tabs (GET /mux)."""
        return EventStream(self.base_url + "/mux", {**self.auth, **(headers or {})}, {}).open()


def server_config(tmux: TmuxServer, **overrides: Any) -> Config:
    base = Config(
        token=Secret(new_secret()),
        socket_name=tmux.socket_name,
        linger=0.2,
        claim_grace=0.1,
        tokens_file=tmux.config_path.parent / "tokens.json",
        # Off unless a test asks (states=True): with pane states on, every
        # session keeps a control client whether or not anybody watches, and
        # the tests of streams and hubs count control clients.
        states=False,
    )
    return replace(base, **overrides)


@dataclass
class Event:
    name: str
    data: Any
    id: str | None
    # On the shared stream (GET /mux): the watcher the event belongs to.
    sub: str | None = None


@dataclass
class EventStream:
    """A real streamed SSE connection, read by a thread into a queue."""

    url: str
    headers: dict[str, str]
    params: dict[str, str]
    events: queue.Queue[Event | BaseException | None] = field(default_factory=queue.Queue)
    seen: list[Event] = field(default_factory=list)
    status: int = 0
    response_headers: httpx.Headers | None = None
    _client: httpx.Client | None = None
    _socket: socket.socket | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _closed: bool = False

    def open(self) -> EventStream:
        threading.Thread(target=self._run, daemon=True).start()
        if not self._ready.wait(15):
            raise AssertionError("stream did not answer")
        return self

    def _run(self) -> None:
        try:
            with httpx.Client(timeout=httpx.Timeout(15, read=None)) as client:
                self._client = client
                with client.stream("GET", self.url, headers=self.headers, params=self.params) as r:
                    self._socket = r.extensions["network_stream"].get_extra_info("socket")
                    self.status = r.status_code
                    self.response_headers = r.headers
                    self._ready.set()
                    if r.status_code != 200:
                        r.read()
                        self.body = r.text
                        return
                    for event in parse_sse(r.iter_lines()):
                        self.events.put(event)
        except BaseException as err:  # noqa: BLE001 - handed to the test
            if not self._closed:
                self.events.put(err)
        finally:
            self._ready.set()
            self.events.put(None)

    def close(self) -> None:
        """Hang up now: shut the socket down under the blocked reader thread
        (closing the client from another thread does not wake it)."""
        self._closed = True
        if self._socket is not None:
            try:
                self._socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._client is not None:
            self._client.close()

    def next(self, timeout: float = 10.0) -> Event:
        try:
            item = self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout}s") from None
        if item is None:
            self.events.put(None)
            raise EOFError("stream ended")
        if isinstance(item, BaseException):
            raise item
        self.seen.append(item)
        return item

    def until(self, predicate: Callable[[Event], bool], timeout: float = 10.0) -> Event:
        deadline = time.monotonic() + timeout
        while True:
            event = self.next(max(0.01, deadline - time.monotonic()))
            if predicate(event):
                return event

    def seen_or_next(self, predicate: Callable[[Event], bool], timeout: float = 10.0) -> Event:
        """An event already read that matches, else the next one that does."""
        for event in self.seen:
            if predicate(event):
                return event
        return self.until(predicate, timeout)

    def named(self, name: str, timeout: float = 10.0) -> Event:
        return self.until(lambda e: e.name == name, timeout)

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_sse(lines: Iterator[str]) -> Iterator[Event]:
    name, data, event_id = "message", [], None
    for line in lines:
        if line == "":
            if data:
                # A shared stream's watcher frames carry the watcher first.
                sub = data.pop(0) if len(data) == 2 else None
                text = "\n".join(data)
                if name in EVENTS or name in MUX_EVENTS:
                    # Every event a test sees matches its declared type,
                    # unknown fields refused (msgspec.ValidationError).
                    check_event(name, text.encode())
                yield Event(name, json.loads(text), event_id, sub)
            name, data, event_id = "message", [], None
        elif line.startswith(":"):
            continue
        else:
            key, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)
            elif key == "id":
                event_id = value


class Session:
    """A watcher's view: the stream plus commands with its session token."""

    def __init__(self, server: RunningServer, stream: EventStream, session: str = "main") -> None:
        self.server = server
        self.stream = stream
        self.session = session
        self.info = stream.named("connection-info").data
        self.state = stream.named("state").data
        self.client = server.client(headers={"X-Session-Token": self.info["session_token"]})

    def command(self, **body: Any) -> httpx.Response:
        return self.client.post("/commands", params={"session": self.session}, json=body)

    def close(self) -> None:
        self.client.close()
        self.stream.close()


# The smallest valid body of each command type, by type (pane %0, window @0).
MINIMAL_COMMANDS: dict[str, dict[str, object]] = {
    "input": {"text": "x"},
    "keys": {"keys": ["Enter"]},
    "paste": {"text": "x"},
    "resize": {"cols": 80, "rows": 24},
    "release-size": {},
    "select-pane": {"pane": "%0"},
    "select-window": {"window": "@0"},
    "split": {"pane": "%0", "direction": "vertical"},
    "kill-pane": {"pane": "%0"},
    "new-window": {},
    "kill-window": {"window": "@0"},
    "rename-window": {"window": "@0", "name": "x"},
    "zoom": {"pane": "%0"},
    "resize-pane": {"pane": "%0", "direction": "left"},
    "next-window": {},
    "previous-window": {},
    "last-window": {},
    "last-pane": {"window": "@0"},
    "copy-mode": {"pane": "%0"},
    "send-prefix": {"pane": "%0"},
    "paste-buffer": {"pane": "%0"},
    "copy-prompt": {"pane": "%0", "command": "search-forward", "text": "x"},
    "rotate-window": {"window": "@0"},
    "swap-pane": {"pane": "%0", "direction": "up"},
    "select-layout": {"window": "@0", "layout": "tiled"},
    "binding": {"key": "c"},
    "answer": {"pane": "%0", "choice": 0, "screen": "00"},
    "seen": {"pane": "%0"},
}
