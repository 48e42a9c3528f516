"""The routes of the shared stream of a browser's tabs (the model, and why
it exists, is in mux.py): `GET /mux` opens it, `POST /mux/attach` adds a
tab's watcher of a session, `POST /mux/detach` ends one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tmuxweb import messages
from tmuxweb.commands import require_json
from tmuxweb.errors import Forbidden, MethodNotAllowed
from tmuxweb.mux import Mux
from tmuxweb.services import Services, principal, services
from tmuxweb.sse import encode_event
from tmuxweb.stream import EventStream, Held, watch


async def _frames(svc: Services, mux: Mux, token: str) -> AsyncIterator[bytes]:
    async def finish_on_shutdown() -> None:
        await mux.stopping.wait()
        mux.finish()

    watcher = asyncio.create_task(finish_on_shutdown())
    try:
        yield encode_event("mux-info", {"mux_token": token}, None)[1]
        while (chunk := await mux.outbox.take()) is not None:
            yield chunk
    finally:
        watcher.cancel()
        _close(svc, mux)


def _close(svc: Services, mux: Mux) -> None:
    if mux.closed:
        return
    svc.muxes.discard(mux)
    svc.audit.write("mux-close", token=mux.principal.name, client=mux.client, mux=mux.id)


async def open_mux(request: Request) -> Response:
    """`GET /mux`: the shared stream. It holds a place under the stream caps
    of its own, so an empty one cannot be opened without limit."""
    if request.method != "GET":
        # Starlette routes HEAD here too; sse-starlette would answer it
        # without running the stream.
        raise MethodNotAllowed("GET")
    svc = services(request)
    who = principal(request)
    reservation = svc.connections.reserve(who)
    client = request.client.host if request.client else "-"
    mux, token = svc.muxes.open(who, client, reservation)
    svc.audit.write("mux-open", token=who.name, client=client, mux=mux.id)
    config = svc.config
    response = EventStream(
        _frames(svc, mux, token),
        ping=config.heartbeat,
        ping_message_factory=lambda: ServerSentEvent(comment="ping"),
        send_timeout=config.send_timeout,
        headers={"Cache-Control": "no-store"},
        shutdown_event=mux.stopping,
        shutdown_grace_period=2,
    )
    return _Released(response, lambda: _close(svc, mux))


class _Released(Response):
    """The stream's response, closing the shared stream however it ends:
    a generator never started runs no `finally` (see stream.Held)."""

    def __init__(self, inner: Response, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._inner(scope, receive, send)
        finally:
            self._release()


async def attach(request: Request) -> Response:
    """`POST /mux/attach`: a watcher of one session joins the shared stream
    (what `GET /events` would allocate, and the same errors)."""
    svc = services(request)
    who = principal(request)
    mux = svc.muxes.find(request.headers.get("x-mux-token"), who)
    require_json(request)
    body: messages.MuxAttach = messages.decode_mux(messages.MuxAttach, await request.body())
    mux.claim(body.sub)
    held: Held | None = None
    try:
        held = Held(svc, svc.connections.reserve(who))
        frames = await watch(held, body.session, body.last_event_id, mux.client, mux.stopping)
        if mux.closed or mux.finishing:
            raise Forbidden("this shared stream has closed")
    except BaseException:
        mux.claimed.discard(body.sub)
        if held is not None:
            held.release()
        raise
    mux.start(body.sub, held, frames)
    return JSONResponse({"ok": True})


async def detach(request: Request) -> Response:
    """`POST /mux/detach`: the watcher ends (its session token with it)."""
    svc = services(request)
    mux = svc.muxes.find(request.headers.get("x-mux-token"), principal(request))
    require_json(request)
    body: messages.MuxDetach = messages.decode_mux(messages.MuxDetach, await request.body())
    return JSONResponse({"detached": mux.detach(body.sub)})


def routes() -> list[Route]:
    return [
        Route("/mux", open_mux),
        Route("/mux/attach", attach, methods=["POST"]),
        Route("/mux/detach", detach, methods=["POST"]),
    ]
