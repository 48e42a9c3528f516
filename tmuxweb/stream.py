"""`GET /events`: the Server-Sent Events stream of one tmux session.

A watcher subscribes to the hub first and snapshots second, so nothing that
happens in between is missed; the snapshot's anchors then drop what it
already shows. After that the stream forwards the hub's pre-encoded events,
joining whatever has queued up into one write.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import SendTimeoutError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from tmuxweb.errors import MethodNotAllowed
from tmuxweb.policy import may_administer
from tmuxweb.services import Services, principal, services
from tmuxweb.sse import encode_event, farewell, without_id
from tmuxweb.tmux.cmdline import check_session_name
from tmuxweb.tmux.errors import TmuxUnavailable
from tmuxweb.tmux.hub import (
    HubClosing,
    HubEvent,
    SessionHub,
    Snapshot,
    Subscription,
)
from tmuxweb.tmux.server import SessionInfo
from tmuxweb.tokens import Principal
from tmuxweb.watchers import Connection, Reservation

PROTOCOL_VERSION = 1
# Optional features a client may use; see DATA-FLOW.md.
CAPABILITIES = ["resize-pane", "binding"]


class Held:
    """What one stream holds: its place under the caps, its hub subscription,
    its connection (session token) and its shutdown watcher.

    `release` gives all of it back, once, whichever way the stream ends:
    from the generator's `finally` when the stream ran, or from
    StreamEndpoint's when it never did (an error while starting, a client
    gone before the first event, a response that never iterated its body).
    A generator that was never started runs no `finally`, so the endpoint's
    is the one that cannot be skipped."""

    def __init__(self, svc: Services, reservation: Reservation) -> None:
        self.svc = svc
        self.reservation = reservation
        self.hub: SessionHub | None = None
        self.sub: Subscription | None = None
        self.conn: Connection | None = None
        self.watcher: asyncio.Task[None] | None = None
        self.released = False

    def release(self) -> None:
        # Synchronous: it also runs in a `finally` while being cancelled.
        if self.released:
            return
        self.released = True
        if self.watcher is not None:
            self.watcher.cancel()
        if self.hub is not None and self.sub is not None:
            self.hub.unsubscribe(self.sub)
        if self.conn is not None:
            conn = self.conn
            self.svc.connections.discard(conn)
            self.svc.audit.write(
                "stream-close", token=conn.principal.name, session=conn.hub.session_id, client=conn.client, connection=conn.id
            )
        self.reservation.release()


async def resolve_session(svc: Services, who: Principal, name: str | None) -> SessionInfo:
    """The named session (404 if missing), or the default one: created when
    missing only for a principal that may administer (audited), 404 for
    anyone else."""
    if name is not None:
        return await svc.tmux.find(check_session_name(name))
    info, created = await svc.tmux.default_session(may_create=may_administer(who, svc.config))
    if created:
        svc.audit.write("session-created", token=who.name, session=info.id, name=info.name)
    return info


async def watch(
    held: Held, session: str | None, last_id: str | None, client: str, stopping: anyio.Event
) -> AsyncIterator[bytes]:
    """Allocate one watcher's resources into `held` (the caller releases
    them) and return its frames: `GET /events` sends them as they are, a
    shared stream (mux.py) tags them with the tab they belong to.
    `stopping`, once set, ends the frames with a farewell `exit`."""
    svc = held.svc
    who = held.reservation.principal
    info = await resolve_session(svc, who, session)
    hub = await svc.tmux.hub(info)
    try:
        sub = hub.subscribe()
    except HubClosing:
        # It began detaching between lookup and now: a fresh one.
        hub = await svc.tmux.hub(info)
        sub = hub.subscribe()
    held.hub, held.sub = hub, sub
    # Right after subscribing, with no await in between: the replay ends
    # exactly where the subscription's queue begins.
    replay = hub.replay_since(last_id) if last_id else None
    conn, token = svc.connections.open(hub, who, client, held.reservation)
    held.conn = conn
    conn.subscription = sub
    svc.audit.write("stream-open", token=who.name, session=hub.session_id, client=client, connection=conn.id)
    return _stream(held, hub, conn, token, sub, replay, stopping)


async def events(request: Request, held: Held) -> Response:
    """Allocate the stream's resources into `held` (the caller releases
    them) and return the response that streams from them."""
    last_id = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    client = request.client.host if request.client else "-"
    config = held.svc.config
    stopping = anyio.Event()
    frames = await watch(held, request.query_params.get("session"), last_id, client, stopping)
    return EventStream(
        frames,
        ping=config.heartbeat,
        ping_message_factory=lambda: ServerSentEvent(comment="ping"),
        send_timeout=config.send_timeout,
        headers={"Cache-Control": "no-store"},
        # On SIGTERM sse-starlette sets `stopping`; the stream then sends
        # a final `exit` and ends within the grace period.
        shutdown_event=stopping,
        shutdown_grace_period=2,
    )


class StreamEndpoint:
    """`GET /events` as a plain ASGI app, as `POST /commands` is. Errors
    before the response starts become responses through app.py's one table
    (`errors`); once the stream runs, they end it, as under Starlette.

    Every other method (HEAD included, which Starlette would route here
    and sse-starlette answers without running the stream) gets 405 before
    anything is allocated. The place under the caps is reserved first, in
    one step with its check; whatever is allocated after it is released
    here when the stream is over, however it ended."""

    def __init__(self, errors: Callable[[Scope, Exception], Awaitable[Response]]) -> None:
        self._errors = errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        held: Held | None = None
        try:
            try:
                if request.method != "GET":
                    raise MethodNotAllowed("GET")
                svc = services(request)
                held = Held(svc, svc.connections.reserve(principal(request)))
                response = await events(request, held)
            except Exception as exc:
                if held is not None:
                    held.release()  # a refused stream holds nothing while its answer goes out
                response = await self._errors(scope, exc)
            await response(scope, receive, send)
        finally:
            if held is not None:
                held.release()


class EventStream(EventSourceResponse):
    """sse-starlette's response, with its stall rule kept but enforced by
    one watchdog per stream instead of a cancel scope around every send.

    sse-starlette wraps each chunk's send in `anyio.move_on_after`; with
    many watchers of a flood that was a quarter of the server's CPU
    (benchmarks/README.md, profiling notes). Here a send only notes when it
    began; a watchdog looks every `send_timeout / 4` and, when one has been
    pending longer than `send_timeout`, ends the stream as sse-starlette
    would (SendTimeoutError). This relies on two private methods of
    sse-starlette 3.x, hence the version pin in pyproject.toml. `events`
    always gives it a `send_timeout`.
    """

    send_timeout: float
    _pending_since: float | None = None

    async def _send_with_timeout(self, send: Send, message: Message) -> None:
        self._pending_since = asyncio.get_running_loop().time()
        try:
            await send(message)
        except BaseException:
            self._send_interrupted = True
            raise
        self._pending_since = None

    async def _stream_response(self, send: Send) -> None:
        stalled = False
        async with anyio.create_task_group() as group:

            async def watchdog(limit: float) -> None:
                nonlocal stalled
                loop = asyncio.get_running_loop()
                while True:
                    await asyncio.sleep(limit / 4)
                    since = self._pending_since
                    if since is not None and loop.time() - since > limit:
                        stalled = True
                        group.cancel_scope.cancel()
                        return

            group.start_soon(watchdog, self.send_timeout)
            await super()._stream_response(send)
            group.cancel_scope.cancel()
        if stalled:
            self._send_interrupted = True
            raise SendTimeoutError()


async def _stream(
    held: Held,
    hub: SessionHub,
    conn: Connection,
    token: str,
    sub: Subscription,
    replay: list[HubEvent] | None,
    stopping: anyio.Event,
) -> AsyncIterator[bytes]:
    """Resume from the ring or start from a snapshot; then queued events,
    joined into one chunk a wake-up; a fresh snapshot after each overflow.

    One generator rather than one per stage: every output event passes
    through each level of generator on its way to the socket, and this is
    the echo's path."""

    # Subscribed before the response starts (in `events`), so the hub cannot
    # linger out in between.
    async def farewell_on_shutdown() -> None:
        await stopping.wait()
        sub.close(farewell("tmuxweb is shutting down"))

    try:
        held.watcher = asyncio.create_task(farewell_on_shutdown())
        _, prefix = encode_event(
            "connection-info",
            {
                "connection_id": conn.id,
                "session_token": token,
                "session": {"id": hub.session_id, "name": hub.name},
                "protocol": PROTOCOL_VERSION,
                "prefix": hub.prefix,
                "capabilities": CAPABILITIES,
                "resumed": replay is not None,
                # What this connection may do, for the page: a `read` page
                # never lets pane output reach the clipboard (OSC 52).
                "scope": "read" if held.svc.config.readonly else conn.principal.scope,
            },
            None,
        )
        snap: Snapshot | None = None
        if replay is not None:
            yield prefix + b"".join(e.wire for e in replay)
            prefix = b""
        while True:
            if replay is None:
                if sub.closed:
                    break
                try:
                    snap = await hub.snapshot()
                except TmuxUnavailable as err:
                    yield prefix + _exit_frame(hub, err.message)
                    return
                # The state's id is the newest position it reflects; queued
                # events at or before it go out without an id, so a client
                # resuming from the state's id can never be sent something twice.
                _, state = encode_event("state", snap.state, f"{hub.epoch}-{snap.last}")
                yield prefix + state
                prefix = b""
            replay = None  # after an overflow: a snapshot, never the ring
            while not sub.overflowed:
                await sub.wait()
                events = sub.drain()
                if snap is None:
                    chunk = b"".join(e.wire for e in events)
                else:
                    chunk = b"".join(e.wire if e.seq > snap.last else without_id(e) for e in events if snap.wants(e))
                if chunk:
                    yield chunk
                if sub.closed:
                    break
            else:
                # The queue overflowed: start again from a fresh snapshot.
                sub.restart()
                continue
            break  # closed: what is left, then the end
        for event in sub.drain():
            yield event.wire
    finally:
        held.release()


def _exit_frame(hub: SessionHub, reason: str) -> bytes:
    return encode_event("exit", {"reason": reason}, None)[1]
