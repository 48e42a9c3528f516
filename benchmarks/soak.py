#!/usr/bin/env python3
"""Soak: mixed typing, flooding, reconnecting and resizing by several
clients against one tmuxweb, with its memory and descriptors sampled.
Prints the samples and whether they show a growth trend; no pass/fail.

    python benchmarks/soak.py [--minutes 30] [--sample-seconds 10]

Clients (threads of this process, each with its own `GET /events`):
* 2 typists: type a unique marker into their own `cat` pane every 50 ms
  and wait for its echo (latency recorded; C-u every 200 keys).
* 1 flooder: every 15 s types `head -c N /dev/urandom | base64` (N from
  2 to 20 MB) into a third pane and waits for its end marker.
* 3 reconnectors: connect, read for 0.5–3 s, hang up; two of them resume
  with Last-Event-ID (counted: resumed or fell back to a snapshot).
* 1 resizer: a `resize` every 2 s; every 10 s a `split` whose new pane is
  then killed (`kill-pane`), so panes come and go.

Every `--sample-seconds`: tmuxweb's RSS, open descriptors, threads and
child processes, and the tmux server's RSS (judged too: tmux 3.3a leaks
the output of every `capture-pane -p` a control client sends, tmux#4590,
so tmuxweb captures through named buffers, and the user's tmux server must
stay flat). The trend is judged after a
warm-up (the first fifth of the run, at least one minute when the run is
long enough): least-squares slope, and the median of the last quarter
against the median of the second quarter.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from echo_and_throughput import (  # noqa: E402
    KILL_LINE,
    Percentiles,
    TmuxServer,
    TmuxWeb,
    machine_info,
    markers,
)
from latency_under_flood import FastTyper, Resynced  # noqa: E402

ARGS = ("--max-streams", "64", "--max-streams-per-token", "64")


def proc_status(pid: int) -> dict[str, int]:
    found = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "Threads"):
                found[key] = int(value.split()[0])
    return found


def children(pid: int) -> int:
    count = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            count += len((task / "children").read_text().split())
        except OSError:
            pass
    return count


@dataclass
class Sample:
    t: float
    rss: int  # KiB
    fds: int
    threads: int
    children: int
    tmux_rss: int


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, what: str, n: int = 1) -> None:
        with self.lock:
            self.counts[what] += n

    def error(self, what: str, err: BaseException) -> None:
        with self.lock:
            self.errors[f"{what}: {type(err).__name__}: {str(err)[:80]}"] += 1


class RawStream:
    """A `GET /events` on a plain socket: its session token and last id."""

    ID = re.compile(rb"\nid: ([0-9a-f]+-[0-9]+)\n")

    def __init__(self, tw: TmuxWeb, session: str, last_id: str | None = None) -> None:
        host, port = tw.base_url.removeprefix("http://").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=15)
        extra = f"Last-Event-ID: {last_id}\r\n" if last_id else ""
        self.sock.sendall(f"GET /events?session={session} HTTP/1.1\r\nHost: {host}\r\n"
                          f"Authorization: Bearer {tw.token}\r\n{extra}\r\n".encode())
        self.last_id = last_id
        self.data = b""
        head = b""  # connection-info comes first, maybe with megabytes of replay after it
        while (found := re.search(rb'"session_token":"([A-Za-z0-9_-]+)".*?\n\n', head[:4096], re.S)) is None:
            head += self.read()
        self.resumed = b'"resumed":true' in head[:4096]
        self.token = found.group(1).decode()

    def read(self) -> bytes:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("stream ended")
        ids = self.ID.findall(chunk)
        if ids:
            self.last_id = ids[-1].decode()
        self.data = (self.data + chunk)[-65536:]
        return chunk

    def close(self) -> None:
        self.sock.close()


class Soak:
    def __init__(self, tw: TmuxWeb, panes: dict[str, str], deadline: float, seed: int) -> None:
        self.tw = tw
        self.panes = panes
        self.deadline = deadline
        self.rnd = random.Random(seed)
        self.tally = Tally()
        self.names = markers()
        self.names_lock = threading.Lock()

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    def marker(self) -> str:
        with self.names_lock:
            return next(self.names)

    def loop(self, what: str, body) -> None:  # type: ignore[no-untyped-def]
        while self.running():
            try:
                body()
            except Exception as err:  # noqa: BLE001 - counted and reported
                self.tally.error(what, err)
                time.sleep(1)

    # -- clients ----------------------------------------------------------------------

    def typist(self, pane: str) -> None:
        def session() -> None:
            typer = FastTyper(self.tw, "soak", self.panes[pane])
            try:
                for i in range(2000):
                    if not self.running():
                        return
                    try:
                        latency, _ = typer.echo(self.marker())
                    except Resynced:
                        # Delivered, in a snapshot: this reader fell behind.
                        self.tally.count("keys echoed in a resync")
                        continue
                    with self.tally.lock:
                        self.tally.latencies.append(latency)
                    self.tally.count("keys")
                    if i % 200 == 199:
                        typer.post(KILL_LINE)
                    time.sleep(0.05)
            finally:
                typer.close()

        self.loop("typist", session)

    def flooder(self) -> None:
        serial = 0

        def flood() -> None:
            nonlocal serial
            stream = RawStream(self.tw, "soak")
            try:
                with self.tw_client(stream.token) as http:
                    while self.running():
                        serial += 1
                        size = self.rnd.randrange(2, 21) * 750_000
                        end = f"FLOOD-{serial}-DONE"
                        text = f"head -c {size} /dev/urandom | base64 -w 120; echo FLOOD-{serial}-$((0))DONE\r"
                        # The marker as printed differs from the typed command ("$((0))").
                        end = f"FLOOD-{serial}-0DONE"
                        http.post("/commands?session=soak", json={"type": "input", "pane": self.panes["flood"], "text": text}).raise_for_status()
                        limit = time.monotonic() + 120
                        tail = b""
                        while True:
                            chunk = stream.read()
                            if end.encode() in tail + chunk:
                                break
                            tail = chunk[-64:]
                            if time.monotonic() > limit:
                                raise TimeoutError(f"{end} not seen in 120 s")
                        self.tally.count("floods")
                        self.tally.count("flood MB", size * 4 // 3 // 1_000_000)
                        pause = time.monotonic() + 15
                        while time.monotonic() < pause and self.running():
                            stream.sock.settimeout(max(0.05, pause - time.monotonic()))
                            try:
                                stream.read()
                            except TimeoutError:
                                pass
                        stream.sock.settimeout(15)
            finally:
                stream.close()

        self.loop("flooder", flood)

    def reconnector(self, resume: bool, seed: int) -> None:
        rnd = random.Random(seed)
        last: list[str | None] = [None]

        def once() -> None:
            stream = RawStream(self.tw, "soak", last[0] if resume else None)
            try:
                if resume and last[0]:
                    self.tally.count("resumed" if stream.resumed else "resume fell back to a snapshot")
                until = time.monotonic() + rnd.uniform(0.5, 3.0)
                stream.sock.settimeout(0.2)
                while time.monotonic() < until:
                    try:
                        stream.read()
                    except TimeoutError:
                        pass
                last[0] = stream.last_id
                self.tally.count("reconnects")
            finally:
                stream.close()

        self.loop("reconnector", once)

    def resizer(self) -> None:
        def run() -> None:
            stream = RawStream(self.tw, "soak")
            stream.sock.settimeout(0.05)
            try:
                with self.tw_client(stream.token) as http:
                    step = 0
                    while self.running():
                        step += 1
                        cols, rows = self.rnd.randrange(60, 240), self.rnd.randrange(20, 70)
                        http.post("/commands?session=soak", json={"type": "resize", "cols": cols, "rows": rows}).raise_for_status()
                        self.tally.count("resizes")
                        if step % 5 == 0:
                            self.split_and_kill(http, stream)
                        pause = time.monotonic() + 2
                        while time.monotonic() < pause:
                            try:
                                stream.read()
                            except TimeoutError:
                                pass
            finally:
                stream.close()

        self.loop("resizer", run)

    def split_and_kill(self, http, stream: RawStream) -> None:  # type: ignore[no-untyped-def]
        known = set(re.findall(rb'"pane":\{"id":"(%[0-9]+)"', stream.data))
        split = http.post("/commands?session=soak", json={"type": "split", "pane": self.panes["flood"], "direction": "vertical"})
        if split.status_code == 409:  # tmux: no space for a new pane at this size
            self.tally.count("splits refused by tmux (no space)")
            return
        split.raise_for_status()
        limit = time.monotonic() + 10
        while time.monotonic() < limit:
            try:
                stream.read()
            except TimeoutError:
                pass
            added = [p for p in re.findall(rb'event: pane-added\n(?:id: [^\n]*\n)?data: \{"pane":\{"id":"(%[0-9]+)"', stream.data) if p not in known]
            if added:
                http.post("/commands?session=soak", json={"type": "kill-pane", "pane": added[-1].decode()}).raise_for_status()
                self.tally.count("panes split and killed")
                return
        raise TimeoutError("no pane-added after a split")

    def tw_client(self, token: str):  # type: ignore[no-untyped-def]
        import httpx

        return httpx.Client(base_url=self.tw.base_url, timeout=15.0,
                            headers={**self.tw.auth(), "X-Session-Token": token})


def trend(samples: list[Sample], key: str, warmup: float) -> tuple[float, float, float]:
    """(slope per minute, median of the second quarter, of the last quarter)
    of one quantity after the warm-up."""
    kept = [s for s in samples if s.t >= warmup] or samples
    xs = [s.t / 60 for s in kept]
    ys = [float(getattr(s, key)) for s in kept]
    if len(kept) < 4:
        return 0.0, ys[0], ys[-1]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var if var else 0.0
    q = len(ys) // 4
    return slope, statistics.median(ys[q : 2 * q]), statistics.median(ys[-q:])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=30.0, help="how long (default 30)")
    p.add_argument("--sample-seconds", type=float, default=10.0, help="sampling interval (default 10)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    sys.setswitchinterval(0.0005)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print("Machine")
    for key, value in machine_info():
        print(f"  {key:17} {value}")
    workdir = Path(tempfile.mkdtemp(prefix="tw-soak-"))
    tmux = TmuxServer()
    tw: TmuxWeb | None = None
    try:
        panes = {"type-1": tmux.new_session("soak", "cat")}
        for name, command in (("type-2", "cat"), ("flood", "bash --norc --noprofile")):
            panes[name] = tmux.cmd("split-window", "-d", "-t", "soak", "-P", "-F", "#{pane_id}", command).strip()
        time.sleep(0.3)
        tw = TmuxWeb(tmux, workdir, "warning", ARGS)
        assert tmux.pid is not None
        print(f"  tmuxweb           pid {tw.pid}; {args.minutes:g} minutes, a sample every {args.sample_seconds:g} s")
        started = time.monotonic()
        soak = Soak(tw, panes, started + args.minutes * 60, args.seed)
        threads = [
            threading.Thread(target=soak.typist, args=("type-1",)),
            threading.Thread(target=soak.typist, args=("type-2",)),
            threading.Thread(target=soak.flooder),
            threading.Thread(target=soak.reconnector, args=(False, 1)),
            threading.Thread(target=soak.reconnector, args=(True, 2)),
            threading.Thread(target=soak.reconnector, args=(True, 3)),
            threading.Thread(target=soak.resizer),
        ]
        for thread in threads:
            thread.daemon = True
            thread.start()
        samples: list[Sample] = []
        print(f"\n  {'min':>6} {'RSS MiB':>8} {'fds':>5} {'threads':>7} {'children':>8} {'tmux RSS MiB':>12}  keys floods reconnects errors")
        while soak.running():
            time.sleep(min(args.sample_seconds, max(0.0, soak.deadline - time.monotonic())))
            status = proc_status(tw.pid)
            sample = Sample(time.monotonic() - started, status["VmRSS"], len(list(Path(f"/proc/{tw.pid}/fd").iterdir())),
                            status["Threads"], children(tw.pid), proc_status(tmux.pid)["VmRSS"])
            samples.append(sample)
            c = soak.tally.counts
            print(f"  {sample.t / 60:6.2f} {sample.rss / 1024:8.1f} {sample.fds:5d} {sample.threads:7d} {sample.children:8d} "
                  f"{sample.tmux_rss / 1024:12.1f}  {c['keys']} {c['floods']} {c['reconnects']} {sum(soak.tally.errors.values())}",
                  flush=True)
        for thread in threads:
            thread.join(150)

        duration = samples[-1].t
        warmup = min(max(60.0, duration / 5), duration / 2)
        print(f"\nActivity over {duration / 60:.1f} min: " + ", ".join(f"{k} {v}" for k, v in sorted(soak.tally.counts.items())))
        if soak.tally.latencies:
            print(f"  typing echo latency, ms: {Percentiles.of(soak.tally.latencies).row()}")
        print(f"  errors: {dict(soak.tally.errors) or 'none'}")
        print(f"\nTrend after a {warmup:.0f} s warm-up (slope per minute; medians of the 2nd and the last quarter):")
        verdicts = []
        for key, unit, scale, allowed in (("rss", "MiB", 1 / 1024, 2.0), ("fds", "fds", 1, 0.5),
                                          ("threads", "threads", 1, 0.5), ("children", "children", 1, 0.5),
                                          ("tmux_rss", "MiB (tmux)", 1 / 1024, 2.0)):
            slope, early, late = trend(samples, key, warmup)
            growing = (late - early) * scale > allowed and slope * scale * (duration - warmup) / 60 > allowed
            verdicts.append(growing)
            print(f"  {key:9} slope {slope * scale:+8.3f} {unit}/min   2nd quarter {early * scale:8.1f}   last quarter {late * scale:8.1f}"
                  f"   -> {'GROWING' if growing else 'flat'}")
        log = (workdir / "tmuxweb.log").read_text(errors="replace").splitlines()
        problems = [line for line in log if " WARNING " in line or " ERROR " in line or "Traceback" in line]
        print(f"\ntmuxweb log: {len(log)} lines, {len(problems)} warnings/errors")
        for line in problems[:20]:
            print(f"  {line[:200]}")
        if problems:
            index = log.index(problems[0])
            print("  first one in full:\n    " + "\n    ".join(log[index : index + 30]))
        print(f"\ngrowth trend (tmuxweb or the tmux server): {'YES' if any(verdicts) else 'none'}  (growing = the last "
              "quarter's median is more than 2 MiB / half a descriptor above the second quarter's and the slope over "
              "the run says the same)")
        return 0
    finally:
        if tw is not None:
            tw.stop()
        tmux.kill()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
