"""The ASGI application: routes, middleware, lifespan, error mapping."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Scope

from tmuxweb import attach, commands, files, messages, muxstream, search, stream, webpush
from tmuxweb.config import Config
from tmuxweb.errors import BadRequest, TmuxWebError, from_tmux
from tmuxweb.middleware import (
    AccessLog,
    Authenticate,
    BodyLimit,
    ForwardedHeaders,
    HostCheck,
    OriginCheck,
    RootPath,
    SecurityHeaders,
)
from tmuxweb.policy import check_admin
from tmuxweb.services import Services, principal, services
from tmuxweb.states import states_json
from tmuxweb.tmux.errors import TmuxError

log = logging.getLogger("tmuxweb")


def static_dir() -> Path:
    """The UI files: inside the installed package, or the checkout's static/."""
    packaged = Path(str(resources.files("tmuxweb"))) / "static"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "static"


async def healthz(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def index(request: Request) -> Response:
    page = static_dir() / "index.html"
    if not page.is_file():
        return JSONResponse({"error": "the UI is not installed"}, status_code=404)
    return FileResponse(page, media_type="text/html; charset=utf-8")


async def service_worker(request: Request) -> Response:
    """static/sw.js at the page's level: a service worker controls only
    URLs under its own directory, so /static/sw.js could not see the page.
    Revalidated on every fetch (no-cache), so a new version takes over."""
    script = static_dir() / "sw.js"
    if not script.is_file():
        return JSONResponse({"error": "the UI is not installed"}, status_code=404)
    return FileResponse(script, media_type="text/javascript; charset=utf-8", headers={"cache-control": "no-cache"})


async def list_sessions(request: Request) -> Response:
    svc = services(request)
    sessions = await svc.tmux.list_sessions()
    return JSONResponse(
        {"sessions": [s.to_json() for s in sessions], "default": svc.config.default_session}
    )


async def create_session(request: Request) -> Response:
    svc = services(request)
    check_admin(principal(request), svc.config, "creating a session")
    commands.require_json(request)
    data = commands.load_json(await request.body())
    if not isinstance(data, dict) or set(data) != {"name"}:
        raise BadRequest('the body must be {"name": "..."}')
    info = await svc.tmux.create(data["name"])
    svc.audit.write("session-created", token=principal(request).name, session=info.id, name=info.name)
    return JSONResponse(info.to_json(), status_code=201)


async def pane_states(request: Request) -> Response:
    """Every pane's state, all sessions, who needs attention first (any scope)."""
    return Response(states_json(services(request).tracker()), media_type="application/json")


async def protocol_schema(request: Request) -> Response:
    """The JSON Schema of commands and events (messages.py), for other
    clients; the same bytes as the checked-in PROTOCOL.schema.json."""
    return Response(messages.schema_json(), media_type="application/schema+json")


async def ticket(request: Request) -> Response:
    svc = services(request)
    ticket = svc.tickets.issue(principal(request))
    return JSONResponse({"ticket": ticket, "expires_in": int(svc.config.ticket_ttl)})


# -- errors: the one place exceptions become responses --------------------------


async def on_tmuxweb_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TmuxWebError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers())


async def on_tmux_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TmuxError)
    return await on_tmuxweb_error(request, from_tmux(exc))


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    # Its headers too: Starlette's 405 names the allowed methods in Allow.
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": "internal error"}, status_code=500)


ERROR_HANDLERS: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
    TmuxWebError: on_tmuxweb_error,
    TmuxError: on_tmux_error,
    HTTPException: on_http_error,
    Exception: on_unexpected,
}


async def error_response(scope: Scope, exc: Exception) -> Response:
    """The response ERROR_HANDLERS gives `exc`, for the plain ASGI endpoints
    (`POST /commands`, `GET /events`) that answer their own errors."""
    handler = next(ERROR_HANDLERS[cls] for cls in type(exc).__mro__ if cls in ERROR_HANDLERS)
    return await handler(Request(scope), exc)


def audit_options(config: Config) -> dict[str, Any]:
    """The server's options for the audit log: everything but secrets."""
    return {
        field.name: str(getattr(config, field.name))
        for field in dataclasses.fields(config)
        if field.name != "token"
    }


def create_app(config: Config) -> ASGIApp:
    svc = Services.create(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        reaped = await svc.tmux.reap_orphans()
        if reaped:
            log.warning("ended %d control client(s) left behind by an earlier tmuxweb", reaped)
        svc.audit.write("server-start", options=audit_options(config))
        watcher = asyncio.create_task(svc.watch_tokens(), name="token-watcher")
        notifications = [
            asyncio.create_task(svc.push.run(), name="push-sender"),
            asyncio.create_task(svc.push.watch(), name="push-pruner"),
            asyncio.create_task(svc.notifier.run(), name="notifier"),
        ]
        if svc.states is not None:
            svc.states.on_transition(svc.notifier.transition)
            svc.states.on_seen(svc.notifier.seen)
            await svc.states.start()
        try:
            yield {"services": svc}
        finally:
            watcher.cancel()
            for task in notifications:
                task.cancel()
            # Awaited: a running --notify-command is killed and reaped.
            await asyncio.gather(*notifications, return_exceptions=True)
            if svc.states is not None:
                await svc.states.close()
            await svc.tmux.close()
            svc.audit.write("server-stop")
            svc.audit.close()
            # Here rather than after uvicorn returns: on SIGTERM uvicorn
            # re-raises the signal once shut down, and the process ends.
            if config.generated_token_file is not None:
                config.generated_token_file.unlink(missing_ok=True)

    command_endpoint = commands.CommandEndpoint(error_response)
    stream_endpoint = stream.StreamEndpoint(error_response)
    routes = [
        # /events takes every method so that StreamEndpoint answers all but
        # GET with 405 (HEAD too, which Starlette would add to a GET route).
        Route("/commands", command_endpoint, methods=["POST"]),
        Route("/healthz", healthz),
        Route("/", index),
        Route("/sw.js", service_worker, methods=["GET"]),
        Route("/api/sessions", list_sessions, methods=["GET"]),
        Route("/api/sessions", create_session, methods=["POST"]),
        Route("/api/ticket", ticket, methods=["POST"]),
        Route("/api/schema", protocol_schema, methods=["GET"]),
        Route("/api/states", pane_states, methods=["GET"]),
        Route("/events", stream_endpoint),
        *muxstream.routes(),
        *files.routes(),
        *attach.routes(),
        *search.routes(),
        *webpush.routes(),
        Mount("/static", StaticFiles(directory=static_dir(), check_dir=False), name="static"),
    ]

    # The checks inside Starlette's error middleware, in this order:
    # Origin, then body limit, then authentication.
    def checked(inner: ASGIApp) -> ASGIApp:
        inner = Authenticate(inner, svc)
        uploads = {"/api/file": config.file_max_size, attach.PATH: config.attach_max_size}
        inner = BodyLimit(inner, limit=config.max_body, timeout=config.body_timeout, uploads=uploads)
        return OriginCheck(inner, config)

    app = Starlette(
        routes=routes,
        middleware=[Middleware(checked)],
        lifespan=lifespan,
        exception_handlers=ERROR_HANDLERS,
    )
    # Outside Starlette's own error middleware, so that even a 500 is logged
    # and carries the security headers; the Host check before anything else
    # looks at the request (after the forwarded host has been settled).
    inner: ASGIApp = RootPath(app, config.root_path)
    inner = HostCheck(inner, config)
    inner = SecurityHeaders(inner, config.root_path)
    inner = AccessLog(inner)
    return ForwardedHeaders(inner, config.trusted_proxies)
