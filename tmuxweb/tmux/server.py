"""The tmux server as a whole: discovery, session creation, the hubs.

libtmux is synchronous and spawns a `tmux` process per call (3.5–5 ms), so it
runs in a worker thread and never in the streaming path. Anything that
changes tmux goes through a live control client when one exists (TMUX-NOTES:
mutating tmux subprocesses next to an attached control client can crash
3.3a); only when no control client is attached to this tmux server is a
session created by libtmux.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass
from typing import Any

import libtmux
from libtmux import exc as libtmux_exc

from tmuxweb.config import Config
from tmuxweb.tmux import cmdline
from tmuxweb.tmux.client import MARKER
from tmuxweb.tmux.errors import SessionExists, SessionNotFound, TmuxUnavailable
from tmuxweb.tmux.hub import Encoder, HubObserver, SessionHub
from tmuxweb.tmux.snapshot import unvis

log = logging.getLogger("tmuxweb.tmux")


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: str
    name: str
    windows: int
    attached: bool

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "windows": self.windows, "attached": self.attached}


class TmuxServer:
    """Discovery and session management for one tmux server (socket)."""

    def __init__(self, config: Config, encode: Encoder) -> None:
        self.config = config
        # How each hub encodes its events for the streams (sse.encode_event).
        self._encode = encode
        self._hubs: dict[str, SessionHub] = {}
        # Every hub ever started whose control client may still be running
        # (a detaching hub is no longer in _hubs); stopped at shutdown.
        self._started: set[SessionHub] = set()
        self._starting: dict[str, asyncio.Lock] = {}
        self._create_lock = asyncio.Lock()
        # The pane-state tracker (states.py), given every hub it starts.
        self.observer: HubObserver | None = None

    def _libtmux(self) -> libtmux.Server:
        return libtmux.Server(
            socket_name=self.config.socket_name,
            socket_path=self.config.socket_path,
            tmux_bin=self.config.tmux_bin,
        )

    # -- discovery (worker thread) -------------------------------------------

    async def list_sessions(self) -> list[SessionInfo]:
        return await asyncio.to_thread(self._list_sessions)

    def _list_sessions(self) -> list[SessionInfo]:
        try:
            sessions = self._libtmux().sessions
        except libtmux_exc.LibTmuxException as err:
            log.info("listing tmux sessions failed: %s", err)
            return []
        return [
            SessionInfo(
                id=str(s.session_id),
                name=unvis(str(s.session_name)),
                windows=int(s.session_windows or 0),
                attached=int(s.session_attached or 0) > 0,
            )
            for s in sessions
        ]

    async def find(self, name: str) -> SessionInfo:
        """The session with exactly this name (tmux's -t would prefix-match)."""
        for info in await self.list_sessions():
            if info.name == name:
                return info
        raise SessionNotFound(f"no tmux session named {name!r}"[:120])

    async def create(self, name: str) -> SessionInfo:
        name = cmdline.check_session_name(name)
        async with self._create_lock:
            if any(s.name == name for s in await self.list_sessions()):
                raise SessionExists("a session with that name exists")
            hub = next((h for h in self._hubs.values() if not h.closed), None)
            if hub is not None:
                (answer,) = await hub.run(cmdline.new_session(name))
                session_id = answer.text()[0].strip() if answer.text() else ""
            else:
                session_id = await asyncio.to_thread(self._create_detached, name)
        for info in await self.list_sessions():
            if info.id == session_id:
                return info
        raise TmuxUnavailable("tmux did not report the new session")

    def _create_detached(self, name: str) -> str:
        # A plain new-session: libtmux's new_session first asks has-session,
        # which takes a name like "$0" for a session id.
        try:
            result = self._libtmux().cmd(
                "new-session", "-d", "-s", cmdline.escape_format(name), "-P", "-F", "#{session_id}"
            )
        except libtmux_exc.LibTmuxException as err:
            raise TmuxUnavailable(f"tmux could not create the session: {err}") from None
        if result.stderr or not result.stdout:
            raise TmuxUnavailable(f"tmux could not create the session: {' '.join(result.stderr)}"[:200])
        return str(result.stdout[0]).strip()

    async def default_session(self, may_create: bool) -> tuple[SessionInfo, bool]:
        """The configured default session and whether this call created it.
        A missing one is created only when `may_create` (it starts the
        user's shell: policy.may_administer); otherwise NotFound."""
        name = self.config.default_session
        try:
            return await self.find(name), False
        except SessionNotFound:
            if not may_create:
                raise
        try:
            return await self.create(name), True
        except SessionExists:  # created concurrently by someone else
            return await self.find(name), False

    # -- hubs --------------------------------------------------------------------

    async def hub(self, info: SessionInfo) -> SessionHub:
        """The running hub for a session, started on first use."""
        lock = self._starting.setdefault(info.id, asyncio.Lock())
        async with lock:
            hub = self._hubs.get(info.id)
            if hub is not None and not hub.closed and not hub.closing:
                return hub
            hub = SessionHub(self.config, info.id, info.name, self._forget, self._encode)
            hub.observer = self.observer
            self._started = {h for h in self._started if not h.reaped}
            self._started.add(hub)
            try:
                await hub.start()
            except BaseException:
                # Failed or cancelled (the watcher left during the start):
                # detach now rather than at shutdown.
                await hub.close()
                raise
            self._hubs[info.id] = hub
            return hub

    def _forget(self, hub: SessionHub) -> None:
        if self._hubs.get(hub.session_id) is hub:
            del self._hubs[hub.session_id]

    def hubs(self) -> list[SessionHub]:
        return list(self._hubs.values())

    async def close(self) -> None:
        """Detach every control client; the sessions keep running."""
        hubs = list(self._started)
        self._started.clear()
        await asyncio.gather(*(hub.close() for hub in hubs), return_exceptions=True)

    # -- start-up hygiene --------------------------------------------------------

    async def reap_orphans(self) -> int:
        return await asyncio.to_thread(self._reap_orphans)

    def _reap_orphans(self) -> int:
        """End control clients that an earlier tmuxweb left behind.

        Ours carry MARKER=<tmuxweb pid> in their environment; one whose
        tmuxweb is gone would freeze its session's panes once tmux has output
        queued for it (TMUX-NOTES). Killing a control client never kills a
        session.
        """
        try:
            lines = self._libtmux().cmd("list-clients", "-F", "#{client_pid} #{client_control_mode}").stdout
        except libtmux_exc.LibTmuxException:
            return 0
        reaped = 0
        for line in lines:
            pid_text, _, control = line.partition(" ")
            if control != "1" or not pid_text.isdigit():
                continue
            owner = _marker_owner(int(pid_text))
            if owner is not None and not _alive(owner):
                try:
                    os.kill(int(pid_text), signal.SIGKILL)
                    reaped += 1
                except ProcessLookupError:
                    pass
        return reaped


def _marker_owner(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read().split(b"\0")
    except OSError:
        return None
    prefix = MARKER.encode() + b"="
    for item in env:
        if item.startswith(prefix) and item[len(prefix) :].isdigit():
            return int(item[len(prefix) :])
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
