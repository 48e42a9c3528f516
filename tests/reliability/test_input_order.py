"""No lost or reordered input: thousands of `input` commands fired
concurrently (so the HTTP requests overtake each other) arrive in the pane
in `seq` order, byte for byte.

Each pane records its raw input to a file (`stty raw -echo -iexten; head -c
N > file`), anything beyond N to a second file, so a lost byte shows as a
file that never completes, a doubled or reordered one as a difference.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from helpers import Session, TmuxServer, wait_until
from rig import Tmuxweb

# Bytes a terminal user can send: raw mode passes each one through as it
# is (no ICRNL, ISIG, IXON or LNEXT processing).
ALPHABET = [*"abcxyzABC019 ;#$~'\"\\{}", "\t", "\r", "\n", "\x1b", "\x7f", "\x00", "\x03", "\x11", "\x13", "\x16", "é", "✓", "🙂"]
WORKERS = 8


def texts(count: int, seed: int) -> list[str]:
    """`count` distinct command texts: the index, then 0–8 random characters."""
    rnd = random.Random(seed)
    return [f"<{i}>" + "".join(rnd.choices(ALPHABET, k=rnd.randrange(9))) for i in range(count)]


def sink_command(out: Path, size: int) -> str:
    extra = out.with_suffix(".extra")
    return f"sh -c 'stty raw -echo -iexten; head -c {size} > {out}; exec cat > {extra}'"


def overtaking_order(count: int, seed: int) -> list[int]:
    """0..count-1, shuffled within windows of WORKERS: requests in flight
    together reach the server in any order."""
    rnd = random.Random(seed)
    order = list(range(count))
    for start in range(0, count, WORKERS):
        window = order[start : start + WORKERS]
        rnd.shuffle(window)
        order[start : start + WORKERS] = window
    return order


@contextmanager
def client_per_thread(app: Tmuxweb, session_token: str) -> Iterator[Callable[[], httpx.Client]]:
    """Each worker thread its own keep-alive connection, like a browser's
    connection pool: requests on different connections overtake."""
    local = threading.local()
    made: list[httpx.Client] = []
    lock = threading.Lock()

    def get() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = app.client(headers={"X-Session-Token": session_token})
            with lock:
                made.append(local.client)
        return local.client

    try:
        yield get
    finally:
        for client in made:
            client.close()


def fire(app: Tmuxweb, session: Session, pane: str, items: list[str], seed: int) -> list[int]:
    """POST every item as an `input` with seq = index + 1, concurrently;
    returns the statuses."""
    statuses = [0] * len(items)
    with client_per_thread(app, session.info["session_token"]) as client:

        def post(i: int) -> None:
            r = client().post(
                "/commands",
                params={"session": session.session},
                json={"type": "input", "pane": pane, "text": items[i], "seq": i + 1},
            )
            statuses[i] = r.status_code

        with ThreadPoolExecutor(WORKERS) as pool:
            for _ in pool.map(post, overtaking_order(len(items), seed)):
                pass
    return statuses


def check_recorded(out: Path, expected: bytes) -> None:
    wait_until(lambda: out.stat().st_size >= len(expected), timeout=60, what=f"{len(expected)} bytes in {out.name}")
    got = out.read_bytes()
    if got != expected:
        at = next(i for i, (a, b) in enumerate(zip(got, expected)) if a != b)
        raise AssertionError(f"{out.name} differs at byte {at}: got {got[max(0, at - 20):at + 20]!r}, expected {expected[max(0, at - 20):at + 20]!r}")
    # Nothing doubled past the end either: what came after N bytes.
    extra = out.with_suffix(".extra")
    wait_until(extra.exists, what="the recorder of anything extra")
    assert extra.read_bytes() == b""


@pytest.mark.slow
def test_ten_thousand_overtaking_inputs_arrive_in_order_byte_for_byte(
    tmux_server: TmuxServer, start_tmuxweb: Callable[..., Tmuxweb], tmp_path: Path
) -> None:
    items = texts(10_000, seed=1)
    expected = "".join(items).encode()
    out = tmp_path / "sink.bin"
    # Created before tmuxweb attaches a control client (TMUX-NOTES).
    tmux_server.run("new-session", "-d", "-s", "sink", "-x", "120", "-y", "40", sink_command(out, len(expected)))
    wait_until(out.exists, what="the recorder")
    app = start_tmuxweb()
    session = Session(app, app.stream("sink"), "sink")  # type: ignore[arg-type]
    try:
        pane = session.state["panes"][0]["id"]
        statuses = fire(app, session, pane, items, seed=2)
        assert statuses == [200] * len(items), {s: statuses.count(s) for s in set(statuses)}
        check_recorded(out, expected)
    finally:
        session.close()


@pytest.mark.slow
def test_inputs_from_three_connections_to_three_panes_interleave_without_mixing(
    tmux_server: TmuxServer, start_tmuxweb: Callable[..., Tmuxweb], tmp_path: Path
) -> None:
    count = 2_000
    plans, panes = [], []
    for n in range(3):
        items = texts(count, seed=10 + n)
        out = tmp_path / f"sink-{n}.bin"
        plans.append((items, out))
        command = sink_command(out, len("".join(items).encode()))
        create = ["new-session", "-s", "sinks", "-x", "120", "-y", "40"] if n == 0 else ["split-window", "-t", "sinks"]
        panes.append(tmux_server.run(*create, "-d", "-P", "-F", "#{pane_id}", command).strip())
    for _, out in plans:
        wait_until(out.exists, what="the recorders")
    app = start_tmuxweb()
    sessions = [Session(app, app.stream("sinks"), "sinks") for _ in range(3)]  # type: ignore[arg-type]
    try:
        results: list[list[int]] = [[] for _ in range(3)]

        def run(n: int) -> None:
            results[n] = fire(app, sessions[n], panes[n], plans[n][0], seed=20 + n)

        threads = [threading.Thread(target=run, args=(n,)) for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        for n, (items, out) in enumerate(plans):
            assert results[n] == [200] * count, f"connection {n}: {sorted(set(results[n]))}"
            check_recorded(out, "".join(items).encode())
    finally:
        for session in sessions:
            session.close()
