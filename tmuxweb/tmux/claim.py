"""The size claim of one session: whose screen its windows fit, and the
tmux client that makes them fit it.

Watching never changes a window's size: the session's control client (hub.py)
never sends `refresh-client -C`, and a control client without a size does
not count in tmux's `window-size` rule (DATA-FLOW "Window sizes"). A viewer
that asks for a size (the `resize` command, "Fit to this screen") claims it:
a second control client, attached with `-f no-output` only while a claim is
held, takes that size and is made the windows' `latest` client, so under
tmux's default `window-size latest` the windows fit the claimant's screen. A
person's terminal is treated as tmux treats it: its keystrokes and resizes
make it the latest again, and the claimant's next claim or window switch
takes the size back.

Claims stack: a newer claim replaces the one in force, and when its viewer
leaves (its stream ends) or gives it back (`release-size`), the previous
claimant still connected gets its size back. When nobody is left, each
window is set back to the size it had before the first claim (a per-window
`refresh-client -C @W:WxH`, which only takes effect where our client is
still the latest) and the client detaches: a terminal still attached then
sizes the windows again, and with none, they keep those sizes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tmuxweb.config import Config
from tmuxweb.tmux.client import ControlClient
from tmuxweb.tmux.cmdline import quote, resize_client
from tmuxweb.tmux.errors import TmuxError, TmuxUnavailable

log = logging.getLogger("tmuxweb.claim")


@dataclass(slots=True)
class Claimant:
    connection: str  # the stream's connection id (connection-info)
    cols: int
    rows: int
    token: str = ""  # the name of its access token: only it may renew

    def to_json(self) -> dict[str, Any]:
        return {"connection": self.connection, "cols": self.cols, "rows": self.rows}


class SizeClaim:
    """The claims on one session's size, newest last, and the client that
    applies the newest. `on_change(claim)` is told the claim in force (None:
    nobody's) whenever it changes."""

    def __init__(self, config: Config, session_id: str, on_change: Callable[[dict[str, Any] | None], object]) -> None:
        self._config = config
        self._session = session_id
        self._on_change = on_change
        self._claims: list[Claimant] = []
        self._client: ControlClient | None = None
        # Each window's size when the first claim began: what leaving restores.
        self._before: dict[str, str] = {}
        # Claims, releases and window switches reach tmux in the order asked.
        self._lock = asyncio.Lock()
        self._told: dict[str, Any] | None = None  # what on_change heard last
        self._closed = False

    @property
    def holder(self) -> str | None:
        """The connection whose claim is in force."""
        return self._claims[-1].connection if self._claims else None

    def holds(self, connection: str) -> bool:
        """Whether `connection` has a claim, in force or waiting under another."""
        return any(c.connection == connection for c in self._claims)

    def to_json(self) -> dict[str, Any] | None:
        return self._claims[-1].to_json() if self._claims else None

    async def claim(self, connection: str, cols: int, rows: int, token: str = "", renew: str | None = None) -> None:
        """Fit the session's windows to `cols` x `rows` for `connection`
        (a stream of the access token named `token`).

        `renew`: the same page's earlier connection, whose stream has ended
        (the caller checks) within the grace period; its claim passes to
        `connection` if it is still the one in force and was made with the
        same token, and nothing happens otherwise (the page came back too
        late: the size went back to whoever had it)."""
        async with self._lock:
            if self._closed:
                raise TmuxUnavailable("this session's control client is detaching")
            renewed = None
            if renew is not None:
                if not self._claims or self._claims[-1].connection != renew or self._claims[-1].token != token:
                    return
                renewed = self._claims.pop()
            self._claims = [c for c in self._claims if c.connection != connection]
            self._claims.append(Claimant(connection, cols, rows, token))
            try:
                await self._apply()
            except BaseException:
                self._claims = [c for c in self._claims if c.connection != connection]
                if renewed is not None:
                    self._claims.append(renewed)  # its grace runs on
                raise
            finally:
                self._changed()

    async def release(self, connection: str) -> None:
        """`connection` gives its claim back (or has left)."""
        async with self._lock:
            in_force = self.holder == connection
            self._claims = [c for c in self._claims if c.connection != connection]
            if not in_force:
                return
            try:
                if self._claims:
                    await self._apply()
                else:
                    await self._give_back()
            except TmuxError as err:  # (run as a task: nobody to tell)
                log.info("session %s: the claim could not pass on: %s", self._session, err.message)
            finally:
                self._changed()

    async def follow(self) -> None:
        """The holder switched windows: the window now shown fits its claim."""
        async with self._lock:
            if self._client is not None and self._claims:
                try:
                    await self._client.run(["select-window"])
                except TmuxError as err:  # (run as a task: nobody to tell)
                    log.info("session %s: the claim could not follow: %s", self._session, err.message)

    async def close(self) -> None:
        """Every claim ends (the hub is detaching, tmuxweb is stopping)."""
        async with self._lock:
            self._closed = True
            had = bool(self._claims)
            self._claims = []
            await self._give_back()
            if had:
                self._changed()

    # -- the client that holds the size -------------------------------------

    async def _apply(self) -> None:
        top = self._claims[-1]
        client = self._client or await self._attach()
        # `select-window` with no target: the session's current window,
        # whichever it is when tmux runs it (never a switch). It makes our
        # client that window's latest, so the size takes effect.
        await client.run([*resize_client(top.cols, top.rows), "select-window"])

    async def _attach(self) -> ControlClient:
        def lost(reason: str) -> None:
            # The session or tmux went away under us (the hub ends its
            # watchers); or our own detach.
            if self._client is client:
                self._client = None

        client = ControlClient(
            [self._config.tmux_bin, "-u", *self._config.tmux_socket_args()],
            self._session,
            on_events=lambda events: None,
            on_exit=lost,
            position=lambda: 0,
            reply_deadline=self._config.reply_deadline,
        )
        await client.start()
        try:
            # It only holds a size: tmux need not encode the panes' output
            # for it (TMUX-NOTES: each control client costs that).
            _, windows = await client.run(
                ["refresh-client -f no-output", f"list-windows -t {quote(self._session)} -F '#{{window_id}} #{{window_width}}x#{{window_height}}'"]
            )
        except BaseException:
            await client.close()
            raise
        self._before = dict(line.split(" ", 1) for line in windows.text() if " " in line)
        self._client = client
        return client

    async def _give_back(self) -> None:
        client, self._client = self._client, None
        before, self._before = self._before, {}
        if client is None:
            return
        try:
            # A window closed since then answers %error: nothing to restore.
            await asyncio.gather(*client.send([f"refresh-client -C {quote(w + ':' + size)}" for w, size in before.items()]))
        except TmuxError as err:  # the client or the session went away
            log.info("session %s: sizes not restored: %s", self._session, err.message)
        finally:
            await client.close()

    def _changed(self) -> None:
        now = self.to_json()
        if now != self._told:
            self._told = now
            self._on_change(now)
