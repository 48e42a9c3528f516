#!/usr/bin/env python3
"""Fan-out CPU and memory of tmuxweb. Prints numbers; no pass/fail.

    python benchmarks/fanout_and_memory.py [--fanout 1,10,50,100] [--fanout-mb 20]
                                           [--memory-mb 100] [--watchers 100]

1. Fan-out: N watchers (1, 10, 50, 100) of one session while its pane
   floods `--fanout-mb` MB of base64 text. tmuxweb's CPU seconds per MB of
   flood for each N, and the ratio to one watcher. Every watcher must see
   the end marker; resyncs (a queue overflowed) and pane-resets (tmux paused
   the pane) are counted. The watchers are plain sockets read by one thread
   with a selector, so this process is not the bottleneck.
2. Memory (a fresh tmuxweb): RSS idle; with `--watchers` idle watchers
   connected; and during a `--memory-mb` MB flood watched by one reader and
   one stalled watcher that never reads after its `state` (RSS sampled every
   10 ms; peak and growth).

Same private tmux server rules as echo_and_throughput.py (every session
exists before a control client attaches; killed at the end). MB = 10**6.
"""

from __future__ import annotations

import argparse
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from echo_and_throughput import (  # noqa: E402
    MB,
    FloodSetup,
    TmuxServer,
    TmuxWeb,
    cpu_seconds,
    machine_info,
    make_flood_file,
    prepare_flood,
)

STREAM_ARGS = ("--max-streams", "256", "--max-streams-per-token", "256")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class RawWatcher:
    """One `GET /events` on a plain socket. Counts bytes, `state` and
    `pane-reset` events, and notices the end marker."""

    def __init__(self, tw: TmuxWeb, session: str, marker: bytes = b"", rcvbuf: int = 0) -> None:
        host, port = tw.base_url.removeprefix("http://").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)))
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.sendall(
            f"GET /events?session={session} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {tw.token}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        self.sock.setblocking(False)
        self.marker = marker
        self.bytes = 0
        self.states = 0
        self.resets = 0
        self.done_at = 0.0
        self._tail = b""

    def feed(self, data: bytes, now: float) -> None:
        self.bytes += len(data)
        seen = self._tail + data
        # Counted across the seam too, minus what the tail had counted.
        self.states += seen.count(b"event: state\n") - self._tail.count(b"event: state\n")
        self.resets += seen.count(b"event: pane-reset\n") - self._tail.count(b"event: pane-reset\n")
        if self.marker and not self.done_at and self.marker in seen:
            self.done_at = now
        self._tail = seen[-64:]

    def close(self) -> None:
        self.sock.close()


class Pump:
    """Reads every registered watcher in one thread until told to stop."""

    def __init__(self) -> None:
        self._sel = selectors.DefaultSelector()
        self._buf = bytearray(1 << 20)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="pump", daemon=True)
        self._thread.start()

    def add(self, watcher: RawWatcher) -> None:
        with self._lock:
            self._sel.register(watcher.sock, selectors.EVENT_READ, watcher)

    def remove(self, watcher: RawWatcher) -> None:
        with self._lock:
            if watcher.sock in {key.fileobj for key in self._sel.get_map().values()}:
                self._sel.unregister(watcher.sock)

    def _run(self) -> None:
        view = memoryview(self._buf)
        while not self._stop.is_set():
            # The lock is held while reading, so a watcher is never closed
            # under a read (add/remove wait at most one round).
            with self._lock:
                ready = self._sel.select(0.02) if self._sel.get_map() else []
                for key, _ in ready:
                    watcher: RawWatcher = key.data
                    try:
                        n = watcher.sock.recv_into(self._buf)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        n = 0
                    if n == 0:
                        self._sel.unregister(key.fileobj)
                        continue
                    watcher.feed(bytes(view[:n]), time.perf_counter())
            if not ready:
                time.sleep(0.001)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sel.close()


def wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.005)


# -- 1. fan-out -----------------------------------------------------------------------------


@dataclass
class FanoutResult:
    watchers: int
    payload_mb: float
    seconds: float
    tmuxweb_cpu: float
    tmux_cpu: float
    reader_cpu: float
    resyncs: int
    resets: int
    missing: int

    @property
    def per_mb(self) -> float:
        return self.tmuxweb_cpu / self.payload_mb


def fanout_run(tw: TmuxWeb, tmux: TmuxServer, pump: Pump, setup: FloodSetup, n: int,
               profile: Path | None = None) -> FanoutResult:
    assert tmux.pid is not None
    watchers = [RawWatcher(tw, setup.session, setup.marker.encode()) for _ in range(n)]
    try:
        for w in watchers:
            pump.add(w)
        wait(lambda: all(w.states >= 1 for w in watchers), 120, f"{n} states")
        time.sleep(0.5)  # let the snapshots' work finish before the CPU clock starts
        spy = None
        if profile is not None:
            # Folded stacks of tmuxweb during the flood (py-spy must be installed).
            out = profile / f"fanout-{n}.folded"
            spy = subprocess.Popen(["py-spy", "record", "-p", str(tw.pid), "-r", "200", "-f", "raw", "-o", str(out)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)  # py-spy attaches
        cpu0, tmux0, me0 = tw.cpu(), cpu_seconds(tmux.pid), time.process_time()
        t0 = time.perf_counter()
        setup.trigger()
        wait(lambda: all(w.done_at for w in watchers), 600, "every watcher to see the end marker")
        seconds = max(w.done_at for w in watchers) - t0
        cpu1, tmux1, me1 = tw.cpu(), cpu_seconds(tmux.pid), time.process_time()
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        return FanoutResult(
            n, setup.expected_payload / MB, seconds, cpu1 - cpu0, tmux1 - tmux0, me1 - me0,
            sum(w.states - 1 for w in watchers), sum(w.resets for w in watchers),
            sum(1 for w in watchers if not w.done_at),
        )
    finally:
        for w in watchers:
            pump.remove(w)
            w.close()


def print_fanout(results: list[FanoutResult]) -> None:
    print("\n1. Fan-out: one session flooding, N watchers (CPU per MB of pane output)")
    print(f"  {'watchers':>8} {'MB':>6} {'sec':>6} {'MB/s':>6} {'tmuxweb s':>9} {'s/MB':>7} {'x one':>6} "
          f"{'tmux s/MB':>9} {'reader s/MB':>11} {'resyncs':>7} {'resets':>6}")
    base = results[0].per_mb
    for r in results:
        print(f"  {r.watchers:8d} {r.payload_mb:6.1f} {r.seconds:6.2f} {r.payload_mb / r.seconds:6.2f} "
              f"{r.tmuxweb_cpu:9.2f} {r.per_mb:7.4f} {r.per_mb / base:6.2f} {r.tmux_cpu / r.payload_mb:9.4f} "
              f"{r.reader_cpu / r.payload_mb:11.4f} {r.resyncs:7d} {r.resets:6d}")


# -- 2. memory ------------------------------------------------------------------------------


class RssSampler:
    def __init__(self, pid: int, every: float = 0.01) -> None:
        self.samples = [rss_kib(pid)]
        self._pid, self._every = pid, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.samples.append(rss_kib(self._pid))

    def stop(self) -> list[int]:
        self._stop.set()
        self._thread.join(5)
        return self.samples


def memory(tw: TmuxWeb, tmux: TmuxServer, pump: Pump, idle_session: str, setup: FloodSetup, count: int) -> None:
    print("\n2. Memory (RSS of the tmuxweb process, MiB)")
    idle = rss_kib(tw.pid)
    print(f"  idle, no watcher                              {idle / 1024:7.1f}")
    watchers = [RawWatcher(tw, idle_session) for _ in range(count)]
    for w in watchers:
        pump.add(w)
    wait(lambda: all(w.states >= 1 for w in watchers), 120, f"{count} states")
    time.sleep(1)
    with_watchers = rss_kib(tw.pid)
    print(f"  {count} idle watchers of one session               {with_watchers / 1024:7.1f}"
          f"   (+{(with_watchers - idle) / count:.0f} KiB per watcher)")
    for w in watchers:
        pump.remove(w)
        w.close()
    time.sleep(1)
    after = rss_kib(tw.pid)
    print(f"  after they left                               {after / 1024:7.1f}")

    # One stalled watcher: reads nothing at all after connecting (a tiny
    # receive buffer, never read), and one reader that times the flood.
    stalled = RawWatcher(tw, setup.session, rcvbuf=4096)
    fast = RawWatcher(tw, setup.session, setup.marker.encode())
    pump.add(fast)
    wait(lambda: fast.states >= 1, 30, "the reader's state")
    time.sleep(0.5)
    before = rss_kib(tw.pid)
    sampler = RssSampler(tw.pid)
    cpu0 = tw.cpu()
    t0 = time.perf_counter()
    setup.trigger()
    wait(lambda: fast.done_at, 600, "the end of the flood")
    samples = sampler.stop()
    seconds = fast.done_at - t0
    peak = max(samples)
    print(f"  {setup.flood.size / MB:.0f} MB flood, one reader + one stalled watcher:")
    print(f"    before the flood                            {before / 1024:7.1f}")
    print(f"    peak during it (sampled every 10 ms, n={len(samples)}) {peak / 1024:7.1f}   growth {(peak - before) / 1024:+.1f} MiB")
    print(f"    at its end                                  {samples[-1] / 1024:7.1f}")
    print(f"    flood: {setup.expected_payload / MB:.1f} MB in {seconds:.1f} s ({setup.expected_payload / MB / seconds:.1f} MB/s); "
          f"reader resyncs {fast.states - 1}, pane-resets {fast.resets}; tmuxweb CPU {(tw.cpu() - cpu0) / (setup.expected_payload / MB):.4f} s/MB")
    pump.remove(fast)
    fast.close()
    stalled.close()


# -- main -------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fanout", default="1,10,50,100", help="watcher counts (default 1,10,50,100)")
    p.add_argument("--fanout-mb", type=float, default=20.0, help="MB flooded per fan-out run (default 20)")
    p.add_argument("--memory-mb", type=float, default=100.0, help="MB flooded with a stalled watcher (default 100)")
    p.add_argument("--watchers", type=int, default=100, help="idle watchers for the memory figure (default 100)")
    p.add_argument("--profile", type=Path, help="write py-spy folded stacks of each fan-out flood to this directory")
    p.add_argument("--no-memory", action="store_true", help="fan-out only")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    counts = [int(x) for x in args.fanout.split(",") if x.strip()]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    print("Machine")
    for key, value in machine_info():
        print(f"  {key:17} {value}")
    workdir = Path(tempfile.mkdtemp(prefix="tw-fanout-"))
    tmux = TmuxServer()
    tws: list[TmuxWeb] = []
    pump = Pump()
    try:
        fan_file = make_flood_file(workdir, "text", args.fanout_mb)
        mem_dir = workdir / "memory"
        mem_dir.mkdir()
        mem_file = make_flood_file(mem_dir, "text", args.memory_mb)
        tmux.new_session("main", "cat")
        setups = [prepare_flood(tmux, workdir, f"fan-{i}-{n}", fan_file) for i, n in enumerate(counts)]
        mem_setup = prepare_flood(tmux, mem_dir, "memory-flood", mem_file)
        tmux.new_session("idle", "cat")
        time.sleep(0.3)  # let the pane programs start

        (workdir / "fanout").mkdir()
        tw = TmuxWeb(tmux, workdir / "fanout", "warning", STREAM_ARGS)
        tws.append(tw)
        print(f"  tmuxweb           pid {tw.pid}, {tw.base_url}")
        results = [fanout_run(tw, tmux, pump, setup, n, args.profile) for setup, n in zip(setups, counts)]
        print_fanout(results)
        tw.stop()

        if not args.no_memory:
            fresh = TmuxWeb(tmux, mem_dir, "warning", STREAM_ARGS)
            tws.append(fresh)
            memory(fresh, tmux, pump, "idle", mem_setup, args.watchers)
        print(f"\n(total run time {time.monotonic() - started:.0f} s)")
        return 0
    finally:
        pump.stop()
        for tw in tws:
            tw.stop()
        tmux.kill()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
