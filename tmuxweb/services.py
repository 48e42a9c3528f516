"""The long-lived objects one server owns, created with the app and started
and stopped by its lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from tmuxweb.auth import Connections, Tickets
from tmuxweb.config import Config
from tmuxweb.tmux.server import TmuxServer


@dataclass(eq=False)
class Services:
    config: Config
    tmux: TmuxServer
    tickets: Tickets
    connections: Connections = field(default_factory=Connections)

    @classmethod
    def create(cls, config: Config) -> Services:
        return cls(config=config, tmux=TmuxServer(config), tickets=Tickets(config.ticket_ttl))


def services(request: Request) -> Services:
    svc = request.state.services
    assert isinstance(svc, Services)
    return svc
