"""The connection gate's choices, with plain objects for connections."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from tmuxweb.admission import ConnectionGate, Limits
from tmuxweb.config import Config, Secret


@dataclass(eq=False)
class Conn:
    name: str
    dropped: bool = False

    def drop(self) -> None:
        self.dropped = True


def gate(overall: int = 4, per_address: int = 2, local: int = 3) -> ConnectionGate:
    return ConnectionGate(Limits(overall=overall, per_address=per_address, per_local_address=local))


def admitted(g: ConnectionGate, name: str, address: str | None = "192.0.2.1") -> Conn:
    conn = Conn(name)
    assert g.admit(conn, address)
    return conn


def test_the_oldest_fresh_connection_makes_room_first() -> None:
    g = gate(per_address=10, local=10)
    a, b, c, d = (admitted(g, n, f"192.0.2.{i}") for i, n in enumerate("abcd"))
    g.busy(a)
    e = admitted(g, "e", "192.0.2.9")
    assert [x.dropped for x in (a, b, c, d)] == [False, True, False, False]
    assert len(g) == 4 and not e.dropped


def test_without_fresh_ones_the_longest_idle_makes_room() -> None:
    g = gate(per_address=10, local=10)
    conns = [admitted(g, n, f"192.0.2.{i}") for i, n in enumerate("abcd")]
    for conn in conns:
        g.busy(conn)
    g.idle(conns[2])
    g.idle(conns[0])
    admitted(g, "e")
    assert [x.dropped for x in conns] == [False, False, True, False]


def test_busy_connections_are_never_dropped_and_the_newcomer_is_refused() -> None:
    g = gate(per_address=10, local=10)
    conns = [admitted(g, n, f"192.0.2.{i}") for i, n in enumerate("abcd")]
    for conn in conns:
        g.busy(conn)
    assert not g.admit(Conn("e"), "192.0.2.9")
    assert not any(x.dropped for x in conns)
    assert len(g) == 4


def test_an_address_at_its_cap_drops_its_own_connections_not_others() -> None:
    g = gate(overall=10, per_address=2)
    other = admitted(g, "other", "192.0.2.2")  # older than all of them
    mine = [admitted(g, n, "192.0.2.1") for n in "abc"]
    assert [x.dropped for x in mine] == [True, False, False]
    assert not other.dropped
    assert g.count("192.0.2.1") == 2


def test_an_address_whose_connections_are_all_busy_is_refused_while_others_get_in() -> None:
    g = gate(overall=10, per_address=2)
    for conn in (admitted(g, "a"), admitted(g, "b")):
        g.busy(conn)
    assert not g.admit(Conn("c"), "192.0.2.1")
    admitted(g, "d", "192.0.2.2")


def test_loopback_unix_and_trusted_proxies_have_the_higher_cap() -> None:
    limits = Limits(overall=512, per_address=32, per_local_address=256, trusted=frozenset({"10.0.0.5"}))
    local = ("127.0.0.1", "127.0.0.2", "::1", None, "10.0.0.5", "::ffff:127.0.0.1", "::ffff:10.0.0.5")
    assert [limits.for_address(a) for a in local] == [256] * len(local)
    assert limits.for_address("::ffff:10.0.0.6") == 32
    assert limits.for_address("10.0.0.6") == limits.for_address("192.0.2.1") == 32


def test_limits_from_the_config_keep_the_local_cap_at_half_the_overall() -> None:
    config = Config(token=Secret("x" * 32), max_connections=100, max_connections_per_address=10)
    assert Limits.from_config(config) == Limits(overall=100, per_address=10, per_local_address=50)


def test_release_is_idempotent_and_idle_after_release_is_ignored() -> None:
    g = gate()
    a = admitted(g, "a")
    g.release(a)
    g.release(a)
    g.busy(a)
    g.idle(a)
    assert len(g) == 0 and g.count("192.0.2.1") == 0


@given(st.lists(st.tuples(st.sampled_from(["admit", "busy", "idle", "release"]), st.integers(0, 11), st.integers(0, 2)), max_size=200))
def test_the_caps_always_hold_and_the_counts_match(steps: list[tuple[str, int, int]]) -> None:
    g = gate(overall=6, per_address=3, local=4)
    conns = [Conn(str(i)) for i in range(12)]
    addresses = ["192.0.2.1", "192.0.2.2", "127.0.0.1"]
    where: dict[int, str] = {}
    for action, i, a in steps:
        conn = conns[i]
        if action == "admit" and i not in where and g.admit(conn, addresses[a]):
            where[i] = addresses[a]
        elif action == "busy":
            g.busy(conn)
        elif action == "idle":
            g.idle(conn)
        elif action == "release":
            g.release(conn)
            where.pop(i, None)
        for j, c in enumerate(conns):
            if c.dropped:
                where.pop(j, None)
                c.dropped = False
        assert len(g) == len(where) <= 6
        for address in addresses:
            held = sum(1 for x in where.values() if x == address)
            assert g.count(address) == held <= (4 if address == "127.0.0.1" else 3)
