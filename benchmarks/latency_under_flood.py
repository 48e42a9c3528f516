#!/usr/bin/env python3
"""Keystroke echo latency while another pane of the same session floods.
Prints numbers; no pass/fail.

    python benchmarks/latency_under_flood.py [--samples N] [--gap-ms MS]

Two sessions of two panes each: `cat` (the echo pane) and a pane that,
once triggered, prints a base64 file over and over without end.

* floor: a raw `tmux -C` client attached to its session, with tmuxweb's
  flow control (`refresh-client -f pause-after=2`), reads everything (the
  flood included) and times `send-keys -H` → the marker's output line.
* tmuxweb: one `GET /events` watcher of its session (it receives the flood
  too, as a browser tab would) and `POST /commands` input on a keep-alive
  connection, timed from sending the POST to the read of the stream that
  carried the marker's `output` event. Both are plain sockets read by one
  thread with select() (RawFloodTyper): each request is built before the
  clock starts, and the stream is searched with bytes.find, never parsed.

Each side runs with its own flood on and the other's off (C-c), so they do
not load the machine together. Also printed: the flood rate the tmuxweb
watcher received, and pane-resets (tmux paused the flooding pane because
the reader was 2 s behind).
"""

from __future__ import annotations

import argparse
import os
import re
import select
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from echo_and_throughput import (  # noqa: E402
    ECHO_DEADLINE,
    KILL_LINE,
    MB,
    KeepAliveConnection,
    Percentiles,
    RawControlClient,
    TmuxServer,
    TmuxWeb,
    cpu_seconds,
    echo_in,
    hex_keys,
    machine_info,
    make_flood_file,
    markers,
    open_event_stream,
    output_needle,
    split_base_url,
)


def raw_echo_amid_flood(client: RawControlClient, pane: str, marker: str) -> float:
    """raw_echo for a client that also reads a flood: only the echo pane's
    %output lines are looked at (found with bytes.find, not a Python loop
    over every flood line), so the reader keeps up."""
    # With pause-after set (as tmuxweb does), output comes as
    # "%extended-output %P AGE : DATA".
    prefix = f"\n%extended-output {pane} ".encode()
    wanted = marker.encode()
    tail = b""
    t0 = time.perf_counter()
    client.send(f"send-keys -t {pane} -H {hex_keys(marker)}")
    pending = b"\n"
    while True:
        ready, _, _ = select.select([client._out], [], [], max(0.0, t0 + 5 - time.perf_counter()))
        if not ready:
            raise TimeoutError("no echo within 5 s")
        data = os.read(client._out, 1 << 20)
        now = time.perf_counter()
        chunk = pending + data
        at = chunk.find(prefix)
        while at != -1:
            end = chunk.find(b"\n", at + 1)
            if end == -1:
                break
            seen = tail + chunk[chunk.index(b" : ", at) + 3 : end]
            if wanted in seen:
                client._partial = b""
                return now - t0
            tail = seen[-len(wanted) :]
            at = chunk.find(prefix, end)
        # Keep an unfinished last line (it may be ours) for the next read.
        pending = chunk[chunk.rfind(b"\n") :]


class Resynced(Exception):
    """The echo was delivered inside a `state` or `pane-reset`, not as output."""


class StreamScanner:
    """Looks through the raw bytes of a `GET /events` stream that carries a
    flood, with bytes.find and bytes.count only: a reader that parses 10+
    MB/s of JSON in Python would add its own delays to the measurement.
    Counts bytes, `pane-reset` and `state` events, and finds a marker in the
    echo pane's `output` events."""

    REST = 8192  # bytes kept between reads: an event of ours may be cut off

    def __init__(self, echo_pane: str) -> None:
        self.needle = output_needle(echo_pane)
        self.bytes = 0
        self.resets = 0
        self.states = 0  # `state` events, the first included: more than one means resyncs
        self._rest = b""
        self._old = 0  # leading bytes of _rest read before the current marker was typed

    def mark(self) -> None:
        """A marker is about to be typed: its echo cannot be in what has been
        read so far (where older echoes run together might spell it)."""
        self._old = len(self._rest)

    def feed(self, data: bytes, wanted: bytes) -> bool:
        """Take one read; whether it carried `wanted` in an output event of
        the echo pane (never, for an empty `wanted`)."""
        self.bytes += len(data)
        rest = self._rest
        buf = rest + data
        self.resets += buf.count(b"event: pane-reset\n") - rest.count(b"event: pane-reset\n")
        self.states += buf.count(b"event: state\n") - rest.count(b"event: state\n")
        found = bool(wanted) and echo_in(buf, self.needle, wanted, self._old)
        self._rest = buf[-self.REST :]
        self._old = max(0, self._old - (len(buf) - len(self._rest)))
        return found


class RawFloodTyper:
    """Types through POST /commands and finds the echo on the `GET /events`
    stream, which carries the other pane's flood too; one thread, no
    client overhead: both on plain sockets (TCP_NODELAY), each request
    built before the clock starts, both sockets read with select(), the
    stream looked through with a StreamScanner. Between samples the
    stream is read on (`pump`), as a browser tab would: a reader that
    stops finds a backlog in front of the next echo."""

    def __init__(self, tw: TmuxWeb, session: str, echo: str) -> None:
        stream = open_event_stream(tw, session)
        self.sock = stream.sock
        self.scanner = StreamScanner(echo)
        self.http = KeepAliveConnection(tw.base_url, {**tw.auth(), "X-Session-Token": stream.session_token})
        self.echo_pane = echo
        self._target = f"/commands?session={session}"

    def _read_stream(self, wanted: bytes) -> bool:
        """One read of the stream (it is readable); whether it carried the echo."""
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("the event stream ended")
        return self.scanner.feed(data, wanted)

    def _exchange(self, command: dict[str, Any], marker: str, timeout: float) -> tuple[float, float]:
        """POST `command` and read the stream until its reply (and, for a
        marker, its echo) is in: (seconds to the echo, seconds to the reply)."""
        request = self.http.build_command(self._target, command)
        wanted = marker.encode()
        post = self.http.ready()
        before = (self.scanner.states, self.scanner.resets)
        self.scanner.mark()
        echo_at = reply_at = 0.0
        t0 = time.perf_counter()
        self.http.send(request)
        deadline = t0 + timeout
        while not reply_at or (wanted and not echo_at):
            ready, _, _ = select.select([self.sock, post], [], [], max(0.0, deadline - time.perf_counter()))
            if not ready:
                if reply_at and (self.scanner.states, self.scanner.resets) != before:
                    raise Resynced(f"the echo of {marker!r} came in a resync")
                missing = "the echo" if reply_at else "the POST reply"
                raise TimeoutError(f"{missing} of {command['type']} command {marker!r} not in within {timeout:g} s")
            if self.sock in ready:
                found = self._read_stream(b"" if echo_at else wanted)
                now = time.perf_counter()
                if found:
                    echo_at = now
            if post in ready:
                reply = self.http.receive()
                now = time.perf_counter()
                if reply is not None:
                    reply.check("POST /commands")
                    reply_at = now
        return echo_at - t0, reply_at - t0

    def echo(self, marker: str) -> tuple[float, float]:
        """(seconds until the read carrying the echo's `output` event, POST
        round trip). Raises Resynced when the echo came inside a fresh
        snapshot instead (this reader fell 2 MiB behind, or tmux paused the
        pane)."""
        return self._exchange({"type": "input", "pane": self.echo_pane, "text": marker}, marker, ECHO_DEADLINE)

    def command(self, command: dict[str, Any]) -> float:
        """POST a command (reading the stream meanwhile): its round trip."""
        return self._exchange(command, "", 10.0)[1]

    def post(self, text: str) -> float:
        return self.command({"type": "input", "pane": self.echo_pane, "text": text})

    def pump(self, seconds: float) -> None:
        """Read the stream for this long."""
        deadline = time.perf_counter() + seconds
        while (left := deadline - time.perf_counter()) > 0:
            if select.select([self.sock], [], [], left)[0]:
                self._read_stream(b"")

    def close(self) -> None:
        self.http.close()
        self.sock.close()


class FastTyper:
    """The same measurement with a reader thread for the stream and an httpx
    client for the POSTs (soak.py's typists, several in one process). This
    script uses RawFloodTyper: here the echo is stamped by a thread that
    must first win the GIL back from the one in httpx."""

    def __init__(self, tw: TmuxWeb, session: str, echo: str) -> None:
        host, port = split_base_url(tw.base_url)
        self.sock = socket.create_connection((host, port))
        self.sock.sendall(f"GET /events?session={session} HTTP/1.1\r\nHost: {host}\r\n"
                          f"Authorization: Bearer {tw.token}\r\n\r\n".encode())
        head = b""
        while (found := re.search(rb'"session_token":"([A-Za-z0-9_-]+)"', head)) is None:
            head += self.sock.recv(65536)
        self.scanner = StreamScanner(echo)
        self._wanted = b""
        self._seen = threading.Event()
        self._seen_at = 0.0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self.http = httpx.Client(base_url=tw.base_url, timeout=10.0,
                                 headers={**tw.auth(), "X-Session-Token": found.group(1).decode()})
        self.url = f"/commands?session={session}"
        self.echo_pane = echo

    def _run(self) -> None:
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except OSError:
                return
            if not data:
                return
            now = time.perf_counter()
            with self._lock:
                if self.scanner.feed(data, self._wanted):
                    self._wanted = b""
                    self._seen_at = now
                    self._seen.set()

    def post(self, text: str) -> float:
        t0 = time.perf_counter()
        reply = self.http.post(self.url, json={"type": "input", "pane": self.echo_pane, "text": text})
        if reply.status_code != 200:
            raise RuntimeError(f"POST /commands: {reply.status_code} {reply.text}")
        return time.perf_counter() - t0

    def echo(self, marker: str) -> tuple[float, float]:
        """(seconds until the echo's `output` event, POST round trip).
        Raises Resynced when the echo came inside a fresh snapshot instead
        (this reader fell 2 MiB behind, or tmux paused the pane)."""
        with self._lock:
            self._wanted = marker.encode()
            self._seen.clear()
            self.scanner.mark()
        before = (self.scanner.states, self.scanner.resets)
        t0 = time.perf_counter()
        post = self.post(marker)
        if not self._seen.wait(5):
            if (self.scanner.states, self.scanner.resets) != before:
                raise Resynced(f"the echo of {marker!r} came in a resync")
            raise TimeoutError(f"no echo of {marker!r} within 5 s")
        return self._seen_at - t0, post

    def close(self) -> None:
        self.http.close()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._thread.join(5)
        self.sock.close()


def drain_for(client: RawControlClient, seconds: float) -> None:
    """Keep reading (and dropping) the flood for a while, as tmuxweb does
    between keystrokes: a reader that stops leaves a backlog in front of
    the next echo."""
    deadline = time.perf_counter() + seconds
    while (left := deadline - time.perf_counter()) > 0:
        ready, _, _ = select.select([client._out], [], [], left)
        if ready:
            os.read(client._out, 1 << 20)


def flooding_session(tmux: TmuxServer, name: str, directory: Path, flood: Path) -> tuple[str, str, Path]:
    """(echo pane, flood pane, its FIFO): the flood starts when the FIFO is written."""
    fifo = directory / f"{name}.fifo"
    os.mkfifo(fifo)
    echo = tmux.new_session(name, "cat")
    pane = tmux.cmd("split-window", "-d", "-t", name, "-P", "-F", "#{pane_id}",
                    f"sh -c \"read _ < '{fifo}'; while :; do cat '{flood}'; done\"").strip()
    return echo, pane, fifo


def trigger(fifo: Path) -> None:
    with open(fifo, "w") as f:
        f.write("go\n")


def floor_series(tmux: TmuxServer, session: str, echo: str, flood: str, fifo: Path,
                 names: Any, samples: int, gap: float) -> tuple[list[float], float]:
    assert tmux.pid is not None
    raw = RawControlClient(tmux, session)
    try:
        # The same flow control as tmuxweb's control client: per-pane
        # queues, so one pane's backlog does not hold the others' output.
        raw.send("refresh-client -f pause-after=2")
        trigger(fifo)
        drain_for(raw, 1.0)  # the flood is in full swing
        tmux0, t0 = cpu_seconds(tmux.pid), time.perf_counter()
        times = []
        for i in range(samples):
            times.append(raw_echo_amid_flood(raw, echo, next(names)))
            if i % 250 == 249:
                raw.send(f"send-keys -t {echo} -H {hex_keys(KILL_LINE)}")
            drain_for(raw, gap)
        load = (cpu_seconds(tmux.pid) - tmux0) / (time.perf_counter() - t0)
        raw.send(f"send-keys -t {flood} C-c")
        time.sleep(0.5)
        return times, load
    finally:
        raw.close()


def tmuxweb_series(tw: TmuxWeb, tmux: TmuxServer, session: str, echo: str, flood: str, fifo: Path,
                   names: Any, samples: int, gap: float) -> tuple[list[float], list[float], float, float, int]:
    assert tmux.pid is not None
    typer = RawFloodTyper(tw, session, echo)
    try:
        trigger(fifo)
        typer.pump(1.0)  # the flood is in full swing
        tmux0, t0, bytes0 = cpu_seconds(tmux.pid), time.perf_counter(), typer.scanner.bytes
        times, posts = [], []
        for i in range(samples):
            latency, post = typer.echo(next(names))
            times.append(latency)
            posts.append(post)
            if i % 250 == 249:
                typer.post(KILL_LINE)
            typer.pump(gap)
        elapsed = time.perf_counter() - t0
        load = (cpu_seconds(tmux.pid) - tmux0) / elapsed
        rate = (typer.scanner.bytes - bytes0) / MB / elapsed
        typer.command({"type": "keys", "pane": flood, "keys": ["C-c"]})
        return times, posts, load, rate, typer.scanner.resets
    finally:
        typer.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--samples", type=int, default=500, help="echo samples per side (default 500)")
    p.add_argument("--gap-ms", type=float, default=10.0, help="pause between samples (default 10)")
    p.add_argument("--flood-file-mb", type=float, default=5.0, help="size of the file the flood repeats (default 5)")
    args = p.parse_args()
    sys.setswitchinterval(0.0005)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print("Machine")
    for key, value in machine_info():
        print(f"  {key:17} {value}")
    workdir = Path(tempfile.mkdtemp(prefix="tw-underflood-"))
    tmux = TmuxServer()
    tw: TmuxWeb | None = None
    try:
        flood = make_flood_file(workdir, "text", args.flood_file_mb)
        tmux.new_session("main", "cat")
        raw_echo_pane, raw_flood, raw_fifo = flooding_session(tmux, "floor", workdir, flood.path)
        tw_echo_pane, tw_flood, tw_fifo = flooding_session(tmux, "web", workdir, flood.path)
        time.sleep(0.3)
        tw = TmuxWeb(tmux, workdir, "warning")
        names = markers()
        gap = args.gap_ms / 1000
        floor, floor_load = floor_series(tmux, "floor", raw_echo_pane, raw_flood, raw_fifo, names, args.samples, gap)
        web, posts, web_load, rate, resets = tmuxweb_series(tw, tmux, "web", tw_echo_pane, tw_flood, tw_fifo, names, args.samples, gap)
        print(f"\nKeystroke echo while another pane of the same session floods, ms ({args.gap_ms:g} ms between samples)")
        print(f"  floor    tmux -C send-keys -> %output   {Percentiles.of(floor).row()}   tmux server busy {100 * floor_load:.0f}%")
        print(f"  tmuxweb  POST /commands -> SSE output   {Percentiles.of(web).row()}   tmux server busy {100 * web_load:.0f}%"
              "   (raw-socket client)")
        print(f"  POST /commands round trip                {Percentiles.of(posts).row()}   (raw-socket client)")
        print(f"  SSE bytes received by the tmuxweb watcher meanwhile: {rate:.1f} MB/s; pane-resets {resets}")
        return 0
    finally:
        if tw is not None:
            tw.stop()
        tmux.kill()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
