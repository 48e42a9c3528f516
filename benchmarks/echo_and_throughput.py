#!/usr/bin/env python3
"""Keystroke echo latency and output throughput: tmuxweb versus raw `tmux -C`.

Everything is measured in one run against one private tmux server, so the
ratios between tmuxweb and the raw control-mode floor are meaningful even on
a noisy shared machine. Prints numbers only; there are no pass/fail limits.

    python benchmarks/echo_and_throughput.py [--samples N] [--flood-mb M]

1-2. Echo: type a unique 3-letter marker into a pane running `cat`
   (canonical tty, so the echo comes from the line discipline) and time
   until output containing it arrives.
   * tmuxweb: `POST /commands` on a keep-alive connection → `output`
     event on the `GET /events` stream, with two clients:
     - the raw-socket client (the figure compared with the floor): plain
       sockets, each request built before the clock starts, the stream
       and the POST replies read by one thread with select(), as a
       browser's native fetch/EventSource would;
     - the httpx client: httpx for the POSTs (the request is built on
       the clock) and a reader thread for the stream (it must win the GIL
       back before it can stamp the echo), kept as a second series.
   * floor: `send-keys -H` written to our own `tmux -C` client → `%output`.
   Samples rotate between the three in blocks, so drift in machine load
   hits all alike. Each has its own session, so no client makes tmux
   encode another's output. Two series: back to back (warm) and at a
   typing cadence (cold).
3. Throughput: a pane `cat`s a pre-generated file (base64 text, then
   newline-heavy `seq` output) followed by a unique end marker, watched by
   one tmuxweb SSE watcher or one raw `tmux -C` client, in alternating
   rounds. Payload MB/s, CPU seconds per MB of the tmuxweb process, the tmux
   server and this reader, and how often tmux and tmuxweb shared a CPU.

MB means 10**6 bytes. Only stdlib and httpx.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import datetime
import json
import os
import platform
import re
import secrets
import select
import shutil
import signal
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
MB = 1_000_000
# Letters only: tmux writes control bytes as "\ooo", and a marker made of
# digits could be matched inside such an escape.
MARKER_ALPHABET = string.ascii_letters
CLK_TCK = os.sysconf("SC_CLK_TCK")
PANE_SIZE = ("-x", "200", "-y", "50")

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    """preexec_fn: a `tmux -C` child outliving us would freeze its panes
    (TMUX-NOTES), so have the kernel kill it when we die."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def clean_env() -> dict[str, str]:
    """Our environment without TMUX*, so no child ever talks to a tmux
    server we may be running inside; `-L` is always given anyway."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TMUX")}


# -- statistics and /proc ---------------------------------------------------------


@dataclass(frozen=True)
class Percentiles:
    p50: float
    p90: float
    p99: float
    max: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Percentiles:
        cuts = statistics.quantiles(values, n=100, method="inclusive")
        return cls(cuts[49], cuts[89], cuts[98], max(values), len(values))

    def row(self, scale: float = 1000.0) -> str:
        return (
            f"p50 {self.p50 * scale:7.3f}  p90 {self.p90 * scale:7.3f}  "
            f"p99 {self.p99 * scale:7.3f}  max {self.max * scale:8.3f}  (n={self.n})"
        )


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    # Field 2 (comm) may contain spaces; everything after its ')' is fixed.
    fields = stat[stat.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def last_cpu(pid: int) -> int:
    """The CPU a process last ran on (field 39 of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    return int(stat[stat.rindex(b")") + 2 :].split()[36])


class CoreSampler:
    """How often two processes last ran on the same CPU, sampled every 5 ms.

    On 2 cores the tmux server and tmuxweb, which wake each other through a
    pipe, are often placed on one CPU; then their work is serialised and
    throughput drops to 1 / (sum of their CPU seconds per MB). This makes
    that visible instead of leaving it as unexplained noise."""

    def __init__(self, a: int, b: int) -> None:
        self._pids = (a, b)
        self._same = self._total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="core-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            try:
                a, b = (last_cpu(pid) for pid in self._pids)
            except OSError:
                return
            self._total += 1
            self._same += a == b

    def stop(self) -> float | None:
        self._stop.set()
        self._thread.join()
        return self._same / self._total if self._total else None


def machine_info() -> list[tuple[str, str]]:
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    tmux_version = subprocess.run(["tmux", "-V"], capture_output=True, text=True).stdout.strip()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        ("date", datetime.datetime.now().astimezone().isoformat(timespec="seconds")),
        ("nproc", f"{os.cpu_count()} (usable by us: {len(os.sched_getaffinity(0))})"),
        ("cpu", model),
        ("kernel", platform.release()),
        ("python", platform.python_version()),
        ("tmux", tmux_version),
        ("httpx", httpx.__version__),
        ("loadavg at start", load),
    ]


# -- the private tmux server ----------------------------------------------------------


class TmuxServer:
    """A private tmux server (`-L tw-bench-<random> -f /dev/null`)."""

    def __init__(self) -> None:
        self.socket = f"tw-bench-{secrets.token_hex(4)}"
        self.pid: int | None = None
        self.socket_path: Path | None = None

    def cmd(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            timeout=10,
            env=clean_env(),
        )
        if done.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def new_session(self, name: str, command: str) -> str:
        """Create a detached session running `command`; returns its pane id.

        All sessions are created before any control client attaches:
        mutating tmux subprocesses next to an attached control client can
        crash 3.3a (TMUX-NOTES)."""
        pane = self.cmd("new-session", "-d", "-s", name, *PANE_SIZE, "-P", "-F", "#{pane_id}", command)
        if self.pid is None:
            pid, path = self.cmd("display-message", "-p", "#{pid} #{socket_path}").strip().split(" ", 1)
            self.pid, self.socket_path = int(pid), Path(path)
        return pane.strip()

    def kill(self) -> None:
        try:
            subprocess.run(
                ["tmux", "-L", self.socket, "kill-server"],
                capture_output=True,
                timeout=10,
                env=clean_env(),
            )
        except subprocess.TimeoutExpired:
            pass
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)  # tmux leaves it behind


# -- the raw control-mode client (the floor) -------------------------------------------


class RawControlClient:
    """`tmux -u -L SOCK -C attach -t SESSION` over pipes, read synchronously."""

    def __init__(self, tmux: TmuxServer, session: str) -> None:
        self.proc = subprocess.Popen(
            ["tmux", "-u", "-L", tmux.socket, "-C", "attach", "-t", session],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=clean_env(),
            preexec_fn=_die_with_parent,
            bufsize=0,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        self._partial = b""
        self._wait_attached()

    def _wait_attached(self) -> None:
        # The startup race: a command written before the attach's own reply
        # block (flags 0) has ended and %session-changed arrived can run
        # without a client (TMUX-NOTES). So wait for both.
        guard: bytes | None = None
        attached = changed = False
        deadline = time.monotonic() + 10
        while not (attached and changed):
            for line in self.read_lines(deadline - time.monotonic())[1]:
                if line.startswith(b"%begin ") and line.endswith(b" 0"):
                    guard = line[7:]
                elif guard is not None and line in (b"%end " + guard, b"%error " + guard):
                    attached = True
                elif line.startswith(b"%session-changed "):
                    changed = True

    def send(self, command: str) -> None:
        os.write(self._in, command.encode() + b"\n")

    def read_lines(self, timeout: float) -> tuple[float, list[bytes]]:
        """Complete lines from one read, stamped right after the read."""
        ready, _, _ = select.select([self._out], [], [], max(timeout, 0.0))
        if not ready:
            raise TimeoutError("tmux -C sent nothing in time")
        data = os.read(self._out, 1 << 20)
        now = time.perf_counter()
        if not data:
            raise EOFError("tmux -C ended")
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        return now, lines

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()  # clean detach: %exit, the session lives
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def hex_keys(text: str) -> str:
    return " ".join(f"{b:02x}" for b in text.encode())


def raw_echo(client: RawControlClient, pane: str, marker: str) -> float:
    """One floor sample: seconds from writing send-keys to the marker's %output."""
    prefix = f"%output {pane} ".encode()
    wanted = marker.encode()
    tail = b""
    t0 = time.perf_counter()
    client.send(f"send-keys -t {pane} -H {hex_keys(marker)}")
    while True:
        now, lines = client.read_lines(t0 + 5 - time.perf_counter())
        for line in lines:
            if line.startswith(prefix):
                # Keep a tail: tmux may cut the echo over two %output lines.
                seen = tail + line[len(prefix) :]
                if wanted in seen:
                    return now - t0
                tail = seen[-len(wanted) :]


# -- tmuxweb ------------------------------------------------------------------------


class TmuxWeb:
    """`python -m tmuxweb -L SOCK --port 0` as a subprocess."""

    def __init__(self, tmux: TmuxServer, workdir: Path, log_level: str, extra_args: tuple[str, ...] = (),
                 repo: Path = REPO) -> None:
        """`repo`: the checkout whose tmuxweb/ runs (compare_echo.py runs others)."""
        log_path = workdir / "tmuxweb.log"
        env = clean_env()
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo), env.get("PYTHONPATH")]))
        self._log = open(log_path, "wb")  # a pipe nobody drains would block its logging
        self.proc = subprocess.Popen(
            # A token file of our own: the one tmuxweb generates otherwise is
            # left behind when it is stopped with SIGTERM.
            [sys.executable, "-m", "tmuxweb", "-L", tmux.socket, "--port", "0",
             "--session", "main", "--log-level", log_level, "--token-file", str(workdir / "token"), *extra_args],
            cwd=repo,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        line = self.proc.stdout.readline().decode().strip() if ready else ""
        found = re.fullmatch(r"(http://[^/]+)/#token=(\S+)", line)
        if found is None:
            self.stop()
            raise RuntimeError(f"tmuxweb did not print its link (got {line!r}); see {log_path}")
        self.base_url, self.token = found.group(1), found.group(2)
        self.pid = self.proc.pid

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def stop(self) -> None:
        terminate(self.proc)
        self._log.close()


def terminate(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it is still there after 10 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


EventHandler = Callable[[float, str, dict[str, Any]], None]


class SseWatcher:
    """One `GET /events` stream, read by a background thread.

    The handler runs in that thread with the time the chunk carrying the
    event was read; it gets every event after the first `state`.
    """

    def __init__(self, tw: TmuxWeb, session: str, handler: EventHandler) -> None:
        self._tw = tw
        self._session = session
        self._handler = handler
        self._ready = threading.Event()
        self._sock: socket.socket | None = None
        self._stopping = False
        self.error: BaseException | None = None
        self.session_token = ""
        self.state: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, name=f"sse-{session}", daemon=True)
        self._thread.start()
        if not self._ready.wait(20) or self.error is not None:
            raise RuntimeError(f"the event stream of {session!r} did not start: {self.error!r}")

    def _run(self) -> None:
        try:
            with httpx.Client(timeout=httpx.Timeout(10.0, read=None)) as client:
                with client.stream(
                    "GET",
                    f"{self._tw.base_url}/events",
                    params={"session": self._session},
                    headers=self._tw.auth(),
                ) as response:
                    response.raise_for_status()
                    stream = response.extensions["network_stream"]
                    self._sock = stream.get_extra_info("socket")
                    self._read(response.iter_raw())
        except BaseException as err:  # reported to the main thread
            if not self._stopping:
                self.error = err
        finally:
            self._ready.set()

    def _read(self, chunks: Iterator[bytes]) -> None:
        pending: list[bytes] = []
        for chunk in chunks:
            now = time.perf_counter()
            # Join only when a frame can have ended: a 256 KiB event arrives
            # in many reads, and joining each time would be quadratic.
            straddles = bool(pending) and pending[-1].endswith(b"\n") and chunk.startswith(b"\n")
            pending.append(chunk)
            if b"\n\n" not in chunk and not straddles:
                continue
            frames = b"".join(pending).split(b"\n\n")
            rest = frames.pop()
            pending = [rest] if rest else []
            for frame in frames:
                self._frame(now, frame)

    def _frame(self, now: float, frame: bytes) -> None:
        # Pings use "\r\n" line ends, tmuxweb's events "\n": parse lines and
        # treat a blank one as an event boundary too.
        name, data = "", b""
        for line in frame.split(b"\n"):
            line = line.rstrip(b"\r")
            if not line:
                self._event(now, name, data)
                name, data = "", b""
            elif line.startswith(b"event: "):
                name = line[7:].decode()
            elif line.startswith(b"data: "):
                data = line[6:]
        self._event(now, name, data)

    def _event(self, now: float, name: str, data: bytes) -> None:
        if not name:
            return
        payload = json.loads(data)
        if name == "connection-info":
            self.session_token = payload["session_token"]
        elif name == "state" and not self._ready.is_set():
            self.state = payload
            self._ready.set()
        else:
            self._handler(now, name, payload)

    def close(self) -> None:
        # shutdown() wakes the thread's blocking recv; close() would not.
        self._stopping = True
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)


class TmuxWebTyper:
    """Types into one pane through POST /commands and waits for the echo."""

    def __init__(self, tw: TmuxWeb, session: str) -> None:
        self._lock = threading.Lock()
        self._wanted = ""
        self._tail = ""
        self._seen_at = 0.0
        self._seen = threading.Event()
        self.watcher = SseWatcher(tw, session, self._on_event)
        self.pane = self.watcher.state["panes"][0]["id"]
        # One keep-alive connection for every POST, as a browser tab would.
        self.http = httpx.Client(
            base_url=tw.base_url,
            headers={**tw.auth(), "X-Session-Token": self.watcher.session_token},
            timeout=10.0,
        )
        self._url = f"/commands?session={session}"

    def _on_event(self, now: float, name: str, payload: dict[str, Any]) -> None:
        if name != "output" or payload.get("pane") != self.pane:
            return
        with self._lock:
            if not self._wanted:
                return
            seen = self._tail + payload["data"]
            if self._wanted in seen:
                self._seen_at = now
                self._wanted = ""
                self._seen.set()
            else:
                self._tail = seen[-len(self._wanted) :]

    def post(self, text: str) -> float:
        """POST one input command; returns its round trip in seconds."""
        t0 = time.perf_counter()
        reply = self.http.post(self._url, json={"type": "input", "pane": self.pane, "text": text})
        elapsed = time.perf_counter() - t0
        if reply.status_code != 200:
            raise RuntimeError(f"POST /commands: {reply.status_code} {reply.text}")
        return elapsed

    def echo(self, marker: str) -> tuple[float, float]:
        """One sample: (seconds until the marker's output event, POST round trip)."""
        with self._lock:
            self._wanted, self._tail = marker, ""
            self._seen.clear()
        t0 = time.perf_counter()
        post = self.post(marker)
        if not self._seen.wait(5):
            raise TimeoutError(f"no echo of {marker!r} within 5 s")
        return self._seen_at - t0, post

    def healthz(self) -> float:
        """One GET /healthz on the POST connection: its round trip."""
        t0 = time.perf_counter()
        self.http.get("/healthz").raise_for_status()
        return time.perf_counter() - t0

    def sample(self, marker: str) -> EchoSample:
        latency, post = self.echo(marker)
        return EchoSample(latency, post, -1 if latency < post else 1)

    def refresh(self) -> None:
        """Before a block of samples (not timed): a request on the POST
        connection, so that it is not the first POST that finds the
        connection closed for idleness and reconnects on the clock."""
        try:
            self.http.get("/healthz")
        except httpx.TransportError:  # closed by the server just then
            self.http.get("/healthz")

    def close(self) -> None:
        self.http.close()
        self.watcher.close()


# -- tmuxweb over raw sockets ----------------------------------------------------------
#
# A browser's fetch() and EventSource build requests and read replies in
# native code. An httpx client builds each request in Python after the clock
# has started (0.1-0.3 ms here), and a reader thread has to win the GIL back
# from the thread parsing the POST's reply before it can stamp the echo: both
# would be counted as tmuxweb's. These helpers send pre-built request bytes
# on plain sockets, and the typers below read the stream and the replies in
# one thread with select().

ECHO_DEADLINE = 5.0  # seconds for one echo sample (echo and POST reply)


def split_base_url(base_url: str) -> tuple[str, int]:
    """("127.0.0.1", 8123) from "http://127.0.0.1:8123"."""
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def open_socket(host: str, port: int) -> socket.socket:
    """A connected blocking TCP socket with TCP_NODELAY. (A socket with a
    timeout would poll() before every recv and send.)"""
    sock = socket.create_connection((host, port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(None)
    return sock


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """(status, headers with lower-case names) of a response head without its
    final blank line."""
    status_line, *lines = head.decode("latin-1").split("\r\n")
    version, status, *_ = status_line.split(" ", 2)
    if not version.startswith("HTTP/1."):
        raise RuntimeError(f"not an HTTP/1.x response: {status_line!r}")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status), headers


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: bytes
    close: bool  # the server will close the connection after it

    def check(self, what: str) -> None:
        if self.status != 200:
            raise RuntimeError(f"{what}: {self.status} {self.body.decode(errors='replace')}")


class ReplyParser:
    """Incremental parser of small HTTP/1.1 responses sized by Content-Length
    (tmuxweb's JSON replies), one at a time (no pipelining)."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> HttpReply | None:
        """The reply, once `data` has completed it; None before."""
        self._buf += data
        head_end = self._buf.find(b"\r\n\r\n")
        if head_end == -1:
            return None
        status, headers = parse_head(self._buf[:head_end])
        if "content-length" not in headers:
            raise RuntimeError(f"reply {status} without Content-Length: {headers}")
        end = head_end + 4 + int(headers["content-length"])
        if len(self._buf) < end:
            return None
        if len(self._buf) > end:
            raise RuntimeError(f"{len(self._buf) - end} unexpected bytes after a reply")
        body, self._buf = self._buf[head_end + 4 : end], b""
        return HttpReply(status, body, headers.get("connection", "").lower() == "close")


class KeepAliveConnection:
    """One keep-alive HTTP/1.1 connection for small requests, as a browser
    tab keeps one. Requests are built as bytes in advance (`build`) so that
    a timer can start right before `send`."""

    # tmuxweb (uvicorn's timeout_keep_alive) closes a connection idle for 5 s;
    # open a new one (before the clock starts) rather than race the close.
    IDLE_LIMIT = 4.0

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self.host, self.port = split_base_url(base_url)
        self._head = f"Host: {self.host}:{self.port}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._sock: socket.socket | None = None
        self._parser = ReplyParser()
        self._idle_since = 0.0
        self._closing = False

    def build(self, method: str, target: str, body: bytes | None = None) -> bytes:
        """The complete request: request line, headers and a JSON body."""
        head = f"{method} {target} HTTP/1.1\r\n{self._head}"
        if body is None:
            return (head + "\r\n").encode()
        return (head + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body

    def build_command(self, target: str, command: dict[str, Any]) -> bytes:
        return self.build("POST", target, json.dumps(command, separators=(",", ":")).encode())

    def ready(self) -> socket.socket:
        """The socket to send the next request on; call it before the clock
        starts: it reconnects if the server has closed the connection or may
        be about to."""
        sock = self._sock
        if sock is not None and (self._closing or time.perf_counter() - self._idle_since > self.IDLE_LIMIT
                                 or select.select([sock], [], [], 0)[0]):  # readable while idle: EOF
            self.close()
            sock = None
        if sock is None:
            sock = self._sock = open_socket(self.host, self.port)
            self._parser = ReplyParser()
            self._closing = False
        return sock

    def send(self, request: bytes) -> None:
        assert self._sock is not None, "ready() first"
        sent = self._sock.send(request)
        if sent < len(request):
            self._sock.sendall(request[sent:])

    def receive(self) -> HttpReply | None:
        """One recv (the socket is readable): the reply once it is complete."""
        assert self._sock is not None
        data = self._sock.recv(65536)
        if not data:
            self.close()
            raise ConnectionError("tmuxweb closed the connection before replying")
        reply = self._parser.feed(data)
        if reply is not None:
            self._idle_since = time.perf_counter()
            self._closing = reply.close
        return reply

    def exchange(self, request: bytes, timeout: float = 10.0) -> tuple[HttpReply, float]:
        """Send one request and read its reply: (reply, round trip in seconds)."""
        sock = self.ready()
        t0 = time.perf_counter()
        self.send(request)
        deadline = t0 + timeout
        while True:
            if not select.select([sock], [], [], max(0.0, deadline - time.perf_counter()))[0]:
                raise TimeoutError(f"no reply within {timeout} s")
            reply = self.receive()
            if reply is not None:
                return reply, time.perf_counter() - t0

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class ChunkedDecoder:
    """Incremental decoder of a chunked body. Used while a stream starts up;
    the timed loops search the raw bytes instead (markers are letters, and
    chunk framing never cuts an SSE frame: tmuxweb writes whole frames)."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> bytes:
        self._buf += data
        out = []
        while (eol := self._buf.find(b"\r\n")) != -1:
            size = int(self._buf[:eol].split(b";", 1)[0], 16)
            end = eol + 2 + size + 2
            if size == 0 or len(self._buf) < end:
                break
            out.append(self._buf[eol + 2 : eol + 2 + size])
            self._buf = self._buf[end:]
        return b"".join(out)


@dataclass
class RawEventStream:
    """`GET /events?session=S` on a plain socket, read up to the first `state`."""

    sock: socket.socket
    session_token: str
    state: dict[str, Any]


def open_event_stream(tw: TmuxWeb, session: str, timeout: float = 20.0) -> RawEventStream:
    host, port = split_base_url(tw.base_url)
    sock = open_socket(host, port)
    sock.sendall(f"GET /events?session={session} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                 f"Authorization: Bearer {tw.token}\r\nAccept: text/event-stream\r\n\r\n".encode())
    deadline = time.monotonic() + timeout
    head: bytes | None = None
    raw = b""
    decoder = ChunkedDecoder()
    body = b""
    token = ""
    state: dict[str, Any] | None = None
    while state is None:
        if not select.select([sock], [], [], max(0.0, deadline - time.monotonic()))[0]:
            raise TimeoutError(f"the event stream of {session!r} sent no state in {timeout} s")
        data = sock.recv(1 << 20)
        if not data:
            raise EOFError(f"the event stream of {session!r} ended: {(raw + body)[:500]!r}")
        if head is None:
            raw += data
            if (end := raw.find(b"\r\n\r\n")) == -1:
                continue
            head, data = raw[:end], raw[end + 4 :]
            status, headers = parse_head(head)
            if status != 200 or "chunked" not in headers.get("transfer-encoding", ""):
                raise RuntimeError(f"GET /events?session={session}: {status} {data[:500]!r}")
        # Pings end their lines with "\r\n", tmuxweb's events with "\n".
        body += decoder.feed(data).replace(b"\r\n", b"\n")
        *frames, body = body.split(b"\n\n")
        for frame in frames:
            name, data_line = "", b""
            for line in frame.split(b"\n"):
                if line.startswith(b"event: "):
                    name = line[7:].decode()
                elif line.startswith(b"data: "):
                    data_line = line[6:]
            if name == "connection-info":
                token = json.loads(data_line)["session_token"]
            elif name == "state" and state is None:
                state = json.loads(data_line)
    if not token:
        raise RuntimeError(f"the event stream of {session!r} sent a state before its connection-info")
    return RawEventStream(sock, token, state)


def output_needle(pane: str) -> bytes:
    """How an `output` event of `pane` starts its data string on the wire."""
    return b'"pane":"' + pane.encode() + b'","data":"'


def echo_in(buf: bytes, needle: bytes, wanted: bytes, start: int = 0) -> bool:
    """Whether `wanted` is in the data of the `output` events (starting with
    `needle`) in the raw stream bytes `buf[start:]`, joined in order. Looking
    inside the events matters: a marker such as "ata" is also in every
    "data: " line. Joining them too: one keystroke's echo can come in two
    events (tmux may read the pty before the tty has echoed all of a
    marker's bytes), and a marker looked for in single events is then never
    found. An event cut off at the end of `buf` is looked at as far as it goes."""
    parts = []
    at = buf.find(needle, start)
    while at != -1:
        begin = at + len(needle)
        end = buf.find(b'"}', begin)
        parts.append(buf[begin : len(buf) if end == -1 else end])
        if end == -1:
            break
        at = buf.find(needle, end)
    return wanted in b"".join(parts)


@dataclass(frozen=True)
class EchoSample:
    echo: float  # seconds from sending the POST to the read that carried the echo
    post: float  # seconds from sending the POST to its complete reply
    # -1: the echo was read before the reply; 1: after it; 0: both in the
    # same wake-up of the raw client's select() (which reads the stream first)
    order: int


class RawTmuxWebTyper:
    """Types into one pane as a browser would, with no client overhead of
    its own: the `GET /events` stream and a keep-alive connection for
    `POST /commands` on plain sockets (TCP_NODELAY), each request built
    before the clock starts, both sockets read by this one thread with
    select(), and the echo found in the raw stream bytes."""

    TAIL = 1024  # stream bytes kept between reads: an echo event cut in two is found

    def __init__(self, tw: TmuxWeb, session: str, pane: str) -> None:
        stream = open_event_stream(tw, session)
        self.stream = stream.sock
        self.pane = pane
        self.http = KeepAliveConnection(tw.base_url, {**tw.auth(), "X-Session-Token": stream.session_token})
        self._target = f"/commands?session={session}"
        self._needle = output_needle(pane)
        self._healthz = self.http.build("GET", "/healthz")

    def _input(self, text: str) -> bytes:
        return self.http.build_command(self._target, {"type": "input", "pane": self.pane, "text": text})

    def drain(self) -> None:
        """Read whatever the stream has sent since the last sample (pings, the
        echo of C-u), so that a sample's reads carry only its own events."""
        while select.select([self.stream], [], [], 0)[0]:
            if not self.stream.recv(1 << 20):
                raise EOFError("the event stream ended")

    def sample(self, marker: str) -> EchoSample:
        request = self._input(marker)
        wanted = marker.encode()
        self.drain()
        post = self.http.ready()
        stream = self.stream
        tail = b""
        echo_at = reply_at = 0.0
        echo_wake = reply_wake = wake = 0
        waiting = [stream, post]
        t0 = time.perf_counter()
        self.http.send(request)
        deadline = t0 + ECHO_DEADLINE
        while waiting:
            ready = select.select(waiting, [], [], max(0.0, deadline - time.perf_counter()))[0]
            if not ready:
                missing = " and ".join(("the echo",) * (not echo_at) + ("the POST reply",) * (not reply_at))
                raise TimeoutError(f"{missing} of {marker!r} not in within {ECHO_DEADLINE:g} s")
            wake += 1
            if stream in ready:
                data = stream.recv(1 << 20)
                now = time.perf_counter()
                if not data:
                    raise EOFError("the event stream ended")
                seen = tail + data
                if echo_in(seen, self._needle, wanted):
                    echo_at, echo_wake = now, wake
                    waiting.remove(stream)
                else:
                    tail = seen[-self.TAIL :]
            if post in ready:
                reply = self.http.receive()
                now = time.perf_counter()
                if reply is not None:
                    reply.check("POST /commands")
                    reply_at, reply_wake = now, wake
                    waiting.remove(post)
        order = (echo_wake > reply_wake) - (echo_wake < reply_wake)
        return EchoSample(echo_at - t0, reply_at - t0, order)

    def post(self, text: str) -> float:
        """POST one input command and read its reply; the round trip in seconds."""
        reply, elapsed = self.http.exchange(self._input(text))
        reply.check("POST /commands")
        return elapsed

    def healthz(self) -> float:
        """One GET /healthz on the POST connection: its round trip."""
        reply, elapsed = self.http.exchange(self._healthz)
        reply.check("GET /healthz")
        return elapsed

    def refresh(self) -> None:
        """Before a block of samples (not timed): a request on the POST
        connection, reopened first if it has been idle for long."""
        self.healthz()

    def close(self) -> None:
        self.http.close()
        self.stream.close()


# -- 1 and 2: echo latency ------------------------------------------------------------


def markers() -> Iterator[str]:
    """Unique 3-letter markers: 140,608 of them."""
    n = len(MARKER_ALPHABET)
    for i in range(n**3):
        yield MARKER_ALPHABET[i // n // n] + MARKER_ALPHABET[i // n % n] + MARKER_ALPHABET[i % n]


@dataclass
class TmuxWebSeries:
    """The samples of one tmuxweb client in one echo series."""

    client: str
    echoes: list[float] = field(default_factory=list)
    posts: list[float] = field(default_factory=list)
    orders: list[int] = field(default_factory=list)  # EchoSample.order
    cpu: float = 0.0  # tmuxweb's CPU seconds during this client's blocks
    seconds: float = 0.0  # wall time of those blocks, for the idle correction

    def add(self, sample: EchoSample) -> None:
        self.echoes.append(sample.echo)
        self.posts.append(sample.post)
        self.orders.append(sample.order)


@dataclass
class EchoResult:
    label: str
    gap: float
    raw: TmuxWebSeries = field(default_factory=lambda: TmuxWebSeries(RAW_CLIENT))
    httpx: TmuxWebSeries = field(default_factory=lambda: TmuxWebSeries(HTTPX_CLIENT))
    floor: list[float] = field(default_factory=list)


RAW_CLIENT = "raw-socket client"
HTTPX_CLIENT = "httpx client"
KILL_LINE = "\x15"  # C-u: empties cat's canonical line before it nears 4095 bytes
BLOCK = 50  # samples per turn; the sides take turns in blocks
WARMUP = 20
SIDES = ("raw", "httpx", "floor")


def measure_echo(tw: TmuxWeb, raw_typer: RawTmuxWebTyper, typer: TmuxWebTyper, raw: RawControlClient,
                 raw_pane: str, names: Iterator[str], samples: int, gap: float, label: str) -> EchoResult:
    result = EchoResult(label, gap)
    for _ in range(WARMUP):
        raw_typer.sample(next(names))
        typer.sample(next(names))
        raw_echo(raw, raw_pane, next(names))
    typed = 0
    while typed < samples:
        block = min(BLOCK, samples - typed)
        # Rotate who goes first, so no side always follows the same other.
        turn = typed // BLOCK % len(SIDES)
        for side in SIDES[turn:] + SIDES[:turn]:
            if side == "floor":
                for _ in range(block):
                    result.floor.append(raw_echo(raw, raw_pane, next(names)))
                    time.sleep(gap)
                continue
            client: RawTmuxWebTyper | TmuxWebTyper = raw_typer if side == "raw" else typer
            series = result.raw if side == "raw" else result.httpx
            client.refresh()  # outside the CPU window
            before, started = tw.cpu(), time.perf_counter()
            for _ in range(block):
                series.add(client.sample(next(names)))
                time.sleep(gap)
            series.cpu += tw.cpu() - before
            series.seconds += time.perf_counter() - started
        typed += block
        if typed % 250 == 0:  # 3 bytes a sample: well below the 4095-byte line limit
            raw_typer.post(KILL_LINE)
            typer.post(KILL_LINE)
            raw.send(f"send-keys -t {raw_pane} -H {hex_keys(KILL_LINE)}")
            time.sleep(0.05)
    return result


def measure_healthz(tw: TmuxWeb, round_trip: Callable[[], float], count: int = 200) -> tuple[list[float], float]:
    """Plain HTTP round trips to this server (no tmux involved), for
    reference: (round trips, tmuxweb CPU seconds per request)."""
    before = tw.cpu()
    times = [round_trip() for _ in range(count)]
    return times, (tw.cpu() - before) / count


def idle_cpu(tw: TmuxWeb, seconds: float = 3.0) -> float:
    """tmuxweb's CPU seconds per second while nothing happens (timers, pings);
    clock ticks are 10 ms, so this is coarse."""
    before = tw.cpu()
    time.sleep(seconds)
    return (tw.cpu() - before) / seconds


# -- 3: throughput ----------------------------------------------------------------------


@dataclass(frozen=True)
class FloodFile:
    kind: str  # "text" or "seq"
    path: Path
    size: int
    lines: int

    @property
    def expected_payload(self) -> int:
        # The pane's tty turns each "\n" into "\r\n" (onlcr).
        return self.size + self.lines


def make_flood_file(directory: Path, kind: str, megabytes: float) -> FloodFile:
    target = int(megabytes * MB)
    path = directory / f"flood-{kind}.txt"
    size = lines = 0
    with open(path, "wb") as f:
        if kind == "text":
            # base64: 76 printable characters a line, like a build log.
            while size < target:
                chunk = base64.encodebytes(os.urandom(57 * 20_000))[: target - size]
                chunk = chunk[: chunk.rfind(b"\n") + 1] or chunk
                f.write(chunk)
                size += len(chunk)
                lines += chunk.count(b"\n")
                if len(chunk) < 76:
                    break
        else:
            # seq: about 8 bytes a line, so "\r\n" costs tmux 8 wire bytes
            # for every 6 of payload (TMUX-NOTES).
            start = 1
            while size < target:
                chunk = ("\n".join(map(str, range(start, start + 100_000))) + "\n").encode()
                chunk = chunk[: target - size]
                chunk = chunk[: chunk.rfind(b"\n") + 1]
                if not chunk:
                    break
                f.write(chunk)
                size += len(chunk)
                lines += chunk.count(b"\n")
                start += 100_000
    return FloodFile(kind, path, size, lines)


@dataclass(frozen=True)
class FloodSetup:
    """A session whose pane floods once its FIFO is written to."""

    session: str
    fifo: Path
    marker: str
    flood: FloodFile

    @property
    def expected_payload(self) -> int:
        return self.flood.expected_payload + len(self.marker) + 2

    def trigger(self) -> None:
        with open(self.fifo, "w") as f:
            f.write("go\n")


def prepare_flood(tmux: TmuxServer, directory: Path, name: str, flood: FloodFile) -> FloodSetup:
    fifo = directory / f"{name}.fifo"
    os.mkfifo(fifo)
    marker = "ENDOFFLOOD" + "".join(secrets.choice(string.ascii_uppercase) for _ in range(12))
    # After the marker the pane stays alive (exec cat): if it exited, tmux
    # could discard output still queued for a client that is behind.
    script = f"read _ < '{fifo}'; cat '{flood.path}'; printf '%s\\n' {marker}; exec cat"
    tmux.new_session(name, f"sh -c \"{script}\"")
    return FloodSetup(name, fifo, marker, flood)


@dataclass
class FloodResult:
    who: str
    kind: str
    seconds: float
    payload: int
    expected: int
    server_cpu: float  # the tmuxweb process (0 for raw)
    # The tmux server. (The `tmux -C` client process itself costs nothing:
    # the server writes straight to the stdout fd the client passed it.)
    tmux_cpu: float
    client_cpu: float  # this benchmark process: the reader of the stream
    resets: int = 0  # pane-reset events: tmux paused the pane, output was lost
    resyncs: int = 0  # state events: the watcher overflowed and was resynchronised
    same_core: float | None = None  # share of samples with tmux and tmuxweb on one CPU

    @property
    def mb_per_s(self) -> float:
        return self.payload / MB / self.seconds

    def per_mb(self, cpu: float) -> float:
        return cpu / (self.payload / MB)


def flood_raw(tmux: TmuxServer, setup: FloodSetup) -> FloodResult:
    assert tmux.pid is not None
    client = RawControlClient(tmux, setup.session)
    try:
        prefix = b"%output "
        wanted = setup.marker.encode()
        payload, tail = 0, b""
        tmux0, client0 = cpu_seconds(tmux.pid), time.process_time()
        t0 = time.perf_counter()
        setup.trigger()
        done_at = 0.0
        while not done_at:
            now, lines = client.read_lines(60)
            for line in lines:
                if not line.startswith(prefix):
                    continue
                data = line[line.index(b" ", 8) + 1 :]
                # Every backslash starts one 4-byte "\ooo" escape of one byte.
                payload += len(data) - 3 * data.count(b"\\")
                seen = tail + data
                if wanted in seen:
                    done_at = now
                    break
                tail = seen[-len(wanted) :]
        return FloodResult(
            "raw tmux -C", setup.flood.kind, done_at - t0, payload, setup.expected_payload,
            0.0, cpu_seconds(tmux.pid) - tmux0, time.process_time() - client0,
        )
    finally:
        client.close()


class FloodCounter:
    """Counts one pane's payload on an SSE stream until the end marker."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.pane = ""
        self.payload = 0
        self.resets = 0
        self.resyncs = 0
        self.done_at = 0.0
        self.done = threading.Event()
        self._tail = ""

    def on_event(self, now: float, name: str, payload: dict[str, Any]) -> None:
        if self.done.is_set():
            return
        if name == "output" and payload["pane"] == self.pane:
            data: str = payload["data"]
            self.payload += len(data.encode())
            seen = self._tail + data
            if self.marker in seen:
                self._finish(now)
            else:
                self._tail = seen[-len(self.marker) :]
        elif name == "pane-reset" and payload["pane"]["id"] == self.pane:
            # tmux paused the pane and dropped output; the content replaces it.
            self.resets += 1
            if self.marker in payload["pane"]["content"]:
                self._finish(now)
        elif name == "state":
            self.resyncs += 1
            panes = [p for p in payload["panes"] if p["id"] == self.pane]
            if panes and self.marker in panes[0]["content"]:
                self._finish(now)

    def _finish(self, now: float) -> None:
        self.done_at = now
        self.done.set()


def flood_tmuxweb(tw: TmuxWeb, tmux: TmuxServer, setup: FloodSetup) -> FloodResult:
    assert tmux.pid is not None
    counter = FloodCounter(setup.marker)
    watcher = SseWatcher(tw, setup.session, counter.on_event)
    try:
        counter.pane = watcher.state["panes"][0]["id"]
        cpu0, tmux0, client0 = tw.cpu(), cpu_seconds(tmux.pid), time.process_time()
        sampler = CoreSampler(tmux.pid, tw.pid)
        t0 = time.perf_counter()
        setup.trigger()
        if not counter.done.wait(300):
            raise TimeoutError(f"tmuxweb: no end marker after 300 s ({counter.payload} bytes)")
        same_core = sampler.stop()
        cpu1, tmux1, client1 = tw.cpu(), cpu_seconds(tmux.pid), time.process_time()
        return FloodResult(
            "tmuxweb", setup.flood.kind, counter.done_at - t0, counter.payload,
            setup.expected_payload, cpu1 - cpu0, tmux1 - tmux0, client1 - client0,
            counter.resets, counter.resyncs, same_core,
        )
    finally:
        watcher.close()


# -- reporting ----------------------------------------------------------------------------


def print_echo(echoes: list[EchoResult], program: str, healthz: dict[str, tuple[list[float], float]],
               idle: float) -> None:
    def line(label: str, value: str) -> None:
        print(f"  {label:58} {value}")

    print(f"\n1-2. Keystroke echo latency, ms (pane program: {program}; a unique 3-letter marker per sample)")
    print(f"  tmuxweb is timed with two clients, each with its own session and stream. The {RAW_CLIENT}"
          " (the one\n  compared with the floor) does what a browser's native fetch/EventSource"
          " would: plain sockets,\n  each request built before the clock starts, stream and replies read"
          f" by one thread with select().\n  The {HTTPX_CLIENT} POSTs with httpx (request built on the clock)"
          " and reads the stream in a second\n  thread that must win the GIL to stamp the echo.")
    for client, (times, _) in healthz.items():
        line(f"GET /healthz round trip, {client} (HTTP only)", Percentiles.of(times).row())
    per_request = ", ".join(f"{cpu * 1000:.2f} ms ({client})" for client, (_, cpu) in healthz.items())
    print(f"  tmuxweb CPU per /healthz {per_request}; idle CPU with both streams {idle * 1000:.1f} ms/s")
    for echo in echoes:
        raw, web, floor = Percentiles.of(echo.raw.echoes), Percentiles.of(echo.httpx.echoes), Percentiles.of(echo.floor)
        print(f"  -- {echo.label}: {echo.gap * 1000:g} ms between samples")
        line(f"tmuxweb  POST /commands -> SSE output, {RAW_CLIENT}", raw.row())
        line(f"tmuxweb  POST /commands -> SSE output, {HTTPX_CLIENT}", web.row())
        line("floor    tmux -C send-keys -> %output", floor.row())
        line(f"tmuxweb ({RAW_CLIENT}) - floor",
             f"p50 {(raw.p50 - floor.p50) * 1000:+.3f} ms   p99 {(raw.p99 - floor.p99) * 1000:+.3f} ms"
             f"   ratio p50 {raw.p50 / floor.p50:.2f}x  p99 {raw.p99 / floor.p99:.2f}x")
        line(f"{HTTPX_CLIENT} - {RAW_CLIENT} (client overhead)",
             f"p50 {(web.p50 - raw.p50) * 1000:+.3f} ms   p99 {(web.p99 - raw.p99) * 1000:+.3f} ms")
        for series in (echo.raw, echo.httpx):
            line(f"POST /commands round trip, {series.client}", Percentiles.of(series.posts).row())
        for series in (echo.raw, echo.httpx):
            # Which reached the client first: the echo or the POST's own reply?
            n = len(series.echoes)
            lead = [post - latency for latency, post in zip(series.echoes, series.posts)]
            first, together = series.orders.count(-1) / n, series.orders.count(0) / n
            busy = series.cpu - idle * series.seconds
            same = f", in the same select() wake-up as the reply in {100 * together:.0f}%" if together else ""
            print(f"  {series.client}: echo read before the POST reply in {100 * first:.0f}% of samples{same} "
                  f"(median reply - echo {statistics.median(lead) * 1000:+.3f} ms); "
                  f"tmuxweb CPU per keystroke {busy / n * 1000:.2f} ms (idle subtracted)")


def print_floods(results: list[FloodResult], rounds: int) -> None:
    print(f"\n3. Output throughput, {rounds} round(s) (one reader; MB = 10^6 bytes of pane output)")
    print(f"  {'flood':5} {'reader':12} {'MB':>5} {'sec':>6} {'MB/s':>6} {'got %':>6} "
          f"{'tmuxweb s/MB':>12} {'tmux srv s/MB':>13} {'reader s/MB':>11} {'same core':>9}  lost")
    for r in results:
        tw = r.who == "tmuxweb"
        lost = f"{r.resets} pane-reset, {r.resyncs} resync" if tw else "-"
        server = f"{r.per_mb(r.server_cpu):.4f}" if tw else "-"
        same = f"{100 * r.same_core:.0f}%" if r.same_core is not None else "-"
        print(f"  {r.kind:5} {r.who:12} {r.payload / MB:5.1f} {r.seconds:6.2f} {r.mb_per_s:6.2f} "
              f"{100 * r.payload / r.expected:6.1f} {server:>12} "
              f"{r.per_mb(r.tmux_cpu):13.4f} {r.per_mb(r.client_cpu):11.4f} {same:>9}  {lost}")
    print("  summary (medians over rounds):")
    for kind in dict.fromkeys(r.kind for r in results):
        raw = [r for r in results if r.kind == kind and r.who != "tmuxweb"]
        tws = [r for r in results if r.kind == kind and r.who == "tmuxweb"]
        if not raw or not tws:
            continue
        raw_rate = statistics.median(r.mb_per_s for r in raw)
        tw_rate = statistics.median(r.mb_per_s for r in tws)
        tw_cpu = statistics.median(r.per_mb(r.server_cpu) for r in tws)
        tmux_cpu = statistics.median(r.per_mb(r.tmux_cpu) for r in raw + tws)
        print(f"  {kind:5} raw {raw_rate:5.2f} MB/s  tmuxweb {tw_rate:5.2f} MB/s  "
              f"ratio tmuxweb/raw {tw_rate / raw_rate:.2f}  (best round {max(r.mb_per_s for r in tws) / raw_rate:.2f})  "
              f"tmuxweb {tw_cpu:.4f} s/MB, tmux server {tmux_cpu:.4f} s/MB")
        # If both share one core, their costs add up: the serialised ceiling.
        print(f"  {'':5} ceilings: tmux server alone {1 / tmux_cpu:5.1f} MB/s, "
              f"tmux + tmuxweb on one core {1 / (tmux_cpu + tw_cpu):5.1f} MB/s")


# -- main ----------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--samples", type=int, default=500, help="echo samples per side (default 500, at least 300)")
    p.add_argument("--flood-mb", type=float, default=50.0, help="MB per flood (default 50)")
    p.add_argument("--no-seq", action="store_true", help="skip the newline-heavy seq flood")
    p.add_argument("--rounds", type=int, default=3, help="floods per kind and reader, alternating (default 3)")
    p.add_argument("--pane-program", choices=("cat", "bash"), default="cat",
                   help="program in the echo panes: cat (tty echo) or bash --norc (readline echo)")
    p.add_argument("--gap-ms", type=float, default=2.0, help="pause between burst echo samples (default 2)")
    p.add_argument("--typing-gap-ms", type=float, default=50.0,
                   help="pause between samples of the second, typing-cadence echo series (default 50; 0 skips it)")
    p.add_argument("--server-log-level", default="info", choices=("debug", "info", "warning", "error"),
                   help="tmuxweb --log-level (default info, the server's default: one access-log line per POST)")
    p.add_argument("--keep-log", action="store_true", help="print where the tmuxweb log is and keep it")
    args = p.parse_args()
    if args.samples < 300:
        p.error("--samples must be at least 300")
    if args.flood_mb <= 0 or args.rounds < 1:
        p.error("--flood-mb and --rounds must be positive")
    return args


def main() -> int:
    args = parse_args()
    # Bound the GIL hand-over between the POST thread and the SSE thread.
    sys.setswitchinterval(0.0005)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()

    print("Machine")
    for key, value in machine_info():
        print(f"  {key:17} {value}")

    workdir = Path(tempfile.mkdtemp(prefix="tw-bench-"))
    tmux = TmuxServer()
    tw: TmuxWeb | None = None
    raw_typer: RawTmuxWebTyper | None = None
    typer: TmuxWebTyper | None = None
    raw: RawControlClient | None = None
    try:
        program = "cat" if args.pane_program == "cat" else "bash --norc --noprofile"
        kinds = ["text"] if args.no_seq else ["text", "seq"]
        floods = {kind: make_flood_file(workdir, kind, args.flood_mb) for kind in kinds}
        # Every session exists before the first control client attaches.
        # One session per echo client, so that none makes tmux (or tmuxweb)
        # encode another's output.
        web_pane = tmux.new_session("main", program)  # the raw-socket client's
        tmux.new_session("httpx", program)  # the httpx client's
        raw_pane = tmux.new_session("floor", program)
        # A flood uses up its pane, so each run has its own session.
        setups = {
            (who, kind, n): prepare_flood(tmux, workdir, f"flood-{who}-{kind}-{n}", floods[kind])
            for kind in kinds
            for n in range(args.rounds)
            for who in ("raw", "tw")
        }
        time.sleep(0.3)  # let the pane programs start
        print(f"  tmux socket       -L {tmux.socket} (tmux server pid {tmux.pid})")

        tw = TmuxWeb(tmux, workdir, args.server_log_level)
        print(f"  tmuxweb           pid {tw.pid}, {tw.base_url}, log level {args.server_log_level}")
        raw_typer = RawTmuxWebTyper(tw, "main", web_pane)
        typer = TmuxWebTyper(tw, "httpx")
        raw = RawControlClient(tmux, "floor")
        idle = idle_cpu(tw)
        healthz = {RAW_CLIENT: measure_healthz(tw, raw_typer.healthz),
                   HTTPX_CLIENT: measure_healthz(tw, typer.healthz)}
        names = markers()
        # Back-to-back samples show the pipeline warm; at a typing cadence
        # caches and CPUs go cold between keys, and every layer is slower.
        echoes = [measure_echo(tw, raw_typer, typer, raw, raw_pane, names, args.samples, args.gap_ms / 1000, "burst")]
        if args.typing_gap_ms > 0:
            echoes.append(measure_echo(tw, raw_typer, typer, raw, raw_pane, names, args.samples,
                                       args.typing_gap_ms / 1000, "typing cadence"))
        raw_typer.close()
        raw_typer = None
        typer.close()
        typer = None
        raw.close()
        raw = None
        print_echo(echoes, program, healthz, idle)

        results: list[FloodResult] = []
        for kind in kinds:
            for n in range(args.rounds):
                # Alternate who goes first, as for the echo blocks.
                for who in ("raw", "tw") if n % 2 == 0 else ("tw", "raw"):
                    setup = setups[(who, kind, n)]
                    if who == "raw":
                        results.append(flood_raw(tmux, setup))
                    else:
                        results.append(flood_tmuxweb(tw, tmux, setup))
        print_floods(results, args.rounds)
        print(f"\n(total run time {time.monotonic() - started:.0f} s)")
        return 0
    finally:
        if raw_typer is not None:
            raw_typer.close()
        if typer is not None:
            typer.close()
        if raw is not None:
            raw.close()
        if tw is not None:
            tw.stop()
        tmux.kill()
        if args.keep_log:
            print(f"tmuxweb log kept in {workdir / 'tmuxweb.log'}", file=sys.stderr)
            for path in workdir.iterdir():
                if path.name != "tmuxweb.log":
                    path.unlink()
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
