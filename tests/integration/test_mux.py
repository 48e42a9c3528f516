"""The shared stream of a browser's tabs (GET /mux, POST /mux/attach and
/mux/detach) against the real server and tmux: each watcher on it is a
connection of its own, tagged in the shared response."""

from __future__ import annotations

from typing import Any

import httpx

from helpers import RunningServer, TmuxServer, wait_until


class Shared:
    """A shared stream and the attach/detach calls that go with it."""

    def __init__(self, server: RunningServer, headers: dict[str, str] | None = None) -> None:
        self.server = server
        self.stream = server.mux(headers)
        info = self.stream.next()
        assert info.name == "mux-info" and info.sub is None and info.id is None
        self.client = server.client(headers={**(headers or {}), "X-Mux-Token": info.data["mux_token"]})

    def attach(self, sub: str, session: str | None = "main", last_event_id: str | None = None) -> httpx.Response:
        body: dict[str, Any] = {"sub": sub, "session": session}
        if last_event_id is not None:
            body["last_event_id"] = last_event_id
        return self.client.post("/mux/attach", json=body)

    def detach(self, sub: str) -> httpx.Response:
        return self.client.post("/mux/detach", json={"sub": sub})

    def event(self, sub: str, name: str) -> Any:
        return self.stream.seen_or_next(lambda e: e.sub == sub and e.name == name)

    def output_until(self, sub: str, marker: str) -> tuple[str, str]:
        text, last = "", ""
        while marker not in text:
            event = self.stream.until(lambda e: e.sub == sub)
            last = event.id or last
            if event.name == "output":
                text += event.data["data"]
        return text, last

    def close(self) -> None:
        self.client.close()
        self.stream.close()


def command(server: RunningServer, session: str, info: dict[str, Any], body: dict[str, Any]) -> httpx.Response:
    with server.client(headers={"X-Session-Token": info["session_token"]}) as client:
        return client.post("/commands", params={"session": session}, json=body)


def test_two_sessions_share_one_stream_each_with_its_own_session_token(
    tmuxweb_server: RunningServer, tmux_server: TmuxServer
) -> None:
    tmux_server.run("new-session", "-d", "-s", "other", "-x", "80", "-y", "20")
    shared = Shared(tmuxweb_server)
    try:
        assert shared.attach("a", "main").json() == {"ok": True}
        assert shared.attach("b", "other").json() == {"ok": True}
        info_a = shared.event("a", "connection-info").data
        info_b = shared.event("b", "connection-info").data
        assert (info_a["session"]["name"], info_b["session"]["name"]) == ("main", "other")
        assert info_a["session_token"] != info_b["session_token"]
        shared.event("a", "state")
        shared.event("b", "state")
        other_pane = tmux_server.pane_ids("other")[0]
        tmux_server.wait_for_prompt(other_pane)
        body = {"type": "input", "pane": other_pane, "text": "echo via-b-$((6*7))\r", "seq": 1}
        assert command(tmuxweb_server, "other", info_b, body).status_code == 200
        text, _ = shared.output_until("b", "via-b-42")
        assert "via-b-42" in text
        # A watcher's session token is bound to its own session, as on GET /events.
        assert command(tmuxweb_server, "main", info_b, {"type": "input", "text": "x"}).status_code == 403
    finally:
        shared.close()


def test_resume_through_a_new_shared_stream_replays_exactly_the_missed_events(
    make_server: Any, tmux_server: TmuxServer
) -> None:
    server = make_server(linger=30)
    tmux_server.wait_for_prompt()
    first = Shared(server)
    first.attach("a")
    first.event("a", "state")
    tmux_server.run("send-keys", "-t", "%0", "echo before-$((1+1))", "Enter")
    _, last = first.output_until("a", "before-2\r\n")
    first.close()
    tmux_server.run("send-keys", "-t", "%0", "for i in 1 2 3; do echo missed-$i; done; echo end-$((2+2))", "Enter")
    tmux_server.wait_for_text("%0", "end-4")
    second = Shared(server)
    try:
        assert second.attach("a", last_event_id=last).status_code == 200
        assert second.event("a", "connection-info").data["resumed"] is True
        text, _ = second.output_until("a", "end-4\r\n")
        assert all(e.name != "state" for e in second.stream.seen)
        assert all(text.count(f"missed-{i}\r\n") == 1 for i in (1, 2, 3))
        assert "before-2\r\n" not in text
    finally:
        second.close()


def test_detach_ends_the_watcher_and_its_session_token(tmuxweb_server: RunningServer) -> None:
    shared = Shared(tmuxweb_server)
    try:
        shared.attach("a")
        info = shared.event("a", "connection-info").data
        assert shared.detach("a").json() == {"detached": True}
        body = {"type": "resize", "cols": 80, "rows": 24}
        assert command(tmuxweb_server, "main", info, body).status_code == 403
        assert shared.detach("a").json() == {"detached": False}
        # The id is free again; the stream carries on.
        assert shared.attach("a").status_code == 200
        shared.event("a", "connection-info")
    finally:
        shared.close()


def test_closing_the_shared_stream_ends_every_watcher(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> None:
    shared = Shared(tmuxweb_server)
    shared.attach("a")
    info = shared.event("a", "connection-info").data
    shared.close()
    body = {"type": "resize", "cols": 80, "rows": 24}
    with tmuxweb_server.client(headers={"X-Session-Token": info["session_token"]}) as client:
        assert _eventually_status(client, body) == 403


def _eventually_status(client: httpx.Client, body: dict[str, Any], want: int = 403) -> int:
    """The shared stream ends on the server a moment after the client hangs up."""
    return int(
        wait_until(
            lambda: client.post("/commands", params={"session": "main"}, json=body).status_code == want and want,
            what=f"status {want}",
        )
    )


def test_attach_errors_are_the_stream_errors(tmuxweb_server: RunningServer) -> None:
    shared = Shared(tmuxweb_server)
    try:
        missing = shared.attach("a", "no-such-session")
        assert missing.status_code == 404 and "error" in missing.json()
        assert shared.attach("a").status_code == 200
        twice = shared.attach("a")
        assert twice.status_code == 409 and "already attached" in twice.json()["error"]
        bad = shared.client.post("/mux/attach", json={"sub": "a b", "session": "main"})
        assert bad.status_code == 400 and "sub" in bad.json()["error"]
        extra = shared.client.post("/mux/attach", json={"sub": "c", "session": "main", "x": 1})
        assert extra.status_code == 400
    finally:
        shared.close()


def test_head_on_the_shared_stream_is_refused(tmuxweb_server: RunningServer) -> None:
    with tmuxweb_server.client() as client:
        response = client.head("/mux")
    assert response.status_code == 405
