"""POST /commands against real tmux: every command type, ordering, and the
refusals that must execute nothing."""

from __future__ import annotations

import concurrent.futures
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from helpers import RunningServer, Session, TmuxServer, wait_until

HOSTILE = "a;b #{pane_id} $HOME ~ \"q\" 'q' \\ \x1b[31m end\x00\x7f é 🙂 \t;\n"


def record_raw(tmux: TmuxServer, pane: str, path: Path, size: int) -> None:
    """Make the pane copy the next `size` raw bytes it receives to `path`."""
    tmux.run("send-keys", "-t", pane, "-l", f"stty raw -echo; head -c {size} > {path}; stty sane; echo recorded-$((6*7))")
    tmux.run("send-keys", "-t", pane, "Enter")
    wait_until(lambda: path.exists(), what="recorder started")


def test_input_reaches_the_pane_byte_for_byte(session: Session, tmux_server: TmuxServer, tmp_path: Path) -> None:
    out = tmp_path / "received"
    raw = HOSTILE.encode()
    record_raw(tmux_server, "%0", out, len(raw))
    r = session.command(type="input", pane="%0", text=HOSTILE)
    assert r.json() == {"ok": True}
    tmux_server.wait_for_text("%0", "recorded-42")
    assert out.read_bytes() == raw


def test_paste_is_literal_and_strips_escape(session: Session, tmux_server: TmuxServer, tmp_path: Path) -> None:
    out = tmp_path / "pasted"
    text = "line one $HOME\nline 'two' #{pane_id}\n~ \\ end"
    expected = text.replace("\n", "\r").encode()  # paste-buffer turns LF into CR, as a terminal paste does
    record_raw(tmux_server, "%0", out, len(expected))
    assert session.command(type="paste", pane="%0", text=text + "\x1b").status_code == 200
    tmux_server.wait_for_text("%0", "recorded-42")
    assert out.read_bytes() == expected


def test_keys_are_sent_as_tmux_key_names(session: Session, tmux_server: TmuxServer) -> None:
    session.command(type="input", pane="%0", text="sleep 30")
    assert session.command(type="keys", pane="%0", keys=["Enter"]).status_code == 200
    wait_until(lambda: "sleep" in tmux_server.run("display", "-p", "-t", "%0", "#{pane_current_command}"))
    assert session.command(type="keys", pane="%0", keys=["C-c"]).status_code == 200
    wait_until(lambda: "bash" in tmux_server.run("display", "-p", "-t", "%0", "#{pane_current_command}"))


def test_commands_with_seq_run_in_order_even_when_requests_overtake(session: Session, tmux_server: TmuxServer, tmp_path: Path) -> None:
    out = tmp_path / "ordered"
    letters = "abcdefghijklmnopqrst"
    record_raw(tmux_server, "%0", out, len(letters))
    order = list(range(len(letters)))[::-1]  # the last one is sent first
    with concurrent.futures.ThreadPoolExecutor(len(letters)) as pool:
        replies = list(
            pool.map(lambda i: session.command(type="input", pane="%0", text=letters[i], seq=i + 1), order)
        )
    assert all(r.status_code == 200 for r in replies), [r.text for r in replies]
    tmux_server.wait_for_text("%0", "recorded-42")
    assert out.read_text() == letters
    again = session.command(type="input", pane="%0", text="x", seq=3)
    assert again.status_code == 409


def test_split_select_zoom_and_kill_pane_change_tmux_and_emit_events(session: Session, tmux_server: TmuxServer) -> None:
    stream = session.stream
    assert session.command(type="split", pane="%0", direction="horizontal").status_code == 200
    added = stream.named("pane-added").data["pane"]
    layout = stream.seen_or_next(lambda e: e.name == "layout" and len(e.data["panes"]) == 2).data
    assert layout["layout"]["type"] == "row"
    assert set(tmux_server.pane_ids()) == {"%0", added["id"]}
    assert session.command(type="split", pane=added["id"], direction="vertical").status_code == 200
    third = stream.named("pane-added").data["pane"]["id"]
    assert session.command(type="select-pane", pane="%0").status_code == 200
    stream.until(lambda e: e.name == "pane-selected" and e.data["pane"] == "%0")
    assert tmux_server.run("display", "-p", "-t", "main", "#{pane_id}").strip() == "%0"
    assert session.command(type="zoom", pane="%0").status_code == 200
    zoomed = stream.until(lambda e: e.name == "layout" and e.data["zoomed"]).data
    assert zoomed["layout"] == {"type": "pane", "pane": "%0", "x": 0, "y": 0, "width": 120, "height": 40}
    assert session.command(type="zoom", pane="%0").status_code == 200
    stream.until(lambda e: e.name == "layout" and not e.data["zoomed"])
    assert session.command(type="kill-pane", pane=third).status_code == 200
    assert stream.named("pane-closed").data == {"pane": third}
    assert third not in tmux_server.pane_ids()


def test_windows_new_rename_select_kill(session: Session, tmux_server: TmuxServer) -> None:
    stream = session.stream
    assert session.command(type="new-window", name="logs #1 'x'").status_code == 200
    window = stream.named("window-added").data["window"]
    assert window["name"] == "logs #1 'x'"
    stream.until(lambda e: e.name == "window-selected" and e.data["window"] == window["id"])
    assert session.command(type="rename-window", window=window["id"], name="build $HOME #{pane_id}").status_code == 200
    assert stream.named("window-renamed").data == {"window": window["id"], "name": "build $HOME #{pane_id}"}
    names = tmux_server.run("list-windows", "-t", "main", "-F", "#{window_name}").splitlines()
    assert "build \\$HOME #{pane_id}" in names  # tmux stores `$` escaped; no format was expanded
    first = session.state["windows"][0]["id"]
    assert session.command(type="select-window", window=first).status_code == 200
    assert stream.named("window-selected").data == {"window": first}
    assert session.command(type="kill-window", window=window["id"]).status_code == 200
    assert stream.named("window-closed").data == {"window": window["id"]}
    assert tmux_server.run("list-windows", "-t", "main", "-F", "#{window_id}").split() == [first]


def test_resize_sets_the_tmux_client_size(session: Session, tmux_server: TmuxServer) -> None:
    assert session.command(type="resize", cols=90, rows=30).status_code == 200
    wait_until(lambda: tmux_server.run("display", "-p", "-t", "main", "#{window_width}x#{window_height}").strip() == "90x30")
    layout = session.stream.until(lambda e: e.name == "layout" and e.data["width"] == 90).data
    assert layout["height"] == 30


def test_tmux_refusal_is_a_409_with_tmux_message(session: Session) -> None:
    assert session.command(type="resize", cols=20, rows=4).status_code == 200
    refused = None
    for _ in range(10):
        r = session.command(type="split", pane="%0", direction="vertical")
        if r.status_code == 409:
            refused = r
            break
        session.stream.named("pane-added")
    assert refused is not None, "tmux never refused to split a 4-row window"
    assert "tmux:" in refused.json()["error"] and "space" in refused.json()["error"]


BAD_BODIES = [
    ("{not json", "malformed JSON"),
    ("[1, 2]", "JSON object"),
    (json.dumps({"type": "rm -rf"}), "unknown command"),
    (json.dumps({"type": "input", "pane": "%0"}), "needs"),
    (json.dumps({"type": "input", "pane": "%0", "text": "x", "extra": 1}), "unknown field"),
    (json.dumps({"type": "input", "pane": "0", "text": "x"}), "pane id"),
    (json.dumps({"type": "input", "pane": "%0;kill-server", "text": "x"}), "pane id"),
    (json.dumps({"type": "input", "pane": "%0 -t %1", "text": "x"}), "pane id"),
    (json.dumps({"type": "input", "pane": "%0", "text": 5}), "string"),
    (json.dumps({"type": "input", "pane": "%0", "text": ""}), "empty"),
    ('{"type": "input", "pane": "%0", "text": "\\ud800"}', "Unicode"),
    (json.dumps({"type": "keys", "pane": "%0", "keys": ["C-c;kill-server"]}), "key name"),
    (json.dumps({"type": "keys", "pane": "%0", "keys": ["Enter", "-t"]}), "key name"),
    (json.dumps({"type": "keys", "pane": "%0", "keys": []}), "non-empty"),
    (json.dumps({"type": "resize", "cols": 0, "rows": 10}), "cols"),
    (json.dumps({"type": "resize", "cols": True, "rows": 10}), "cols"),
    (json.dumps({"type": "resize", "cols": 80, "rows": 100000}), "rows"),
    (json.dumps({"type": "split", "pane": "%0", "direction": "diagonal"}), "direction"),
    (json.dumps({"type": "rename-window", "window": "@0", "name": "a\nkill-server"}), "control"),
    (json.dumps({"type": "rename-window", "window": "@0", "name": "x" * 65}), "characters"),
    (json.dumps({"type": "rename-window", "window": "@0", "name": "-t"}), "start with"),
    (json.dumps({"type": "rename-window", "window": "0", "name": "x"}), "window id"),
    (json.dumps({"type": "input", "pane": "%0", "text": "x", "seq": -1}), "seq"),
    (json.dumps({"type": "input", "pane": "%0", "text": "x", "seq": "1"}), "seq"),
]


@pytest.mark.parametrize(("body", "message"), BAD_BODIES)
def test_bad_command_is_400_and_executes_nothing(session: Session, tmux_server: TmuxServer, body: str, message: str) -> None:
    before = tmux_server.capture("%0")
    r = session.client.post(
        "/commands", params={"session": "main"}, content=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400, r.text
    assert message in r.json()["error"]
    assert tmux_server.run("list-windows", "-t", "main", "-F", "#{window_name}").split() != ["x"]
    assert tmux_server.capture("%0") == before


def test_target_outside_the_session_is_404(session: Session, tmux_server: TmuxServer) -> None:
    tmux_server.run("new-session", "-d", "-s", "other")
    other_pane = tmux_server.pane_ids("other")[0]
    other_window = tmux_server.run("list-windows", "-t", "other", "-F", "#{window_id}").strip()
    assert session.command(type="input", pane=other_pane, text="x").status_code == 404
    assert session.command(type="kill-window", window=other_window).status_code == 404
    assert session.command(type="input", pane="%999", text="x").status_code == 404
    assert other_pane in tmux_server.pane_ids("other")


def test_non_json_body_is_415(session: Session) -> None:
    r = session.client.post("/commands", params={"session": "main"}, content=b'{"type":"input"}', headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert "application/json" in r.json()["error"]


def test_oversized_body_is_413_declared_or_chunked(session: Session, tmux_server: TmuxServer) -> None:
    body = json.dumps({"type": "input", "pane": "%0", "text": "y" * 70_000}).encode()
    r = session.client.post("/commands", params={"session": "main"}, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    r = session.client.post(
        "/commands", params={"session": "main"}, content=iter([body[:40_000], body[40_000:]]), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert "yyyy" not in tmux_server.capture("%0")


def test_session_token_missing_forged_foreign_or_expired_is_403(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> None:
    tmux_server.run("new-session", "-d", "-s", "other")
    body = {"type": "input", "pane": "%0", "text": "x"}
    with tmuxweb_server.client() as client:
        r = client.post("/commands", params={"session": "main"}, json=body)
        assert r.status_code == 403 and "X-Session-Token" in r.json()["error"]
        r = client.post("/commands", params={"session": "main"}, json=body, headers={"X-Session-Token": "A" * 43})
        assert r.status_code == 403
        other = Session(tmuxweb_server, tmuxweb_server.stream("other"), "other")
        r = client.post("/commands", params={"session": "main"}, json=body, headers={"X-Session-Token": other.info["session_token"]})
        assert r.status_code == 403 and "another session" in r.json()["error"]
        token = other.info["session_token"]
        other.close()

        def expired() -> bool:
            r = client.post("/commands", params={"session": "other"}, json={"type": "resize", "cols": 80, "rows": 24}, headers={"X-Session-Token": token})
            return r.status_code == 403

        wait_until(expired, what="session token to die with its stream")


def test_access_token_is_required_on_commands(tmuxweb_server: RunningServer) -> None:
    r = httpx.post(tmuxweb_server.base_url + "/commands", json={"type": "input"})
    assert r.status_code == 401


def test_input_without_a_pane_goes_to_the_active_pane_when_it_runs(session: Session, tmux_server: TmuxServer) -> None:
    tmux_server.run("split-window", "-h", "-t", "%0")
    new = session.stream.named("pane-added").data["pane"]["id"]
    tmux_server.wait_for_prompt(new)
    assert session.command(type="input", text="echo active-$((3*3))\r").status_code == 200
    tmux_server.wait_for_text(new, "active-9")
    assert "active-9" not in tmux_server.capture("%0")


# -- a typing command's reply follows its echo ---------------------------------------


def _raw_stream(server: RunningServer) -> tuple[socket.socket, str]:
    """GET /events on a plain socket (no reader thread in between): returns
    it, read up to the first state, and the stream's session token."""
    sock = socket.create_connection(("127.0.0.1", server.config.port), timeout=10)
    sock.sendall(
        b"GET /events?session=main HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n" % server.token.encode()
    )
    data = b""
    deadline = time.monotonic() + 10
    while b"event: state" not in data and time.monotonic() < deadline:
        data += sock.recv(1 << 20)
    info = data[data.index(b"event: connection-info") :].split(b"\n")[1]
    return sock, json.loads(info[len(b"data: ") :])["session_token"]


def test_the_reply_to_typing_comes_after_its_echo_has_been_sent(make_server: Callable[..., RunningServer], tmux_server: TmuxServer) -> None:
    """With a long echo wait, the reply cannot come back before the echo:
    when the POST returns, the echo is already on the stream's socket
    (loopback delivers a write at once), so nothing needs a timing guess."""
    server = make_server(echo_wait=10.0)
    tmux_server.run("send-keys", "-t", "%0", "-l", "cat")
    tmux_server.run("send-keys", "-t", "%0", "Enter")
    wait_until(lambda: tmux_server.run("display", "-p", "-t", "%0", "#{pane_current_command}").strip() == "cat")
    sock, token = _raw_stream(server)
    with sock, server.client(headers={"X-Session-Token": token}) as client:
        for marker in ("qzxw", "vbnm", "plok"):
            r = client.post("/commands", params={"session": "main"}, json={"type": "input", "pane": "%0", "text": marker})
            assert r.json() == {"ok": True}
            sock.setblocking(False)
            seen = b""
            try:
                while chunk := sock.recv(1 << 20):
                    seen += chunk
            except BlockingIOError:
                pass
            sock.setblocking(True)
            assert marker.encode() in seen, seen[-300:]


def test_typing_that_echoes_nothing_is_answered_after_the_echo_wait(make_server: Callable[..., RunningServer], tmux_server: TmuxServer) -> None:
    server = make_server(echo_wait=0.3)
    tmux_server.run("send-keys", "-t", "%0", "-l", "stty -echo; cat > /dev/null")
    tmux_server.run("send-keys", "-t", "%0", "Enter")
    wait_until(lambda: tmux_server.run("display", "-p", "-t", "%0", "#{pane_current_command}").strip() == "cat")
    with server.stream() as stream:
        session = Session(server, stream)
        started = time.monotonic()
        assert session.command(type="input", pane="%0", text="silent").json() == {"ok": True}
        assert time.monotonic() - started >= 0.3  # it did wait for an echo
        session.client.close()
