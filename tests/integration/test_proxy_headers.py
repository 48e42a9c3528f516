"""Sub-path serving, forwarded headers from trusted proxies only, and a
clean SIGTERM. (Real nginx, Caddy and sshd are exercised in tests/deploy.)"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from helpers import RunningServer, TmuxServer, tmux_env, wait_until


def raw_get(port: int, path: str, headers: dict[str, str], source: str = "127.0.0.1") -> tuple[int, bytes]:
    """One HTTP/1.1 request from a chosen loopback source address."""
    with socket.create_connection(("127.0.0.1", port), source_address=(source, 0), timeout=10) as sock:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(f"GET {path} HTTP/1.1\r\n{head}Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


def test_root_path_serves_under_the_prefix_with_or_without_stripping(make_server) -> None:
    server: RunningServer = make_server(root_path="/tmux")
    with server.client(follow_redirects=False) as client:
        assert client.get("/tmux/api/sessions").status_code == 200  # proxy passed the prefix on
        assert client.get("/api/sessions").status_code == 200  # proxy stripped it
        r = client.get("/tmux")
        assert r.status_code == 308 and r.headers["location"] == "/tmux/"
        page = client.get("/tmux/")
        assert page.status_code == 200 and "./static/" in page.text
        assert client.get("/tmux/static/main.js").status_code == 200


def test_forwarded_host_is_honoured_only_from_a_trusted_proxy(make_server) -> None:
    server: RunningServer = make_server(trusted_proxies=("127.0.0.1",), allowed_hosts=("tmux.example.com",))
    port = server.config.port
    auth = {"Authorization": f"Bearer {server.token}"}
    # From the proxy: the browser asked for tmux.example.com over https.
    status, _ = raw_get(port, "/api/sessions", {"Host": "127.0.0.1:8080", "X-Forwarded-Host": "tmux.example.com", "X-Forwarded-Proto": "https", **auth})
    assert status == 200
    status, _ = raw_get(port, "/api/sessions", {"Host": "127.0.0.1", "X-Forwarded-Host": "evil.example", **auth})
    assert status == 403  # the forwarded host is checked like a Host
    status, _ = raw_get(port, "/api/sessions", {"Host": "127.0.0.1", "Forwarded": 'for=10.1.2.3;proto=https;host="evil.example"', **auth})
    assert status == 403
    # Not from the proxy: a forged X-Forwarded-Host does not launder a bad Host.
    status, body = raw_get(port, "/api/sessions", {"Host": "evil.example", "X-Forwarded-Host": "tmux.example.com", **auth}, source="127.0.0.2")
    assert status == 403 and b"host not allowed" in body


def test_origin_check_uses_the_forwarded_scheme_and_host(make_server) -> None:
    server: RunningServer = make_server(trusted_proxies=("127.0.0.1",), allowed_hosts=("tmux.example.com",))
    headers = {"Host": "127.0.0.1", "X-Forwarded-Host": "tmux.example.com", "X-Forwarded-Proto": "https", "Content-Type": "application/json"}
    with server.client() as client:
        ok = client.post("/api/ticket", headers={**headers, "Origin": "https://tmux.example.com"})
        assert ok.status_code == 200
        bad = client.post("/api/ticket", headers={**headers, "Origin": "http://tmux.example.com"})
        assert bad.status_code == 403


@pytest.mark.slow
def test_sigterm_ends_streams_with_a_final_event_and_leaves_sessions(tmux_server: TmuxServer, tmp_path: Path) -> None:
    env = {**tmux_env(), "XDG_RUNTIME_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tmuxweb", "-L", tmux_server.socket_name, "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    try:
        assert proc.stdout is not None
        base, token = proc.stdout.readline().strip().split("/#token=")
        lines: list[str] = []
        with httpx.Client(timeout=20) as client:
            with client.stream("GET", base + "/events", params={"session": "main"}, headers={"Authorization": f"Bearer {token}"}) as r:
                for line in r.iter_lines():
                    lines.append(line)
                    if line == "event: state":
                        started = time.monotonic()
                        proc.send_signal(signal.SIGTERM)
        assert "event: exit" in lines
        assert any("shutting down" in line for line in lines)
        proc.wait(10)
        assert time.monotonic() - started < 8
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout:
            proc.stdout.close()
    assert tmux_server.run("list-sessions", "-F", "#{session_name}").split() == ["main"]
    wait_until(lambda: not tmux_server.control_clients(), what="control client gone")
