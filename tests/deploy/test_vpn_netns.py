"""VPN-like access: a client in its own network namespace, joined to this
one by a veth pair (what a VPN interface looks like to tmuxweb), against
tmuxweb bound to the address of this side of the pair."""

from __future__ import annotations

import ipaddress
import json
import os
import random
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from helpers import TmuxServer
from realservers import need, start_tmuxweb

CLIENT = Path(__file__).with_name("vpn_client.py")


@dataclass
class Vpn:
    ns: str  # the client's network namespace
    server_addr: str  # this side of the veth pair
    client_addr: str


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([need("ip", "iproute2"), *args], capture_output=True, text=True, timeout=20, check=check)


def _unused_slash30() -> ipaddress.IPv4Network:
    """A /30 in 10.0.0.0/8 that no route or address here overlaps."""
    taken = []
    for line in _ip("-4", "route", "show", "table", "all").stdout.splitlines() + _ip("-4", "-o", "addr").stdout.splitlines():
        for word in line.split():
            try:
                taken.append(ipaddress.ip_network(word, strict=False))
            except ValueError:
                pass
    taken = [net for net in taken if net.prefixlen > 0]
    for _ in range(100):
        net = ipaddress.IPv4Network(f"10.{random.randint(200, 254)}.{random.randint(0, 255)}.{4 * random.randint(0, 63)}/30")
        if not any(net.overlaps(other) for other in taken):
            return net
    raise AssertionError("no free /30 in 10.200.0.0-10.254.255.255")


@pytest.fixture
def vpn() -> Iterator[Vpn]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root here (CAP_SYS_ADMIN and CAP_NET_ADMIN); not running as root")
    tag = uuid.uuid4().hex[:6]
    ns, server_if, client_if = f"tmuxweb-test-{tag}", f"twvpn{tag}s", f"twvpn{tag}c"
    made_ns = made_link = False
    try:
        created = _ip("netns", "add", ns, check=False)
        if created.returncode != 0:
            pytest.skip(f"cannot create a network namespace on this machine: {created.stderr.strip()}")
        made_ns = True
        _ip("link", "add", server_if, "type", "veth", "peer", "name", client_if)
        made_link = True
        net = _unused_slash30()
        server_addr, client_addr = (str(h) for h in net.hosts())
        _ip("link", "set", client_if, "netns", ns)
        _ip("addr", "add", f"{server_addr}/30", "dev", server_if)
        _ip("link", "set", server_if, "up")
        _ip("-n", ns, "addr", "add", f"{client_addr}/30", "dev", client_if)
        _ip("-n", ns, "link", "set", client_if, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        yield Vpn(ns, server_addr, client_addr)
    finally:
        if made_link:
            _ip("link", "del", server_if, check=False)  # takes its peer with it
        if made_ns:
            _ip("netns", "del", ns, check=False)


def in_namespace(vpn: Vpn, **spec: Any) -> dict[str, Any]:
    """Run vpn_client.py inside the client's namespace."""
    result = subprocess.run(
        [need("ip", "iproute2"), "netns", "exec", vpn.ns, sys.executable, str(CLIENT), json.dumps(spec)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.splitlines()[-1]))


def _connects(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=5).close()
        return True
    except OSError:
        return False


def test_loopback_default_refuses_the_vpn_client_and_an_explicit_bind_serves_it(
    vpn: Vpn, tmux_server: TmuxServer, tmp_path: Path
) -> None:
    tmux_server.wait_for_prompt()
    default = start_tmuxweb(tmux_server, tmp_path)
    try:
        assert default.host == "127.0.0.1"
        assert in_namespace(vpn, mode="probe", addr=vpn.server_addr, port=default.port) == {"connect": "refused"}
    finally:
        default.stop()

    bound = start_tmuxweb(tmux_server, tmp_path, "--host", vpn.server_addr, "--insecure-http", "--allowed-host", vpn.server_addr)
    try:
        assert bound.host == vpn.server_addr
        seen = in_namespace(vpn, mode="session", base=f"http://{vpn.server_addr}:{bound.port}", token=bound.token)
        assert seen == {"healthz": 200, "sessions": 200, "foreign_host": 403, "echo": True}
        assert not _connects("127.0.0.1", bound.port)  # bound to the VPN address only
        assert f"warning: listening on {vpn.server_addr}" in bound.log.read_text()
    finally:
        bound.stop()
