"""Keystroke echo latency of several tmuxweb checkouts, measured in one run.

The machine's speed drifts by a third within minutes (it is shared), so
two versions measured one after the other can differ by more than the
change between them. This runs them side by side instead: each checkout
gets its own private tmux server (a `cat` pane) and its own tmuxweb, and
the raw-socket client of echo_and_throughput.py types into each in turn,
in blocks of 50 samples whose order rotates, with the raw `tmux -C` floor
as one more side. Figures are comparable within one run only.

    python benchmarks/compare_echo.py [--samples 1000] [--gap-ms 2] NAME=DIR [NAME=DIR ...]

DIR is a checkout holding tmuxweb/ (e.g. `now=.`, or a `git worktree add
/tmp/old REV`); it runs with this interpreter and its installed packages.

`--references` adds the two servers of reference_servers.py as sides: a
bare asyncio server and a bare ASGI app on uvicorn that speak the same wire
protocol with none of tmuxweb's checks. They split the distance between the
floor and tmuxweb into what Python and loopback HTTP cost, what uvicorn
costs, and what tmuxweb itself adds.
"""

from __future__ import annotations

import argparse
import select
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from echo_and_throughput import (  # noqa: E402
    Percentiles,
    RawControlClient,
    RawTmuxWebTyper,
    TmuxServer,
    TmuxWeb,
    clean_env,
    cpu_seconds,
    markers,
    raw_echo,
    terminate,
)

BLOCK = 50
WARMUP = 30


HERE = Path(__file__).resolve().parent


class ReferenceServer:
    """`reference_servers.py KIND` on the session `main` of `tmux`; as much
    of TmuxWeb's interface as a Side uses (it checks no token)."""

    token = "-"

    def __init__(self, tmux: TmuxServer, kind: str, workdir: Path) -> None:
        port_file = workdir / "port"
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "reference_servers.py"), kind, tmux.socket, str(port_file)],
            env=clean_env(),
        )
        self.pid = self.proc.pid
        deadline = time.monotonic() + 20
        while not (port_file.exists() and port_file.read_text()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the {kind} reference server did not start")
            select.select([], [], [], 0.05)
        self.base_url = f"http://127.0.0.1:{port_file.read_text()}"

    def auth(self) -> dict[str, str]:
        return {}

    def stop(self) -> None:
        terminate(self.proc)


@dataclass
class Side:
    name: str
    tmux: TmuxServer
    web: TmuxWeb | ReferenceServer
    typer: RawTmuxWebTyper
    echoes: list[float] = field(default_factory=list)
    posts: list[float] = field(default_factory=list)
    cpu: float = 0.0


def start_side(name: str, repo: Path | None, workdir: Path) -> Side:
    """A checkout's tmuxweb, or (`repo` None) the reference server `name`."""
    tmux = TmuxServer()
    pane = tmux.new_session("main", "cat")
    time.sleep(0.3)  # let cat start
    web = TmuxWeb(tmux, workdir, "warning", repo=repo) if repo else ReferenceServer(tmux, name, workdir)
    return Side(name, tmux, web, RawTmuxWebTyper(web, "main", pane))  # type: ignore[arg-type]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--samples", type=int, default=1000, help="echo samples per side (default 1000)")
    p.add_argument("--gap-ms", type=float, default=2.0, help="pause between samples (default 2)")
    p.add_argument("--references", action="store_true",
                   help="add the bare asyncio and uvicorn servers of reference_servers.py")
    p.add_argument("sides", nargs="*", metavar="NAME=DIR", help="a label and a checkout holding tmuxweb/")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    gap = args.gap_ms / 1000
    sides: list[Side] = []
    floor_tmux = TmuxServer()
    floor_pane = floor_tmux.new_session("floor", "cat")
    floor: RawControlClient | None = None
    try:
        for spec in args.sides:
            name, _, directory = spec.partition("=")
            repo = Path(directory or ".").resolve()
            if not (repo / "tmuxweb").is_dir():
                raise SystemExit(f"{repo} holds no tmuxweb/")
            sides.append(start_side(name, repo, Path(tempfile.mkdtemp(prefix="tw-compare-"))))
        for kind in ("asyncio", "uvicorn") * args.references:
            sides.append(start_side(kind, None, Path(tempfile.mkdtemp(prefix="tw-compare-"))))
        if not sides:
            raise SystemExit("nothing to compare: give NAME=DIR or --references")
        floor = RawControlClient(floor_tmux, "floor")
        names = markers()
        for each in sides:
            for _ in range(WARMUP):
                each.typer.sample(next(names))
        for _ in range(WARMUP):
            raw_echo(floor, floor_pane, next(names))
        floor_samples: list[float] = []
        turn = 0
        while len(floor_samples) < args.samples:
            order: list[Side | None] = [*sides, None]
            shift = turn % len(order)
            turn += 1
            for turn_side in order[shift:] + order[:shift]:
                if turn_side is None:
                    for _ in range(BLOCK):
                        floor_samples.append(raw_echo(floor, floor_pane, next(names)))
                        time.sleep(gap)
                    continue
                turn_side.typer.refresh()
                before = cpu_seconds(turn_side.web.pid)
                for _ in range(BLOCK):
                    try:
                        sample = turn_side.typer.sample(next(names))
                    except TimeoutError as err:
                        raise TimeoutError(f"{turn_side.name}: {err}") from None
                    turn_side.echoes.append(sample.echo)
                    turn_side.posts.append(sample.post)
                    time.sleep(gap)
                turn_side.cpu += cpu_seconds(turn_side.web.pid) - before
            if turn % 5 == 0:  # empty cat's line long before its 4095-byte limit
                for each in sides:
                    each.typer.post("\x15")
                floor.send("send-keys -t " + floor_pane + " C-u")
        print(f"Keystroke echo, ms ({args.samples} samples a side, {args.gap_ms:g} ms apart, raw-socket client)")
        floor_p50 = statistics.median(floor_samples)
        print(f"  {'floor':10} {Percentiles.of(floor_samples).row()}")
        for each in sides:
            print(f"  {each.name:10} {Percentiles.of(each.echoes).row()}")
            print(f"  {'':10} p50 {1000 * (statistics.median(each.echoes) - floor_p50):+.3f} over the floor;"
                  f" POST reply p50 {1000 * statistics.median(each.posts):.3f};"
                  f" server CPU per keystroke {1000 * each.cpu / len(each.echoes):.2f} (10 ms clock ticks)")
        return 0
    finally:
        if floor is not None:
            floor.close()
        floor_tmux.kill()
        for each in sides:
            each.typer.close()
            each.web.stop()
            each.tmux.kill()


if __name__ == "__main__":
    sys.exit(main())
