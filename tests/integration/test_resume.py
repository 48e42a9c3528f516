"""Resuming a stream with Last-Event-ID: exactly the missed events while the
ring holds them, a fresh snapshot when it does not."""

from __future__ import annotations

from helpers import RunningServer, TmuxServer, wait_until


def outputs_until(stream, marker: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """Output text up to and including `marker`, and the last event id."""
    text, last = "", ""
    while marker not in text:
        event = stream.next()
        if event.id:
            last = event.id
        if event.name == "output":
            text += event.data["data"]
    return text, last


def test_resume_replays_exactly_the_missed_events(make_server, tmux_server: TmuxServer) -> None:
    server: RunningServer = make_server(linger=30)
    tmux_server.wait_for_prompt()
    with server.stream() as first:
        first.named("connection-info")
        first.named("state")
        tmux_server.run("send-keys", "-t", "%0", "echo before-$((1+1))", "Enter")
        _, last = outputs_until(first, "before-2\r\n")
    # Disconnected: the pane goes on printing.
    tmux_server.run("send-keys", "-t", "%0", "for i in 1 2 3 4 5; do echo missed-$i; done; echo end-$((2+2))", "Enter")
    tmux_server.wait_for_text("%0", "end-4")
    with server.stream(headers={"Last-Event-ID": last}) as second:
        info = second.named("connection-info").data
        assert info["resumed"] is True
        text, _ = outputs_until(second, "end-4\r\n")
        assert all(e.name != "state" for e in second.seen)
    for i in range(1, 6):
        assert text.count(f"missed-{i}\r\n") == 1
    assert "before-2\r\n" not in text  # nothing doubled


def test_resume_falls_back_to_a_snapshot_when_the_ring_has_moved_on(make_server, tmux_server: TmuxServer) -> None:
    server: RunningServer = make_server(linger=30, recent_bytes=4096)
    tmux_server.wait_for_prompt()
    with server.stream() as first:
        first.named("state")
        tmux_server.run("send-keys", "-t", "%0", "echo a-$((1+1))", "Enter")
        _, last = outputs_until(first, "a-2\r\n")
    # The ring always keeps its newest event, whatever its size, and the hub
    # joins whatever output of a pane it reads at once into one event: with
    # the loop busy, all of `seq` could be one event, still in the ring, and
    # resuming would rightly replay it. So the missed output must be at least
    # two events: more than the ring, then more output read after it. A
    # watcher that stays shows when the hub has emitted each (tmux's screen
    # alone runs ahead of what the hub has read).
    with server.stream() as observer:
        observer.named("state")
        tmux_server.run("send-keys", "-t", "%0", "seq 1 3000; echo done-$((1+2))", "Enter")
        outputs_until(observer, "done-3\r\n")
        tmux_server.run("send-keys", "-t", "%0", "echo after-$((2+3))", "Enter")
        outputs_until(observer, "after-5\r\n")
        with server.stream(headers={"Last-Event-ID": last}) as second:
            assert second.named("connection-info").data["resumed"] is False
            state = second.named("state").data
            assert "done-3" in state["panes"][0]["content"]
            assert "after-5" in state["panes"][0]["content"]


def test_resume_from_another_control_client_or_a_forged_id_takes_a_snapshot(make_server, tmux_server: TmuxServer) -> None:
    server: RunningServer = make_server(linger=0.1)
    with server.stream() as first:
        state = first.named("state")
    wait_until(lambda: not tmux_server.control_clients(), what="detach")
    for last in (state.id, "deadbeef-1", "x", "-5", "12345678-99999999999999999999"):
        with server.stream(headers={"Last-Event-ID": last}) as again:
            assert again.named("connection-info").data["resumed"] is False
            assert again.next().name == "state"


def test_resume_by_query_parameter_for_event_source_clients(make_server, tmux_server: TmuxServer) -> None:
    server: RunningServer = make_server(linger=30)
    with server.stream() as first:
        state = first.named("state")
    with server.stream(last_event_id=state.id) as second:
        assert second.named("connection-info").data["resumed"] is True
