"""Admission of TCP connections: a cap per peer address below a cap overall.

uvicorn's own bound (`limit_concurrency`) answers 503 to every request once
that many connections are open, whoever holds them: ~130 sockets a stranger
opens and never uses locked the owner out, and nothing closed them. Here a
new connection is always admitted if some other connection can make room
for it, and only those that do no work are made to:

1. the oldest connection that has not sent a complete request yet
   (an attacker's idle or half-sent socket; a browser's unused preconnect),
2. then the connection idle the longest between two requests
   (a keep-alive the client would reopen anyway).

A connection in the middle of a request (an SSE stream, a command) is never
dropped. Only when every connection in the way is busy is the newcomer
refused (503, httpproto.py). The per-address cap keeps one remote peer from
holding most of the server; the local cap is higher, since loopback, a Unix
socket or a trusted reverse proxy carries every user behind it.

No I/O here: connections are objects with a `drop()` method, the HTTP
protocol tells the gate when each one starts and ends a request.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal, Protocol

from tmuxweb.config import Config, is_loopback

State = Literal["fresh", "busy", "idle"]


class Droppable(Protocol):
    def drop(self) -> None:
        """Close the connection to make room (no response is written)."""


@dataclass(frozen=True, slots=True)
class Limits:
    overall: int = 512
    per_address: int = 32
    # Loopback, Unix socket and trusted proxies: many users behind one address.
    per_local_address: int = 256
    trusted: frozenset[str] = frozenset()

    @classmethod
    def from_config(cls, config: Config) -> Limits:
        return cls(
            overall=config.max_connections,
            per_address=config.max_connections_per_address,
            # Half the overall cap: a proxy (or a local stranger) alone
            # can never fill the server.
            per_local_address=max(config.max_connections_per_address, config.max_connections // 2),
            trusted=frozenset(config.trusted_proxies),
        )

    def for_address(self, address: str | None) -> int:
        if address is None or address in self.trusted or is_loopback(address):
            return self.per_local_address
        mapped = _ipv4_mapped(address)
        if mapped is not None and (mapped in self.trusted or is_loopback(mapped)):
            # A dual-stack socket (--host ::) sees IPv4 peers as ::ffff:a.b.c.d.
            return self.per_local_address
        return self.per_address


def _ipv4_mapped(address: str) -> str | None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return str(mapped) if mapped is not None else None


@dataclass(eq=False, slots=True)
class _Entry:
    address: str | None
    state: State = "fresh"


@dataclass(slots=True)
class ConnectionGate:
    """Counts connections per address and overall; picks whom to drop."""

    limits: Limits = field(default_factory=Limits)
    _entries: dict[Droppable, _Entry] = field(default_factory=dict)
    # Insertion-ordered: the first key is the oldest (fresh) or the one idle
    # the longest (idle). Busy connections are in neither.
    _fresh: dict[Droppable, None] = field(default_factory=dict)
    _idle: dict[Droppable, None] = field(default_factory=dict)
    _per_address: dict[str | None, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._entries)

    def count(self, address: str | None) -> int:
        return self._per_address.get(address, 0)

    def admit(self, conn: Droppable, address: str | None) -> bool:
        """Make room for `conn` (dropping others if needed) and track it;
        False when nobody can make room: the caller refuses `conn`."""
        if self.count(address) >= self.limits.for_address(address) and not self._drop_one(address):
            return False
        if len(self._entries) >= self.limits.overall and not self._drop_one(None, anyone=True):
            return False
        self._entries[conn] = _Entry(address)
        self._fresh[conn] = None
        self._per_address[address] = self.count(address) + 1
        return True

    def busy(self, conn: Droppable) -> None:
        """`conn` has a complete request head: never dropped until it is idle."""
        entry = self._entries.get(conn)
        if entry is not None and entry.state != "busy":
            self._fresh.pop(conn, None)
            self._idle.pop(conn, None)
            entry.state = "busy"

    def idle(self, conn: Droppable) -> None:
        """`conn` answered its requests and waits for another one."""
        entry = self._entries.get(conn)
        if entry is not None and entry.state == "busy":
            entry.state = "idle"
            self._idle[conn] = None

    def release(self, conn: Droppable) -> None:
        """`conn` is closed (by either side). Safe to call twice."""
        entry = self._entries.pop(conn, None)
        if entry is None:
            return
        self._fresh.pop(conn, None)
        self._idle.pop(conn, None)
        left = self._per_address[entry.address] - 1
        if left:
            self._per_address[entry.address] = left
        else:
            del self._per_address[entry.address]

    def _drop_one(self, address: str | None, anyone: bool = False) -> bool:
        victim = self._oldest(self._fresh, address, anyone) or self._oldest(self._idle, address, anyone)
        if victim is None:
            return False
        # Released before it closes, so that the count has room right away.
        self.release(victim)
        victim.drop()
        return True

    def _oldest(self, ordered: dict[Droppable, None], address: str | None, anyone: bool) -> Droppable | None:
        for conn in ordered:
            if anyone or self._entries[conn].address == address:
                return conn
        return None
