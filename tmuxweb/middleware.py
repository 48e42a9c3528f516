"""Pure ASGI middleware in front of every route, the SSE stream included.

Order, outermost first (see `app.py`):

1. ForwardedHeaders  forwarding headers believed from trusted proxies only
2. AccessLog         one line per request; the path without its query string
3. SecurityHeaders   CSP, frame and sniffing protection on every response
4. HostCheck         Host allow-list, before anything else looks at the request
5. RootPath          the URL prefix behind a reverse proxy
   (then Starlette, whose error middleware comes here, so a 500 still
   passes through 2 and 3)
6. OriginCheck       the stream and every state-changing request
7. BodyLimit         413 above the configured size, 408 when too slow
8. Authenticate      bearer token (or a single-use ticket on /events)

In front of all of them, the HTTP protocol itself (httpproto.py) refuses a
request head over 16 KiB with 431, one not complete in time with 408, a
repeated Host (and the like) or a target naming another host with 400, and
admits connections within caps (admission.py).

Pure ASGI rather than BaseHTTPMiddleware, which is documented to misbehave
with streaming responses.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterable
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tmuxweb.auth import MAX_SECRET_LENGTH, token_matches
from tmuxweb.config import Config
from tmuxweb.errors import PayloadTooLarge, Timeout, error_body
from tmuxweb.httpproto import BODY_RECEIVED
from tmuxweb.services import Services
from tmuxweb.tokens import OWNER, Principal

access_log = logging.getLogger("tmuxweb.access")

# The one Trusted Types policy the page may create (static/trusted.js).
TRUSTED_TYPES_POLICY = "tmuxweb-worker"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'; "
    # Trusted Types: string assignments to innerHTML, script URLs and the
    # like throw, so "never innerHTML" is the browser's rule, not a habit.
    # One policy may exist, static/trusted.js's, which admits only our own
    # Markdown worker's URL.
    f"require-trusted-types-for 'script'; trusted-types {TRUSTED_TYPES_POLICY}"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Under another server than ours: whether a body is buffered is not known.
_UNKNOWN = {"complete": False}


def is_public(path: str) -> bool:
    """Routes that need no token: health and the UI's static files (the
    service worker's script too: the browser fetches it without our header)."""
    return path in ("/", "/healthz", "/index.html", "/favicon.ico", "/sw.js") or path.startswith("/static/")


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def send_error(send: Send, status: int, message: str, extra: Iterable[tuple[bytes, bytes]] = ()) -> None:
    body = error_body(message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RootPath:
    """Serve under a sub-path (`--root-path /tmux`) behind a reverse proxy.

    Works whether the proxy strips the prefix or passes it on; the bare
    prefix redirects to prefix + "/" because the UI uses relative URLs.
    """

    def __init__(self, app: ASGIApp, root_path: str) -> None:
        self.app = app
        self.root = root_path.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.root:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path == self.root:
            location = (self.root + "/").encode()
            await send({"type": "http.response.start", "status": 308, "headers": [(b"location", location), (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        if path.startswith(self.root + "/"):
            # Routes below see the path without the prefix (and no
            # root_path: the UI builds no absolute URLs that would need it).
            scope = {**scope, "path": path[len(self.root) :], "raw_path": None}
        await self.app(scope, receive, send)


class ForwardedHeaders:
    """Honour `Forwarded` / `X-Forwarded-For/-Proto/-Host` only from the
    configured proxies (`--trusted-proxy`); from anyone else they are
    removed, so a forged header can never steer the Host and Origin checks.

    From a trusted proxy the forwarded host replaces `Host`, the scheme and
    the client address are taken over: the checks after this one then see
    what the browser sent to the proxy.
    """

    _NAMES = (b"forwarded", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host")

    def __init__(self, app: ASGIApp, trusted: tuple[str, ...]) -> None:
        self.app = app
        self.trusted = frozenset(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers", [])
        client = (scope.get("client") or ("", 0))[0]
        if client in self.trusted:
            scope = self._apply(scope)
        elif any(k in self._NAMES for k, _ in headers):
            scope = {**scope, "headers": [(k, v) for k, v in headers if k not in self._NAMES]}
        await self.app(scope, receive, send)

    def _apply(self, scope: Scope) -> Scope:
        values = _forwarded(scope)
        headers = [(k, v) for k, v in scope["headers"] if k not in self._NAMES]
        if "host" in values:
            headers = [(k, v) for k, v in headers if k != b"host"] + [(b"host", values["host"].encode("latin-1"))]
        scope = {**scope, "headers": headers}
        if values.get("proto") in ("http", "https"):
            scope["scheme"] = values["proto"]
        if "for" in values:
            scope["client"] = (values["for"], 0)
        return scope


def _forwarded(scope: Scope) -> dict[str, str]:
    """The nearest proxy's view: the last element of each header.

    `X-Forwarded-*` wins when present: nginx and Caddy set those from what
    they saw but pass a client's own `Forwarded` through unless told not to.
    """
    found: dict[str, str] = {}
    forwarded = header(scope, b"forwarded")
    legacy = any(header(scope, name) for name in (b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"))
    if forwarded and not legacy:
        last = forwarded.split(",")[-1]
        for pair in last.split(";"):
            key, _, value = pair.strip().partition("=")
            value = value.strip().strip('"')
            if key.lower() in ("for", "proto", "host") and value:
                found[key.lower()] = value.strip("[]") if key.lower() == "for" else value
        return found
    for name, key in ((b"x-forwarded-for", "for"), (b"x-forwarded-proto", "proto"), (b"x-forwarded-host", "host")):
        raw = header(scope, name)
        if raw:
            found[key] = raw.split(",")[-1].strip()
    return found


class AccessLog:
    """Logs method, path (never the query: it may hold a ticket), status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 0

        async def logged_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, logged_send)
        finally:
            client = scope.get("client") or ("-", 0)
            access_log.info(
                '%s "%s %s" %d %.1fms',
                client[0],
                scope["method"],
                scope["path"],
                status,
                (time.monotonic() - started) * 1000,
            )


class SecurityHeaders:
    def __init__(self, app: ASGIApp, root_path: str = "") -> None:
        self.app = app
        # Static files may be cached (and revalidated); with or without the
        # reverse proxy's prefix, which is only taken off further in.
        self.static = ("/static/", root_path.rstrip("/") + "/static/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(self.static)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() != b"cache-control" or not static
                ]
                headers.extend(SECURITY_HEADERS)
                if not static and not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                if static:
                    headers.append((b"cache-control", b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class HostCheck:
    """Refuse any Host not on the allow-list: this defeats DNS rebinding."""

    def __init__(self, app: ASGIApp, config: Config) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = header(scope, b"host")
            if not host or not self.config.host_allowed(host):
                await send_error(send, 403, "host not allowed")
                return
        await self.app(scope, receive, send)


class OriginCheck:
    """A request that carries a foreign Origin may not open the stream or
    change anything. No CORS headers are ever sent, so browsers also keep
    foreign pages from reading any response."""

    def __init__(self, app: ASGIApp, config: Config) -> None:
        self.app = app
        self.allowed = frozenset(o.rstrip("/").lower() for o in config.allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._guarded(scope):
            origin = header(scope, b"origin")
            if origin is not None and not self._allowed(scope, origin):
                await send_error(send, 403, "origin not allowed")
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _guarded(scope: Scope) -> bool:
        return scope["method"] not in _SAFE_METHODS or scope["path"] in ("/events", "/mux")

    def _allowed(self, scope: Scope, origin: str) -> bool:
        origin = origin.rstrip("/").lower()
        own = f"{scope.get('scheme', 'http')}://{(header(scope, b'host') or '').lower()}"
        return origin == own or origin in self.allowed


class BodyLimit:
    """413 above the size limit, 408 when the body arrives too slowly."""

    def __init__(self, app: ASGIApp, limit: int, timeout: float, uploads: dict[str, int] | None = None) -> None:
        self.app = app
        self.default = limit
        self.timeout = timeout
        # Routes that take larger bodies (file uploads): path -> limit.
        self.uploads = uploads or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.uploads.get(scope["path"], self.default) if scope["method"] == "PUT" else self.default
        declared = header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await send_error(send, 413, f"request body over {limit} bytes")
            return
        seen = 0
        complete = False
        # Set by our HTTP protocol (httpproto.py) once the body is buffered.
        received = scope.get("extensions", {}).get(BODY_RECEIVED, _UNKNOWN)

        async def limited_receive() -> Message:
            # A chunked body has no Content-Length: count as the handler
            # reads. Errors surface in the handler and map to 413/408.
            nonlocal seen, complete
            if complete:
                return await receive()
            if received["complete"]:
                # Already in memory (httpproto.py): no deadline, no timer.
                message = await receive()
            else:
                try:
                    # A deadline on this task, not wait_for's extra task
                    # (and its event-loop turn).
                    async with asyncio.timeout(self.timeout):
                        message = await receive()
                except TimeoutError:
                    raise Timeout("the request body did not arrive in time") from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if seen > limit:
                    raise PayloadTooLarge(f"request body over {limit} bytes")
            return message

        await self.app(scope, limited_receive, send)


class Authenticate:
    """Bearer token on every non-public route; a ticket may stand in for it
    on `GET /events` (EventSource cannot send headers).

    The principal (owner, or a scoped token's name and scope) is put in the
    request state for the policy checks. Failures are rate-limited per
    client address and overall: when limited, the answer is 429 before any
    comparison, so a limited attacker learns nothing.
    """

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.svc = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        address = (scope.get("client") or ("-", 0))[0]
        wait = self.svc.limiter.blocked(address)
        if wait > 0:
            self._audit_failure(scope, address, "rate limited")
            retry = str(max(1, math.ceil(wait))).encode()
            await send_error(send, 429, "too many failed attempts; try again later", [(b"retry-after", retry)])
            return
        principal, reason = self._authenticate(scope)
        if principal is None:
            self.svc.limiter.failed(address)
            self._audit_failure(scope, address, reason)
            await send_error(send, 401, "missing or invalid access token", [(b"www-authenticate", b"Bearer")])
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    def _authenticate(self, scope: Scope) -> tuple[Principal | None, str]:
        authorization = header(scope, b"authorization")
        if authorization is not None:
            kind, _, presented = authorization.partition(" ")
            if kind.lower() != "bearer":
                return None, "not a bearer token"
            presented = presented.strip()
            if token_matches(presented, self.svc.config.token):
                return OWNER, ""
            if len(presented) <= MAX_SECRET_LENGTH and self.svc.reload_tokens():
                found = self.svc.tokens.find(presented)
                if found is not None:
                    return found, ""
            return None, "wrong token"
        if scope["path"] == "/events" and scope["method"] == "GET":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            tickets = query.get("ticket", [])
            if len(tickets) != 1:
                return None, "no token"
            principal = self.svc.tickets.redeem(tickets[0])
            if principal is None:
                return None, "wrong, used or expired ticket"
            if principal is not OWNER and not self.svc.tokens.valid(principal.name):
                return None, "ticket of a revoked token"
            return principal, ""
        return None, "no token"

    def _audit_failure(self, scope: Scope, address: str, reason: str) -> None:
        # Never the presented value: only where, who and why.
        self.svc.audit.write(
            "auth-failure", client=address, method=scope["method"], route=scope["path"], reason=reason
        )
