"""Attacks on access control: scoped tokens, read-only, command policy,
revocation, audit log, brute force, stream limits, slow bodies, TLS."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from helpers import EventStream, RunningServer, Session, TmuxServer, tmux_env, wait_until
from tmuxweb.auth import new_secret
from tmuxweb.tokens import TokenStore

EVERY_COMMAND = [
    {"type": "input", "pane": "%0", "text": "touch /tmp/x\r"},
    {"type": "keys", "pane": "%0", "keys": ["Enter"]},
    {"type": "paste", "pane": "%0", "text": "x"},
    {"type": "resize", "cols": 50, "rows": 20},
    {"type": "release-size"},
    {"type": "select-pane", "pane": "%0"},
    {"type": "select-window", "window": "@0"},
    {"type": "split", "pane": "%0", "direction": "vertical"},
    {"type": "kill-pane", "pane": "%0"},
    {"type": "new-window"},
    {"type": "kill-window", "window": "@0"},
    {"type": "rename-window", "window": "@0", "name": "pwned"},
    {"type": "zoom", "pane": "%0"},
    {"type": "resize-pane", "pane": "%0", "direction": "left"},
    {"type": "next-window"},
    {"type": "copy-mode", "pane": "%0"},
    {"type": "send-prefix", "pane": "%0"},
    {"type": "paste-buffer", "pane": "%0"},
    {"type": "rotate-window", "window": "@0"},
    {"type": "swap-pane", "pane": "%0", "direction": "up"},
    {"type": "select-layout", "window": "@0", "layout": "tiled"},
    {"type": "binding", "key": "c"},
]


def add_token(server: RunningServer, name: str, scope: str, ttl: float | None = None) -> str:
    secret = new_secret()
    assert server.config.tokens_file is not None
    TokenStore(server.config.tokens_file).create(name, scope, ttl, secret)
    return secret


def stream_as(server: RunningServer, token: str):  # type: ignore[no-untyped-def]
    return server.stream(headers={"Authorization": f"Bearer {token}"})


def tmux_snapshot(tmux: TmuxServer) -> str:
    return tmux.run("list-panes", "-s", "-t", "main", "-F", "#{pane_id} #{window_name} #{pane_width}x#{pane_height} #{window_zoomed_flag}")


def test_read_token_escalation_every_command_type_is_refused(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> None:
    token = add_token(tmuxweb_server, "viewer", "read")
    # Once bash runs, tmux renames the window after it (from `env`): wait,
    # or that rename would look like something the read token did.
    wait_until(lambda: " bash " in tmux_snapshot(tmux_server), what="the window named bash")
    before = tmux_snapshot(tmux_server)
    with stream_as(tmuxweb_server, token) as stream:
        info = stream.named("connection-info").data
        stream.named("state")
        headers = {"Authorization": f"Bearer {token}", "X-Session-Token": info["session_token"]}
        with httpx.Client(base_url=tmuxweb_server.base_url, headers=headers) as client:
            for body in EVERY_COMMAND:
                r = client.post("/commands", params={"session": "main"}, json=body)
                assert r.status_code == 403, (body, r.text)
            assert client.post("/api/sessions", json={"name": "evil"}).status_code == 403
    assert tmux_snapshot(tmux_server) == before  # nothing ran, not even a resize
    assert "evil" not in tmux_server.run("list-sessions", "-F", "#{session_name}")


def test_read_token_sees_everything_live(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> None:
    token = add_token(tmuxweb_server, "viewer", "read")
    tmux_server.wait_for_prompt()
    with stream_as(tmuxweb_server, token) as stream:
        stream.named("state")
        tmux_server.run("send-keys", "-t", "%0", "echo visible-$((2+3))", "Enter")
        stream.until(lambda e: e.name == "output" and "visible-5" in e.data["data"])


def test_write_token_may_type_but_not_administer(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> None:
    token = add_token(tmuxweb_server, "typist", "write")
    tmux_server.wait_for_prompt()
    with stream_as(tmuxweb_server, token) as stream:
        info = stream.named("connection-info").data
        stream.named("state")
        headers = {"Authorization": f"Bearer {token}", "X-Session-Token": info["session_token"]}
        with httpx.Client(base_url=tmuxweb_server.base_url, headers=headers) as client:
            post = lambda body: client.post("/commands", params={"session": "main"}, json=body)  # noqa: E731
            assert post({"type": "input", "pane": "%0", "text": "echo typed-$((1+1))\r"}).status_code == 200
            stream.until(lambda e: e.name == "output" and "typed-2" in e.data["data"])
            for body in EVERY_COMMAND:
                if body["type"] in ("split", "kill-pane", "new-window", "kill-window", "rename-window", "zoom", "rotate-window", "swap-pane", "select-layout", "resize-pane"):
                    assert post(body).status_code == 403, body
            assert post({"type": "binding", "key": "%"}).status_code == 403  # resolves to split
            assert post({"type": "binding", "key": "c"}).status_code == 403  # resolves to new-window
            assert client.post("/api/sessions", json={"name": "evil"}).status_code == 403
    assert tmux_server.pane_ids() == ["%0"]


def test_readonly_server_refuses_the_owner_too(make_server, tmux_server: TmuxServer) -> None:
    server = make_server(readonly=True)
    before = tmux_snapshot(tmux_server)
    with server.stream() as stream:
        session = Session(server, stream)
        for body in EVERY_COMMAND:
            assert session.command(**body).status_code == 403, body
        session.close()
    with server.client() as client:
        assert client.post("/api/sessions", json={"name": "evil"}).status_code == 403
    assert tmux_snapshot(tmux_server) == before


def test_no_destroy_refuses_kills_even_through_bindings(make_server, tmux_server: TmuxServer) -> None:
    server = make_server(no_destroy=True)
    tmux_server.run("split-window", "-t", "%0")
    with server.stream() as stream:
        session = Session(server, stream)
        assert session.command(type="kill-pane", pane="%0").status_code == 403
        assert session.command(type="kill-window", window="@0").status_code == 403
        assert session.command(type="binding", key="x", confirmed=True).status_code == 403
        assert session.command(type="binding", key="&", confirmed=True).status_code == 403
        assert session.command(type="split", pane="%0", direction="horizontal").status_code == 200
        session.close()
    assert len(tmux_server.pane_ids()) >= 2


def test_only_the_owner_of_a_writable_server_creates_the_default_session(
    make_server, tmux_server: TmuxServer, tmp_path: Path
) -> None:
    def sessions() -> list[str]:
        return tmux_server.run("list-sessions", "-F", "#{session_name}").split()

    audit = tmp_path / "audit.jsonl"
    readonly = make_server(readonly=True, default_session="fresh", audit_log=tmp_path / "readonly.jsonl")
    server = make_server(default_session="fresh", audit_log=audit)
    tokens = [add_token(server, "viewer", "read"), add_token(server, "typist", "write")]
    attempts = [(readonly, readonly.token)] + [(s, t) for s in (readonly, server) for t in tokens]
    for where, token in attempts:
        # A stream without ?session= asks for the default session, missing here.
        with httpx.Client(base_url=where.base_url, headers={"Authorization": f"Bearer {token}"}) as client:
            with client.stream("GET", "/events") as r:
                assert r.status_code == 404, (where.config.readonly, r.status_code)
                assert "fresh" in r.read().decode()
    assert sessions() == ["main"]  # no shell was started for any of them
    with server.stream(session=None) as stream:
        assert stream.named("connection-info").data["session"]["name"] == "fresh"
        stream.named("state")
    assert sorted(sessions()) == ["fresh", "main"]
    created = [r for r in read_audit(audit) if r["event"] == "session-created"]
    assert [(r["token"], r["name"]) for r in created] == [("owner", "fresh")]
    assert not any(r["event"] == "session-created" for r in read_audit(tmp_path / "readonly.jsonl"))


def test_revoked_token_streams_close_within_a_second(tmuxweb_server: RunningServer) -> None:
    token = add_token(tmuxweb_server, "phone", "write")
    with stream_as(tmuxweb_server, token) as stream:
        info = stream.named("connection-info").data
        stream.named("state")
        assert tmuxweb_server.config.tokens_file is not None
        revoked_at = time.monotonic()
        TokenStore(tmuxweb_server.config.tokens_file).revoke("phone")
        exit_event = stream.named("exit", timeout=5)
        elapsed = time.monotonic() - revoked_at
        assert "revoked" in exit_event.data["reason"]
        print(f"stream closed {elapsed:.2f}s after revocation")
        headers = {"Authorization": f"Bearer {token}", "X-Session-Token": info["session_token"]}
        with httpx.Client(base_url=tmuxweb_server.base_url, headers=headers) as client:
            assert client.post("/commands", params={"session": "main"}, json={"type": "resize", "cols": 80, "rows": 24}).status_code == 401
            assert client.get("/api/sessions").status_code == 401
        with tmuxweb_server.client() as owner:
            session_token_only = owner.post(
                "/commands", params={"session": "main"}, json={"type": "resize", "cols": 80, "rows": 24},
                headers={"X-Session-Token": info["session_token"]},
            )
            assert session_token_only.status_code == 403  # destroyed with its stream


def test_ticket_of_a_revoked_token_is_refused(tmuxweb_server: RunningServer) -> None:
    token = add_token(tmuxweb_server, "tablet", "read")
    with httpx.Client(base_url=tmuxweb_server.base_url) as client:
        ticket = client.post("/api/ticket", headers={"Authorization": f"Bearer {token}"}).json()["ticket"]
        assert tmuxweb_server.config.tokens_file is not None
        TokenStore(tmuxweb_server.config.tokens_file).revoke("tablet")
        wait_until(lambda: client.get("/api/sessions", headers={"Authorization": f"Bearer {token}"}).status_code == 401)
        assert client.get("/events", params={"session": "main", "ticket": ticket}).status_code == 401


@pytest.mark.slow
def test_expired_token_stops_working_and_its_stream_ends(tmuxweb_server: RunningServer) -> None:
    token = add_token(tmuxweb_server, "brief", "read", ttl=1.5)
    with stream_as(tmuxweb_server, token) as stream:
        stream.named("state")
        assert "expired" in stream.named("exit", timeout=10).data["reason"]
    with httpx.Client(base_url=tmuxweb_server.base_url, headers={"Authorization": f"Bearer {token}"}) as client:
        assert client.get("/api/sessions").status_code == 401


def test_session_token_of_another_access_token_is_refused(tmuxweb_server: RunningServer) -> None:
    token = add_token(tmuxweb_server, "typist", "write")
    with tmuxweb_server.stream() as owner_stream:
        owner_session_token = owner_stream.named("connection-info").data["session_token"]
        headers = {"Authorization": f"Bearer {token}", "X-Session-Token": owner_session_token}
        with httpx.Client(base_url=tmuxweb_server.base_url, headers=headers) as client:
            r = client.post("/commands", params={"session": "main"}, json={"type": "resize", "cols": 80, "rows": 24})
            assert r.status_code == 403


def test_tokens_file_holds_only_hashes_and_is_private(tmuxweb_server: RunningServer) -> None:
    token = add_token(tmuxweb_server, "phone", "read")
    path = tmuxweb_server.config.tokens_file
    assert path is not None
    assert path.stat().st_mode & 0o777 == 0o600
    assert token not in path.read_text()
    assert json.loads(path.read_text())["tokens"][0]["name"] == "phone"


def test_token_command_line_create_list_revoke(tmp_path: Path) -> None:
    store = tmp_path / "tokens.json"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tmuxweb", "token", "--tokens-file", str(store), *args], capture_output=True, text=True, timeout=30)

    created = run("create", "--scope", "read", "--name", "phone", "--expires", "7d")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert len(secret) >= 43
    listed = run("list")
    assert listed.stdout.startswith("phone\tread") and secret not in listed.stdout
    assert run("create", "--scope", "read", "--name", "phone").returncode == 2
    assert run("create", "--scope", "owner", "--name", "x").returncode == 2
    assert run("create", "--scope", "read", "--name", "bad name").returncode == 2
    assert run("create", "--scope", "read", "--name", "y", "--expires", "soon").returncode == 2
    assert run("revoke", "phone").returncode == 0
    assert run("revoke", "phone").returncode == 2
    assert run("list").stdout == ""


def read_audit(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_audit_log_records_who_did_what_and_never_a_secret(make_server, tmp_path: Path, tmux_server: TmuxServer) -> None:
    audit = tmp_path / "audit.jsonl"
    server = make_server(audit_log=audit)
    tmux_server.wait_for_prompt()
    with httpx.Client(base_url=server.base_url) as client:
        assert client.get("/api/sessions", headers={"Authorization": "Bearer wrong-guess-value"}).status_code == 401
        ticket = client.post("/api/ticket", headers=server.auth).json()["ticket"]
    with EventStream(server.base_url + "/events", {}, {"session": "main", "ticket": ticket}).open() as stream:
        session = Session(server, stream)
        assert session.command(type="input", pane="%0", text="echo secret-text\r").status_code == 200
        assert session.command(type="split", pane="%0", direction="vertical").status_code == 200
        session_token = session.info["session_token"]
        session.close()
    wait_until(lambda: any(r["event"] == "stream-close" for r in read_audit(audit)))
    server.stop()
    assert audit.stat().st_mode & 0o777 == 0o600
    text = audit.read_text()
    for secret in (server.token, ticket, session_token, "wrong-guess-value", "secret-text"):
        assert secret not in text
    events = read_audit(audit)
    kinds = [r["event"] for r in events]
    assert kinds[0] == "server-start" and kinds[-1] == "server-stop"
    failure = next(r for r in events if r["event"] == "auth-failure")
    assert failure["route"] == "/api/sessions" and failure["client"] == "127.0.0.1" and failure["reason"] == "wrong token"
    opened = next(r for r in events if r["event"] == "stream-open")
    assert opened["token"] == "owner" and opened["session"] == "$0"
    commands = [r for r in events if r["event"] == "command"]
    assert [(c["type"], c["pane"]) for c in commands] == [("input", "%0"), ("split", "%0")]
    assert "text" not in commands[0]


def test_audit_input_records_typed_text_when_asked(make_server, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    server = make_server(audit_log=audit, audit_input=True)
    with server.stream() as stream:
        session = Session(server, stream)
        assert session.command(type="input", pane="%0", text="echo recorded").status_code == 200
        session.close()
    server.stop()
    command = next(r for r in read_audit(audit) if r["event"] == "command")
    assert command["text"] == "echo recorded"


@pytest.mark.slow
def test_brute_force_ten_thousand_wrong_tokens_cost_time_and_never_succeed(make_server) -> None:
    server = make_server()
    started = time.monotonic()
    statuses: dict[int, int] = {}
    retry_after: set[str] = set()
    with httpx.Client(base_url=server.base_url) as client:
        for i in range(10_000):
            r = client.get("/api/sessions", headers={"Authorization": f"Bearer guess-{i:05d}-{'x' * 30}"})
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            if r.status_code == 429:
                retry_after.add(r.headers["retry-after"])
        elapsed = time.monotonic() - started
        assert 200 not in statuses
        # Only a burst plus the refill rate were ever compared; the rest were
        # refused unseen and told to wait.
        compared = statuses.get(401, 0)
        config = server.config
        assert compared <= config.auth_burst + elapsed * config.auth_rate + 1, statuses
        assert statuses.get(429, 0) >= 10_000 - compared
        assert retry_after and all(int(v) >= 1 for v in retry_after)
        print(f"10,000 guesses in {elapsed:.1f}s: {statuses}; at the enforced rate they need {10_000 / config.auth_rate:.0f}s")
        # The owner is not locked out for long once the guessing stops.
        wait_until(lambda: client.get("/api/sessions", headers=server.auth).status_code == 200, timeout=5)


def test_global_limit_stops_guessing_from_many_addresses(make_server) -> None:
    server = make_server(auth_burst=1000, auth_global_burst=20, auth_global_rate=1.0)
    codes = []
    with httpx.Client(base_url=server.base_url) as client:
        for i in range(60):
            codes.append(client.get("/api/sessions", headers={"Authorization": f"Bearer nope-{i}"}).status_code)
    assert codes.count(401) <= 22 and codes.count(429) >= 38


def test_stream_limits_per_token_and_overall(make_server) -> None:
    server = make_server(max_streams=3, max_streams_per_token=2)
    token = add_token(server, "viewer", "read")
    a, b = server.stream(), server.stream()
    a.named("state"), b.named("state")
    with server.client() as client:
        r = client.get("/events", params={"session": "main"})
        assert r.status_code == 429 and "owner" in r.json()["error"]
    c = stream_as(server, token)
    c.named("state")
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}) as client:
        r = client.get("/events", params={"session": "main"})
        assert r.status_code == 429 and "too many open streams" in r.json()["error"]
    for s in (a, b, c):
        s.close()


@pytest.mark.parametrize("path", ["/api/sessions", "/commands?session=main"])  # a Starlette endpoint and the plain ASGI one
def test_slow_request_body_is_cut_off_with_408(make_server, path: str) -> None:
    server = make_server(body_timeout=0.5)
    with socket.create_connection(("127.0.0.1", server.config.port)) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"na".encode()
        )
        sock.settimeout(10)
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 408")


def test_forged_last_event_id_gets_a_fresh_snapshot(tmuxweb_server: RunningServer) -> None:
    for forged in ("999999-999999", "../../etc/passwd", "x" * 500, "-1", "%0a%0d"):
        with tmuxweb_server.stream(headers={"Last-Event-ID": forged}) as stream:
            assert stream.next().name == "connection-info"
            assert stream.next().name == "state"


# -- TLS ---------------------------------------------------------------------------


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def certificates(tmp_path: Path) -> dict[str, Path]:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client one."""
    d = tmp_path
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
            "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"), ("client", "extendedKeyUsage=clientAuth")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"))
        (d / f"{name}.ext").write_text(ext + "\n")
        openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
                "-CAcreateserial", "-days", "2", "-extfile", str(d / f"{name}.ext"), "-out", str(d / f"{name}.pem"))
    return {n: d / n for n in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")}


def start_cli(tmux: TmuxServer, tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    env = {**tmux_env(), "XDG_RUNTIME_DIR": str(tmp_path), "XDG_STATE_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tmuxweb", "-L", tmux.socket_name, "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    assert proc.stdout is not None
    link = proc.stdout.readline().strip()
    assert link, proc.stderr.read() if proc.stderr else ""
    return proc, link


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(10)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


@pytest.mark.slow
def test_tls_serves_https_and_plain_http_gets_nothing(tmux_server: TmuxServer, tmp_path: Path, certificates: dict[str, Path]) -> None:
    proc, link = start_cli(tmux_server, tmp_path, "--certfile", str(certificates["server.pem"]), "--keyfile", str(certificates["server.key"]))
    try:
        assert link.startswith("https://127.0.0.1:")
        base, token = link.split("/#token=")
        with httpx.Client(verify=ssl.create_default_context(cafile=str(certificates["ca.pem"]))) as client:
            assert client.get(base + "/api/sessions", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        with pytest.raises(httpx.HTTPError):
            httpx.get(base.replace("https://", "http://") + "/healthz", timeout=5)
    finally:
        stop(proc)


@pytest.mark.slow
def test_client_certificate_is_required_with_client_ca(tmux_server: TmuxServer, tmp_path: Path, certificates: dict[str, Path]) -> None:
    proc, link = start_cli(
        tmux_server, tmp_path,
        "--certfile", str(certificates["server.pem"]), "--keyfile", str(certificates["server.key"]),
        "--client-ca", str(certificates["ca.pem"]),
    )
    try:
        base = link.split("/#token=")[0]
        with pytest.raises(httpx.HTTPError):
            with httpx.Client(verify=ssl.create_default_context(cafile=str(certificates["ca.pem"]))) as client:
                client.get(base + "/healthz")
        context = ssl.create_default_context(cafile=str(certificates["ca.pem"]))
        context.load_cert_chain(str(certificates["client.pem"]), str(certificates["client.key"]))
        with httpx.Client(verify=context) as client:
            assert client.get(base + "/healthz").status_code == 200
    finally:
        stop(proc)


def test_non_loopback_plain_http_needs_explicit_acknowledgement(tmux_server: TmuxServer, tmp_path: Path) -> None:
    env = {**tmux_env(), "XDG_RUNTIME_DIR": str(tmp_path)}
    refused = subprocess.run(
        [sys.executable, "-m", "tmuxweb", "-L", tmux_server.socket_name, "--host", "0.0.0.0", "--port", "0"],
        capture_output=True, text=True, env=env, timeout=30,
    )
    assert refused.returncode == 2
    assert "--insecure-http" in refused.stderr and "SSH tunnel" in refused.stderr
    proc, link = start_cli(tmux_server, tmp_path, "--host", "0.0.0.0", "--insecure-http")
    try:
        base = link.split("/#token=")[0]
        assert httpx.get(base + "/healthz", timeout=5).status_code == 200
    finally:
        stop(proc)
