from __future__ import annotations

from helpers import RunningServer, Session, TmuxServer


def test_stream_starts_with_connection_info_then_state(tmuxweb_server: RunningServer, tmux_server: TmuxServer) -> None:
    with tmuxweb_server.stream() as stream:
        session = Session(tmuxweb_server, stream)
        assert session.info["session"]["name"] == "main"
        assert [p["id"] for p in session.state["panes"]] == tmux_server.pane_ids()
        tmux_server.wait_for_prompt()
        r = session.command(type="input", pane="%0", text="echo hi-$((6*7))\r")
        assert r.status_code == 200, r.text
        stream.until(lambda e: e.name == "output" and "hi-42" in e.data["data"])
        session.close()
