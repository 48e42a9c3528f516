"""tmuxweb through a real `ssh -L` tunnel to a throwaway local sshd, with
the command and the restricted authorized_keys line of deploy/ssh-tunnel.md."""

from __future__ import annotations

import os
import pwd
import re
import shlex
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import TmuxServer, wait_until
from realservers import (
    DEPLOY,
    Child,
    Site,
    Tmuxweb,
    Watcher,
    free_port,
    need,
    ssh_keygen,
    start,
    start_sshd,
    start_tmuxweb,
)

RECIPE = (DEPLOY / "ssh-tunnel.md").read_text()


def recipe_command() -> list[str]:
    line = next(line for line in RECIPE.splitlines() if line.startswith("ssh -N -L "))
    return shlex.split(line)


def recipe_key_options() -> str:
    m = re.search(r"(?m)^(restrict,\S+) ssh-ed25519 ", RECIPE)
    assert m is not None, "deploy/ssh-tunnel.md: the restricted authorized_keys line is gone"
    return m.group(1)


@dataclass
class Tunnel:
    site: Site  # http://127.0.0.1:<local port>, as the browser sees it
    tmuxweb: Tmuxweb
    elsewhere: int  # a local port forwarded somewhere the key may not go


@pytest.fixture
def tunnel(tmux_server: TmuxServer, tmp_path: Path) -> Iterator[Tunnel]:
    ssh = need("ssh", "openssh-client")
    tmuxweb = start_tmuxweb(tmux_server, tmp_path)  # the default: 127.0.0.1 only
    children: list[Child] = []
    try:
        client_key = tmp_path / "client_key"
        public = ssh_keygen(client_key)
        options = recipe_key_options().replace("127.0.0.1:7280", f"127.0.0.1:{tmuxweb.port}")
        sshd_port = free_port()
        sshd, known_host = start_sshd(tmp_path, sshd_port, f"{options} {public}")
        children.append(sshd)
        wait_until(lambda: sshd.check() and _listening(sshd_port), timeout=20, what="sshd")
        (tmp_path / "known_hosts").write_text(known_host + "\n")

        local, elsewhere = free_port(), free_port()
        command = recipe_command()
        forward = command.index("7280:127.0.0.1:7280")
        command[forward] = f"{local}:127.0.0.1:{tmuxweb.port}"
        user = pwd.getpwuid(os.geteuid()).pw_name
        command[command.index("you@server.example.com")] = f"{user}@127.0.0.1"
        test_only = [
            "-F", "/dev/null", "-p", str(sshd_port), "-i", str(client_key),
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
            "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={tmp_path / 'known_hosts'}",
            # Not allowed by the key's permitopen: must be refused.
            "-L", f"{elsewhere}:127.0.0.1:{sshd_port}",
        ]
        argv = [ssh, *command[1:-1], *test_only, command[-1]]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
        ssh_child = start("ssh", argv, tmp_path / "ssh.log", env)
        children.append(ssh_child)
        site = Site("http", local, "127.0.0.1")
        wait_until(lambda: sshd.check() and ssh_child.check() and _listening(local), timeout=20, what="the tunnel")
        site.ready(ssh_child)
        yield Tunnel(site, tmuxweb, elsewhere)
    finally:
        for child in reversed(children):
            child.stop()
        tmuxweb.stop()


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.mark.parametrize("ticket", [True, False], ids=["ticket", "bearer"])
def test_typing_echoes_through_an_ssh_tunnel(tunnel: Tunnel, tmux_server: TmuxServer, ticket: bool) -> None:
    tmux_server.wait_for_prompt()
    # The Host the browser sends through the tunnel: 127.0.0.1:<local port>.
    assert tunnel.site.host == f"127.0.0.1:{tunnel.site.port}" and tunnel.site.port != tunnel.tmuxweb.port
    with Watcher(tunnel.site, tunnel.tmuxweb.token, ticket=ticket) as tab:
        shown, delay = tab.type_timed_line()
        assert "printf 'T=%s" in shown
        assert delay < 1.0, f"output arrived {delay:.3f}s after the pane printed it"
        assert tab.stream.comment(timeout=5).text == ": ping"


def test_localhost_name_works_too_and_others_are_refused(tunnel: Tunnel) -> None:
    auth = {"Authorization": f"Bearer {tunnel.tmuxweb.token}"}
    with tunnel.site.client() as client:
        for host, status in ((f"localhost:{tunnel.site.port}", 200), (f"evil.example:{tunnel.site.port}", 403)):
            r = tunnel.site.request(client, "GET", "/api/sessions", headers={**auth, "Host": host})
            assert r.status_code == status, host


def test_the_restricted_key_opens_no_other_tunnel(tunnel: Tunnel) -> None:
    with socket.create_connection(("127.0.0.1", tunnel.elsewhere), timeout=10) as sock:
        # sshd refuses the channel ("administratively prohibited"); ssh
        # then closes the local connection without a byte.
        assert sock.recv(1024) == b""
