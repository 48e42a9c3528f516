"""Web Push: notifications that reach a browser whose tab is closed.

Three standards, two small libraries and httpx:

* RFC 8292 (VAPID): each request carries a JWT signed (ES256) with our key,
  whose public half the browser was given when it subscribed, so the push
  service accepts messages for that subscription from us only. `py_vapid`
  signs; the private key is a 0600 PEM file beside the token store,
  created on first use.
* RFC 8291: the payload is encrypted (aes128gcm, `http_ece`) to the keys
  the browser generated for the subscription (`p256dh`, `auth`); the push
  service can read nothing but the length.
* RFC 8030: one POST per message to the subscription's endpoint, with TTL,
  Urgency and Topic headers; 201 means accepted, 404/410 that the
  subscription is gone (we forget it).

A subscription's endpoint is a URL the server will send requests to, so
it is the input of a server-side request forgery: only https URLs on the
browsers' push services (config.PUSH_SERVICES, plus --push-service) are
accepted, and plain http on a loopback address only under the test-only
`push_loopback_http`. Subscriptions belong to the token that made them
and are never used once it is revoked or expired.

Sending never blocks its caller: messages wait in a bounded queue (the
oldest dropped, logged) for one sender task, which runs at most
`push_concurrency` deliveries at a time, each under `push_timeout`, and
one at a time per subscription, in order.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import ipaddress
import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import http_ece
import httpx
import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from tmuxweb.config import Config
from tmuxweb.errors import BadRequest, NotFound, TooManyRequests, UnsupportedMedia
from tmuxweb.taskpool import TaskPool
from tmuxweb.tokens import OWNER, Principal, TokenStore, default_store_path

log = logging.getLogger("tmuxweb.push")

KEY_FILE = "vapid-private.pem"
SUBSCRIPTIONS_FILE = "push-subscriptions.json"
MAX_ENDPOINT = 2048
MAX_PER_TOKEN = 8
MAX_SUBSCRIPTIONS = 128
# RFC 8291 allows one 4096-byte record: 86 bytes of header and tag, one of padding.
MAX_PAYLOAD = 3993
# VAPID tokens are valid for at most 24 hours (RFC 8292 §2); ours for 12,
# re-signed an hour before they run out.
JWT_LIFETIME = 12 * 3600
Urgency = Literal["very-low", "low", "normal", "high"]


class PushError(ValueError):
    """Raised for an unusable key file, subscriptions file or subscription."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Strict base64url (padding optional); PushError on anything else."""
    if not text or len(text) > 200 or not all(c.isalnum() or c in "-_" for c in text.rstrip("=")):
        raise PushError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise PushError("not base64url") from None


def state_dir(config: Config) -> Path:
    """Beside the token store: the key and subscriptions are the same kind of secret."""
    return (config.tokens_file or default_store_path()).parent


# -- the VAPID key -------------------------------------------------------------------


class VapidKey:
    """Our application server key (RFC 8292), and the JWTs it signs, one per
    push service origin, reused until an hour before they expire."""

    def __init__(self, private: ec.EllipticCurvePrivateKey, subject: str) -> None:
        self._vapid = Vapid02(private)
        self._subject = subject
        self._signed: dict[str, tuple[float, str]] = {}
        raw = private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.public = b64url(raw)

    def authorization(self, audience: str, now: float) -> str:
        expires, header = self._signed.get(audience, (0.0, ""))
        if expires - now < 3600:
            expires = int(now) + JWT_LIFETIME
            claims = {"aud": audience, "sub": self._subject, "exp": expires}
            header = str(self._vapid.sign(claims)["Authorization"])
            self._signed[audience] = (expires, header)
        return header


def load_or_create_key(path: Path, subject: str) -> VapidKey:
    """The key in `path`, created (0600, O_EXCL) when missing; a file that
    group or others may read is refused, as the token store's is."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path, subject)
    except FileNotFoundError:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return load_or_create_key(path, subject)
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    log.info("created the Web Push (VAPID) key %s", path)
    return VapidKey(private, subject)


def _read_key(path: Path, subject: str) -> VapidKey:
    if path.stat().st_mode & 0o077:
        raise PushError(f"{path} is readable by group or others; run: chmod 600 {path}")
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as err:
        raise PushError(f"cannot read the VAPID key {path}: {err}") from None
    if not isinstance(private, ec.EllipticCurvePrivateKey) or not isinstance(private.curve, ec.SECP256R1):
        raise PushError(f"{path} is not a P-256 private key")
    return VapidKey(private, subject)


# -- subscriptions -------------------------------------------------------------------


class Keys(msgspec.Struct, forbid_unknown_fields=True):
    p256dh: str
    auth: str


class SubscriptionBody(msgspec.Struct, forbid_unknown_fields=True):
    """A browser's `PushSubscription.toJSON()`."""

    endpoint: str
    keys: Keys
    expirationTime: float | None = None  # noqa: N815 - the browser's name


class EndpointBody(msgspec.Struct, forbid_unknown_fields=True):
    endpoint: str


@dataclass(frozen=True, slots=True)
class Subscription:
    """A browser's subscription, and the token it belongs to: its name and
    creation time, so a new token given a revoked one's name gets nothing."""

    endpoint: str
    p256dh: str
    auth: str
    token: str
    token_created: float | None  # None: the owner
    created: float


def check_endpoint(url: str, config: Config) -> str:
    """The endpoint, if the server may send to it; PushError otherwise."""
    if len(url) > MAX_ENDPOINT or not url.isascii() or not url.isprintable() or " " in url:
        raise PushError("endpoint must be a URL of printable ASCII, at most 2048 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise PushError("endpoint is not a valid URL") from None
    host = (parts.hostname or "").lower()
    if parts.username is not None or parts.password is not None or parts.fragment or not host:
        raise PushError("endpoint must be a plain URL (no user name, password or fragment)")
    if parts.scheme == "https" and port in (None, 443) and _push_service(host, config.push_services):
        return url
    if parts.scheme == "http" and config.push_loopback_http and _loopback_ip(host):
        return url
    raise PushError("endpoint must be an https URL of a known push service (see --push-service)")


def _push_service(host: str, services: tuple[str, ...]) -> bool:
    return any(host == s or host.endswith("." + s) for s in services)


def _loopback_ip(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_subscription(body: bytes, config: Config) -> tuple[str, str, str]:
    """(endpoint, p256dh, auth) of a subscription body, every part checked."""
    try:
        sub = msgspec.json.decode(body, type=SubscriptionBody)
    except msgspec.ValidationError as err:
        raise BadRequest(f"not a push subscription: {err}"[:200]) from None
    except msgspec.DecodeError:
        raise BadRequest("malformed JSON") from None
    try:
        endpoint = check_endpoint(sub.endpoint, config)
        p256dh, auth = b64url_decode(sub.keys.p256dh), b64url_decode(sub.keys.auth)
    except PushError as err:
        raise BadRequest(str(err)) from None
    if len(auth) != 16:
        raise BadRequest("keys.auth must be 16 bytes, base64url")
    try:
        # 65 bytes, uncompressed, and a point of the curve.
        if len(p256dh) != 65:
            raise ValueError
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    except ValueError:
        raise BadRequest("keys.p256dh must be an uncompressed P-256 public key, base64url") from None
    return endpoint, b64url(p256dh), b64url(auth)


class SubscriptionStore:
    """The subscriptions, by endpoint, in a 0600 JSON file written
    atomically (as the token store is)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._subs: dict[str, Subscription] = {}
        self._loaded = False

    def load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        try:
            if self.path.stat().st_mode & 0o077:
                raise PushError(f"{self.path} is readable by group or others; run: chmod 600 {self.path}")
            raw = json.loads(self.path.read_text())
            self._subs = {s["endpoint"]: Subscription(**s) for s in raw.get("subscriptions", [])}
        except FileNotFoundError:
            self._subs = {}
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as err:
            raise PushError(f"cannot read {self.path}: {err}") from None

    def all(self) -> list[Subscription]:
        self.load()
        return list(self._subs.values())

    def add(self, sub: Subscription) -> None:
        """Add or replace (by endpoint: a browser moving to another token
        moves its subscription); TooManyRequests beyond the limits."""
        self.load()
        others = {k: v for k, v in self._subs.items() if k != sub.endpoint}
        if sum(1 for s in others.values() if s.token == sub.token) >= MAX_PER_TOKEN:
            raise TooManyRequests(f"at most {MAX_PER_TOKEN} push subscriptions per token")
        if len(others) >= MAX_SUBSCRIPTIONS:
            raise TooManyRequests("too many push subscriptions on this server")
        self._write({**others, sub.endpoint: sub})

    def remove(self, endpoint: str, token: str | None = None) -> bool:
        """Forget a subscription (only if it is `token`'s, when given)."""
        self.load()
        found = self._subs.get(endpoint)
        if found is None or (token is not None and found.token != token):
            return False
        self._write({k: v for k, v in self._subs.items() if k != endpoint})
        return True

    def prune(self, alive: Callable[[Subscription], bool]) -> int:
        """Forget the subscriptions whose token is gone; how many."""
        self.load()
        keep = {k: v for k, v in self._subs.items() if alive(v)}
        dropped = len(self._subs) - len(keep)
        if dropped:
            self._write(keep)
        return dropped

    def _write(self, subs: dict[str, Subscription]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"subscriptions": [asdict(s) for s in subs.values()]}, f, indent=1)
        os.replace(tmp, self.path)
        self._subs = subs


def token_alive(tokens: TokenStore, sub: Subscription, now: float | None = None) -> bool:
    """Whether the token that made `sub` still exists (the same one, not a
    new token of the same name) and has not expired."""
    if sub.token_created is None:
        return sub.token == OWNER.name
    now = time.time() if now is None else now
    return any(t.name == sub.token and t.created == sub.token_created and not t.expired(now) for t in tokens.tokens())


def token_created(tokens: TokenStore, who: Principal) -> float | None:
    if who is OWNER or who.name == OWNER.name:
        return None
    return next((t.created for t in tokens.tokens() if t.name == who.name), None)


# -- encryption and delivery ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PushMessage:
    """What one notification sends to every subscription."""

    payload: dict[str, Any]
    ttl: int = 3600
    urgency: Urgency = "normal"
    # Messages with the same topic replace each other while undelivered.
    topic: str | None = None


def encrypt(plain: bytes, p256dh: str, auth: str) -> bytes:
    """RFC 8291 aes128gcm: an ephemeral key agreed with the browser's key,
    mixed with its auth secret; our public key travels in the header."""
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    body: bytes = http_ece.encrypt(
        plain,
        salt=os.urandom(16),
        private_key=ephemeral,
        dh=b64url_decode(p256dh),
        auth_secret=b64url_decode(auth),
        version="aes128gcm",
    )
    return body


def topic_of(tag: str) -> str:
    """A Topic header (at most 32 base64url characters, RFC 8030 §5.4)."""
    return b64url(hashlib.sha256(tag.encode()).digest())[:32]


def audience(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


class WebPush:
    """The key, the subscriptions and the sender of one server."""

    def __init__(self, config: Config, tokens: TokenStore) -> None:
        self.config = config
        self.tokens = tokens
        self.store = SubscriptionStore(state_dir(config) / SUBSCRIPTIONS_FILE)
        self._key: VapidKey | None = None
        self._queue: deque[PushMessage] = deque(maxlen=config.push_queue)
        self._wake = asyncio.Event()
        self._pool = TaskPool(config.push_concurrency)
        # One delivery at a time per subscription, in queue order (asyncio's
        # locks are fair): a `clear` never overtakes its notification.
        self._order: dict[str, asyncio.Lock] = {}
        self.dropped = 0

    @property
    def key(self) -> VapidKey:
        """Created on first use, not at start: a server nobody subscribes
        to never writes a key."""
        if self._key is None:
            self._key = load_or_create_key(state_dir(self.config) / KEY_FILE, self.config.push_subject)
        return self._key

    def send(self, message: PushMessage) -> None:
        """Queue a message for every live subscription; never waits."""
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
            log.warning("push queue full: the oldest message is dropped (%d so far)", self.dropped)
        self._queue.append(message)
        self._wake.set()

    def prune(self) -> None:
        dropped = self.store.prune(lambda s: token_alive(self.tokens, s))
        if dropped:
            log.info("dropped %d push subscription(s) of revoked or expired tokens", dropped)

    async def watch(self, interval: float = 1.0) -> None:
        """Forget the subscriptions of revoked or expired tokens (the
        server re-reads the token store, services.watch_tokens). Sending
        checks each token anyway; this keeps the file true."""
        while True:
            try:
                self.prune()
            except PushError as err:
                log.error("%s", err)
            await asyncio.sleep(interval)

    async def run(self) -> None:
        """The sender task (owned by the lifespan): take messages in order,
        start their deliveries, at most `push_concurrency` at once."""
        async with httpx.AsyncClient(
            timeout=self.config.push_timeout, follow_redirects=False, trust_env=False
        ) as client:
            try:
                while True:
                    await self._wake.wait()
                    self._wake.clear()
                    while self._queue:
                        message = self._queue.popleft()
                        for sub in self._live():
                            await self._pool.spawn(self._deliver, client, sub, message)
            finally:
                await self._pool.close()

    def _live(self) -> list[Subscription]:
        try:
            subs = self.store.all()
        except PushError as err:
            log.error("%s", err)
            return []
        live = [s for s in subs if token_alive(self.tokens, s)]
        endpoints = {s.endpoint for s in live}
        for endpoint in [e for e, lock in self._order.items() if e not in endpoints and not lock.locked()]:
            del self._order[endpoint]
        return live

    async def _deliver(self, client: httpx.AsyncClient, sub: Subscription, message: PushMessage) -> None:
        host = urlsplit(sub.endpoint).hostname
        try:
            async with self._order.setdefault(sub.endpoint, asyncio.Lock()):
                async with asyncio.timeout(self.config.push_timeout):
                    status = await self._post(client, sub, message)
        except (httpx.HTTPError, TimeoutError, OSError) as err:
            log.warning("push to %s failed: %s", host, type(err).__name__)
            return
        except PushError as err:
            log.warning("push to %s not sent: %s", host, err)
            return
        except Exception:
            log.exception("push to %s failed", host)
            return
        if status in (404, 410):
            # RFC 8030 §7.3: the subscription has expired or was removed.
            self.store.remove(sub.endpoint)
            log.info("push subscription on %s is gone (%d): forgotten", host, status)
        elif status >= 300:
            log.warning("push service %s answered %d", host, status)

    async def _post(self, client: httpx.AsyncClient, sub: Subscription, message: PushMessage) -> int:
        plain = json.dumps(message.payload, ensure_ascii=False, separators=(",", ":")).encode()
        if len(plain) > MAX_PAYLOAD:
            raise PushError(f"push payload of {len(plain)} bytes is over {MAX_PAYLOAD}")
        headers = {
            "TTL": str(message.ttl),
            "Urgency": message.urgency,
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Authorization": self.key.authorization(audience(sub.endpoint), time.time()),
        }
        if message.topic is not None:
            headers["Topic"] = message.topic
        body = encrypt(plain, sub.p256dh, sub.auth)
        # Streamed so that a hostile or broken service's body is never read.
        async with client.stream("POST", sub.endpoint, content=body, headers=headers) as response:
            return response.status_code


# -- routes ----------------------------------------------------------------------------


def require_json(request: Request) -> None:
    # commands.require_json's rule; not imported, as commands.py imports services.py, which imports this module.
    if request.headers.get("content-type", "").split(";", 1)[0].strip().lower() != "application/json":
        raise UnsupportedMedia("the body must be application/json")


def _push(request: Request) -> WebPush:
    from tmuxweb.services import services

    return services(request).push


async def get_key(request: Request) -> Response:
    """The VAPID public key, for `pushManager.subscribe({applicationServerKey})`."""
    try:
        key = _push(request).key
    except PushError as err:
        log.error("%s", err)
        raise BadRequest("Web Push is not available: the server's key file is unusable") from None
    return JSONResponse({"key": key.public})


async def subscribe(request: Request) -> Response:
    from tmuxweb.services import principal, services

    require_json(request)
    push = _push(request)
    endpoint, p256dh, auth = check_subscription(await request.body(), push.config)
    who = principal(request)
    created = token_created(services(request).tokens, who)
    if who is not OWNER and created is None:
        raise BadRequest("this token is no longer valid")
    push.store.add(Subscription(endpoint, p256dh, auth, who.name, created, time.time()))
    services(request).audit.write("push-subscribed", token=who.name, service=urlsplit(endpoint).hostname)
    return JSONResponse({"subscribed": True}, status_code=201)


async def unsubscribe(request: Request) -> Response:
    from tmuxweb.services import principal, services

    require_json(request)
    try:
        body = msgspec.json.decode(await request.body(), type=EndpointBody)
    except msgspec.ValidationError as err:
        raise BadRequest(f"the body must be {{\"endpoint\": \"...\"}}: {err}"[:200]) from None
    except msgspec.DecodeError:
        raise BadRequest("malformed JSON") from None
    who = principal(request)
    # Only the token's own: a read token cannot silence the owner's phone.
    if not _push(request).store.remove(body.endpoint, who.name):
        raise NotFound("no such push subscription of this token")
    services(request).audit.write("push-unsubscribed", token=who.name)
    return JSONResponse({"subscribed": False})


def routes() -> list[BaseRoute]:
    return [
        Route("/api/push/key", get_key, methods=["GET"]),
        Route("/api/push/subscriptions", subscribe, methods=["POST"]),
        Route("/api/push/subscriptions", unsubscribe, methods=["DELETE"]),
    ]
