"""The private seams into dependencies that tmuxweb keeps (DATA-FLOW.md,
"Private hooks"), checked against the installed versions: each test fails
when upstream renames, re-signs or stops calling what the hook relies on,
where the hook would otherwise silently stop running. uvicorn's is in
test_httpproto.py."""

from __future__ import annotations

import inspect
import secrets
from pathlib import Path
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import Match, Route, Router
from starlette.types import ASGIApp

from tmuxweb.app import Lanes, create_app
from tmuxweb.config import Config, Secret
from tmuxweb.middleware import Authenticate, BodyLimit, OriginCheck
from tmuxweb.stream import EventStream

# -- sse-starlette: stream.EventStream --------------------------------------------------


def test_sse_starlette_still_sends_every_chunk_through_the_methods_event_stream_overrides() -> None:
    """EventStream replaces the per-send cancel scope with one watchdog by
    overriding `_send_with_timeout` (each send) and `_stream_response` (the
    body loop, where the watchdog runs). If either is renamed or no longer
    called, sse-starlette's own per-send scope comes back (or no stall rule
    at all), with no error."""
    for name in ("_send_with_timeout", "_stream_response"):
        theirs = getattr(EventSourceResponse, name, None)
        assert theirs is not None, f"sse-starlette has no {name} any more"
        ours = inspect.signature(getattr(EventStream, name))
        assert ours.parameters.keys() == inspect.signature(theirs).parameters.keys(), name
    assert "self._send_with_timeout(" in inspect.getsource(EventSourceResponse._stream_response)
    assert "self._stream_response(" in inspect.getsource(EventSourceResponse.__call__)
    # EventStream sets it as sse-starlette does, so that a stalled stream
    # does not try to send a closing chunk after it.
    assert "self._send_interrupted" in inspect.getsource(EventSourceResponse.__call__)


# -- Starlette: app.Lanes -----------------------------------------------------------------


def chain(app: Any) -> list[Any]:
    """An ASGI app and every app it wraps (each middleware's `.app`)."""
    apps = [app]
    while hasattr(apps[-1], "app") and not isinstance(apps[-1], Router | Route):
        apps.append(apps[-1].app)
    return apps


def starlette_of(app: ASGIApp) -> tuple[Starlette, Lanes]:
    lanes = next(a for a in chain(app) if isinstance(a, Lanes))
    assert isinstance(lanes.app, Starlette)
    return lanes.app, lanes


def test_lanes_skip_only_starlettes_two_error_middlewares(tmp_path: Path) -> None:
    """A lane goes straight to the checks Starlette would run, then the
    endpoint. If Starlette puts anything else between a request and its
    route (a body limit of its own, say), the lanes would skip it: this
    fails first. ERROR_HANDLERS (app.error_response) stands in for the two
    error middlewares."""
    app = create_app(Config(token=Secret(secrets.token_urlsafe()), tokens_file=tmp_path / "tokens.json"))
    starlette, lanes = starlette_of(app)
    stack = chain(starlette.build_middleware_stack())
    assert [type(a) for a in stack] == [
        ServerErrorMiddleware, OriginCheck, BodyLimit, Authenticate, ExceptionMiddleware, Router,
    ]
    for (method, path), lane in lanes.lanes.items():
        assert [type(a) for a in chain(lane)][:3] == [OriginCheck, BodyLimit, Authenticate]
        endpoint = chain(lane)[-1]
        # Starlette routes the same request to the same endpoint object,
        # called as a plain ASGI app: the lane is only a shortcut.
        scope = {"type": "http", "method": method, "path": path, "root_path": ""}
        routes = [r for r in starlette.routes if isinstance(r, Route) and r.matches(scope)[0] == Match.FULL]
        assert routes and routes[0].app is endpoint, (method, path)
