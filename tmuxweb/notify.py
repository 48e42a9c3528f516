"""Notifications: from pane-state transitions to the page, Web Push and
--notify-command.

The tracker (states.py) calls `Notifier.transition` once per change of a
pane's state and `Notifier.seen` when a person has looked at a pane. The
`Dispatcher` decides, with no I/O and its own clock (so tests give it
one):

* a pane going into `waiting`, `done`, `bell` or `exited` is notified once
  that state has lasted `notify_debounce` seconds (a state left sooner,
  or any time spent `working`, notifies nothing);
* the same state of the same pane again, while its last notification is
  unseen and less than `notify_collapse` seconds old, is not notified
  again (an agent flickering between a prompt and a redraw);
* `seen` drops what is pending and clears the pane's notification;
* a pane's first state (the server starting, previous None) is never
  notified: that is the past, not news.

What a notification says is `--notify-content`: `none` (the default) puts
no screen text anywhere, only the session, window and state; `title` adds
the pane's title and command; `prompt` also the question and its choices'
labels. The same text goes to every stream (`notification`), every push
subscription and the notify command, so the page, the phone and the
script can never disagree about what was said or when.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import signal
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from tmuxweb.config import Config, NotifyContent
from tmuxweb.taskpool import TaskPool
from tmuxweb.webpush import PushMessage, Urgency, WebPush, topic_of

if TYPE_CHECKING:
    from tmuxweb.tmux.server import TmuxServer

log = logging.getLogger("tmuxweb.notify")

NotifyState = Literal["waiting", "done", "bell", "exited"]
NOTIFY_STATES: frozenset[str] = frozenset({"waiting", "done", "bell", "exited"})
MAX_TITLE = 120
MAX_BODY = 400
# Panes remembered at once (pending or unseen): a bound against a server
# whose panes come and go by the thousand and are never looked at.
MAX_PANES = 1000
# A push message outlives a phone that is off for the night, not a week.
PUSH_TTL = 12 * 3600
_HEADLINES = {"waiting": "needs you", "done": "is done", "bell": "rang the bell", "exited": "exited"}


# -- what the tracker gives (states.py's Transition and messages.PaneState) -----------


class ChoiceLike(Protocol):
    @property
    def label(self) -> str: ...


class PromptLike(Protocol):
    @property
    def question(self) -> str: ...
    @property
    def choices(self) -> Sequence[ChoiceLike]: ...


class PaneStateLike(Protocol):
    @property
    def pane(self) -> str: ...
    @property
    def session(self) -> str: ...
    @property
    def session_name(self) -> str: ...
    @property
    def window_index(self) -> int: ...
    @property
    def state(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def command(self) -> str: ...
    @property
    def prompt(self) -> PromptLike | None: ...
    @property
    def exit_status(self) -> int | None: ...


class TransitionLike(Protocol):
    @property
    def pane_state(self) -> PaneStateLike: ...
    @property
    def previous(self) -> str | None: ...


# -- what goes out ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notice:
    """The `notification` event, and what push and the command get."""

    id: str
    pane: str
    session: str
    state: str
    title: str
    body: str
    at: float
    tag: str


@dataclass(frozen=True, slots=True)
class Cleared:
    """The `notification-cleared` event: the pane has been looked at."""

    pane: str
    tag: str


def tag_of(pane: str) -> str:
    """One notification per pane: a newer one replaces it (the Notification
    API's `tag`, Web Push's Topic)."""
    return f"tmuxweb-pane-{pane}"


def clean(text: str, limit: int) -> str:
    """Pane titles and screen text come from programs: no control or
    bidirectional-override characters, bounded length."""
    kept = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text)
    kept = " ".join(kept.split())
    return kept if len(kept) <= limit else kept[: limit - 1] + "\u2026"


def compose(state: PaneStateLike, content: NotifyContent) -> tuple[str, str]:
    """(title, body) of a notification under the content policy."""
    where = clean(f"{state.session_name}:{state.window_index}", 80)
    headline = _HEADLINES.get(state.state, state.state)
    status = f" (status {state.exit_status})" if state.state == "exited" and state.exit_status is not None else ""
    if content == "none":
        return f"Pane {where} {headline}{status}", f"{state.pane} in {where}"
    name = clean(state.title or state.command, MAX_TITLE // 2) or state.pane
    title = clean(f"{name} {headline}{status}", MAX_TITLE)
    body = f"{clean(state.command, 40)} in {where}"
    if content == "prompt" and state.prompt is not None:
        labels = " / ".join(clean(c.label, 80) for c in state.prompt.choices)
        body = clean(state.prompt.question, MAX_BODY // 2) + (f" [{labels}]" if labels else "") + f" \u2014 {body}"
    return title, clean(body, MAX_BODY)


# -- the decisions ----------------------------------------------------------------------


@dataclass(slots=True)
class _Pane:
    pending: PaneStateLike | None = None
    due: float = 0.0
    shown: Notice | None = None
    shown_at: float = 0.0


class Dispatcher:
    """Transitions in, notifications out; no I/O, time from `clock`
    (monotonic seconds) and `wall` (unix seconds, for `at`)."""

    def __init__(
        self,
        debounce: float,
        collapse: float,
        content: NotifyContent,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.debounce = debounce
        self.collapse = collapse
        self.content = content
        self._clock = clock
        self._wall = wall
        self._panes: dict[str, _Pane] = {}

    def transition(self, t: TransitionLike) -> None:
        state = t.pane_state
        if state.state in NOTIFY_STATES and t.previous is not None:
            pane = self._panes.setdefault(state.pane, _Pane())
            pane.pending, pane.due = state, self._clock() + self.debounce
            self._bound()
        elif state.pane in self._panes:
            # Anything else (working above all) before the debounce ran
            # out: the state did not last.
            self._panes[state.pane].pending = None
            self._forget_if_empty(state.pane)

    def seen(self, pane: str) -> list[Cleared]:
        """The person looked at `pane`: nothing pending, nothing shown."""
        entry = self._panes.pop(pane, None)
        if entry is None or entry.shown is None:
            return []
        return [Cleared(pane, entry.shown.tag)]

    def due(self) -> list[Notice]:
        """The notifications whose state has lasted long enough, now."""
        now = self._clock()
        out = []
        for pane, entry in list(self._panes.items()):
            if entry.pending is None or entry.due > now:
                continue
            state, entry.pending = entry.pending, None
            if entry.shown is not None and entry.shown.state == state.state and now - entry.shown_at < self.collapse:
                continue  # collapsed into the unseen one
            title, body = compose(state, self.content)
            entry.shown = Notice(
                secrets.token_hex(8), pane, state.session, state.state, title, body, self._wall(), tag_of(pane)
            )
            entry.shown_at = now
            out.append(entry.shown)
        return out

    def next_due(self) -> float | None:
        times = [e.due for e in self._panes.values() if e.pending is not None]
        return min(times) if times else None

    def _forget_if_empty(self, pane: str) -> None:
        entry = self._panes.get(pane)
        if entry is not None and entry.pending is None and entry.shown is None:
            del self._panes[pane]

    def _bound(self) -> None:
        while len(self._panes) > MAX_PANES:
            oldest = min(self._panes, key=lambda p: self._panes[p].shown_at)
            del self._panes[oldest]


# -- --notify-command -------------------------------------------------------------------


class CommandRunner:
    """Runs the user's command once per notification (argv, no shell), the
    event as JSON on stdin. At most `concurrency` at once, the rest queued
    (bounded, the oldest dropped); one that outlives `timeout` is killed
    with its process group. Failures and hangs are logged; nothing waits
    for a command but its own task."""

    def __init__(self, argv: tuple[str, ...], timeout: float, concurrency: int, queue: int = 64) -> None:
        self.argv = argv
        self.timeout = timeout
        self._queue: deque[bytes] = deque(maxlen=queue)
        self._wake = asyncio.Event()
        self._pool = TaskPool(concurrency)
        self.dropped = 0

    def submit(self, event: bytes) -> None:
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
            log.warning("notify command queue full: the oldest notification is dropped (%d so far)", self.dropped)
        self._queue.append(event)
        self._wake.set()

    async def run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    await self._pool.spawn(self._run_one, self._queue.popleft())
        finally:
            # Shutdown: kill the running commands and reap them.
            await self._pool.close()

    async def _run_one(self, event: bytes) -> None:
        try:
            await self._execute(event)
        except Exception:
            log.exception("notify command %s failed", self.argv[0])

    async def _execute(self, event: bytes) -> None:
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                # Its own process group, so a timeout kills what it started too.
                start_new_session=True,
            )
        except OSError as err:
            log.error("notify command %s could not start: %s", self.argv[0], err.strerror or err)
            return
        try:
            async with asyncio.timeout(self.timeout):
                errors = await _talk(proc, event)
                status = await proc.wait()
        except TimeoutError:
            _kill_group(proc.pid)
            await proc.wait()
            log.warning("notify command %s hung for %gs and was killed", self.argv[0], self.timeout)
            return
        except BaseException:
            _kill_group(proc.pid)  # cancelled (shutdown): leave nothing behind
            await proc.wait()
            raise
        if status != 0:
            said = clean(errors.decode("utf-8", "replace"), 200)
            log.warning("notify command %s failed with status %d%s", self.argv[0], status, f": {said}" if said else "")


async def _talk(proc: asyncio.subprocess.Process, event: bytes) -> bytes:
    """Write the event and close stdin; keep the first 1 KiB of stderr, read
    and drop the rest (a chatty command must not grow our memory)."""
    assert proc.stdin is not None and proc.stderr is not None
    try:
        proc.stdin.write(event)
        await proc.stdin.drain()
        proc.stdin.close()
    except (BrokenPipeError, ConnectionResetError):
        pass  # it did not want its input: its status says the rest
    kept = b""
    while chunk := await proc.stderr.read(65536):
        kept = (kept + chunk)[:1024]
    return kept


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# -- the notifier: decisions, timer, and the three ways out -----------------------------


class Notifier:
    """The dispatcher, woken at its due times, sending each notification to
    the streams (`publish(event name, JSON)`), Web Push and the command."""

    def __init__(
        self,
        config: Config,
        publish: Callable[[str, bytes], None],
        push: WebPush | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.dispatcher = Dispatcher(config.notify_debounce, config.notify_collapse, config.notify_content, clock)
        self._clock = clock
        self._publish = publish
        self._push = push
        self.command = (
            CommandRunner(config.notify_command, config.notify_command_timeout, config.notify_command_concurrency)
            if config.notify_command
            else None
        )
        self._wake = asyncio.Event()

    def transition(self, t: TransitionLike) -> None:
        """The tracker's on_transition hook: synchronous and cheap."""
        self.dispatcher.transition(t)
        self._wake.set()

    def seen(self, pane: str) -> None:
        """The tracker's on_seen hook."""
        for cleared in self.dispatcher.seen(pane):
            data = asdict(cleared)
            self._publish("notification-cleared", _json(data))
            if self._push is not None:
                message = {"type": "clear", **data}
                self._push.send(PushMessage(message, ttl=PUSH_TTL, urgency="normal", topic=topic_of(cleared.tag)))

    async def run(self) -> None:
        """Owned by the lifespan: fire what is due, sleep until the next."""
        runner = asyncio.create_task(self.command.run()) if self.command is not None else None
        try:
            while True:
                for notice in self.dispatcher.due():
                    self._send(notice)
                due = self.dispatcher.next_due()
                self._wake.clear()
                timeout = None if due is None else max(0.0, due - self._clock())
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout)
                except TimeoutError:
                    pass
        finally:
            if runner is not None:
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)

    def _send(self, notice: Notice) -> None:
        data = asdict(notice)
        encoded = _json(data)
        self._publish("notification", encoded)
        if self._push is not None:
            urgency: Urgency = "high" if notice.state == "waiting" else "normal"
            message = {"type": "notification", **data}
            self._push.send(PushMessage(message, ttl=PUSH_TTL, urgency=urgency, topic=topic_of(notice.tag)))
        if self.command is not None:
            self.command.submit(encoded + b"\n")


def to_every_stream(tmux: TmuxServer) -> Callable[[str, bytes], None]:
    """`publish` for a server: the event into every hub, so every stream
    whatever its session (the tracker holds a hub on every session), and
    into each hub's ring, so a stream resuming with Last-Event-ID gets it."""

    def publish(name: str, data: bytes) -> None:
        for hub in tmux.hubs():
            hub.emit(name, data)

    return publish


def _json(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
