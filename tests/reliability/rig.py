"""The rig of the reliability tests: tmuxweb as a real subprocess (so its
memory, descriptors and children can be counted from /proc), a paced SSE
reader, and what a client would show (one pyte screen per pane).

Everything waits on conditions with deadlines; nothing sleeps to
synchronise.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyte

from helpers import Event, EventStream, TmuxServer, tmux_env, wait_until

REPO = Path(__file__).resolve().parents[2]
LINK = re.compile(r"(http://[^/\s]+)/#token=([A-Za-z0-9_-]+)")


# -- /proc -------------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    """Resident memory (VmRSS) of a process, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def fds(pid: int) -> dict[str, str]:
    """Open descriptors of a process: number → what it points at."""
    found = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            found[name] = os.readlink(f"/proc/{pid}/fd/{name}")
        except FileNotFoundError:  # closed while we looked
            pass
    return found


def tcp_states(port: int) -> dict[str, str]:
    """Socket inode → TCP state (hex, '0A' = LISTEN) of every socket bound
    to a local port, from /proc/net/tcp and tcp6."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if int(cols[1].rsplit(":", 1)[1], 16) == port:
                        found[cols[9]] = cols[3]
        except FileNotFoundError:
            pass
    return found


def children(pid: int) -> list[int]:
    """Direct children of a process, zombies included (every thread's list)."""
    found: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(x) for x in f.read().split()]
        except FileNotFoundError:
            pass
    return sorted(found)


def proc_state(pid: int) -> str:
    """The one-letter state of a process (Z for a zombie), '' if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return ""
    return stat[stat.rindex(b")") + 2 :].split()[0].decode()


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [part.decode(errors="replace") for part in f.read().split(b"\0") if part]
    except FileNotFoundError:
        return []


def alive(pid: int) -> bool:
    return proc_state(pid) not in ("", "Z", "X")


# -- tmuxweb as a subprocess -----------------------------------------------------------------


@dataclass
class Tmuxweb:
    """`python -m tmuxweb -L SOCK --port 0 --token-file F` in its own process.

    Its stdout and stderr go to files (no pipe to drain), HOME and
    XDG_RUNTIME_DIR are in the test's tmp dir. The token file is fixed, so a
    restarted tmuxweb takes the same token.
    """

    tmux: TmuxServer
    workdir: Path
    extra_args: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    base_url: str = ""
    token: str = ""
    runs: int = 0

    def start(self) -> Tmuxweb:
        assert self.proc is None, "already running"
        self.runs += 1
        home, runtime = self.workdir / "home", self.workdir / "runtime"
        home.mkdir(exist_ok=True)
        runtime.mkdir(mode=0o700, exist_ok=True)
        env = tmux_env()
        env.update(HOME=str(home), XDG_RUNTIME_DIR=str(runtime))
        env.pop("XDG_STATE_HOME", None)
        env.pop("XDG_CONFIG_HOME", None)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        out = self.workdir / f"tmuxweb-{self.runs}.out"
        err = self.workdir / f"tmuxweb-{self.runs}.err"
        argv = [
            sys.executable, "-m", "tmuxweb", "-L", self.tmux.socket_name, "--port", "0",
            "--token-file", str(self.workdir / "token"), "--log-level", "warning",
            # As in tests/helpers.py: these tests count control clients and
            # descriptors, which pane states (a control client on every
            # session) would change; tests/integration/test_pane_states.py
            # runs the tracker.
            "--no-states", *self.extra_args,
        ]
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            self.proc = subprocess.Popen(argv, stdout=stdout, stderr=stderr, env=env, cwd=self.workdir)

        def link() -> re.Match[str] | None:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"tmuxweb exited {self.proc.returncode}: {err.read_text()}")
            return LINK.search(out.read_text())

        found = wait_until(link, timeout=30, what="tmuxweb's link")
        self.base_url, self.token = found.group(1), found.group(2)
        wait_until(self._healthy, timeout=30, what="tmuxweb to answer /healthz")
        return self

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.base_url + "/healthz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def stderr(self) -> str:
        return (self.workdir / f"tmuxweb-{self.runs}.err").read_text(errors="replace")

    def client(self, **kwargs: Any) -> httpx.Client:
        headers = {**self.auth, **kwargs.pop("headers", {})}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=15, **kwargs)

    def stream(self, session: str | None = "main", headers: dict[str, str] | None = None, **params: str) -> EventStream:
        query = {**({"session": session} if session is not None else {}), **params}
        return EventStream(self.base_url + "/events", {**self.auth, **(headers or {})}, query).open()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"tmuxweb did not stop within {timeout}s of signal {sig}") from None
        self.proc = None
        return code

    # -- what it holds -------------------------------------------------------------

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def fds(self) -> dict[str, str]:
        return fds(self.pid)

    def children(self) -> list[int]:
        return children(self.pid)

    def control_clients(self) -> list[int]:
        """Our `tmux -C` children (zombies included: a leak is a leak)."""
        return [pid for pid in self.children() if "-C" in cmdline(pid) or proc_state(pid) == "Z"]

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def footprint(self) -> tuple[int, int, int]:
        """(descriptors other than HTTP connections, child processes, HTTP
        connections). A closed client's connection goes away a moment after
        it hangs up; a connection left in CLOSE_WAIT is a leak."""
        states = tcp_states(self.port)
        targets = self.fds().values()
        connections = sum(1 for t in targets if t.startswith("socket:[") and states.get(t[8:-1], "0A") != "0A")
        return len(targets) - connections, len(self.children()), connections


# -- a paced SSE reader ------------------------------------------------------------------------


@dataclass
class Reader:
    """One `GET /events` read from raw chunks by a thread, at a chosen pace.

    `pause` sleeps after every chunk (a slow reader); `stalled` makes the
    thread stop reading after the first `state` until `resume()` (a reader
    that stops reading, its socket left open). Each event goes to `on_event`
    (in the reader thread) and is counted by name.
    """

    url: str
    headers: dict[str, str]
    params: dict[str, str]
    on_event: Callable[[Event, float], None] = lambda e, t: None
    pause: float = 0.0
    stall: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    received: int = 0
    error: BaseException | None = None
    ended: threading.Event = field(default_factory=threading.Event)
    _go: threading.Event = field(default_factory=threading.Event)
    _ready: threading.Event = field(default_factory=threading.Event)
    _stalled: threading.Event = field(default_factory=threading.Event)
    _socket: socket.socket | None = None
    _closing: bool = False
    _thread: threading.Thread | None = None

    def open(self) -> Reader:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(20):
            raise AssertionError("the stream did not answer")
        return self

    def _run(self) -> None:
        try:
            with httpx.Client(timeout=httpx.Timeout(15, read=None)) as client:
                with client.stream("GET", self.url, headers=self.headers, params=self.params) as r:
                    self._socket = r.extensions["network_stream"].get_extra_info("socket")
                    self._ready.set()
                    if r.status_code != 200:
                        raise AssertionError(f"GET /events: {r.status_code}")
                    self._read(r.iter_raw())
        except BaseException as err:  # noqa: BLE001 - handed to the test
            if not self._closing:
                self.error = err
        finally:
            self._ready.set()
            self._stalled.set()
            self.ended.set()

    def _read(self, chunks: Iterator[bytes]) -> None:
        pending = b""
        for chunk in chunks:
            now = time.monotonic()
            self.received += len(chunk)
            pending += chunk
            if b"\n\n" not in pending:
                continue
            frames = pending.split(b"\n\n")
            pending = frames.pop()
            for frame in frames:
                event = _frame(frame)
                if event is None:
                    continue
                self.counts[event.name] = self.counts.get(event.name, 0) + 1
                self.on_event(event, now)
                if event.name == "state" and self.stall and not self._go.is_set():
                    self._stalled.set()
                    self._go.wait()
            if self.pause:
                time.sleep(self.pause)  # the pace of a slow reader, not synchronisation

    def wait_stalled(self, timeout: float = 20) -> None:
        if not self._stalled.wait(timeout):
            raise AssertionError("the reader never reached its stall")

    def resume(self) -> None:
        self._go.set()

    def close(self) -> None:
        self._closing = True
        self._go.set()
        if self._socket is not None:
            try:
                self._socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _frame(frame: bytes) -> Event | None:
    name, data, event_id = "", b"", None
    for line in frame.split(b"\n"):
        line = line.rstrip(b"\r")
        if line.startswith(b"event: "):
            name = line[7:].decode()
        elif line.startswith(b"data: "):
            data = line[6:]
        elif line.startswith(b"id: "):
            event_id = line[4:].decode()
    if not name:
        return None  # a ping comment
    return Event(name, json.loads(data), event_id)


def reader(app: Tmuxweb, session: str = "main", **kwargs: Any) -> Reader:
    return Reader(app.base_url + "/events", app.auth, {"session": session}, **kwargs).open()


# -- what a client shows -----------------------------------------------------------------------


class PaneView:
    """One pane as a terminal shows it: the screen and every line that
    scrolled off since its content was last (re)loaded."""

    def __init__(self, pane: dict[str, Any]) -> None:
        self.screen = pyte.HistoryScreen(pane["width"], pane["height"], history=100_000)
        self.stream = pyte.Stream(self.screen)
        self.stream.feed(pane["content"])

    def feed(self, data: str) -> None:
        self.stream.feed(data)

    def display(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]

    def lines(self) -> list[str]:
        """History then screen, as text."""
        columns = self.screen.columns
        history = ["".join(line[x].data for x in range(columns)).rstrip() for line in self.screen.history.top]
        return history + self.display()


class View:
    """Everything a client keeps from its event streams: a `state` replaces
    all, `output` is written to its pane, `pane-reset`/`pane-added` replace
    one pane, `pane-closed` forgets one. A resumed stream carries on with
    the same view."""

    def __init__(self, only: frozenset[str] | None = None) -> None:
        self.only = only  # the panes to render (pyte is slow); None: all
        self.panes: dict[str, PaneView] = {}
        self.states = 0
        self.resets = 0  # pane-reset: tmux paused a pane and dropped output
        self.last_id: str | None = None
        self.exited: str | None = None

    def apply(self, event: Event) -> None:
        if event.id:
            self.last_id = event.id
        data = event.data
        if event.name == "state":
            self.states += 1
            self.panes = {p["id"]: PaneView(p) for p in data["panes"] if self._wanted(p["id"])}
        elif event.name == "output":
            view = self.panes.get(data["pane"])
            if view is not None:
                view.feed(data["data"])
        elif event.name in ("pane-reset", "pane-added") and self._wanted(data["pane"]["id"]):
            self.resets += event.name == "pane-reset"
            self.panes[data["pane"]["id"]] = PaneView(data["pane"])
        elif event.name == "pane-closed":
            self.panes.pop(data["pane"], None)
        elif event.name == "exit":
            self.exited = data["reason"]

    def _wanted(self, pane: str) -> bool:
        return self.only is None or pane in self.only


def capture(tmux: TmuxServer, pane: str) -> list[str]:
    """`tmux capture-pane -p` of the visible screen, as a View shows it."""
    info = tmux.run("display", "-p", "-t", pane, "#{pane_height}").strip()
    lines = [line.rstrip() for line in tmux.capture(pane).split("\n")][: int(info)]
    return lines + [""] * (int(info) - len(lines))


def numbers(lines: list[str], pattern: re.Pattern[str]) -> list[int]:
    return [int(m.group(1)) for line in lines if (m := pattern.fullmatch(line))]


def consecutive(values: list[int]) -> bool:
    return bool(values) and values == list(range(values[0], values[0] + len(values)))


def until_event(stream: EventStream, predicate: Callable[[Event], bool], view: View, timeout: float = 30) -> Event:
    """Read events into `view` until one matches."""
    deadline = time.monotonic() + timeout
    while True:
        event = stream.next(max(0.01, deadline - time.monotonic()))
        view.apply(event)
        if predicate(event):
            return event
