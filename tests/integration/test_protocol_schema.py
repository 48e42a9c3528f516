"""The typed protocol against the real server: every command type refuses
unknown fields with a 400 and runs nothing; the schema is served."""

from __future__ import annotations

from pathlib import Path

import httpx

from helpers import MINIMAL_COMMANDS, RunningServer, Session, TmuxServer
from tmuxweb import messages

ROOT = Path(__file__).resolve().parents[2]


def test_every_command_type_refuses_an_unknown_field(session: Session, tmux_server: TmuxServer) -> None:
    before = tmux_server.capture("%0")
    windows = tmux_server.run("list-windows", "-t", "main", "-F", "#{window_id} #{window_name}")
    for kind, fields in MINIMAL_COMMANDS.items():
        r = session.command(type=kind, **fields, bogus=1)
        assert r.status_code == 400, (kind, r.text)
        assert r.json() == {"error": f"unknown field 'bogus' for {kind}"}
    assert tmux_server.capture("%0") == before
    assert tmux_server.run("list-windows", "-t", "main", "-F", "#{window_id} #{window_name}") == windows


def test_schema_is_served_to_a_token_and_is_the_checked_in_file(tmuxweb_server: RunningServer) -> None:
    with tmuxweb_server.client() as client:
        r = client.get("/api/schema")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/schema+json"
    assert r.content == (ROOT / "PROTOCOL.schema.json").read_bytes() == messages.schema_json()
    anonymous = httpx.get(tmuxweb_server.base_url + "/api/schema", timeout=15)
    assert anonymous.status_code == 401 and "error" in anonymous.json()
