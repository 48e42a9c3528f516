"""The long-lived objects one server owns, created with the app and started
and stopped by its lifespan."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from starlette.requests import Request

from tmuxweb.audit import AuditLog
from tmuxweb.auth import Tickets
from tmuxweb.config import Config
from tmuxweb.errors import NotFound
from tmuxweb.mux import Muxes
from tmuxweb.notify import Notifier, to_every_stream
from tmuxweb.ratelimit import FailureLimiter
from tmuxweb.rules import load_rules
from tmuxweb.sse import encode_event
from tmuxweb.states import StateTracker
from tmuxweb.tmux.server import TmuxServer
from tmuxweb.tokens import OWNER, Principal, TokenError, TokenStore, default_store_path
from tmuxweb.watchers import Connections
from tmuxweb.webpush import WebPush

log = logging.getLogger("tmuxweb")


@dataclass(eq=False)
class Services:
    config: Config
    tmux: TmuxServer
    tickets: Tickets
    connections: Connections
    tokens: TokenStore
    limiter: FailureLimiter
    audit: AuditLog
    push: WebPush
    notifier: Notifier
    # Every pane's state (None with --no-states).
    states: StateTracker | None
    muxes: Muxes

    @classmethod
    def create(cls, config: Config) -> Services:
        tokens = TokenStore(config.tokens_file or default_store_path())
        tokens.load()
        tmux = TmuxServer(config, encode_event)
        push = WebPush(config, tokens)
        return cls(
            config=config,
            tmux=tmux,
            tickets=Tickets(config.ticket_ttl),
            connections=Connections(config.max_streams, config.max_streams_per_token),
            tokens=tokens,
            limiter=FailureLimiter(
                config.auth_burst, config.auth_rate, config.auth_global_burst, config.auth_global_rate
            ),
            audit=AuditLog(config.audit_log, config.audit_input),
            push=push,
            notifier=Notifier(config, to_every_stream(tmux), push),
            states=StateTracker(config, tmux, load_rules(config.rules_files)) if config.states else None,
            muxes=Muxes(),
        )

    def tracker(self) -> StateTracker:
        """The pane-state tracker, or NotFound when states are off."""
        if self.states is None:
            raise NotFound("pane states are off on this server (--no-states)")
        return self.states

    def reload_tokens(self) -> bool:
        """Pick up `tmuxweb token` changes now (a stat when unchanged);
        False when the tokens file is unusable (then no scoped token works)."""
        try:
            self.tokens.load()
        except TokenError as err:
            log.error("%s", err)
            return False
        return True

    async def watch_tokens(self, interval: float = 0.25) -> None:
        """Re-read the tokens file; end streams of revoked or expired tokens
        (within `interval`), and with them their session tokens."""
        while True:
            self.reload_tokens()
            for conn in self.connections.open_for(
                lambda c: c.principal is not OWNER and not self.tokens.valid(c.principal.name)
            ):
                self.tickets.revoke(conn.principal.name)
                await self.connections.end(conn, f"access token {conn.principal.name!r} was revoked or expired")
            # A shared stream of such a token ends after its watchers' farewells.
            for mux in self.muxes.open_for(lambda m: m.principal is not OWNER and not self.tokens.valid(m.principal.name)):
                mux.finish()
            await asyncio.sleep(interval)


def principal(request: Request) -> Principal:
    found = getattr(request.state, "principal", None)
    assert isinstance(found, Principal)
    return found


def services(request: Request) -> Services:
    svc = request.state.services
    assert isinstance(svc, Services)
    return svc
