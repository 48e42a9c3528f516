#!/usr/bin/env python3
"""What pane states cost. Prints numbers; no pass/fail.

    python benchmarks/pane_states_cpu.py [--sessions 4] [--panes 100] [--seconds 20]

`--panes` panes spread over `--sessions` sessions (one window each), every
pane a busy agent: ten lines a second for one second, then a second of
quiet (so each pane settles, and its screen is read, every two seconds),
forever. All created before tmuxweb starts (TMUX-NOTES), with a history of
50 lines so that their memory is flat once it is full.

Four phases of `--seconds` each, a fresh tmuxweb for each, measured after
it has attached and settled: tmuxweb's CPU seconds per wall second (and the
tmux server's), with `--no-states` and with the tracker, first with nobody
watching (with `--no-states` no control client is attached at all, so the
tracker's figure is everything it costs), then with one watcher per session
(the hubs exist either way: the tracker's own share). The tmux server's RSS is sampled every second: the
tracker reads about 50 screens a second through named buffers, and with
`capture-pane -p` tmux would grow by each screen it sent
(benchmarks/README.md, the capture leak).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from echo_and_throughput import TmuxServer, TmuxWeb, cpu_seconds, machine_info  # noqa: E402
from fanout_and_memory import Pump, RawWatcher, rss_kib  # noqa: E402

# No fork per line: `read -t` on a pipe that never gets data is the sleep.
BUSY = (
    "exec 3<> <(:); while :; do for i in 1 2 3 4 5 6 7 8 9 10; do "
    'echo "working on step $i of the plan: $RANDOM $RANDOM"; read -t 0.1 -u 3; done; read -t 1 -u 3; done'
)


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[int] = []
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(1.0):
            self.samples.append(rss_kib(self.pid))

    def stop(self) -> list[int]:
        self._done.set()
        self.join(5)
        return self.samples


def version(tw: TmuxWeb, states: bool) -> int:
    """The tracker's change counter: how many pane states it sent so far."""
    if not states:
        return 0
    panes = httpx.get(tw.base_url + "/api/states", headers=tw.auth(), timeout=10).json()["panes"]
    return max((p["version"] for p in panes), default=0)


def phase(tmux: TmuxServer, workdir: Path, states: bool, sessions: list[str], watch: bool, seconds: float) -> dict[str, float]:
    args = () if states else ("--no-states",)
    tw = TmuxWeb(tmux, workdir, "warning", ("--max-streams-per-token", "64", *args))
    pump = Pump()
    watchers: list[RawWatcher] = []
    try:
        if watch:
            for name in sessions:
                w = RawWatcher(tw, name)
                pump.add(w)
                watchers.append(w)
        # Attached, first screens read, start-up over.
        time.sleep(3.0)
        assert tmux.pid is not None
        rss = RssSampler(tmux.pid)
        rss.start()
        t0, cpu0, tcpu0, v0 = time.monotonic(), tw.cpu(), cpu_seconds(tmux.pid), version(tw, states)
        time.sleep(seconds)
        wall = time.monotonic() - t0
        cpu, tcpu = tw.cpu() - cpu0, cpu_seconds(tmux.pid) - tcpu0
        changes = version(tw, states) - v0
        samples = rss.stop()
        return {
            "cpu": cpu / wall,
            "tmux_cpu": tcpu / wall,
            "rss_first": samples[0] / 1024 if samples else 0.0,
            "rss_last": samples[-1] / 1024 if samples else 0.0,
            "rss_max": max(samples) / 1024 if samples else 0.0,
            "mb_watched": sum(w.bytes for w in watchers) / 1e6 / wall,
            "changes": changes / wall,
        }
    finally:
        pump.stop()
        for w in watchers:
            w.close()
        tw.stop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=4)
    p.add_argument("--panes", type=int, default=100)
    p.add_argument("--seconds", type=float, default=20.0)
    args = p.parse_args()
    for key, value in machine_info():
        print(f"{key}: {value}")
    tmux = TmuxServer()
    names = [f"s{i}" for i in range(args.sessions)]
    try:
        # main first: tmuxweb's default session must exist.
        tmux.new_session("main", "sleep 1000000")
        # A short history: the panes' memory stops growing within a phase,
        # so tmux's RSS shows only what reading the screens costs it.
        tmux.cmd("set-option", "-g", "history-limit", "50")
        for i in range(args.panes):
            name = names[i % len(names)]
            if i < len(names):
                tmux.new_session(name, f"bash --norc -c '{BUSY}'")
            else:
                tmux.cmd("new-window", "-d", "-t", f"{name}:", f"bash --norc -c '{BUSY}'")
        print(f"{args.panes} busy panes in {len(names)} sessions (+ an idle main); {args.seconds:g} s per phase")
        with tempfile.TemporaryDirectory() as tmp:
            results = {}
            for watch in (False, True):
                for states in (False, True):
                    results[(watch, states)] = phase(tmux, Path(tmp), states, names, watch, args.seconds)
        print()
        print("| watchers | tmuxweb CPU s/s --no-states | with the tracker | ratio | tmux CPU s/s without / with |")
        print("| --- | --- | --- | --- | --- |")
        for watch in (False, True):
            off, on = results[(watch, False)], results[(watch, True)]
            ratio = on["cpu"] / off["cpu"] if off["cpu"] > 0 else float("inf")
            who = f"one per session ({on['mb_watched']:.2f} MB/s to them)" if watch else "none"
            print(f"| {who} | {off['cpu']:.3f} | {on['cpu']:.3f} ({on['changes']:.0f} states sent/s) | {ratio:.2f} | {off['tmux_cpu']:.3f} / {on['tmux_cpu']:.3f} |")
        print()
        print("| tmux RSS MiB (first / last / max sample) | --no-states | with the tracker |")
        print("| --- | --- | --- |")
        for watch in (False, True):
            off, on = results[(watch, False)], results[(watch, True)]
            cells = [f"{r['rss_first']:.1f} / {r['rss_last']:.1f} / {r['rss_max']:.1f}" for r in (off, on)]
            print(f"| {'watched' if watch else 'unwatched'} | {cells[0]} | {cells[1]} |")
    finally:
        tmux.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
