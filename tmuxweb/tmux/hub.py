"""One hub per watched tmux session: its control client, state and fan-out.

Every event the hub produces gets the next sequence number in stream order
and is encoded once, by the encoder the stream side gives it (sse.py: the
hub does not know the wire format); subscribers share those bytes. Each
subscriber has a queue bounded in bytes: a subscriber that falls behind by
more than that loses its queue and is resynchronised from a fresh snapshot
(its own problem; nobody else waits for it).

Snapshot then stream, nothing lost, nothing doubled: a `capture-pane` reply
reflects exactly the `%output` parsed before it (TMUX-NOTES). The client
resolves replies between event batches together with the hub's sequence
number at that instant, so every capture has an exact position, and a new
watcher drops the queued output of a pane that is older than that pane's
capture.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tmuxweb.config import Config
from tmuxweb.tmux.claim import SizeClaim
from tmuxweb.tmux.client import Answer, ControlClient
from tmuxweb.tmux.cmdline import quote
from tmuxweb.tmux.errors import TmuxStalled, TmuxUnavailable
from tmuxweb.tmux.protocol import Event, Notification, Output, PaneDecoders
from tmuxweb.tmux.snapshot import (
    PaneInfo,
    Structure,
    buffer_text,
    capture_lines,
    list_panes,
    list_windows,
    parse_panes,
    screen_lines,
    split_capture,
)

log = logging.getLogger("tmuxweb.hub")

# Called with a pane's fresh details (None if it is gone), its content and
# the stream position the content is exact at.
Capture = Callable[["PaneInfo | None", str, int], None]

# Notifications after which windows and panes are re-queried. Window
# notifications do not describe changes reliably on 3.3a (TMUX-NOTES), so
# the hub never trusts them beyond "something changed".
_STRUCTURE_NOTIFICATIONS = frozenset(
    {
        "layout-change",
        "window-add",
        "window-close",
        "window-renamed",
        "unlinked-window-add",
        "unlinked-window-close",
        "unlinked-window-renamed",
        "session-window-changed",
        "window-pane-changed",
        "pane-mode-changed",
        "subscription-changed",
    }
)
# A pane's title and running command have no notification on 3.3a; a
# format subscription (sent at most once a second by tmux) stands in.
_SUBSCRIPTIONS = [
    # pane_dead and its status too: a pane whose program exits under
    # remain-on-exit has no notification of its own (states.py needs it).
    "refresh-client -B "
    + quote("tmuxweb-panes:%*:#{pane_title}#{pane_current_command}#{pane_current_path}#{pane_dead}#{pane_dead_status}"),
    "refresh-client -B " + quote("tmuxweb-windows:@*:#{window_activity_flag}#{window_bell_flag}"),
]


@dataclass(slots=True)
class HubEvent:
    """One event, encoded once for every subscriber."""

    seq: int
    name: str
    pane: str | None
    data: bytes  # the payload as JSON
    wire: bytes  # the whole event as the streams write it


class Encoder(Protocol):
    """Turns an event into (its payload as JSON, the bytes a stream writes);
    the stream side's `sse.encode_event`. Called once per event."""

    def __call__(self, name: str, payload: Any, event_id: str | None) -> tuple[bytes, bytes]: ...


class HubObserver(Protocol):
    """The pane-state tracker (states.py), told of every hub's panes.
    Called synchronously in the reader; each call must be cheap."""

    def output(self, hub: SessionHub, pane: str, text: str) -> None:
        """`pane` printed `text` (after every watcher has it queued)."""

    def structure(self, hub: SessionHub) -> None:
        """`hub.structure` (or its name) is new: at start and after a refresh."""

    def closed(self, hub: SessionHub) -> None:
        """The hub's control client is gone for good."""

    def sessions_changed(self) -> None:
        """tmux said %sessions-changed: a session was created or destroyed."""


class OutputWatch(Protocol):
    """Someone waiting for panes' output (echo.py: the replies of typing
    commands). Installed as `SessionHub.output_watch` only while it waits,
    so output costs nothing more when nobody does."""

    def echoed(self, pane: str) -> None:
        """`pane`'s output has just been queued for every watcher."""

    def release(self) -> None:
        """The control client is gone or replaced: stop waiting."""


# Above every real sequence number: an event the server sends one watcher
# when it ends its stream is never filtered as "older than the snapshot".
LAST = 2**62


class HubClosing(TmuxUnavailable):
    """Raised when subscribing to a hub that is detaching; get a new one."""


class Subscription:
    """A watcher's queue: bounded in bytes, overflow means resync."""

    def __init__(self, limit: int) -> None:
        self._items: deque[HubEvent] = deque()
        self._bytes = 0
        self._limit = limit
        self._wake = asyncio.Event()
        self.overflowed = False
        self.closed = False

    def push(self, event: HubEvent) -> None:
        if self.overflowed or self.closed:
            return
        self._items.append(event)
        self._bytes += len(event.wire)
        if self._bytes > self._limit:
            # Drop the backlog rather than grow: the stream will send a
            # fresh snapshot, which is smaller than what it missed.
            self._items.clear()
            self._bytes = 0
            self.overflowed = True
        self._wake.set()

    def close(self, final: HubEvent | None) -> None:
        if final is not None and not self.closed:
            self._items.append(final)
        self.closed = True
        self._wake.set()

    async def wait(self) -> None:
        await self._wake.wait()

    def drain(self) -> list[HubEvent]:
        items = list(self._items)
        self._items.clear()
        self._bytes = 0
        self._wake.clear()
        if self.closed or self.overflowed:
            self._wake.set()
        return items

    def resync(self) -> None:
        """Make the stream start again from a fresh snapshot, as after an
        overflow (the hub replaced its control client)."""
        self._items.clear()
        self._bytes = 0
        self.overflowed = True
        self._wake.set()

    def restart(self) -> None:
        """Begin again after an overflow; the caller takes a new snapshot."""
        self._items.clear()
        self._bytes = 0
        self.overflowed = False


@dataclass(slots=True)
class Snapshot:
    """A watcher's starting point and where in the stream it was taken."""

    state: dict[str, Any]
    position: int  # the stream position of the window/pane lists
    anchors: dict[str, int]  # pane → position of its capture
    last: int = 0  # the largest position above: the state event's id

    def wants(self, event: HubEvent) -> bool:
        """Whether a queued event is newer than what the snapshot shows."""
        if event.name == "output" and event.pane is not None:
            return event.seq > self.anchors.get(event.pane, self.position)
        return event.seq > self.position


@dataclass(slots=True)
class _Refresh:
    pending: bool = False
    dirty: bool = False
    mode_serial: int = 0  # the mode marks the pending refresh will settle


class SessionHub:
    """The control client of one tmux session and everybody watching it."""

    def __init__(
        self,
        config: Config,
        session_id: str,
        name: str,
        on_closed: Callable[[SessionHub], None],
        encode: Encoder,
    ) -> None:
        self.config = config
        self._encode = encode
        self.session_id = session_id
        self.name = name
        # Event ids are "<epoch>-<seq>"; the epoch tells a resuming client's
        # Last-Event-ID from another hub's (or a forged one).
        self.epoch = secrets.token_hex(4)
        self.seq = 0
        self.structure = Structure({}, {})
        self.exit_reason: str | None = None
        self.closing = False
        self._on_closed = on_closed
        self._subs: set[Subscription] = set()
        self._decoders = PaneDecoders()
        # The most recent events, bounded in bytes, oldest first.
        self._recent: deque[HubEvent] = deque()
        self._recent_bytes = 0
        self._refresh = _Refresh()
        self._linger: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._snapshots: set[asyncio.Future[tuple[PaneInfo | None, str, int]]] = set()
        self._paste_serial = 0
        self._capture_serial = 0
        # Told of every pane output while set (echo.py sets it while typing
        # commands wait for their echo).
        self.output_watch: OutputWatch | None = None
        # Set by TmuxServer before start when the pane-state tracker runs.
        self.observer: HubObserver | None = None
        # Held by the tracker (hold()): the hub does not detach when its
        # last watcher leaves, so every session keeps its states; once
        # `linger` has passed without one, its output is no longer kept
        # for resuming (`unwatched`).
        self.held = False
        self.unwatched = False
        self.prefix: list[str] = []
        # Panes that may have changed mode since the last structure (mode
        # mark → its serial): keys typed into them are resolved first
        # (modekeys.py). Marked synchronously, when our command that enters
        # a mode is written and when %pane-mode-changed is parsed, so no
        # keystroke written after either can miss it.
        self.mode_serial = 0
        self._mode_marks: dict[str, int] = {}
        # Set while a stuck control client is being replaced (_restart).
        self._restarting: asyncio.Future[None] | None = None
        self._client = self._new_client()
        # Whose screen the windows fit, if anyone's (claim.py).
        self.claim = SizeClaim(config, session_id, lambda claim: self._emit("size-claim", {"claim": claim}))

    def _new_client(self) -> ControlClient:
        return ControlClient(
            [self.config.tmux_bin, "-u", *self.config.tmux_socket_args()],
            self.session_id,
            on_events=self._on_events,
            on_exit=self._on_exit,
            position=lambda: self.seq,
            reply_deadline=self.config.reply_deadline,
        )

    # -- life cycle ----------------------------------------------------------

    async def start(self) -> None:
        await self._client.start()
        await self._client.run(
            [f"refresh-client -f pause-after={self.config.pause_after}", *_SUBSCRIPTIONS]
        )
        prefix, prefix2 = await self._client.run(
            ["show-options -gv prefix", "show-options -gv prefix2"]
        )
        self.prefix = [k for a in (prefix, prefix2) for k in a.text()[:1] if k and k != "None"]
        windows, panes = await self._client.run(
            [list_windows(self.session_id), list_panes(self.session_id)]
        )
        self.structure = Structure.parse(windows.text(), panes.text())
        if self.observer is not None:
            self.observer.structure(self)

    @property
    def closed(self) -> bool:
        return self.exit_reason is not None

    @property
    def reaped(self) -> bool:
        return self.closed and self._client.reaped

    async def close(self) -> None:
        """Detach our control client; the tmux session keeps running."""
        if self._restarting is not None:
            await asyncio.shield(self._restarting)
        await self.claim.close()
        await self._client.close()

    def _restart(self, reason: str) -> None:
        """The control client missed the reply deadline and was killed (its
        waiting commands failed with TmuxStalled): carry on with a fresh one.

        The same hub, so watchers stay subscribed; a new epoch, because the
        event ids of the old stream cannot be resumed across the gap. Every
        watcher then starts again from a fresh `state`.
        """
        log.warning("session %s: %s; attaching a fresh control client", self.session_id, reason)
        for fut in list(self._snapshots):
            if not fut.done():
                fut.set_exception(TmuxStalled(reason))
                fut.exception()  # snapshot() retries on the fresh client
        self._release_output_watch()
        self._refresh = _Refresh()
        self._restarting = asyncio.get_running_loop().create_future()
        self._spawn(self._reattach(self._client, reason))

    async def _reattach(self, stuck: ControlClient, reason: str) -> None:
        assert self._restarting is not None
        self.epoch = secrets.token_hex(4)
        self._recent.clear()
        self._recent_bytes = 0
        self._decoders = PaneDecoders()
        fresh = self._client = self._new_client()
        try:
            await stuck.close(timeout=0)  # killed already: reap it
            await self.start()
        except Exception as err:  # the session or the server is gone
            await fresh.close()
            self._client = stuck
            self._on_exit(f"{reason}; reattaching failed: {getattr(err, 'message', err)}")
        else:
            for sub in self._subs:
                sub.resync()
        finally:
            self._restarting.set_result(None)
            self._restarting = None

    def subscribe(self) -> Subscription:
        if self.closed:
            raise TmuxUnavailable(f"session ended: {self.exit_reason}")
        if self.closing:
            raise HubClosing("this control client is detaching")
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        self.unwatched = False
        sub = Subscription(self.config.watcher_queue_bytes)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)
        if not self._subs and not self.closed and self._linger is None:
            loop = asyncio.get_running_loop()
            self._linger = loop.call_later(self.config.linger, self._linger_expired)

    def replay_since(self, last_id: str) -> list[HubEvent] | None:
        """The events after `last_id` ("<epoch>-<seq>") if the ring still
        holds all of them; None (take a snapshot) for another epoch, a
        malformed or future id, or a gap."""
        epoch, _, number = last_id.strip().partition("-")
        # isascii: str.isdigit() accepts "²", which int() refuses.
        if epoch != self.epoch or not (number.isascii() and number.isdigit()) or len(number) > 18:
            return None
        seq = int(number)
        if seq > self.seq:
            return None
        missed = [e for e in self._recent if e.seq > seq]
        expected = self.seq - seq
        return missed if len(missed) == expected else None

    @property
    def watchers(self) -> int:
        return len(self._subs)

    def hold(self) -> None:
        """Keep this hub attached without watchers (the pane-state tracker)."""
        self.held = True
        if not self._subs and self._linger is None:
            self.unwatched = True

    def _linger_expired(self) -> None:
        self._linger = None
        if self.held:
            # Too late for a resume: stop keeping output nobody will replay.
            self.unwatched = not self._subs
            return
        if not self._subs and not self.closed:
            # Forget this hub before detaching, so a watcher arriving during
            # the detach gets a fresh control client instead of this one.
            self.closing = True
            self._on_closed(self)
            self._spawn(self.close())

    def _spawn(self, coro: Any) -> None:
        # Keep a hard reference: the loop only keeps weak ones.
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- commands ------------------------------------------------------------

    def send(
        self, lines: list[str], on_done: Callable[[list[Answer]], None] | None = None
    ) -> list[asyncio.Future[Answer]]:
        """Write commands now (their order is fixed here); await the futures.
        `on_done` runs in the reader at the replies' stream position (see
        ControlClient.send)."""
        return self._client.send(lines, on_done=on_done)

    async def run(self, lines: list[str]) -> list[Answer]:
        return await self._client.run(lines)

    def _release_output_watch(self) -> None:
        watch, self.output_watch = self.output_watch, None
        if watch is not None:
            watch.release()

    def mark_mode(self, pane: str) -> None:
        """`pane` may be entering or leaving a mode."""
        self.mode_serial += 1
        self._mode_marks[pane] = self.mode_serial

    def maybe_in_mode(self, pane: str | None) -> bool:
        """Whether keys for `pane` (None: the session's active pane, whichever
        it is when tmux runs them) could meet a mode."""
        if pane is None:
            return bool(self._mode_marks) or any(p.in_mode for p in self.structure.panes.values())
        info = self.structure.panes.get(pane)
        return pane in self._mode_marks or info is None or info.in_mode

    def release_size(self, connection: str) -> None:
        """`connection` has left: its size claim ends after the grace period,
        unless the page renews it from a new connection first (claim.py)."""
        if self.claim.holds(connection):
            loop = asyncio.get_running_loop()
            loop.call_later(self.config.claim_grace, lambda: self._spawn(self.claim.release(connection)))

    def follow_claim(self) -> None:
        """The claim holder switched windows: carry its size there."""
        self._spawn(self.claim.follow())

    def paste_buffer_name(self) -> str:
        self._paste_serial += 1
        return f"tmuxweb-paste-{self.epoch}-{self._paste_serial}"

    # -- snapshots -----------------------------------------------------------

    async def snapshot(self) -> Snapshot:
        """The whole session now, each pane anchored at its capture."""
        if self._restarting is not None:
            await asyncio.shield(self._restarting)
        try:
            return await self._snapshot()
        except TmuxStalled:
            # The control client was replaced while this waited (the new
            # watcher of a stuck session): once more, on the fresh one.
            if self._restarting is not None:
                await asyncio.shield(self._restarting)
            return await self._snapshot()

    async def _snapshot(self) -> Snapshot:
        windows, panes = await asyncio.gather(
            *self._client.send([list_windows(self.session_id), list_panes(self.session_id)])
        )
        structure = Structure.parse(windows.text(), panes.text())
        loop = asyncio.get_running_loop()
        captured: dict[str, asyncio.Future[tuple[PaneInfo | None, str, int]]] = {}
        for pane in structure.panes:
            fut: asyncio.Future[tuple[PaneInfo | None, str, int]] = loop.create_future()
            captured[pane] = fut
            # Resolved by a reply hook, which never fires if tmux goes away
            # first: _on_exit fails whatever is still waiting.
            self._snapshots.add(fut)
            fut.add_done_callback(self._snapshots.discard)
            self._capture(pane, _resolver(fut))
        results = {pane: await fut for pane, fut in captured.items()}
        anchors = {pane: anchor for pane, (_, _, anchor) in results.items()}
        state = {
            "session": {"id": self.session_id, "name": self.name},
            "active_window": structure.active_window,
            "windows": [structure.window_json(w) for w in structure.windows],
            "panes": [
                (info or structure.panes[pane]).to_json(content)
                for pane, (info, content, _) in results.items()
            ],
            "size_claim": self.claim.to_json(),
        }
        last = max([panes.position, *anchors.values()])
        return Snapshot(state, panes.position, anchors, last)

    def _capture(self, pane: str, then: Capture, attempts: int = 3) -> None:
        """Snapshot one pane; `then(info, content, anchor)` runs synchronously
        at the anchor's position in the stream.

        If the pane printed between its details and its visible screen, the
        cursor or the history could disagree with the screen: capture again
        (a few times at most). If it printed between the screen and the last
        capture, that output (kept in the recent-events ring) is appended
        instead of the unfinished escape sequence, so the content always ends
        exactly at the anchor.
        """

        def done(answers: list[Answer]) -> None:
            details, captures = split_capture(answers)
            # The position of each capture-pane, the text of its show-buffer
            # (an error: the capture failed, or captured nothing).
            (_, history), (_, saved), (visible_at, visible), (pending_at, pending) = [
                (cap.position, buffer_text(shown.reply.lines) if shown.reply.ok else None)
                for cap, shown in captures
            ]
            info = next((p for p in parse_panes(details.text()) if p.id == pane), None)
            if info is None or visible is None:
                then(None, "", pending_at)
                return
            if attempts > 1 and self._printed(pane, details.position, visible_at):
                self._capture(pane, then, attempts - 1)
                return
            printed = self._printed(pane, visible_at, pending_at)
            if printed:
                tail = "".join(json.loads(e.data)["data"] for e in printed)
            else:
                tail = "\n".join(pending or [])
            content = info.content(history or [], saved or [], visible)
            then(info, content + tail, pending_at)

        self._capture_serial += 1
        buffer = f"tmuxweb-cap-{self.epoch}-{self._capture_serial}"
        self._client.send(capture_lines(pane, self.config.history_lines, buffer), on_done=done)

    def read_screen(
        self, pane: str, then: Callable[[PaneInfo | None, list[str]], None]
    ) -> list[asyncio.Future[Answer]]:
        """Read `pane`'s details and visible screen as plain text (states.py);
        `then(info, lines)` runs in the reader at the reply's position
        (info None: the pane is gone), unless the control client goes away
        first: then the futures returned fail. Through a named buffer, as
        every capture (see capture_lines)."""

        def done(answers: list[Answer]) -> None:
            details, _, shown, _ = answers
            info = next((p for p in parse_panes(details.text()) if p.id == pane), None)
            lines = buffer_text(shown.reply.lines) if shown.reply.ok else []
            then(info, [line.rstrip() for line in lines])

        self._capture_serial += 1
        return self._client.send(screen_lines(pane, f"tmuxweb-scr-{self.epoch}-{self._capture_serial}"), on_done=done)

    def emit(self, name: str, payload: Any) -> None:
        """An event from outside the session (states.py's `pane-state`); a
        payload given as bytes is JSON already, encoded once for every hub."""
        if not self.closed:
            self._emit(name, payload)

    def _printed(self, pane: str, after: int, until: int) -> list[HubEvent]:
        """Output events of `pane` emitted in (after, until]."""
        if after == until:
            return []
        return [e for e in self._recent if e.pane == pane and after < e.seq <= until and e.name == "output"]

    # -- events from tmux (run synchronously inside the reader) ---------------

    def _emit(self, name: str, payload: Any, pane: str | None = None) -> HubEvent:
        self.seq += 1
        data, wire = self._encode(name, payload, f"{self.epoch}-{self.seq}")
        event = HubEvent(self.seq, name, pane, data, wire)
        for sub in self._subs:
            sub.push(event)
        self._remember(event)
        return event

    def _remember(self, event: HubEvent) -> None:
        self._recent.append(event)
        self._recent_bytes += len(event.wire)
        while self._recent_bytes > self.config.recent_bytes and len(self._recent) > 1:
            self._recent_bytes -= len(self._recent.popleft().wire)

    def _on_events(self, events: list[Event]) -> None:
        # Adjacent output of one pane becomes one event: fewer, larger SSE
        # frames. Runs never cross a reply (the client flushes before each),
        # so capture anchors stay exact.
        run_pane: str | None = None
        run: list[bytes] = []
        for event in events:
            if isinstance(event, Output):
                if event.pane != run_pane:
                    self._flush_output(run_pane, run)
                    run_pane, run = event.pane, []
                run.append(event.data)
            else:
                self._flush_output(run_pane, run)
                run_pane, run = None, []
                if isinstance(event, Notification):
                    self._on_notification(event)
        self._flush_output(run_pane, run)

    def _flush_output(self, pane: str | None, run: list[bytes]) -> None:
        if pane is None or not run:
            return
        text = self._decoders.decode(pane, run[0] if len(run) == 1 else b"".join(run))
        if text:
            if not self.unwatched:
                self._emit("output", {"pane": pane, "data": text}, pane)
            else:
                # Nobody has watched for `linger` (a hub the pane-state
                # tracker holds): no event to encode or keep. The position
                # still moves, so a stream resuming across it takes a
                # snapshot (replay_since sees the gap), as a late one would
                # after a hub that detached.
                self.seq += 1
            watch = self.output_watch
            if watch is not None:
                # After the watchers' queues: their streams run first.
                watch.echoed(pane)
            if self.observer is not None:
                self.observer.output(self, pane, text)

    def _on_notification(self, note: Notification) -> None:
        name, args = note.name, note.args
        if name in _STRUCTURE_NOTIFICATIONS:
            if name == "session-window-changed" and args[:1] != (self.session_id,):
                return
            if name == "pane-mode-changed" and args:
                self.mark_mode(args[0])
            self._schedule_refresh()
        elif name == "session-renamed" and args[:1] == (self.session_id,) and len(args) > 1:
            self.name = args[1]
            self._emit("session-renamed", {"name": self.name})
            if self.observer is not None:
                self.observer.structure(self)
        elif name == "sessions-changed" and self.observer is not None:
            self.observer.sessions_changed()
        elif name == "pause" and args:
            self._resume(args[0])

    def _on_exit(self, reason: str) -> None:
        if self.closed:
            return
        if self._client.stalled and not self.closing and self._restarting is None:
            self._restart(reason)
            return
        self.exit_reason = reason or "session ended"
        if self._linger is not None:
            self._linger.cancel()
        for fut in list(self._snapshots):
            if not fut.done():
                fut.set_exception(TmuxUnavailable(f"tmux went away: {self.exit_reason}"))
                fut.exception()  # a snapshot stops at its first failure
        self.seq += 1
        data, wire = self._encode("exit", {"reason": self.exit_reason}, f"{self.epoch}-{self.seq}")
        final = HubEvent(self.seq, "exit", None, data, wire)
        for sub in self._subs:
            sub.close(final)
        self._release_output_watch()
        self._on_closed(self)
        if self.observer is not None:
            self.observer.closed(self)

    # -- structure -------------------------------------------------------------

    def _schedule_refresh(self) -> None:
        if self._refresh.pending:
            # Our list commands may already have run before this change.
            self._refresh.dirty = True
            return
        self._refresh.pending = True
        self._refresh.mode_serial = self.mode_serial
        try:
            self._client.send(
                [list_windows(self.session_id), list_panes(self.session_id)],
                on_done=self._apply_structure,
            )
        except TmuxUnavailable:
            self._refresh.pending = False

    def _apply_structure(self, answers: list[Answer]) -> None:
        self._refresh.pending = False
        windows, panes = answers
        if windows.reply.ok and panes.reply.ok:
            new = Structure.parse(windows.text(), panes.text())
            old, self.structure = self.structure, new
            settled = self._refresh.mode_serial
            self._mode_marks = {p: n for p, n in self._mode_marks.items() if n > settled}
            self._emit_changes(old, new)
            if self.observer is not None:
                self.observer.structure(self)
        if self._refresh.dirty:
            self._refresh.dirty = False
            self._schedule_refresh()

    def _emit_changes(self, old: Structure, new: Structure) -> None:
        events, added = old.changes_to(new)
        for pid in old.panes.keys() - new.panes.keys():
            self._decoders.forget(pid)
        for name, payload in events:
            self._emit(name, payload)
        for pid in added:
            self._capture(pid, self._pane_added)

    def _pane_added(self, info: PaneInfo | None, content: str, anchor: int) -> None:
        if info is not None:
            self._emit("pane-added", {"pane": info.to_json(content)}, info.id)

    def _resume(self, pane: str) -> None:
        """tmux paused a pane we fell behind on and dropped its output:
        resume it and replace the pane's content for every watcher."""
        self._decoders.reset(pane)
        try:
            self._client.send([f"refresh-client -A {quote(pane + ':continue')}"])
            self._capture(pane, self._pane_reset)
        except TmuxUnavailable:
            pass

    def _pane_reset(self, info: PaneInfo | None, content: str, anchor: int) -> None:
        if info is not None:
            self._emit("pane-reset", {"pane": info.to_json(content)}, info.id)


def _resolver(fut: asyncio.Future[tuple[PaneInfo | None, str, int]]) -> Capture:
    def then(info: PaneInfo | None, content: str, anchor: int) -> None:
        if not fut.done():
            fut.set_result((info, content, anchor))

    return then
