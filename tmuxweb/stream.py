"""`GET /events`: the Server-Sent Events stream of one tmux session.

A watcher subscribes to the hub first and snapshots second, so nothing that
happens in between is missed; the snapshot's anchors then drop what it
already shows. After that the stream forwards the hub's pre-encoded events,
joining whatever has queued up into one write.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import anyio

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response

from tmuxweb.auth import Connection
from tmuxweb.errors import TmuxUnavailable
from tmuxweb.services import Services, principal, services
from tmuxweb.tmux.commands import check_session_name
from tmuxweb.tmux.hub import HubClosing, SessionHub, Subscription, encode_event, farewell
from tmuxweb.tmux.server import SessionInfo

PROTOCOL_VERSION = 1
# Optional features a client may use; see DATA-FLOW.md.
CAPABILITIES = ["resize-pane", "binding"]


async def resolve_session(svc: Services, name: str | None) -> SessionInfo:
    """The named session (404 if missing), or the default one (created)."""
    if name is None:
        return await svc.tmux.default_session()
    return await svc.tmux.find(check_session_name(name))


async def events(request: Request) -> Response:
    svc = services(request)
    who = principal(request)
    svc.connections.check_capacity(who)
    info = await resolve_session(svc, request.query_params.get("session"))
    hub = await svc.tmux.hub(info)
    try:
        sub = hub.subscribe()
    except HubClosing:
        # It began detaching between lookup and now: a fresh one.
        hub = await svc.tmux.hub(info)
        sub = hub.subscribe()
    client = request.client.host if request.client else "-"
    conn, token = svc.connections.open(hub, who, client)
    conn.subscription = sub
    svc.audit.write("stream-open", token=who.name, session=hub.session_id, client=client, connection=conn.id)
    config = svc.config
    stopping = anyio.Event()
    return EventSourceResponse(
        _stream(svc, hub, conn, token, sub, stopping),
        ping=config.heartbeat,
        ping_message_factory=lambda: ServerSentEvent(comment="ping"),
        send_timeout=config.send_timeout,
        headers={"Cache-Control": "no-store"},
        # On SIGTERM sse-starlette sets `stopping`; the stream then sends
        # a final `exit` and ends within the grace period.
        shutdown_event=stopping,
        shutdown_grace_period=2,
    )


async def _stream(
    svc: Services, hub: SessionHub, conn: Connection, token: str, sub: Subscription, stopping: anyio.Event
) -> AsyncIterator[bytes]:
    # Subscribed before the response starts (in `events`), so the hub cannot
    # linger out in between.
    async def farewell_on_shutdown() -> None:
        await stopping.wait()
        sub.close(farewell("tmuxweb is shutting down"))

    watcher = asyncio.create_task(farewell_on_shutdown())
    try:
        _, hello = encode_event(
            "connection-info",
            {
                "connection_id": conn.id,
                "session_token": token,
                "session": {"id": hub.session_id, "name": hub.name},
                "protocol": PROTOCOL_VERSION,
                "prefix": hub.prefix,
                "capabilities": CAPABILITIES,
            },
            None,
        )
        async for chunk in _follow(hub, sub, hello):
            yield chunk
    finally:
        watcher.cancel()
        hub.unsubscribe(sub)
        await _closed(svc, conn)


async def _closed(svc: Services, conn: Connection) -> None:
    await svc.connections.close(conn)
    svc.audit.write(
        "stream-close", token=conn.principal.name, session=conn.hub.session_id, client=conn.client, connection=conn.id
    )


async def _follow(hub: SessionHub, sub: Subscription, first: bytes) -> AsyncIterator[bytes]:
    """Snapshot, then queued events; a fresh snapshot after each overflow."""
    prefix = first
    while not sub.closed:
        try:
            snap = await hub.snapshot()
        except TmuxUnavailable as err:
            yield prefix + _exit_frame(hub, err.message)
            return
        # The state's id is the newest position it reflects; queued events
        # at or before it go out without an id, so a client resuming from
        # the state's id can never be sent something twice.
        _, state = encode_event("state", snap.state, f"{hub.epoch}-{snap.last}")
        yield prefix + state
        prefix = b""
        while not sub.overflowed:
            await sub.wait()
            chunk = b"".join(
                e.wire if e.seq > snap.last else e.without_id() for e in sub.drain() if snap.wants(e)
            )
            if chunk:
                yield chunk
            if sub.closed:
                return
        sub.restart()
    for event in sub.drain():
        yield event.wire


def _exit_frame(hub: SessionHub, reason: str) -> bytes:
    return encode_event("exit", {"reason": reason}, None)[1]
