"""Slow and stalled watchers during a flood: the others' output is not held
back, tmuxweb's memory stays bounded, and the slow ones catch up from a
fresh snapshot.

Bounds (the issue asks for stated ones):
* While one watcher reads slowly and another reads nothing at all, a fast
  watcher gets a heartbeat printed by another pane of the same session
  within HEARTBEAT_BOUND of its printing, every time. tmux itself holds a
  pane's output at most `pause-after` (2 s) before pausing it, so anything
  over 2 s would be tmuxweb holding output back; measured: p50 ≈ 3 ms,
  max 10–100 ms on a 2-core VM.
* tmuxweb's resident memory grows by at most RSS_BOUND over its level before
  the flood: the flood is 40 MB, the stalled watcher's queue is capped at
  2 MiB and the ring of recent events at 4 MiB (whose events hold their
  JSON and SSE bytes). Measured: +9 to +11 MiB.
"""

from __future__ import annotations

import re
import socket
import statistics
import threading
import time
from collections.abc import Callable

import pytest

from helpers import Event, RunningServer, TmuxServer, wait_until
from rig import Reader, Tmuxweb, reader, rss_kib

FLOOD_MB = 40
HEARTBEAT_BOUND = 2.0  # seconds
RSS_BOUND = 32 * 1024  # KiB
MARKER = "FLOOD-2-DONE"


class Sampler:
    """tmuxweb's RSS every 20 ms, in a thread."""

    def __init__(self, pid: int) -> None:
        self._read = lambda: rss_kib(pid)
        self.samples: list[int] = [self._read()]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.samples.append(self._read())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(5)
        return max(self.samples)


class Seen:
    """What one watcher has seen of the flood and the heartbeat."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.marker_at = 0.0
        self.flood_bytes = 0

    def on_event(self, event: Event, now: float) -> None:
        data = event.data
        if event.name == "output" and data["pane"] == "%1":
            received = time.time()
            for line in data["data"].split("\r\n"):
                if line.startswith("HB ") and line[3:].replace(".", "").isdigit():
                    self.lags.append(received - float(line[3:]))
        elif event.name == "output" and data["pane"] == "%0":
            self.flood_bytes += len(data["data"])
            self._check(data["data"])
        elif event.name == "pane-reset":
            self._check(data["pane"]["content"])
        elif event.name == "state":
            self._check(" ".join(p["content"] for p in data["panes"]))

    def _check(self, text: str) -> None:
        if MARKER in text and not self.marker_at:
            self.marker_at = time.monotonic()


@pytest.mark.slow
def test_slow_and_stalled_watchers_hold_nobody_back_and_memory_stays_bounded(
    tmux_server: TmuxServer, start_tmuxweb: Callable[..., Tmuxweb]
) -> None:
    tmux_server.run("split-window", "-v", "-d", "-t", "%0")  # %1: the heartbeat
    tmux_server.wait_for_prompt("%0")
    tmux_server.wait_for_prompt("%1")
    app = start_tmuxweb()
    fast, slow, stalled = Seen(), Seen(), Seen()
    readers: list[Reader] = []
    try:
        readers.append(reader(app, on_event=fast.on_event))
        readers.append(reader(app, on_event=slow.on_event, pause=0.01))  # well under 1 MB/s
        readers.append(reader(app, on_event=stalled.on_event, stall=True))
        readers[2].wait_stalled()
        tmux_server.run("send-keys", "-t", "%1", "-l", "while :; do echo HB $(date +%s.%N); sleep 0.02; done")
        tmux_server.run("send-keys", "-t", "%1", "Enter")
        wait_until(lambda: len(fast.lags) >= 5, what="heartbeats")
        before = len(fast.lags)
        sampler = Sampler(app.pid)
        tmux_server.run("send-keys", "-t", "%0", "-l", f"head -c {FLOOD_MB * 750_000} /dev/urandom | base64 -w 100; echo FLOOD-$((1 + 1))-DONE")
        tmux_server.run("send-keys", "-t", "%0", "Enter")
        wait_until(lambda: fast.marker_at, timeout=120, what="the flood to reach the fast watcher")
        peak = sampler.stop()
        during = fast.lags[before:]
        print(
            f"flood {fast.flood_bytes / 1e6:.1f} MB; heartbeat lag at the fast watcher p50 "
            f"{statistics.median(during) * 1000:.1f} ms, max {max(during) * 1000:.1f} ms (n={len(during)}); "
            f"RSS {sampler.samples[0] // 1024} MiB before, peak {peak // 1024} MiB; slow watcher read "
            f"{readers[1].received / 1e6:.1f} MB"
        )
        assert len(during) >= 10
        assert max(during) < HEARTBEAT_BOUND, sorted(during)[-5:]
        assert peak - sampler.samples[0] < RSS_BOUND

        # Both catch up through a fresh snapshot: neither can have read
        # 40 MB in time, so their queues overflowed.
        readers[2].resume()
        wait_until(lambda: slow.marker_at and stalled.marker_at, timeout=60, what="the slow watchers to catch up")
        assert readers[1].counts.get("state", 0) >= 2
        assert readers[2].counts.get("state", 0) >= 2
        assert all(r.error is None for r in readers), [r.error for r in readers]
    finally:
        for r in readers:
            r.close()


@pytest.mark.slow
def test_a_watcher_that_never_reads_again_is_dropped_and_forgotten(
    make_server: Callable[..., RunningServer], tmux_server: TmuxServer
) -> None:
    """Its socket accepts nothing for `send_timeout`: the server ends the
    stream, its session token dies, and once nobody else watches, the
    control client detaches (nothing of the stream is left behind)."""
    server = make_server(send_timeout=1.0, watcher_queue_bytes=256 * 1024)
    tmux_server.wait_for_prompt()
    stalled = socket.create_connection(("127.0.0.1", server.config.port))
    try:
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(
            f"GET /events?session=main HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.token}\r\n\r\n".encode()
        )
        head = b""
        stalled.settimeout(10)
        while (found := re.search(rb'"session_token":"([A-Za-z0-9_-]+)"', head)) is None:
            chunk = stalled.recv(4096)
            assert chunk, head
            head += chunk
        token = found.group(1).decode()
        with server.stream() as fast:
            fast.named("state")
            tmux_server.run("send-keys", "-t", "%0", "-l", "head -c 20000000 /dev/zero | tr '\\0' x; echo; echo FLOOD-$((1 + 1))-DONE")
            tmux_server.run("send-keys", "-t", "%0", "Enter")
            fast.until(lambda e: e.name == "output" and "FLOOD-2-DONE" in e.data["data"], timeout=60)
        # Everything the stalled stream owned goes: its session token ...
        with server.client(headers={"X-Session-Token": token}) as client:
            wait_until(
                lambda: client.post("/commands", params={"session": "main"}, json={"type": "keys", "keys": ["Enter"]}).status_code == 403,
                timeout=30,
                what="the stalled stream to be ended",
            )
        # ... and its subscription: with no watcher left, the control client detaches.
        wait_until(lambda: not tmux_server.control_clients(), timeout=30, what="the control client to detach")
    finally:
        stalled.close()
