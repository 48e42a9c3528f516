"""Attacks on a stream's resources: whatever `GET /events` allocates (a place
under the stream caps, a subscription to the session's hub, a session
token) is given back however the request ends. HEAD and other methods,
clients gone before the first event, concurrent opens, errors while
starting.

What the server holds is seen from outside, without a test-only endpoint:
the open streams through the caps (a stream that was never given back keeps
its place, so a later stream gets 429), the hub's watchers through tmux (a
hub whose last watcher has left detaches its control client after `linger`,
0.2 s in tests; one that still counts a watcher never does)."""

from __future__ import annotations

import logging
import socket
import threading

import pytest

from helpers import EventStream, RunningServer, TmuxServer, wait_until


def everything_given_back(server: RunningServer, tmux: TmuxServer) -> None:
    """No watcher left (the control client detaches), and every place under
    the caps is free again (as many streams as they allow open)."""
    wait_until(lambda: not tmux.control_clients(), what="the control client to detach (no watcher left)")
    places = min(server.config.max_streams, server.config.max_streams_per_token)
    streams = [server.stream() for _ in range(places)]
    try:
        assert [s.status for s in streams] == [200] * len(streams), [getattr(s, "body", "") for s in streams]
        for s in streams:
            s.named("state")
    finally:
        for s in streams:
            s.close()
    wait_until(lambda: not tmux.control_clients(), what="the control client to detach after the check")


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "POST", "PUT", "DELETE"])
def test_head_and_other_methods_on_events_get_405_and_hold_nothing(make_server, tmux_server: TmuxServer, method: str) -> None:
    server = make_server(max_streams=2, max_streams_per_token=2)
    with server.client() as client:
        for _ in range(20):  # more than both caps
            r = client.request(method, "/events", params={"session": "main"})
            assert r.status_code == 405, (r.status_code, r.text)
            assert r.headers["allow"] == "GET"
            if method != "HEAD":
                assert "error" in r.json()
    everything_given_back(server, tmux_server)


def test_clients_gone_before_the_first_event_hold_nothing(
    make_server, tmux_server: TmuxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tmuxweb.access")
    server = make_server(max_streams=2, max_streams_per_token=2)
    request = (
        f"GET /events?session=main HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.token}\r\n\r\n"
    ).encode()
    for _ in range(20):
        # Hang up right after the request. A FIN rather than a reset: the
        # request is read before it, so every one reaches the app, and each
        # is logged once the app has returned (and given everything back).
        with socket.create_connection(("127.0.0.1", server.config.port)) as sock:
            sock.sendall(request)
    wait_until(lambda: finished(caplog, "GET /events") >= 20, what="the server to finish the 20 requests")
    everything_given_back(server, tmux_server)


def finished(caplog: pytest.LogCaptureFixture, request: str) -> int:
    return sum(1 for r in caplog.records if r.name == "tmuxweb.access" and f'"{request}"' in r.getMessage())


def test_concurrent_opens_never_exceed_a_cap_of_one(make_server, tmux_server: TmuxServer) -> None:
    server = make_server(max_streams=1)
    # Cold: no control client yet, so every request waits for the hub to
    # start, and all of them are past the door before the first registers.
    assert not tmux_server.control_clients()
    start = threading.Barrier(8)
    opened: list[EventStream] = []

    def open_one() -> None:
        start.wait()
        opened.append(server.stream())

    threads = [threading.Thread(target=open_one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        statuses = sorted(s.status for s in opened)
        assert statuses == [200] + [429] * 7, statuses
        next(s for s in opened if s.status == 200).named("state")
    finally:
        for s in opened:
            s.close()
    everything_given_back(server, tmux_server)


def test_streams_refused_while_starting_hold_nothing(make_server, tmux_server: TmuxServer) -> None:
    # Room for a closed stream the server has not yet seen go, no more.
    server = make_server(max_streams=3)
    with server.stream() as first:
        epoch = first.named("state").id.split("-")[0]
    with server.client() as client:
        for _ in range(5):
            # Refused after the place is taken: the session is looked up next.
            r = client.get("/events", params={"session": "no-such-session"})
            assert r.status_code == 404, r.text
    for _ in range(5):
        # A number str.isdigit() accepts and int() refuses, once parsed
        # after the subscription (a 500 that left its watcher behind): now
        # malformed like any forged id, so a fresh snapshot.
        with server.stream(last_event_id=f"{epoch}-²") as forged:
            assert forged.status == 200, getattr(forged, "body", "")
            assert forged.named("connection-info").data["resumed"] is False
            forged.named("state")
    everything_given_back(server, tmux_server)
