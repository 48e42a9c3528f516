"""deploy/tmuxweb.service: systemd accepts it, and its ExecStart line, run
as the user manager would run it, keeps the token off the command line and
out of the journal, keeps it across restarts, and stops on SIGTERM while
the tmux server it started lives on."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from helpers import TMUX, tmux_env, wait_until
from realservers import DEPLOY, REPO

UNIT = DEPLOY / "tmuxweb.service"


def service_section() -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return dict(parser["Service"])


@dataclass
class UserManager:
    """What a systemd user manager gives the service, in a temporary tree."""

    home: Path  # %h
    state: Path  # %S
    tmux_tmpdir: Path  # where the user's default tmux server puts its socket

    def expand(self, text: str) -> str:
        return text.replace("%h", str(self.home)).replace("%S", str(self.state))

    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "TERM": "xterm-256color",
            "XDG_RUNTIME_DIR": str(self.home / "run"),
            "TMUX_TMPDIR": str(self.tmux_tmpdir),
            "PYTHONPATH": str(REPO),
        }

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**tmux_env(), **self.env()}
        return subprocess.run([TMUX, *args], capture_output=True, text=True, env=env, timeout=20)


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[UserManager]:
    home = tmp_path / "home"
    (home / ".local" / "bin").mkdir(parents=True)
    (home / "run").mkdir(mode=0o700)
    # Where `pip install --user` puts the command; here it runs this checkout.
    shim = home / ".local" / "bin" / "tmuxweb"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m tmuxweb "$@"\n')
    shim.chmod(0o755)
    tmux_tmpdir = tmp_path / "tmux"
    tmux_tmpdir.mkdir(mode=0o700)
    um = UserManager(home, tmp_path / "state", tmux_tmpdir)
    try:
        yield um
    finally:
        um.tmux("kill-server")


def test_systemd_accepts_the_unit(manager: UserManager) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    result = subprocess.run(
        [analyze, "--user", "--man=no", "verify", str(UNIT)],
        capture_output=True, text=True, env=manager.env(), timeout=60,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_the_unit_keeps_the_token_secret_and_stops_cleanly(manager: UserManager) -> None:
    service = service_section()
    assert service["KillMode"] == "process" and "PrivateTmp" not in service
    assert service["StandardOutput"] == "null"  # the printed link holds the token
    state_dir = manager.state / service["StateDirectory"]
    state_dir.mkdir(parents=True, mode=int(service["StateDirectoryMode"], 8))
    exec_start = manager.expand(service["ExecStart"])
    # The one change: a port chosen at run time instead of 7280.
    assert " --port 7280 " in exec_start
    argv = shlex.split(exec_start.replace(" --port 7280 ", " --port 0 "))
    assert manager.tmux("has-session").returncode != 0  # no tmux server yet

    first = run_service(manager, argv, int(service["UMask"], 8), state_dir / "first.log")
    token_file = state_dir / "token"
    assert first.token_file == token_file
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    assert token not in Path(f"/proc/{first.proc.pid}/cmdline").read_bytes().decode(errors="replace")
    assert token not in first.log.read_text()  # what the journal would get
    with httpx.Client(base_url=f"http://127.0.0.1:{first.port}", timeout=15) as client:
        # The default session is made on first use, starting the user's
        # tmux server inside the service.
        with client.stream("GET", "/events", headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status_code == 200
            next(line for line in r.iter_lines() if line == "event: state")
    first.stop(float(service["TimeoutStopSec"]))
    # KillMode=process: only tmuxweb was signalled, the session lives on.
    assert manager.tmux("list-sessions", "-F", "#{session_name}").stdout.split() == ["main"]

    again = run_service(manager, argv, int(service["UMask"], 8), state_dir / "again.log")
    try:
        assert token_file.read_text().strip() == token  # the same token after a restart
    finally:
        again.stop(float(service["TimeoutStopSec"]))


@dataclass
class Service:
    proc: subprocess.Popen[bytes]
    log: Path
    port: int
    token_file: Path

    def stop(self, timeout: float) -> None:
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"tmuxweb did not stop within TimeoutStopSec={timeout}") from None
        assert code in (0, -signal.SIGTERM), self.log.read_text()  # both clean for systemd
        assert time.monotonic() - started < timeout


def run_service(manager: UserManager, argv: list[str], umask: int, log: Path) -> Service:
    with log.open("wb") as err:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=manager.env(),
            cwd=manager.home, umask=umask,
        )
    try:
        # Everything the user needs is on stderr (the journal) and in the
        # token file, since standard output is discarded.
        found = wait_until(
            lambda: proc.poll() is None and re.search(r"on 127\.0\.0\.1:(\d+)\n(?s:.*)token file: (\S+)\n", log.read_text()),
            timeout=20, what="tmuxweb's start-up lines",
        )
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return Service(proc, log, int(found.group(1)), Path(found.group(2)))
