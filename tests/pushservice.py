"""A push service on loopback, for the Web Push tests: the browsers' own
(FCM, Mozilla's, Apple's) cannot be reached from the test machines, so this
is a real HTTP server of the same protocol, and the test plays the browser.

What it checks, independently of the libraries the server sends with (its
decryption and JWT verification use `cryptography` directly, so a mistake
shared by sender and receiver cannot pass unnoticed):

* RFC 8030: POST to the subscription's resource, `TTL` required (a
  non-negative integer, echoed back as the TTL kept), `Urgency` one of the
  four values, `Topic` at most 32 base64url characters; 201 Created with a
  `Location` for the message; 410 Gone for a subscription the browser has
  dropped; 413 for a body over 4096 bytes.
* RFC 8292: `Authorization: vapid t=<JWT>,k=<key>`; the JWT is ES256,
  signed by that key, its `aud` is this service's origin, its `exp` in the
  future and at most 24 hours away, its `sub` a mailto: or https: URI;
  otherwise 401. The key must be the one the browser subscribed with
  (`applicationServerKey`): otherwise 403.
* RFC 8291: `Content-Encoding: aes128gcm`, one record, decrypted with the
  browser's private key and auth secret; a body that does not decrypt is 400.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


@dataclass
class Browser:
    """What a browser keeps for one push subscription: a P-256 key pair and
    a 16-byte auth secret (the Push API makes both; RFC 8291 §2)."""

    private: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> bytes:
        return _point(self.private.public_key())

    def subscription(self, endpoint: str) -> dict[str, Any]:
        """`PushSubscription.toJSON()`."""
        return {"endpoint": endpoint, "expirationTime": None, "keys": {"p256dh": b64url(self.p256dh), "auth": b64url(self.auth)}}

    def decrypt(self, body: bytes) -> bytes:
        """RFC 8291 §3.4 and RFC 8188, one record."""
        salt, rs, idlen = body[:16], int.from_bytes(body[16:20], "big"), body[20]
        sender = body[21 : 21 + idlen]
        record = body[21 + idlen :]
        if idlen != 65 or rs < 18 or len(record) > rs:
            raise ValueError("bad aes128gcm header")
        server_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender)
        shared = self.private.exchange(ec.ECDH(), server_key)
        ikm = _hkdf(self.auth, shared, b"WebPush: info\x00" + self.p256dh + sender, 32)
        cek = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
        nonce = _hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
        padded = AESGCM(cek).decrypt(nonce, record, None).rstrip(b"\x00")
        if not padded.endswith(b"\x02"):
            raise ValueError("not the last record")
        return padded[:-1]


@dataclass
class Message:
    subscription: str
    payload: dict[str, Any]
    ttl: int
    urgency: str
    topic: str | None
    claims: dict[str, Any]


class PushService:
    """The receiver: `subscribe(browser, server_key)` gives an endpoint;
    messages that pass every check are decrypted into `messages`."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refused: list[tuple[int, str]] = []
        self.requests = 0
        self._subs: dict[str, tuple[Browser, str]] = {}
        self.gone: set[str] = set()
        # "ok", "slow" (hold every request until released) or "fail" (500).
        self.mode = "ok"
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> PushService:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def subscribe(self, browser: Browser, server_key: str) -> str:
        """A new subscription of `browser` for the application server whose
        VAPID public key is `server_key`; its endpoint URL."""
        sid = secrets.token_urlsafe(16)
        self._subs[sid] = (browser, server_key)
        return f"{self.origin}/push/{sid}"

    def forget(self, endpoint: str) -> None:
        """The browser dropped the subscription: 410 from now on."""
        self.gone.add(endpoint.rsplit("/", 1)[1])

    # -- the protocol --------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                service.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if service.mode == "slow":
                    service.release.wait(60)
                status, headers, reason = service.receive(self.path, dict(self.headers.items()), body)
                if status >= 400:
                    with service._lock:
                        service.refused.append((status, reason))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                data = json.dumps({"reason": reason}).encode() if reason else b""
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def receive(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], str]:
        headers = {k.lower(): v for k, v in headers.items()}
        if self.mode == "fail":
            return 500, {}, "failing on purpose"
        if not path.startswith("/push/"):
            return 404, {}, "no such resource"
        sid = path.removeprefix("/push/")
        if sid in self.gone:
            return 410, {}, "subscription gone"
        if sid not in self._subs:
            return 404, {}, "no such subscription"
        browser, server_key = self._subs[sid]
        ttl = headers.get("ttl", "")
        if not ttl.isdigit():
            return 400, {}, "TTL header missing or not a number"
        urgency = headers.get("urgency", "normal")
        if urgency not in ("very-low", "low", "normal", "high"):
            return 400, {}, f"bad Urgency {urgency!r}"
        topic = headers.get("topic")
        if topic is not None and (len(topic) > 32 or not all(c.isalnum() or c in "-_" for c in topic)):
            return 400, {}, "bad Topic"
        try:
            claims, key = self.check_vapid(headers.get("authorization", ""))
        except ValueError as err:
            return 401, {}, str(err)
        if key != server_key:
            return 403, {}, "not the key this subscription was made for"
        if headers.get("content-encoding") != "aes128gcm":
            return 415, {}, "Content-Encoding must be aes128gcm"
        if len(body) > 4096:
            return 413, {}, "payload too large"
        try:
            payload = json.loads(browser.decrypt(body))
        except (ValueError, InvalidTag, IndexError) as err:
            return 400, {}, f"does not decrypt: {type(err).__name__}"
        with self._lock:
            self.messages.append(Message(sid, payload, int(ttl), urgency, topic, claims))
        return 201, {"Location": f"/message/{secrets.token_urlsafe(8)}", "TTL": ttl}, ""

    def check_vapid(self, authorization: str) -> tuple[dict[str, Any], str]:
        """RFC 8292 §3: the JWT's signature by `k`, then its claims."""
        scheme, _, rest = authorization.partition(" ")
        if scheme.lower() != "vapid":
            raise ValueError("Authorization must use the vapid scheme")
        params = dict(p.strip().split("=", 1) for p in rest.split(",") if "=" in p)
        token, key = params.get("t", ""), params.get("k", "")
        try:
            head_b64, claims_b64, sig_b64 = token.split(".")
            head = json.loads(unb64url(head_b64))
            claims = json.loads(unb64url(claims_b64))
            sig = unb64url(sig_b64)
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
        except (ValueError, TypeError) as err:
            raise ValueError(f"malformed VAPID token: {err}") from None
        if head.get("alg") != "ES256" or len(sig) != 64:
            raise ValueError("the JWT must be ES256")
        signature = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        try:
            public.verify(signature, f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise ValueError("bad JWT signature") from None
        now = time.time()
        if claims.get("aud") != self.origin:
            raise ValueError(f"aud {claims.get('aud')!r} is not {self.origin}")
        exp = claims.get("exp")
        if not isinstance(exp, int) or not now < exp <= now + 86400:
            raise ValueError("exp must be in the next 24 hours")
        sub = claims.get("sub", "")
        if not isinstance(sub, str) or not sub.startswith(("mailto:", "https:")):
            raise ValueError("sub must be a mailto: or https: URI")
        return claims, key
