"""Secrets: the access token, single-use stream tickets, and the minting and
hashing of session tokens (whose registry is watchers.py).

Every secret we mint has 256 bits of randomness. Only hashes of tickets and
session tokens are kept, so a memory dump of the maps reveals nothing usable,
and lookups by hash cannot leak a secret's prefix through timing.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import time

from tmuxweb.config import Secret
from tmuxweb.tokens import Principal

# Bearer tokens are base64url; anything else is refused before comparing.
MAX_SECRET_LENGTH = 256


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(value: str) -> bytes:
    """The SHA-256 of a secret: what the maps keep instead of the secret."""
    return hashlib.sha256(value.encode("utf-8", "replace")).digest()


def token_matches(presented: str, token: Secret) -> bool:
    """Constant-time comparison of a presented access token."""
    if not presented or len(presented) > MAX_SECRET_LENGTH:
        return False
    return hmac.compare_digest(digest(presented), _secret_digest(token))


@functools.lru_cache(maxsize=4)
def _secret_digest(token: Secret) -> bytes:
    # Hashed once per token, not on every request.
    return digest(token.reveal())


class Tickets:
    """Single-use, short-lived tickets that let EventSource open a stream.

    A browser cannot put a header on an EventSource request, and the access
    token must never appear in a URL; a ticket may, because it dies on first
    use and within `ttl` seconds anyway.
    """

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._issued: dict[bytes, tuple[float, Principal]] = {}

    def issue(self, principal: Principal) -> str:
        """A ticket that stands for `principal` once, for `ttl` seconds."""
        self._prune()
        ticket = new_secret()
        self._issued[digest(ticket)] = (time.monotonic() + self._ttl, principal)
        return ticket

    def redeem(self, ticket: str) -> Principal | None:
        if not ticket or len(ticket) > MAX_SECRET_LENGTH:
            return None
        expiry, principal = self._issued.pop(digest(ticket), (0.0, None))
        return principal if expiry >= time.monotonic() else None

    def revoke(self, name: str) -> None:
        for key in [k for k, (_, p) in self._issued.items() if p.name == name]:
            del self._issued[key]

    def _prune(self) -> None:
        now = time.monotonic()
        for key in [k for k, (t, _) in self._issued.items() if t < now]:
            del self._issued[key]
