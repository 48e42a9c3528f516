"""Many reconnections (a page reloaded again and again, a phone that keeps
dropping its connection) leave nothing behind: not in tmuxweb (descriptors,
children, memory) and not in the tmux server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from helpers import TmuxServer, wait_until
from rig import Tmuxweb, rss_kib

RECONNECTS = 150
# A pane with a full snapshot's worth of history: 1000 lines of 100 bytes.
FILL = "for i in $(seq 1 1200); do printf '%0100d\\n' $i; done; echo FILLED-$((1 + 1))"


def reconnect(app: Tmuxweb, times: int) -> None:
    for _ in range(times):
        with app.stream() as stream:
            stream.named("state")


def filled(tmux: TmuxServer, start_tmuxweb: Callable[..., Tmuxweb]) -> Tmuxweb:
    tmux.wait_for_prompt()
    tmux.run("send-keys", "-t", "%0", "-l", FILL)
    tmux.run("send-keys", "-t", "%0", "Enter")
    tmux.wait_for_text("%0", "FILLED-2")
    app = start_tmuxweb()
    # The control client lingers 10 s after a watcher leaves: reconnecting
    # within that reuses it, and every connection takes a snapshot.
    reconnect(app, 20)
    return app


@pytest.mark.slow
def test_reconnecting_many_times_leaks_nothing_in_tmuxweb(
    tmux_server: TmuxServer, start_tmuxweb: Callable[..., Tmuxweb]
) -> None:
    app = filled(tmux_server, start_tmuxweb)
    wait_until(lambda: app.footprint()[2] == 0, what="the warm-up connections to close")
    before, rss = app.footprint(), app.rss_kib()
    reconnect(app, RECONNECTS)
    wait_until(lambda: app.footprint() == before, timeout=15, what=f"the footprint {before} again (now {app.footprint()})")
    growth = app.rss_kib() - rss
    print(f"tmuxweb RSS {rss // 1024} MiB, +{growth} KiB after {RECONNECTS} reconnections")
    assert growth < 8 * 1024


@pytest.mark.slow
def test_reconnecting_many_times_does_not_grow_the_tmux_server(
    tmux_server: TmuxServer, start_tmuxweb: Callable[..., Tmuxweb]
) -> None:
    """tmux 3.3a never frees a `capture-pane -p` sent by a control client
    (tmux#4590): ~100 KiB a connection here, +15.9 MiB in 150 when every
    snapshot captured that way. Captures go through named buffers now."""
    app = filled(tmux_server, start_tmuxweb)
    tmux_pid = int(tmux_server.run("display", "-p", "#{pid}").strip())
    before = rss_kib(tmux_pid)
    reconnect(app, RECONNECTS)
    growth = rss_kib(tmux_pid) - before
    print(f"tmux server RSS +{growth} KiB after {RECONNECTS} reconnections")
    assert growth < 4 * 1024
    assert tmux_server.run("list-buffers", "-F", "#{buffer_name}") == ""  # every capture's buffer deleted
