"""tmuxweb.config and tmuxweb.auth: the Host allow-list, loopback detection,
the access-token comparison, single-use tickets and session tokens."""

from __future__ import annotations

import asyncio
import time

import pytest
from helpers import wait_until
from hypothesis import given
from hypothesis import strategies as st

from tmuxweb.auth import MAX_SECRET_LENGTH, Tickets, new_secret, token_matches
from tmuxweb.config import Config, Secret, is_loopback, strip_port
from tmuxweb.errors import Conflict, Forbidden
from tmuxweb.sse import encode_event
from tmuxweb.tmux.hub import SessionHub
from tmuxweb.tokens import OWNER, Principal
from tmuxweb.watchers import Connections

TOKEN = new_secret()


def config(**overrides: object) -> Config:
    return Config(token=Secret(TOKEN), **overrides)  # type: ignore[arg-type]


# -- Host allow-list (DNS rebinding) ----------------------------------------------

LOOPBACK_HOSTS = [
    "localhost",
    "localhost:7280",
    "LOCALHOST:1",
    "LocalHost",
    "127.0.0.1",
    "127.0.0.1:80",
    "[::1]",
    "[::1]:7280",
    "[::1]:",
]


@pytest.mark.parametrize("host", LOOPBACK_HOSTS)
def test_loopback_host_names_are_allowed_on_any_port(host: str) -> None:
    assert config().host_allowed(host)


REBINDING_HOSTS = [
    "",
    "evil.example",
    "evil.example:7280",
    "localhost.evil.example",
    "localhost.evil.example:7280",
    "127.0.0.1.nip.io",
    "127.0.0.1.evil.example:80",
    "evil.example:80:localhost",
    "127.0.0.2",
    "127.1",
    "2130706433",
    "0x7f000001",
    "0.0.0.0",
    "::1",  # unbracketed: not a valid Host, and not what a browser sends
    "[::2]:7280",
    "[::ffff:127.0.0.1]",
    "[::]",
    "localhost.",
    "tmux.example",
]


@pytest.mark.parametrize("host", REBINDING_HOSTS)
def test_dns_rebinding_host_names_are_refused(host: str) -> None:
    assert not config().host_allowed(host)


@pytest.mark.parametrize("host", ["tmux.example", "tmux.example:443", "TMUX.Example:8080"])
def test_allowed_host_names_match_case_insensitively_on_any_port(host: str) -> None:
    assert config(allowed_hosts=("tmux.example",)).host_allowed(host)


@pytest.mark.parametrize("host", ["evil.tmux.example", "tmux.example.evil", "tmux-example", "example"])
def test_allowed_host_is_matched_exactly_not_as_a_suffix_or_prefix(host: str) -> None:
    assert not config(allowed_hosts=("tmux.example",)).host_allowed(host)


def test_allowed_host_given_in_upper_case_still_matches() -> None:
    assert config(allowed_hosts=("TMUX.EXAMPLE",)).host_allowed("tmux.example:1")


@pytest.mark.parametrize(
    ("bound", "host", "allowed"),
    [
        ("192.168.1.5", "192.168.1.5:7280", True),
        ("192.168.1.5", "192.168.1.6:7280", False),
        ("fe80::1", "[fe80::1]:7280", True),
        ("fe80::1", "[FE80::1]", True),
        ("0.0.0.0", "0.0.0.0:7280", False),  # a wildcard is not an address a page can be served from
        ("::", "[::]:7280", False),
        ("myhost.lan", "myhost.lan:7280", False),  # names need --allowed-host
    ],
)
def test_the_bound_ip_literal_is_allowed_but_never_a_wildcard_or_name(bound: str, host: str, allowed: bool) -> None:
    assert config(host=bound).host_allowed(host) is allowed


def test_ipv6_allowed_host_without_brackets_matches_its_bracketed_host_header() -> None:
    assert config(allowed_hosts=("fe80::1",)).host_allowed("[fe80::1]:7280")


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("example.com", "example.com"),
        ("example.com:8080", "example.com"),
        ("[::1]", "[::1]"),
        ("[::1]:80", "[::1]"),
        ("[fe80::1%eth0]:80", "[fe80::1%eth0]"),
        ("::1", "::1"),
        ("a:b:c", "a:b:c"),
        ("", ""),
    ],
)
def test_strip_port(host: str, name: str) -> None:
    assert strip_port(host) == name


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "127.0.0.1", "127.5.5.5", "::1", "[::1]"])
def test_loopback_binds_are_recognised(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "[::]", "192.168.0.1", "10.0.0.1", "example.com", "localhost.example", "::ffff:10.0.0.1"])
def test_binds_reachable_from_other_machines_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


# -- secrets -------------------------------------------------------------------------


def test_the_access_token_never_shows_in_repr_str_or_the_config_repr() -> None:
    secret = Secret(TOKEN)
    assert TOKEN not in repr(secret) and TOKEN not in str(secret) and TOKEN not in f"{secret}"
    assert TOKEN not in repr(config())


def test_minted_secrets_have_at_least_128_bits_and_are_url_safe() -> None:
    secrets = {new_secret() for _ in range(100)}
    assert len(secrets) == 100
    for secret in secrets:
        assert len(secret) >= 22 and secret.replace("-", "").replace("_", "").isalnum()


def test_token_matches_only_the_exact_token() -> None:
    token = Secret(TOKEN)
    assert token_matches(TOKEN, token)
    for wrong in ["", TOKEN[:-1], TOKEN + "x", TOKEN.upper() if TOKEN.upper() != TOKEN else TOKEN + "A", " " + TOKEN, TOKEN[1:], "x" * len(TOKEN)]:
        assert not token_matches(wrong, token), wrong


def test_oversized_presented_token_is_refused_before_comparing() -> None:
    long_token = "a" * (MAX_SECRET_LENGTH + 1)
    assert not token_matches(long_token, Secret(long_token))


@given(st.text(max_size=300))
def test_no_other_string_matches_the_token(presented: str) -> None:
    assert token_matches(presented, Secret(TOKEN)) is (presented == TOKEN)


# -- tickets ---------------------------------------------------------------------------


def test_ticket_is_single_use() -> None:
    tickets = Tickets(ttl=60)
    ticket = tickets.issue(OWNER)
    assert tickets.redeem(ticket) == OWNER
    assert not tickets.redeem(ticket)


def test_ticket_stands_for_the_principal_it_was_issued_to() -> None:
    tickets = Tickets(ttl=60)
    phone = Principal("phone", "read")
    assert tickets.redeem(tickets.issue(phone)) == phone


def test_ticket_expires_after_its_ttl() -> None:
    tickets = Tickets(ttl=0.05)
    ticket = tickets.issue(OWNER)
    deadline = time.monotonic() + 0.05
    wait_until(lambda: time.monotonic() > deadline, what="ticket deadline")
    assert not tickets.redeem(ticket)


def test_forged_empty_and_oversized_tickets_are_refused() -> None:
    tickets = Tickets(ttl=60)
    real = tickets.issue(OWNER)
    for forged in ["", new_secret(), real[:-1], real + "A", "A" * (MAX_SECRET_LENGTH + 1)]:
        assert not tickets.redeem(forged), forged
    assert tickets.redeem(real)  # failed guesses did not burn the real ticket


def test_every_ticket_is_different() -> None:
    tickets = Tickets(ttl=60)
    issued = {tickets.issue(OWNER) for _ in range(50)}
    assert len(issued) == 50


# -- session tokens ------------------------------------------------------------------


def hub(session_id: str, name: str) -> SessionHub:
    """A hub that is never started: Connections only reads its identity."""
    return SessionHub(config(), session_id, name, lambda _: None, encode_event)


def test_session_token_finds_its_stream_by_session_name_or_id() -> None:
    connections = Connections()
    conn, token = connections.open(hub("$0", "main"), OWNER, "127.0.0.1")
    assert connections.find(token, "main") is conn
    assert connections.find(token, "$0") is conn
    assert len(token) >= 43


@pytest.mark.parametrize("presented", [None, "", "A" * 43, "A" * (MAX_SECRET_LENGTH + 1)])
def test_missing_forged_or_oversized_session_token_is_forbidden(presented: str | None) -> None:
    connections = Connections()
    connections.open(hub("$0", "main"), OWNER, "127.0.0.1")
    with pytest.raises(Forbidden):
        connections.find(presented, "main")


def test_session_token_of_another_session_is_forbidden() -> None:
    connections = Connections()
    _, main_token = connections.open(hub("$0", "main"), OWNER, "127.0.0.1")
    _, other_token = connections.open(hub("$1", "other"), OWNER, "127.0.0.1")
    with pytest.raises(Forbidden, match="another session"):
        connections.find(other_token, "main")
    with pytest.raises(Forbidden, match="another session"):
        connections.find(main_token, "$1")


def test_session_token_dies_with_its_stream_and_only_its_own() -> None:
    connections = Connections()
    shared = hub("$0", "main")
    closed, closed_token = connections.open(shared, OWNER, "127.0.0.1")
    still_open, open_token = connections.open(shared, OWNER, "127.0.0.1")
    asyncio.run(connections.close(closed))
    with pytest.raises(Forbidden):
        connections.find(closed_token, "main")
    assert connections.find(open_token, "main") is still_open
    assert len(connections) == 1


def test_a_repeated_command_number_is_a_conflict() -> None:
    async def scenario() -> None:
        conn, _ = Connections().open(hub("$0", "main"), OWNER, "127.0.0.1")
        await conn.in_turn(1, wait=1)
        conn.done(1)
        with pytest.raises(Conflict):
            await conn.in_turn(1, wait=1)

    asyncio.run(scenario())


def test_a_command_whose_predecessor_never_arrives_goes_ahead_in_order() -> None:
    async def scenario() -> None:
        conn, _ = Connections().open(hub("$0", "main"), OWNER, "127.0.0.1")
        await conn.in_turn(2, wait=0.05)  # 1 never came: 2 runs after the wait
        conn.done(2)
        with pytest.raises(Conflict, match="already"):
            await conn.in_turn(1, wait=0.05)  # too late: it would run out of order
        await conn.in_turn(3, wait=0.05)

    asyncio.run(scenario())


def test_a_command_waiting_for_its_turn_is_refused_when_the_stream_closes() -> None:
    async def scenario() -> None:
        connections = Connections()
        conn, _ = connections.open(hub("$0", "main"), OWNER, "127.0.0.1")
        waiting = asyncio.ensure_future(conn.in_turn(2, wait=10))
        await asyncio.sleep(0)  # one loop turn: it is now waiting (or will see `closed` first)
        await connections.close(conn)
        with pytest.raises(Forbidden):
            await waiting

    asyncio.run(scenario())


def test_commands_numbered_out_of_order_run_in_order() -> None:
    async def scenario() -> list[int]:
        conn, _ = Connections().open(hub("$0", "main"), OWNER, "127.0.0.1")
        ran: list[int] = []

        async def command(seq: int) -> None:
            await conn.in_turn(seq, wait=5)
            ran.append(seq)
            conn.done(seq)

        await asyncio.gather(*(command(seq) for seq in (4, 2, 3, 1, 5)))
        return ran

    assert asyncio.run(scenario()) == [1, 2, 3, 4, 5]


def test_the_same_command_number_sent_twice_at_once_runs_once() -> None:
    async def scenario() -> None:
        conn, _ = Connections().open(hub("$0", "main"), OWNER, "127.0.0.1")
        await conn.in_turn(1, wait=1)  # claimed, not yet done
        with pytest.raises(Conflict):
            await conn.in_turn(1, wait=1)
        waiting = asyncio.ensure_future(conn.in_turn(3, wait=1))
        await asyncio.sleep(0)  # one loop turn: 3 is now waiting
        with pytest.raises(Conflict):
            await conn.in_turn(3, wait=1)
        conn.done(1)
        await conn.in_turn(2, wait=1)
        conn.done(2)
        await waiting

    asyncio.run(scenario())
