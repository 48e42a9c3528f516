"""Scoped access tokens: who may watch, type, or administer.

The owner token (printed link, --token-file) has every right. Further tokens
are made with `tmuxweb token create --scope read|write --name NAME`; only
their SHA-256 hashes are stored, in a 0600 JSON file that the running server
re-reads when it changes, so `token revoke` takes effect within a second.
Tokens carry 256 bits of randomness, so a fast hash is enough: there is
nothing to guess that a slow hash would protect.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

Scope = Literal["read", "write", "owner"]
SCOPES: tuple[Scope, ...] = ("read", "write", "owner")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_DURATION = re.compile(r"([0-9]{1,6})([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class TokenError(ValueError):
    """Raised for a bad token name, scope, duration or store file."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Whoever presented a valid token."""

    name: str
    scope: Scope
    expires: float | None = None

    def can_write(self) -> bool:
        return self.scope in ("write", "owner")

    def is_owner(self) -> bool:
        return self.scope == "owner"


OWNER = Principal("owner", "owner")


@dataclass(frozen=True, slots=True)
class StoredToken:
    name: str
    scope: Scope
    hash: str
    created: float
    expires: float | None

    def principal(self) -> Principal:
        return Principal(self.name, self.scope, self.expires)

    def expired(self, now: float) -> bool:
        return self.expires is not None and now >= self.expires


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name) or name == "owner":
        raise TokenError("token names are 1-64 letters, digits, '_', '.', '-' (and not 'owner')")
    return name


def parse_duration(text: str) -> float:
    """`90s`, `30m`, `12h`, `7d`, `2w` → seconds."""
    m = _DURATION.fullmatch(text)
    if m is None or int(m.group(1)) == 0:
        raise TokenError(f"not a duration like 30m, 12h or 7d: {text!r}")
    return int(m.group(1)) * _UNITS[m.group(2)]


def default_store_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "tmuxweb" / "tokens.json"


class TokenStore:
    """The tokens file: read by the server, written by `tmuxweb token`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tokens: dict[str, StoredToken] = {}
        self._stamp: tuple[int, int] | None = None

    # -- reading -------------------------------------------------------------

    def load(self) -> bool:
        """Re-read the file if it changed; True when the set of tokens changed."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            changed = bool(self._tokens)
            self._tokens, self._stamp = {}, None
            return changed
        stamp = (info.st_mtime_ns, info.st_size)
        if stamp == self._stamp:
            return False
        if info.st_mode & 0o077:
            raise TokenError(f"{self.path} is readable by group or others; run: chmod 600 {self.path}")
        try:
            raw = json.loads(self.path.read_text())
            tokens = {t["name"]: StoredToken(**t) for t in raw.get("tokens", [])}
        except (OSError, ValueError, TypeError, KeyError) as err:
            raise TokenError(f"cannot read {self.path}: {err}") from None
        changed = tokens != self._tokens
        self._tokens, self._stamp = tokens, stamp
        return changed

    def find(self, presented: str, now: float | None = None) -> Principal | None:
        """The principal of a presented token, compared in constant time."""
        wanted = digest(presented)
        now = time.time() if now is None else now
        found = None
        for token in self._tokens.values():
            # Compare against every entry so timing does not depend on position.
            if hmac.compare_digest(token.hash, wanted) and not token.expired(now):
                found = token.principal()
        return found

    def names(self) -> set[str]:
        return set(self._tokens)

    def valid(self, name: str, now: float | None = None) -> bool:
        token = self._tokens.get(name)
        return token is not None and not token.expired(time.time() if now is None else now)

    def tokens(self) -> list[StoredToken]:
        return sorted(self._tokens.values(), key=lambda t: t.created)

    # -- writing (the `tmuxweb token` command) -----------------------------

    def create(self, name: str, scope: str, ttl: float | None, secret: str) -> StoredToken:
        self.load()
        check_name(name)
        if scope not in ("read", "write"):
            raise TokenError("scope must be read or write")
        if name in self._tokens:
            raise TokenError(f"a token named {name!r} exists; revoke it first")
        now = time.time()
        token = StoredToken(name, scope, digest(secret), now, now + ttl if ttl else None)  # type: ignore[arg-type]
        self._write({**self._tokens, name: token})
        return token

    def revoke(self, name: str) -> None:
        self.load()
        if name not in self._tokens:
            raise TokenError(f"no token named {name!r}")
        self._write({k: v for k, v in self._tokens.items() if k != name})

    def _write(self, tokens: dict[str, StoredToken]) -> None:
        """Atomic replace, 0600 from the start (never briefly readable)."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"tokens": [asdict(t) for t in tokens.values()]}, f, indent=1)
        os.replace(tmp, self.path)
        self._tokens = tokens
        self._stamp = None
