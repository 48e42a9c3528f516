"""One event stream for all the tabs of a browser (the routes are in
muxstream.py): `GET /mux`, `POST /mux/attach`, `POST /mux/detach`.

A browser keeps at most six HTTP/1.1 connections to a host; one
`GET /events` per tab left a seventh tab without a connection (issue 14).
The browser's tabs therefore share one `GET /mux` response. It starts with
`mux-info` (the secret that attaches to it); each tab then attaches its
watcher of a session (`POST /mux/attach`), and that watcher's frames,
exactly those `GET /events` would send, follow in the shared response with
one extra first `data:` line naming the watcher (`sub`). Each watcher is a
connection of its own: its own session token, its own command order
(`seq`), its own place under the stream caps, its own resume.

Frames are tagged without re-encoding: event JSON never holds a raw
newline, so every `\\ndata: ` in a chunk starts a data line, and one
`bytes.replace` tags a whole chunk. The shared response has a byte-bounded
outbox; a watcher that cannot put its chunk waits, its hub queue fills, and
the hub resynchronises it from a snapshot (as for a slow `GET /events`); a
socket that stalls is dropped by the same send timeout.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from typing import Protocol

import anyio

from tmuxweb.auth import MAX_SECRET_LENGTH, digest, new_secret
from tmuxweb.errors import Conflict, Forbidden, TooManyRequests
from tmuxweb.sse import encode_event
from tmuxweb.tokens import Principal
from tmuxweb.watchers import Reservation

log = logging.getLogger("tmuxweb")

# A browser has a few dozen tabs at most; each watcher also counts under
# the per-token stream cap, which usually binds first.
MAX_SUBS = 64
# Unsent bytes a shared stream may hold before its watchers wait.
OUTBOX_BYTES = 1 << 20


class Releasable(Protocol):
    """What a watcher holds (stream.Held): given back once, synchronously."""

    def release(self) -> None: ...


class Outbox:
    """The shared response's pending bytes: bounded, joined on the way out,
    and endable from synchronous code (a `finally`, the token watcher)."""

    def __init__(self, limit: int = OUTBOX_BYTES) -> None:
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._limit = limit
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self.ended = False

    async def put(self, chunk: bytes) -> None:
        while self._size >= self._limit and not self.ended:
            self._writable.clear()
            await self._writable.wait()
        if self.ended:
            return
        self._chunks.append(chunk)
        self._size += len(chunk)
        self._readable.set()

    async def take(self) -> bytes | None:
        """Everything pending as one chunk; None once ended and empty."""
        while not self._chunks:
            if self.ended:
                return None
            self._readable.clear()
            await self._readable.wait()
        data = b"".join(self._chunks)
        self._chunks.clear()
        self._size = 0
        self._writable.set()
        return data

    def end(self) -> None:
        """No more puts; what is pending still goes out."""
        self.ended = True
        self._readable.set()
        self._writable.set()


@dataclass(eq=False)
class Mux:
    """One shared stream: its attach secret, its watchers, its outbox."""

    id: str
    token_hash: bytes
    principal: Principal
    client: str
    reservation: Reservation
    outbox: Outbox = field(default_factory=Outbox)
    # Set on shutdown (by sse-starlette): every watcher says farewell.
    stopping: anyio.Event = field(default_factory=anyio.Event)
    subs: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    # Ids being attached (awaiting the session lookup): taken, not yet running.
    claimed: set[str] = field(default_factory=set)
    finishing: bool = False
    closed: bool = False

    def claim(self, sub: str) -> None:
        if self.closed or self.finishing:
            raise Forbidden("this shared stream has closed")
        if sub in self.subs or sub in self.claimed:
            raise Conflict(f"watcher {sub} is already attached")
        if len(self.subs) + len(self.claimed) >= MAX_SUBS:
            raise TooManyRequests("too many watchers on this shared stream")
        self.claimed.add(sub)

    def start(self, sub: str, held: Releasable, frames: AsyncIterator[bytes]) -> None:
        self.claimed.discard(sub)
        self.subs[sub] = asyncio.create_task(self._pump(sub, held, frames), name=f"mux-{self.id}-{sub}")

    def detach(self, sub: str) -> bool:
        task = self.subs.pop(sub, None)
        if task is None:
            return False
        task.cancel()
        return True

    def finish(self) -> None:
        """End once the watchers have ended (after their farewells)."""
        self.finishing = True
        if not self.subs:
            self.outbox.end()

    def close(self) -> None:
        """Stop everything now (synchronous: runs in `finally` blocks)."""
        if self.closed:
            return
        self.closed = True
        self.outbox.end()
        for task in self.subs.values():
            task.cancel()
        self.subs.clear()
        self.reservation.release()

    async def _pump(self, sub: str, held: Releasable, frames: AsyncIterator[bytes]) -> None:
        tag = b"\ndata: " + sub.encode() + b"\ndata: "
        reason = None
        try:
            async for chunk in frames:
                await self.outbox.put(chunk.replace(b"\ndata: ", tag))
        except Exception as err:  # noqa: BLE001 - the watcher ends; the tab attaches again
            log.exception("watcher %s of shared stream %s failed", sub, self.id)
            reason = f"watcher failed: {type(err).__name__}"
        finally:
            aclose = getattr(frames, "aclose", None)
            if aclose is not None:
                await aclose()
            held.release()
            if self.subs.get(sub) is asyncio.current_task():
                del self.subs[sub]
            if self.finishing and not self.subs:
                self.outbox.end()
        if reason is not None:
            _, frame = encode_event("detached", {"reason": reason}, None)
            await self.outbox.put(frame.replace(b"\ndata: ", tag))


class Muxes:
    """The open shared streams, by the hash of their attach secret."""

    def __init__(self) -> None:
        self._by_token: dict[bytes, Mux] = {}

    def open(self, principal: Principal, client: str, reservation: Reservation) -> tuple[Mux, str]:
        token = new_secret()
        mux = Mux(secrets.token_hex(8), digest(token), principal, client, reservation)
        self._by_token[mux.token_hash] = mux
        return mux, token

    def find(self, token: str | None, who: Principal) -> Mux:
        """The open shared stream `token` attaches to, if `who` opened it."""
        if not token or len(token) > MAX_SECRET_LENGTH:
            raise Forbidden("missing or invalid X-Mux-Token")
        mux = self._by_token.get(digest(token))
        if mux is None or mux.closed:
            raise Forbidden("invalid or closed shared stream")
        if mux.principal.name != who.name:
            raise Forbidden("the shared stream belongs to another access token")
        return mux

    def discard(self, mux: Mux) -> None:
        self._by_token.pop(mux.token_hash, None)
        mux.close()

    def open_for(self, predicate: Callable[[Mux], bool]) -> list[Mux]:
        return [m for m in self._by_token.values() if predicate(m)]

    def __len__(self) -> int:
        return len(self._by_token)
