"""`python -m tmuxweb` as a user runs it: options, the printed link, the
token file, start-up warnings, and what stopping or killing it leaves behind.

Every process runs with HOME and XDG_RUNTIME_DIR in the test's tmp dir, so
no token file lands in the real home, and drives the test's private tmux
server (`-L`).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from helpers import EventStream, TmuxServer, tmux_env, wait_until

REPO = Path(__file__).resolve().parents[2]
LINK = re.compile(r"http://(?P<host>[^/]+):(?P<port>[0-9]+)/#token=(?P<token>[A-Za-z0-9_-]+)")


def cli_env(tmp: Path) -> dict[str, str]:
    env = tmux_env()
    home, runtime = tmp / "home", tmp / "runtime"
    home.mkdir(exist_ok=True)
    runtime.mkdir(mode=0o700, exist_ok=True)
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(runtime), PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])))
    env.pop("XDG_STATE_HOME", None)
    return env


def run_cli(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A tmuxweb that is expected to exit by itself."""
    return subprocess.run([sys.executable, "-m", "tmuxweb", *args], capture_output=True, text=True, env=cli_env(tmp), timeout=30)


@dataclass
class Tmuxweb:
    """A running `python -m tmuxweb`, its output read line by line."""

    proc: subprocess.Popen[str]
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    _readers: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        for pipe, lines in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr)):
            reader = threading.Thread(target=self._read, args=(pipe, lines), daemon=True)
            reader.start()
            self._readers.append(reader)

    @staticmethod
    def _read(pipe: object, lines: list[str]) -> None:
        for line in pipe:  # type: ignore[attr-defined]
            lines.append(line.rstrip("\n"))

    @property
    def link(self) -> re.Match[str]:
        line = wait_until(lambda: self.stdout[:1], timeout=20, what="the printed link")[0]
        match = LINK.fullmatch(line)
        assert match, line
        return match

    @property
    def base_url(self) -> str:
        return f"http://{self.link['host']}:{self.link['port']}"

    @property
    def token(self) -> str:
        return self.link["token"]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def wait_ready(self) -> None:
        """Serving (and so, signal handlers installed)."""

        def healthy() -> bool:
            try:
                return httpx.get(self.base_url + "/healthz", timeout=5).status_code == 200
            except httpx.TransportError:
                assert self.proc.poll() is None, "\n".join(self.stderr)
                return False

        wait_until(healthy, timeout=20, what="tmuxweb to answer /healthz")

    def token_file(self) -> Path:
        line = wait_until(lambda: [s for s in self.stderr if s.startswith("token file: ")], what="token file line")[0]
        return Path(line.removeprefix("token file: "))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self.finish()
        return code

    def finish(self) -> None:
        for reader in self._readers:
            reader.join(10)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def start_cli(tmp_path: Path, tmux_server: TmuxServer) -> Iterator[Callable[..., Tmuxweb]]:
    """Start `python -m tmuxweb -L <private socket> --port 0 [args]`."""
    started: list[Tmuxweb] = []

    def start(*args: str, socket_args: bool = True) -> Tmuxweb:
        argv = [sys.executable, "-m", "tmuxweb", *(["-L", tmux_server.socket_name] if socket_args else []), "--port", "0", *args]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(tmp_path))
        started.append(Tmuxweb(proc))
        return started[-1]

    try:
        yield start
    finally:
        for app in started:
            if app.proc.poll() is None:
                app.proc.kill()
                app.proc.wait(10)
            app.finish()


def open_stream(app: Tmuxweb) -> EventStream:
    stream = EventStream(app.base_url + "/events", app.auth, {"session": "main"}).open()
    stream.named("state")
    return stream


# -- options --------------------------------------------------------------------------------


def test_version_and_help_exit_0(tmp_path: Path) -> None:
    version = run_cli(tmp_path, "--version")
    assert version.returncode == 0 and re.fullmatch(r"tmuxweb \d+\.\d+\.\d+\S*\n", version.stdout), version
    for args in (["--help"], ["serve", "--help"]):
        shown = run_cli(tmp_path, *args)
        assert shown.returncode == 0 and shown.stderr == ""
        assert shown.stdout.startswith("usage: tmuxweb")
        for option in ("--host", "--port", "--socket-name", "--socket-path", "--session", "--token-file", "--allowed-host", "--allowed-origin"):
            assert option in shown.stdout


MISUSE = {
    "port not a number": ["--port", "abc"],
    "port too big": ["--port", "70000"],
    "negative port": ["--port=-1"],
    "host with spaces": ["--host", "bad host!"],
    "host with a path": ["--host", "example.com/x"],
    "origin without scheme": ["--allowed-origin", "evil.example"],
    "origin with other scheme": ["--allowed-origin", "ftp://evil.example"],
    "origin with a path": ["--allowed-origin", "https://evil.example/app"],
    "allowed host with a slash": ["--allowed-host", "bad/host"],
    "socket name with a slash": ["-L", "a/b"],
    "empty socket name": ["-L", ""],
    "both -L and -S": ["-L", "x", "-S", "/tmp/x"],
    "session with a colon": ["--session", "a:b"],
    "session starting with a dash": ["--session=-x"],
    "empty session": ["--session", ""],
    "unknown option": ["--bogus"],
    "unknown log level": ["--log-level", "loud"],
    "token file in a missing directory": ["--token-file", "/nonexistent-tmuxweb-dir/token"],
    "address not on this machine": ["--host", "203.0.113.7"],
    "per-address cap above the overall one": ["--max-connections", "10", "--max-connections-per-address", "11"],
    "no connections at all": ["--max-connections", "0"],
}


@pytest.mark.parametrize("args", list(MISUSE.values()), ids=list(MISUSE))
def test_misuse_exits_2_with_one_error_line(tmp_path: Path, args: list[str]) -> None:
    result = run_cli(tmp_path, "--port", "0", *args)
    assert result.returncode == 2, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tmuxweb: error: "), result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use_exits_2_with_one_error_line(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run_cli(tmp_path, "--port", str(taken.getsockname()[1]))
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tmuxweb: error: ") and "listen" in lines[0]


# -- the link and the generated token ---------------------------------------------------------


def test_port_0_prints_one_link_with_the_token_only_in_the_fragment(start_cli: Callable[..., Tmuxweb]) -> None:
    app = start_cli()
    app.wait_ready()
    link = app.link
    assert link["host"] == "127.0.0.1" and int(link["port"]) > 0
    assert "?" not in app.stdout[0] and len(app.token) >= 43
    with httpx.Client(base_url=app.base_url, timeout=10) as client:
        assert client.get("/api/sessions", headers=app.auth).status_code == 200
        assert client.get("/api/sessions").status_code == 401
    proc_files = {name: Path(f"/proc/{app.proc.pid}/{name}").read_bytes() for name in ("cmdline", "environ")}
    for name, content in proc_files.items():
        assert app.token.encode() not in content, f"token in /proc/PID/{name}"
    assert not any("warning" in line for line in app.stderr)  # loopback: nothing to warn about
    app.stop()
    assert len(app.stdout) == 1, app.stdout
    assert not any(app.token in line for line in app.stderr)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_generated_token_file_is_private_printed_and_removed_on_exit(start_cli: Callable[..., Tmuxweb], tmp_path: Path, sig: int) -> None:
    app = start_cli()
    app.wait_ready()
    path = app.token_file()
    assert path.parent == tmp_path / "runtime" / "tmuxweb"  # $XDG_RUNTIME_DIR, never the home
    info = path.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert info.st_uid == os.getuid()
    assert path.read_text().strip() == app.token
    app.stop(sig)
    assert not path.exists()


def test_ctrl_c_stops_without_a_traceback(start_cli: Callable[..., Tmuxweb]) -> None:
    app = start_cli()
    app.wait_ready()
    code = app.stop(signal.SIGINT)
    assert "Traceback" not in "\n".join(app.stderr)
    assert code in (0, 130, -signal.SIGINT)


# -- --token-file ------------------------------------------------------------------------------


def test_token_file_is_created_private_with_a_strong_token_and_kept(start_cli: Callable[..., Tmuxweb], tmp_path: Path) -> None:
    path = tmp_path / "my-token"
    app = start_cli("--token-file", str(path))
    app.wait_ready()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = path.read_text().strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{22,}", token) and len(token) * 6 >= 128
    assert app.token == token
    assert app.token_file() == path
    app.stop(signal.SIGINT)
    assert path.read_text().strip() == token  # the user's file stays


def test_token_file_that_exists_is_reused(start_cli: Callable[..., Tmuxweb], tmp_path: Path) -> None:
    path = tmp_path / "existing"
    token = "Ab3_" + "x9-Z" * 10
    path.write_text(token + "\n")
    path.chmod(0o600)
    app = start_cli("--token-file", str(path))
    app.wait_ready()
    assert app.token == token
    with httpx.Client(base_url=app.base_url, timeout=10) as client:
        assert client.get("/api/sessions", headers={"Authorization": f"Bearer {token}"}).status_code == 200


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o606])
def test_token_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "loose"
    path.write_text("Ab3_" + "x9-Z" * 10 + "\n")
    path.chmod(mode)
    result = run_cli(tmp_path, "--port", "0", "--token-file", str(path))
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tmuxweb: error: ")
    assert "group or others" in lines[0] and "chmod 600" in lines[0]


@pytest.mark.parametrize("content", ["", "\n", "short", "has spaces but is long enough 123", "é" * 30, "x" * 257], ids=["empty", "newline", "short", "spaces", "non-ascii", "too-long"])
def test_token_file_without_a_usable_token_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad"
    path.write_text(content)
    path.chmod(0o600)
    result = run_cli(tmp_path, "--port", "0", "--token-file", str(path))
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tmuxweb: error: --token-file")


def test_token_file_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dir"
    path.mkdir(mode=0o700)
    result = run_cli(tmp_path, "--port", "0", "--token-file", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith("tmuxweb: error: --token-file") and len(result.stderr.splitlines()) == 1


# -- where it listens ----------------------------------------------------------------------------


def non_loopback_args(tmp_path: Path) -> list[str]:
    """Plain HTTP off loopback may need an explicit acknowledgement."""
    return ["--insecure-http"] if "--insecure-http" in run_cli(tmp_path, "--help").stdout else []


def test_non_loopback_bind_warns_and_names_the_safer_alternatives(start_cli: Callable[..., Tmuxweb], tmp_path: Path) -> None:
    app = start_cli("--host", "0.0.0.0", *non_loopback_args(tmp_path))
    app.wait_ready()
    warnings = [line for line in app.stderr if "warning" in line]
    assert len(warnings) == 1, app.stderr
    assert "0.0.0.0" in warnings[0]
    for alternative in ("SSH tunnel", "VPN", "reverse proxy"):
        assert alternative in warnings[0]
    assert app.link["host"] == "127.0.0.1"  # the printed link still works from here


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_ipv6_loopback_host_works(start_cli: Callable[..., Tmuxweb]) -> None:
    app = start_cli("--host", "::1")
    app.wait_ready()
    assert app.link["host"] == "[::1]"
    with httpx.Client(base_url=app.base_url, timeout=10) as client:
        assert client.get("/api/sessions", headers=app.auth).status_code == 200
    assert not any("warning" in line for line in app.stderr)


def test_localhost_host_works(start_cli: Callable[..., Tmuxweb]) -> None:
    app = start_cli("--host", "localhost")
    app.wait_ready()
    assert app.link["host"] == "localhost"
    with httpx.Client(base_url=app.base_url, timeout=10) as client:
        assert client.get("/api/sessions", headers=app.auth).status_code == 200
    assert not any("warning" in line for line in app.stderr)


# -- stopping and dying ------------------------------------------------------------------------------


def start_output(tmux: TmuxServer) -> None:
    """Make %0 print without pause, so tmux always has output queued for us."""
    tmux.wait_for_prompt()
    tmux.run("send-keys", "-t", "%0", "-l", "while :; do echo tick $RANDOM; done")
    tmux.run("send-keys", "-t", "%0", "Enter")


def pane_responds(tmux: TmuxServer) -> None:
    tmux.run("send-keys", "-t", "%0", "C-c")
    tmux.wait_for_prompt()
    tmux.run("send-keys", "-t", "%0", "-l", "echo still-$((6*7))")
    tmux.run("send-keys", "-t", "%0", "Enter")
    tmux.wait_for_text("%0", "still-42")


def test_sigkill_while_streaming_output_leaves_no_control_client_and_the_session_works(start_cli: Callable[..., Tmuxweb], tmux_server: TmuxServer) -> None:
    app = start_cli()
    app.wait_ready()
    with open_stream(app) as stream:
        start_output(tmux_server)
        stream.until(lambda e: e.name == "output" and "tick" in e.data["data"])
        assert len(tmux_server.control_clients()) == 1
        app.proc.kill()
        app.proc.wait(10)
        wait_until(lambda: not tmux_server.control_clients(), what="the control client to go")
    assert tmux_server.run("list-sessions", "-F", "#{session_name}").split() == ["main"]
    pane_responds(tmux_server)


def test_sigterm_with_an_open_stream_exits_promptly_and_leaves_sessions_alone(start_cli: Callable[..., Tmuxweb], tmux_server: TmuxServer) -> None:
    tmux_server.run("split-window", "-h", "-t", "%0")
    before = tmux_server.run("list-panes", "-s", "-t", "main", "-F", "#{pane_id}")
    app = start_cli()
    app.wait_ready()
    with open_stream(app) as stream:
        start_output(tmux_server)
        stream.until(lambda e: e.name == "output")
        app.stop(signal.SIGTERM, timeout=10)
        wait_until(lambda: not tmux_server.control_clients(), what="the control client to detach")
    assert tmux_server.run("list-sessions", "-F", "#{session_name}").split() == ["main"]
    assert tmux_server.run("list-panes", "-s", "-t", "main", "-F", "#{pane_id}") == before
    pane_responds(tmux_server)


# -- secrets on stderr --------------------------------------------------------------------------------


def full_session(app: Tmuxweb, tmux: TmuxServer) -> list[str]:
    """Ticket, stream, a command; the secrets that were used."""
    tmux.wait_for_prompt()
    with httpx.Client(base_url=app.base_url, timeout=10, headers=app.auth) as client:
        ticket = client.post("/api/ticket").json()["ticket"]
        with EventStream(app.base_url + "/events", {}, {"session": "main", "ticket": ticket}).open() as stream:
            session_token = stream.named("connection-info").data["session_token"]
            r = client.post("/commands", params={"session": "main"}, json={"type": "input", "pane": "%0", "text": "echo via-cli\r"}, headers={"X-Session-Token": session_token})
            assert r.status_code == 200
            tmux.wait_for_text("%0", "via-cli")
            stream.until(lambda e: e.name == "output" and "via-cli" in e.data["data"])
    return [app.token, ticket, session_token]


def test_no_secret_reaches_stderr_during_a_full_session(start_cli: Callable[..., Tmuxweb], tmux_server: TmuxServer) -> None:
    app = start_cli()
    app.wait_ready()
    secrets = full_session(app, tmux_server)
    app.stop(signal.SIGINT)
    err = "\n".join(app.stderr)
    assert '"GET /events' in err  # the access log is there, and without its query
    for secret in secrets:
        assert secret not in err


def test_no_secret_reaches_stderr_at_debug_level(start_cli: Callable[..., Tmuxweb], tmux_server: TmuxServer) -> None:
    app = start_cli("--log-level", "debug")
    app.wait_ready()
    secrets = full_session(app, tmux_server)
    app.stop(signal.SIGINT)
    err = "\n".join(app.stderr)
    assert " DEBUG " in err  # debug logging really was on
    for secret in secrets:
        assert secret not in err
