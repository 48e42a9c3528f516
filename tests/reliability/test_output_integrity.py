"""No lost or doubled output: a pane prints a numbered sequence while
watchers connect, disconnect and reconnect, some resuming with
Last-Event-ID. Every watcher's view (a pyte terminal fed with `state`
content and `output`, carried over when a stream resumes) ends up equal to
`tmux capture-pane`, and the numbers it has seen run without a gap or a
repeat.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from helpers import RunningServer, TmuxServer, wait_until
from rig import View, capture, consecutive, numbers

TOTAL = 3000
LINE = re.compile(r"n=(\d+)")
PRINTER = (
    f"for i in $(seq 1 {TOTAL}); do echo n=$i; [ $((i % 5)) = 0 ] && sleep 0.01; done; "
    "echo ALL-$((1 + 1))-DONE"
)
# The ring of recent events (per session, in bytes), and a filler printed
# by the session's other pane while one watcher is away: more than the ring
# holds, so that watcher's resumption must fall back to a snapshot. The
# ring is large next to what the numbered pane prints in a few seconds, so
# the quick reconnections can resume.
RING = 128 * 1024
FILLER = "head -c 400000 /dev/zero | tr '\\0' x; echo; echo FILLED-$((2 + 2))"
ONLY = frozenset({"%0"})  # pyte renders the numbered pane only


def finished(view: View) -> bool:
    pane = view.panes.get("%0")
    if pane is None:
        return False
    shown = [line for line in pane.display() if line]
    return "ALL-2-DONE" in shown and shown[-1] == "$"


def runs_of_ids(ids: list[int]) -> list[list[int]]:
    """The ids split where a snapshot (-1) started again."""
    runs: list[list[int]] = [[]]
    for seq in ids:
        if seq == -1:
            runs.append([])
        else:
            runs[-1].append(seq)
    return [run for run in runs if run]


@dataclass
class Watcher:
    """One client's life: connect, read a while, hang up, come back."""

    name: str
    server: RunningServer
    tmux: TmuxServer
    resume: bool = False  # send the last id seen when reconnecting
    stay: bool = False  # never hang up
    away: bool = False  # after the first hang-up, stay away while the other pane fills the ring
    seed: int = 0
    view: View = field(default_factory=lambda: View(ONLY))
    views: list[View] = field(default_factory=list)  # one per snapshot start
    connections: int = 0
    resumed: int = 0
    fallbacks: int = 0  # resumptions answered with a snapshot
    ids: list[int] = field(default_factory=list)  # seq of every event with an id, in order
    error: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as err:  # noqa: BLE001 - handed to the test
            self.error = err

    def _run(self) -> None:
        rnd = random.Random(self.seed)
        while not finished(self.view):
            # Hang up after a share of the numbered lines, not of events:
            # how many events carry them depends on how tmux batches its
            # output on a busy machine, the lines do not.
            self._connect(None if self.stay else rnd.randrange(TOTAL // 20, TOTAL // 6))
            if self.away and self.connections == 1:
                self.tmux.run("send-keys", "-t", "%1", "-l", FILLER)
                self.tmux.run("send-keys", "-t", "%1", "Enter")
                self.tmux.wait_for_text("%1", "FILLED-4", timeout=60)

    def _connect(self, lines: int | None) -> None:
        headers, params = {}, {}
        asked = self.resume and self.view.last_id is not None
        if asked:
            # Both ways a client can send it: the header, and the query
            # parameter an EventSource with a fresh ticket uses.
            if self.connections % 2:
                headers["Last-Event-ID"] = self.view.last_id or ""
            else:
                params["last_event_id"] = self.view.last_id or ""
        self.connections += 1
        with self.server.stream(headers=headers, **params) as stream:
            info = stream.named("connection-info").data
            if info["resumed"]:
                assert asked
                self.resumed += 1
            else:
                self.fallbacks += asked
                if not self.resume:
                    self.view = View(ONLY)
                self.views.append(self.view)
            read = 0
            while not finished(self.view) and (lines is None or read < lines):
                event = stream.next(30)
                if info["resumed"]:
                    assert event.name != "state", "a resumed stream sent a snapshot"
                if event.name == "state":
                    self.ids.append(-1)  # a new start: ids need not follow on
                self.view.apply(event)
                if event.id:
                    self.ids.append(int(event.id.partition("-")[2]))
                if event.name == "output" and event.data["pane"] == "%0":
                    read += event.data["data"].count("n=")



@pytest.mark.slow
def test_watchers_coming_and_going_end_with_the_screen_tmux_has(
    make_server: Callable[..., RunningServer], tmux_server: TmuxServer
) -> None:
    tmux_server.run("split-window", "-v", "-d", "-t", "%0")  # %1: the filler's pane
    server = make_server(linger=30, recent_bytes=RING)
    tmux_server.wait_for_prompt()
    tmux_server.wait_for_prompt("%1")
    watchers = [
        Watcher("stays", server, tmux_server, stay=True),
        Watcher("fresh-1", server, tmux_server, seed=1),
        Watcher("fresh-2", server, tmux_server, seed=2),
        Watcher("resumes-1", server, tmux_server, resume=True, seed=3),
        Watcher("resumes-2", server, tmux_server, resume=True, seed=4),
        Watcher("away-too-long", server, tmux_server, resume=True, away=True, seed=5),
    ]
    threads = [threading.Thread(target=w.run, name=w.name) for w in watchers]
    for thread in threads:
        thread.start()
    # Everybody is watching before the first number.
    wait_until(lambda: all(w.view.panes for w in watchers), what="every watcher's first state")
    tmux_server.run("send-keys", "-t", "%0", "-l", PRINTER)
    tmux_server.run("send-keys", "-t", "%0", "Enter")
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads), "a watcher never finished"
    errors = {w.name: w.error for w in watchers if w.error}
    assert not errors, errors

    expected = capture(tmux_server, "%0")
    for w in watchers:
        assert w.view.panes["%0"].display() == expected, w.name
        # Every start (snapshot) saw consecutive numbers up to the last.
        for view in w.views:
            seen = numbers(view.panes["%0"].lines(), LINE) if "%0" in view.panes else []
            assert not seen or consecutive(seen), f"{w.name}: gap or repeat in {seen[:3]}…{seen[-3:]}"
        final = numbers(w.view.panes["%0"].lines(), LINE)
        assert final[-1] == TOTAL and consecutive(final), w.name

    stays, *_, away = watchers
    print({w.name: (w.connections, w.resumed, w.fallbacks, len(w.ids), w.view.resets) for w in watchers})
    assert stays.connections == 1
    if not stays.view.resets:  # (a pane-reset replaces what the view had)
        assert numbers(stays.view.panes["%0"].lines(), LINE)[0] == 1
    for w in watchers[1:3]:
        assert w.connections > 3, f"{w.name} connected {w.connections} times"
    for w in watchers[3:5]:
        assert w.connections > 3 and w.resumed >= 1, (w.name, w.connections, w.resumed)
    for w in watchers:
        # From each snapshot on, and across every resumption, the event ids
        # follow on one by one: exactly the missed events were replayed.
        for run in runs_of_ids(w.ids):
            assert consecutive(run), f"{w.name}: event ids skip or repeat"
    # Away longer than the ring holds: a snapshot instead of a replay.
    assert away.fallbacks >= 1, (away.connections, away.resumed, away.fallbacks)
