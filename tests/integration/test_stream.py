"""GET /events against real tmux: snapshot then stream, change events, flow
control, and tmux going away."""

from __future__ import annotations

import re
import socket
import threading
import time

import httpx
import pyte
import pytest

from helpers import EventStream, RunningServer, Session, TmuxServer, wait_until

ANSI = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|[=>]|\][^\x07\x1b]*(\x07|\x1b\\))")


def type_line(tmux: TmuxServer, pane: str, line: str) -> None:
    tmux.run("send-keys", "-t", pane, "-l", line)
    tmux.run("send-keys", "-t", pane, "Enter")


def render(pane: dict, outputs: list[str]) -> list[str]:
    """What a terminal shows after the snapshot content and the outputs."""
    screen = pyte.Screen(pane["width"], pane["height"])
    stream = pyte.Stream(screen)
    stream.feed(pane["content"])
    for data in outputs:
        stream.feed(data)
    return [line.rstrip() for line in screen.display]


def test_first_events_are_connection_info_and_the_full_state(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> None:
    tmux_server.run("split-window", "-h", "-t", "%0")
    with tmuxweb_server.stream() as stream:
        info = stream.next()
        assert info.name == "connection-info"
        assert set(info.data) == {"connection_id", "session_token", "session", "protocol", "prefix", "capabilities", "resumed", "scope"}
        assert info.data["scope"] == "owner"
        assert info.data["prefix"] == ["C-b"]
        assert len(info.data["session_token"]) >= 43  # 256 bits, base64url
        assert info.data["session"] == {"id": "$0", "name": "main"}
        state = stream.next()
        assert state.name == "state" and state.id
        window = state.data["windows"][0]
        assert window["layout"]["type"] == "row"
        assert [c["pane"] for c in window["layout"]["children"]] == ["%0", "%1"]
        panes = {p["id"]: p for p in state.data["panes"]}
        assert set(panes) == {"%0", "%1"}
        assert panes["%1"]["active"] and panes["%1"]["x"] == panes["%0"]["width"] + 1
        assert set(panes["%0"]["cursor"]) == {"x", "y", "visible"}
    assert stream.response_headers is not None
    assert stream.response_headers["x-accel-buffering"] == "no"
    assert stream.response_headers["cache-control"] == "no-store"
    assert stream.response_headers["content-type"].startswith("text/event-stream")


def test_snapshot_reproduces_the_screen_with_colours_and_history(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> None:
    tmux_server.wait_for_prompt()
    type_line(tmux_server, "%0", "for i in $(seq 1 80); do printf '\\e[3%dmline %d\\e[0m\\n' $((i % 7)) $i; done")
    tmux_server.wait_for_text("%0", "line 80")
    tmux_server.wait_for_prompt()
    with tmuxweb_server.stream() as stream:
        stream.named("connection-info")
        pane = stream.named("state").data["panes"][0]
    assert "\x1b[" in pane["content"] and "line 1\x1b" not in pane["content"]  # coloured, reset per line
    assert "line 1" in ANSI.sub("", pane["content"])  # scrollback is included
    shown = render(pane, [])
    expected = [line.rstrip() for line in tmux_server.capture("%0").split("\n")][: pane["height"]]
    assert shown == expected + [""] * (pane["height"] - len(expected))


def test_alternate_screen_is_rebuilt_with_cursor(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> None:
    tmux_server.wait_for_prompt()
    type_line(tmux_server, "%0", "echo normal-text; printf '\\e[?1049h\\e[2J\\e[H\\x41LT-TEXT\\e[5;3H'; sleep 60")
    wait_until(lambda: tmux_server.run("display", "-p", "-t", "%0", "#{alternate_on}").strip() == "1")
    with tmuxweb_server.stream() as stream:
        stream.named("connection-info")
        pane = stream.named("state").data["panes"][0]
    assert pane["alternate_on"] is True
    assert pane["cursor"] == {"x": 2, "y": 4, "visible": True}
    normal, _, alternate = pane["content"].partition("\x1b[?1049h")
    assert "normal-text" in normal and "ALT-TEXT" not in normal
    assert "ALT-TEXT" in alternate and alternate.endswith("\x1b[5;3H")


def test_output_is_utf8_decoded_whole_across_tmux_line_splits(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> None:
    tmux_server.wait_for_prompt()
    with tmuxweb_server.stream() as stream:
        stream.named("state")
        type_line(tmux_server, "%0", "printf '\\U0001f642%.0s' {1..3000}; printf '\\xff\\xfe'; echo; echo UTF8-$((1 + 1))-DONE")
        text = ""
        while "UTF8-2-DONE\r\n" not in text:
            event = stream.named("output")
            text += event.data["data"]
    emoji = text.count("\U0001f642")
    assert emoji == 3000, emoji
    assert "\ufffd\ufffd" in text  # the two invalid bytes, replaced, nothing raised
    assert text.count("\ufffd") == 2


@pytest.mark.slow
def test_snapshot_then_stream_loses_and_doubles_nothing(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> None:
    """Watchers join while a pane prints numbered lines: each ends up with
    every number from its snapshot's first to the last, once each."""
    total = 3000
    tmux_server.wait_for_prompt()
    type_line(
        tmux_server,
        "%0",
        f"for i in $(seq 1 {total}); do echo n=$i; [ $((i % 10)) = 0 ] && sleep 0.003; done; echo ALL-$((1 + 1))-DONE",
    )
    tmux_server.wait_for_text("%0", "n=5")
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def watch() -> None:
        try:
            with tmuxweb_server.stream() as stream:
                stream.named("connection-info")
                content = stream.named("state").data["panes"][0]["content"]
                text = ""
                while "ALL-2-DONE" not in text:
                    event = stream.named("output", timeout=30)
                    text += event.data["data"]
            results.append([int(n) for n in re.findall(r"n=(\d+)\r\n", ANSI.sub("", content) + "\r\n" + text)])
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    threads = []
    for _ in range(5):
        thread = threading.Thread(target=watch)
        thread.start()
        threads.append(thread)
        time.sleep(0.15)  # spread the joins over the run (pacing, not synchronisation)
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(results) == 5
    for numbers in results:
        assert numbers, "a watcher saw nothing"
        assert numbers[-1] == total
        assert numbers == list(range(numbers[0], total + 1)), "gap or duplicate"


def test_unknown_session_is_404_and_not_created(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> None:
    with tmuxweb_server.client() as client:
        r = client.get("/events", params={"session": "nope"})
        assert r.status_code == 404 and "nope" in r.json()["error"]
        r = client.get("/events", params={"session": "bad:name"})
        assert r.status_code == 400
    assert "nope" not in tmux_server.run("list-sessions", "-F", "#{session_name}").split()


def test_default_session_is_created_when_missing(make_server, tmux_server: TmuxServer) -> None:
    tmux_server.run("new-session", "-d", "-s", "keep")
    tmux_server.run("kill-session", "-t", "main")
    server = make_server(default_session="fresh")
    with server.stream(session=None) as stream:
        assert stream.named("connection-info").data["session"]["name"] == "fresh"
    assert "fresh" in tmux_server.run("list-sessions", "-F", "#{session_name}").split()


def test_sessions_api_lists_and_creates(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> None:
    with tmuxweb_server.client() as client:
        listed = client.get("/api/sessions").json()
        assert listed["default"] == "main"
        assert [(s["id"], s["name"], s["windows"]) for s in listed["sessions"]] == [("$0", "main", 1)]
        created = client.post("/api/sessions", json={"name": "work $1 #{x}"})
        assert created.status_code == 201, created.text
        assert created.json()["name"] == "work $1 #{x}"
        names = [s["name"] for s in client.get("/api/sessions").json()["sessions"]]
        assert "work $1 #{x}" in names
        assert client.post("/api/sessions", json={"name": "work $1 #{x}"}).status_code == 400
        assert client.post("/api/sessions", json={"name": "a:b"}).status_code == 400
        assert client.post("/api/sessions", json={"name": "x\ny"}).status_code == 400
        assert client.post("/api/sessions", json={"nom": "x"}).status_code == 400
        # through a live control client too (no tmux subprocess while attached)
        with tmuxweb_server.stream() as stream:
            stream.named("state")
            assert client.post("/api/sessions", json={"name": "second"}).status_code == 201
    assert {"main", "second"} <= set(tmux_server.run("list-sessions", "-F", "#{session_name}").split())


def test_one_shared_control_client_detached_after_the_last_watcher(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> None:
    a = tmuxweb_server.stream()
    b = tmuxweb_server.stream()
    a.named("state")
    b.named("state")
    assert len(tmux_server.control_clients()) == 1
    a.close()
    b.close()
    wait_until(lambda: not tmux_server.control_clients(), what="control client detached")
    assert tmux_server.run("list-sessions", "-F", "#{session_name}").split() == ["main"]


def test_heartbeat_comment_is_sent(make_server) -> None:
    server = make_server(heartbeat=0.2)
    with httpx.Client(timeout=10) as client:
        with client.stream("GET", server.base_url + "/events", params={"session": "main"}, headers=server.auth) as r:
            for line in r.iter_lines():
                if line.startswith(":"):
                    assert line == ": ping"
                    break


def test_session_killed_sends_exit_and_the_server_stays_up(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> None:
    tmux_server.run("new-session", "-d", "-s", "other")
    stream = tmuxweb_server.stream()
    session = Session(tmuxweb_server, stream)
    tmux_server.run("kill-session", "-t", "main")
    assert stream.named("exit").data["reason"]
    with_eof = wait_until(lambda: _ended(stream), what="stream end")
    assert with_eof
    assert session.command(type="resize", cols=80, rows=24).status_code == 403
    with tmuxweb_server.client() as client:
        assert client.get("/healthz").status_code == 200
        assert [s["name"] for s in client.get("/api/sessions").json()["sessions"]] == ["other"]
        assert client.get("/events", params={"session": "main"}).status_code == 404
    session.close()


def test_tmux_server_killed_then_restarted_is_picked_up(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> None:
    stream = tmuxweb_server.stream()
    stream.named("state")
    tmux_server.kill()
    assert stream.named("exit").data["reason"]
    with tmuxweb_server.client() as client:
        assert client.get("/api/sessions").json()["sessions"] == []
        tmux_server.start("main", 100, 30)
        with tmuxweb_server.stream() as again:
            state = again.named("state").data
            assert state["windows"][0]["width"] == 100
    stream.close()


@pytest.mark.slow
def test_slow_watcher_is_resynchronised_and_never_slows_others(make_server, tmux_server: TmuxServer) -> None:
    server = make_server(watcher_queue_bytes=256 * 1024)
    tmux_server.wait_for_prompt()
    stalled = socket.create_connection(("127.0.0.1", server.config.port))
    stalled.sendall(
        f"GET /events?session=main HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.token}\r\n\r\n".encode()
    )
    with server.stream() as fast:
        fast.named("state")
        type_line(tmux_server, "%0", "head -c 30000000 /dev/zero | tr '\\0' x; echo; echo FLOOD-$((1 + 1))-DONE")
        fast.until(lambda e: e.name == "output" and "FLOOD-2-DONE" in e.data["data"], timeout=60)
    seen = b""
    stalled.settimeout(10)
    while seen.count(b"event: state") < 2:
        chunk = stalled.recv(1 << 20)
        assert chunk, "stalled stream ended without a resync"
        seen += chunk
    stalled.close()


def _ended(stream: EventStream) -> bool:
    try:
        stream.next(0.05)
    except EOFError:
        return True
    except AssertionError:
        return False
    return False
