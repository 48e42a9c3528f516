"""The open event streams: their session tokens, bound to one tmux
session, and the order of each one's commands.

A stream (`GET /events`) mints a session token; every `POST /commands`
presents it, so a command reaches only the session its stream watches, and
ends with the stream. Browsers send commands over several HTTP connections,
so `Connection.in_turn` puts them back in `seq` order. `Connections` caps
open streams overall and per access token, counting those still being set
up (`Reservation`).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from tmuxweb.auth import MAX_SECRET_LENGTH, digest, new_secret
from tmuxweb.errors import Conflict, Forbidden, TooManyRequests
from tmuxweb.sse import farewell
from tmuxweb.tmux.hub import SessionHub, Subscription
from tmuxweb.tokens import Principal


@dataclass(eq=False)
class Connection:
    """One open event stream: its session token and its command order."""

    id: str
    hub: SessionHub
    token_hash: bytes
    principal: Principal
    client: str
    next_seq: int = 1
    closed: bool = False
    # Set by the stream once subscribed, so the server can end it (revocation).
    subscription: Subscription | None = None
    # Command ordering: the number being executed, and the ones waiting.
    _running: int | None = None
    _waiting: dict[int, asyncio.Future[None]] = field(default_factory=dict)

    async def in_turn(self, seq: int | None, wait: float) -> None:
        """Wait until the command numbered `seq` is next; then claim it.

        Browsers send commands over several HTTP connections, so requests
        can overtake each other; the numbers put them back in order. The
        common case (the next number, nothing running) does not wait at all.
        A number that never arrives holds the ones after it for `wait`
        seconds; then they go ahead, still in order.
        """
        if seq is None:
            return
        if seq < self.next_seq or seq == self._running or seq in self._waiting:
            raise Conflict(f"command {seq} was already received")
        if seq != self.next_seq or self._running is not None:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting[seq] = fut
            try:
                await asyncio.wait_for(fut, wait)
            except TimeoutError:
                if self._running is not None:
                    raise Conflict(f"command {seq} waited too long for {self._running}") from None
                self.next_seq = seq  # the gap never arrived: go on, in order
            finally:
                self._waiting.pop(seq, None)
        if self.closed:
            raise Forbidden("the stream of this session token has closed")
        self._running = seq

    def done(self, seq: int | None) -> None:
        """The claimed command has been handed to tmux: let the next go."""
        if seq is None or seq != self._running:
            return
        self._running = None
        self.next_seq = seq + 1
        fut = self._waiting.get(self.next_seq)
        if fut is not None and not fut.done():
            fut.set_result(None)

    def close(self) -> None:
        self.closed = True
        self.hub.release_size(self.id)  # a viewer that leaves gives its size claim back
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_result(None)


@dataclass(eq=False)
class Reservation:
    """A place held for a stream being set up: it counts against the caps
    from `Connections.reserve` until it becomes a Connection or is released."""

    principal: Principal
    _held: set[Reservation] = field(repr=False)

    def release(self) -> None:
        """Give the place back (again: nothing)."""
        self._held.discard(self)


class Connections:
    """Session tokens of the open streams, bound to their session."""

    def __init__(self, max_streams: int = 64, max_per_principal: int = 16) -> None:
        self._by_token: dict[bytes, Connection] = {}
        # Streams being set up (session lookup, control client start): they
        # count as open, so awaits in between cannot let a cap be exceeded.
        self._reserved: set[Reservation] = set()
        self._max = max_streams
        self._max_per_principal = max_per_principal

    def reserve(self, principal: Principal) -> Reservation:
        """Hold a place for a new stream, or raise TooManyRequests beyond the
        overall or the per-token limit. The check and the hold are one step
        (no await between), so concurrent opens can never exceed a cap."""
        if len(self._by_token) + len(self._reserved) >= self._max:
            raise TooManyRequests("too many open streams on this server")
        mine = sum(1 for c in self._by_token.values() if c.principal.name == principal.name)
        mine += sum(1 for r in self._reserved if r.principal.name == principal.name)
        if mine >= self._max_per_principal:
            raise TooManyRequests(f"too many open streams for the token {principal.name!r}")
        reservation = Reservation(principal, self._reserved)
        self._reserved.add(reservation)
        return reservation

    def open(
        self, hub: SessionHub, principal: Principal, client: str, reservation: Reservation | None = None
    ) -> tuple[Connection, str]:
        """Register a stream in the place `reservation` holds (reserved now
        when None, which raises TooManyRequests beyond a limit)."""
        if reservation is None or reservation not in self._reserved:
            reservation = self.reserve(principal)
        reservation.release()
        token = new_secret()
        conn = Connection(
            id=secrets.token_hex(8), hub=hub, token_hash=digest(token), principal=principal, client=client
        )
        self._by_token[conn.token_hash] = conn
        return conn, token

    def open_for(self, predicate: Callable[[Connection], bool]) -> list[Connection]:
        return [c for c in self._by_token.values() if predicate(c)]

    def find(self, token: str | None, session: str) -> Connection:
        """The open stream a session token belongs to, if it is `session`'s."""
        if not token:
            raise Forbidden("missing X-Session-Token")
        if len(token) > MAX_SECRET_LENGTH:
            raise Forbidden("invalid session token")
        conn = self._by_token.get(digest(token))
        if conn is None or conn.closed:
            raise Forbidden("invalid or expired session token")
        if session not in (conn.hub.name, conn.hub.session_id):
            raise Forbidden("session token belongs to another session")
        return conn

    async def close(self, conn: Connection) -> None:
        self.discard(conn)

    def discard(self, conn: Connection) -> None:
        """Forget a stream's session token (again: nothing)."""
        self._by_token.pop(conn.token_hash, None)
        conn.close()

    async def end(self, conn: Connection, reason: str) -> None:
        """End a stream from the server side: its watcher gets `exit`."""
        if conn.subscription is not None:
            conn.subscription.close(farewell(reason))
        await self.close(conn)

    def __len__(self) -> int:
        return len(self._by_token)
