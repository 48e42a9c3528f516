#!/usr/bin/env python3
"""What a size claim costs (tmuxweb/tmux/claim.py). Prints numbers; no
pass/fail.

    python benchmarks/claim_latency.py [--rounds N]

A private tmux server (one session, one window), tmuxweb on loopback, one
watcher. Timed on the `POST /commands` round trip, whose reply comes once
tmux has answered the claim's commands:

* first claim: attaches the claim's control client (`tmux -C` process,
  `-f no-output`, the window list), then `refresh-client -C` + `select-window`;
* later claims by the same viewer (alternating sizes): the two commands only;
* release: the per-window restore and the detach.

And the claim client's share of an output flood: none, since it is attached
with `-f no-output` (checked by counting the control clients tmux encodes
output for: `#{client_flags}` without `no-output`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers import RunningServer, Session, new_tmux_server, server_config, wait_until  # noqa: E402


def ms(seconds: list[float]) -> str:
    if len(seconds) == 1:
        return f"{seconds[0] * 1000:.2f} ms"
    qs = statistics.quantiles(seconds, n=100)
    return f"p50 {statistics.median(seconds) * 1000:.2f} ms, p90 {qs[89] * 1000:.2f} ms, max {max(seconds) * 1000:.2f} ms (n={len(seconds)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmux = new_tmux_server(Path(tmp))
        tmux.start("main", 120, 40)
        server = RunningServer(server_config(tmux, claim_grace=0.0)).start()
        try:
            first: list[float] = []
            later: list[float] = []
            release: list[float] = []
            for _ in range(args.rounds):
                viewer = Session(server, server.stream())
                t0 = time.perf_counter()
                assert viewer.command(type="resize", cols=53, rows=52).status_code == 200
                first.append(time.perf_counter() - t0)
                for i in range(4):
                    cols = 60 + i
                    t0 = time.perf_counter()
                    assert viewer.command(type="resize", cols=cols, rows=30).status_code == 200
                    later.append(time.perf_counter() - t0)
                flags = tmux.run("list-clients", "-F", "#{client_flags}").splitlines()
                encoding = [f for f in flags if "control-mode" in f and "no-output" not in f]
                t0 = time.perf_counter()
                assert viewer.command(type="release-size").status_code == 200
                release.append(time.perf_counter() - t0)
                viewer.close()
                wait_until(lambda: len(tmux.control_clients()) <= 1, what="the claim client detached")
            print(f"first claim (attach + size):   {ms(first)}")
            print(f"later claim (size):            {ms(later)}")
            print(f"release (restore + detach):    {ms(release)}")
            print(f"control clients tmux encodes output for while a claim is held: {len(encoding)} (the session's own)")
        finally:
            server.stop()
            tmux.kill()


if __name__ == "__main__":
    main()
