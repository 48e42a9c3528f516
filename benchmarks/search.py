"""Find in scrollback: how long a search of a pane's whole history takes,
and how long tmux is frozen for it.

Starts a private tmux server and tmuxweb (as the tests do), fills a pane
with 10k and 50k lines of history, and prints for each:

* search: GET /api/search wall time, median and max (all chunks, the
  show-buffer transfers and the matching in Python);
* one chunk: a plain `capture-pane` of search.CHUNK lines into a buffer,
  the longest single freeze of tmux a search causes (tmux runs one command
  at a time; other clients' commands run between chunks);
* whole, coloured: a `capture-pane -e` of the whole history at once, what a
  search without chunks and with colours would freeze tmux for.

The tmux figures are `tmux` command wall times minus that of a no-op
command (`display-message`), so the process start is not counted.

    python benchmarks/search.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers import RunningServer, Session, TmuxServer, new_tmux_server, server_config, wait_until  # noqa: E402
from tmuxweb.search import CHUNK  # noqa: E402


def timed(tmux: TmuxServer, *args: str, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        tmux.run(*args)
        out.append(time.perf_counter() - t0)
    return out


def fill(tmux: TmuxServer, session: Session, lines: int) -> str:
    pane = tmux.run("new-window", "-P", "-F", "#{pane_id}", "-t", "main").strip()
    wait_until(lambda: tmux.capture(pane).rstrip().endswith("$"), what="prompt")
    wait_until(lambda: session.client.get("/api/search", params={"pane": pane, "q": "x"}).status_code == 200, what="hub")
    tmux.run("send-keys", "-t", pane, "-l", f"clear; echo NEED''LE; seq -f 'line %06g of the history, with some text' 1 {lines}; echo fill-done-$((6*7))")
    tmux.run("send-keys", "-t", pane, "Enter")
    tmux.wait_for_text(pane, "fill-done-42", timeout=120)
    return pane


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    ms = 1000.0
    with tempfile.TemporaryDirectory() as tmp:
        tmux = new_tmux_server(Path(tmp))
        tmux.start("main", 120, 40)
        tmux.run("set-option", "-g", "history-limit", "60000")
        server = RunningServer(server_config(tmux)).start()
        session = Session(server, server.stream())
        try:
            print(f"chunk: {CHUNK} lines; {args.rounds} rounds each")
            for lines in (10_000, 50_000):
                pane = fill(tmux, session, lines)
                searches = []
                for _ in range(args.rounds):
                    t0 = time.perf_counter()
                    r = session.client.get("/api/search", params={"pane": pane, "q": "needle"})
                    searches.append(time.perf_counter() - t0)
                    assert r.status_code == 200 and len(r.json()["matches"]) == 1, r.text
                base = statistics.median(timed(tmux, "display-message", "-p", "x", rounds=args.rounds))
                chunk = timed(tmux, "capture-pane", "-t", pane, "-S", f"-{CHUNK}", "-E", "-1", "-b", "bench", rounds=args.rounds)
                whole = timed(tmux, "capture-pane", "-e", "-t", pane, "-S", "-", "-E", "-1", "-b", "bench", rounds=args.rounds)
                tmux.run("delete-buffer", "-b", "bench")
                print(
                    f"{lines:>6} lines: search median {statistics.median(searches) * ms:6.1f} ms, max {max(searches) * ms:6.1f} ms; "
                    f"tmux frozen per chunk ~{max(0.0, statistics.median(chunk) - base) * ms:5.1f} ms; "
                    f"whole coloured capture ~{max(0.0, statistics.median(whole) - base) * ms:6.1f} ms "
                    f"(no-op tmux command {base * ms:.1f} ms subtracted)"
                )
        finally:
            session.close()
            server.stop()
            tmux.kill()


if __name__ == "__main__":
    main()
