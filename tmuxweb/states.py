"""The pane-state tracker: one per server, owned by the app's lifespan.

Every pane of every tmux session has a state (panestates.py), whether or
not anybody watches: the tracker keeps a hub (a control client) attached to
every session, found at start, on `%sessions-changed`, and by a slow poll
while there are none, and holds it so it never lingers out. A hub without
`refresh-client -C` changes no window size, and a watched session's hub is
the watchers' own (one control client per session, TMUX-NOTES).

Cost: output only updates a timestamp and looks for a BEL (two substring
checks per chunk). A pane's screen is read once its output has been quiet
for `config.settle` seconds (a waiting or bell pane that never goes quiet:
`sticky_wait` after its output began), never per byte and never per
watcher, through a named buffer (`SessionHub.read_screen`, never
`capture-pane -p`: the capture leak in benchmarks/README.md).

Each change becomes one `PaneState`, encoded once as JSON and sent as event
`pane-state` on every hub (so on every stream: access tokens are not per
session), kept for `GET /api/states`, and given to `on_transition` hooks
when its `state` changed (the notifier, notify.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import msgspec

from tmuxweb import messages as m
from tmuxweb.config import Config
from tmuxweb.errors import NotFound, StaleAnswer
from tmuxweb.panestates import ATTENTION, MatchLike, PaneMachine, Read
from tmuxweb.tmux import cmdline
from tmuxweb.tmux.client import Answer
from tmuxweb.tmux.errors import TmuxError
from tmuxweb.tmux.hub import SessionHub
from tmuxweb.tmux.server import TmuxServer
from tmuxweb.tmux.snapshot import PaneInfo

log = logging.getLogger("tmuxweb.states")

# While no session exists there is no control client to say
# %sessions-changed: look this often.
POLL_INTERVAL = 2.0
# A waiting or bell pane whose output never settles is re-read this many
# settle periods after the output began.
STICKY_FACTOR = 4
_ORDER = {name: i for i, name in enumerate(ATTENTION)}


class Rules(Protocol):
    """rules.Rules: the first rule that matches a screen."""

    def match(self, lines: Sequence[str], command: str, busy_for: float) -> MatchLike | None: ...


@dataclass(frozen=True, slots=True)
class Transition:
    """A pane's `state` changed (`previous` None: a pane first seen)."""

    pane_state: m.PaneState
    previous: str | None


@dataclass(frozen=True, slots=True)
class Answered:
    """An answer written to tmux: what was chosen, and tmux's replies."""

    hub: SessionHub
    rule: str
    label: str
    replies: list[asyncio.Future[Answer]]


@dataclass(eq=False, slots=True)
class _Pane:
    id: str
    hub: SessionHub
    machine: PaneMachine
    title: str = ""
    command: str = ""
    timer: asyncio.TimerHandle | None = None
    timer_at: float = 0.0
    reading: bool = False
    read_at: float = 0.0
    published: m.PaneState | None = None


class StateTracker:
    """Every pane's state, kept from the hubs' output and screen reads."""

    def __init__(self, config: Config, tmux: TmuxServer, rules: Rules) -> None:
        self.config = config
        self._tmux = tmux
        self._rules = rules
        self._panes: dict[str, _Pane] = {}
        self._hubs: dict[str, SessionHub] = {}  # session id → held hub
        self._version = 0
        self._transition_hooks: list[Callable[[Transition], None]] = []
        self._seen_hooks: list[Callable[[str], None]] = []
        self._rescan = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Monotonic → unix seconds, for `since`.
        self._wall = 0.0

    # -- life cycle --------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wall = time.time() - self._loop.time()
        self._tmux.observer = self
        for hub in self._tmux.hubs():  # started before the tracker (none, usually)
            hub.observer = self
            self.structure(hub)
        self._task = asyncio.create_task(self._discover(), name="pane-states")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for pane in self._panes.values():
            if pane.timer is not None:
                pane.timer.cancel()
        self._tmux.observer = None

    async def _discover(self) -> None:
        """Attach to every session: now, when tmux says sessions changed,
        and every POLL_INTERVAL while no hub is attached."""
        while True:
            self._rescan.clear()
            try:
                await self._attach_all()
            except Exception:  # keep discovering: the next rescan may do better
                log.exception("pane states: discovering sessions failed")
            if any(not h.closed for h in self._hubs.values()):
                await self._rescan.wait()
            else:
                try:
                    await asyncio.wait_for(self._rescan.wait(), POLL_INTERVAL)
                except TimeoutError:
                    pass

    async def _attach_all(self) -> None:
        for info in await self._tmux.list_sessions():
            hub = self._hubs.get(info.id)
            if hub is not None and not hub.closed:
                continue
            try:
                hub = await self._tmux.hub(info)
            except (TmuxError, OSError) as err:  # gone meanwhile, or tmux went away
                log.info("pane states: cannot attach to session %s: %s", info.id, err)
                continue
            self.structure(hub)

    # -- hooks and queries -----------------------------------------------------------

    def on_transition(self, callback: Callable[[Transition], None]) -> None:
        """`callback` runs synchronously once per change of a pane's `state`."""
        self._transition_hooks.append(callback)

    def on_seen(self, callback: Callable[[str], None]) -> None:
        """`callback(pane)` runs when a person says they have looked at it."""
        self._seen_hooks.append(callback)

    def states(self) -> list[m.PaneState]:
        """Every pane's state, who needs attention first (then oldest first)."""
        found = [p.published for p in self._panes.values() if p.published is not None]
        return sorted(found, key=lambda s: (_ORDER[s.state], s.since))

    def broadcast(self, name: str, data: bytes) -> None:
        """Send an event (its payload already JSON) on every stream, as
        `pane-state` is: the notifier's `publish`."""
        for hub in list(self._hubs.values()):
            hub.emit(name, data)

    def now(self) -> float:
        return time.time()

    def seen(self, pane: str) -> None:
        if pane not in self._panes:
            raise NotFound(f"no pane {pane}"[:120])
        for callback in self._seen_hooks:
            try:
                callback(pane)
            except Exception:
                log.exception("a seen hook failed")

    # -- HubObserver: called synchronously in the hubs' readers ------------------------

    def output(self, hub: SessionHub, pane: str, text: str) -> None:
        record = self._panes.get(pane)
        if record is None:
            return  # announced by the structure refresh that follows
        if record.machine.output(self._time(), text):
            self._publish(record)
        if not self._still_reading(record):
            # Sooner than the timer set (the idle tick of a working pane):
            # re-arm for the read once this output settles. Later output
            # only moves that read later, which the wake-up sees.
            due = record.machine.due()
            if due is not None and (record.timer is None or due < record.timer_at):
                self._arm(record, due)

    def structure(self, hub: SessionHub) -> None:
        if hub.observer is not self:
            return
        if self._hubs.get(hub.session_id) is not hub:
            self._hubs[hub.session_id] = hub
            hub.hold()
        now = self._time()
        for info in hub.structure.panes.values():
            record = self._panes.get(info.id)
            if record is None:
                record = self._panes[info.id] = _Pane(info.id, hub, self._machine(now))
                record.title, record.command = info.title, info.current_command
                if info.dead:
                    record.machine.died(now, info.dead_status)
                    self._publish(record)
                else:
                    self._read(record)  # its first state comes from its screen
                continue
            record.hub = hub  # (a pane moved between sessions)
            changed = (record.title, record.command) != (info.title, info.current_command)
            record.title, record.command = info.title, info.current_command
            if info.dead:  # (again: tmux may learn the status late)
                changed = record.machine.died(now, info.dead_status) or changed
            if changed or self._moved(record, hub, info):
                self._publish(record)
        for record in [r for r in self._panes.values() if r.hub is hub and r.id not in hub.structure.panes]:
            other = next((h for h in self._hubs.values() if not h.closed and record.id in h.structure.panes), None)
            if other is not None:
                record.hub = other
            else:
                self._vanish(record, now)

    @staticmethod
    def _moved(record: _Pane, hub: SessionHub, info: PaneInfo) -> bool:
        """Whether the pane's session name, window or window index changed."""
        shown = record.published
        window = hub.structure.windows.get(info.window)
        index = window.index if window is not None else None
        return shown is None or (shown.session_name, shown.window, shown.window_index) != (hub.name, info.window, index)

    def closed(self, hub: SessionHub) -> None:
        now = self._time()
        for record in [r for r in self._panes.values() if r.hub is hub]:
            self._vanish(record, now)
        if self._hubs.get(hub.session_id) is hub:
            del self._hubs[hub.session_id]
        self._rescan.set()

    def sessions_changed(self) -> None:
        self._rescan.set()

    # -- answering ------------------------------------------------------------------------

    async def answer(self, pane: str, choice: int, screen: str) -> Answered:
        """Re-read the pane; if it still shows the prompt of `screen`, write
        the keys of `choice` in the same step (inside the reply's callback,
        so no command of ours runs between the read and the keys).
        StaleAnswer (409, with the fresh state) otherwise."""
        record = self._panes.get(pane)
        if record is None:
            raise NotFound(f"no pane {pane}"[:120])
        hub = record.hub
        result: asyncio.Future[Answered] = asyncio.get_running_loop().create_future()

        def then(info: PaneInfo | None, lines: list[str]) -> None:
            if result.done():
                return
            self._apply_read(record, info, lines)
            try:
                result.set_result(self._send_answer(record, hub, info, choice, screen))
            except StaleAnswer as err:
                result.set_exception(err)

        self._reading(record)
        try:
            # Fails (503) if the control client goes away before the reply,
            # which then never calls `then`.
            await asyncio.gather(*hub.read_screen(pane, then))
        except TmuxError:
            record.reading = False
            raise
        return await result

    def _send_answer(self, record: _Pane, hub: SessionHub, info: PaneInfo | None, choice: int, screen: str) -> Answered:
        machine, prompt = record.machine, record.machine.prompt

        def stale(message: str) -> StaleAnswer:
            state = record.published
            return StaleAnswer(message, msgspec.to_builtins(state) if state is not None else None)

        if info is None or machine.gone:
            raise stale("the pane is gone")
        if machine.state != "waiting" or prompt is None:
            raise stale("the pane is not waiting for an answer")
        if machine.screen != screen:
            raise stale("the screen has changed since; here is what it shows now")
        if not 0 <= choice < len(prompt.keys):
            raise stale(f"the prompt has no choice {choice}")
        if info.in_mode or hub.maybe_in_mode(record.id):
            # Keys would go to the mode's key table, not to the program.
            raise stale("the pane is in a mode (copy mode?); leave it first")
        replies = hub.send(keys_lines(record.id, prompt.keys[choice]))
        answered = Answered(hub, prompt.rule, prompt.labels[choice], replies)
        if machine.answered(self._time()):
            self._publish(record)
        self._arm(record)
        return answered

    # -- internals ----------------------------------------------------------------------------

    def _time(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    def _machine(self, now: float) -> PaneMachine:
        settle = self.config.settle
        return PaneMachine(now, settle, self.config.idle_after, settle * STICKY_FACTOR)

    def _arm(self, record: _Pane, due: float | None = None) -> None:
        """(Re)set the pane's one timer: at `due`, or when its machine says."""
        if record.timer is not None:
            record.timer.cancel()
            record.timer = None
        due = record.machine.due() if due is None else due
        if due is None:
            return
        assert self._loop is not None
        record.timer, record.timer_at = self._loop.call_at(due, self._wake, record), due

    def _wake(self, record: _Pane) -> None:
        record.timer = None
        if self._panes.get(record.id) is not record:
            return
        if self._still_reading(record):
            self._arm(record, record.read_at + 2 * self.config.reply_deadline)
            return
        now = self._time()
        if record.machine.needs_read(now):
            self._read(record)
            return
        if record.machine.tick(now):
            self._publish(record)
        self._arm(record)

    def _reading(self, record: _Pane) -> None:
        record.reading, record.read_at = True, self._time()

    def _still_reading(self, record: _Pane) -> bool:
        """A read is on its way. One whose control client was replaced
        (a missed reply deadline) never answers: after twice the deadline
        it no longer counts."""
        return record.reading and self._time() - record.read_at < 2 * self.config.reply_deadline

    def _read(self, record: _Pane) -> None:
        self._reading(record)
        try:
            record.hub.read_screen(record.id, lambda info, lines: self._apply_read(record, info, lines))
        except TmuxError:
            record.reading = False  # the hub is going; closed() follows

    def _apply_read(self, record: _Pane, info: PaneInfo | None, lines: list[str]) -> None:
        record.reading = False
        if self._panes.get(record.id) is not record:
            return
        if info is None:
            # Gone: the structure refresh will say so. Until then, no hurry.
            self._arm(record, self._time() + self.config.settle)
            return
        machine = record.machine
        match, resting = self._match(lines, info.current_command, machine.busy_for())
        read = Read(tuple(lines), match, resting, info.dead, info.dead_status)
        changed = machine.read(self._time(), read)
        if (record.title, record.command) != (info.title, info.current_command):
            record.title, record.command, changed = info.title, info.current_command, True
        if changed or record.published is None:
            self._publish(record)
        self._arm(record)

    def _match(self, lines: list[str], command: str, busy: float) -> tuple[MatchLike | None, bool]:
        """The rules' verdict for `busy` seconds of work, and whether any
        rule matches at all (the screen shows an input prompt). Usually one
        pass: the first rule that matches with no work limit is also the
        first for `busy` unless its `min_busy` is more than that."""
        unlimited = self._rules.match(lines, command, math.inf)
        if unlimited is None:
            return None, False
        if unlimited.rule.min_busy <= busy:
            return unlimited, True
        return self._rules.match(lines, command, busy), True

    def _vanish(self, record: _Pane, now: float) -> None:
        if record.timer is not None:
            record.timer.cancel()
        del self._panes[record.id]
        if record.machine.vanished(now):
            self._publish(record)

    def _state_of(self, record: _Pane) -> m.PaneState:
        machine, hub = record.machine, record.hub
        info = hub.structure.panes.get(record.id)
        window = info.window if info is not None else (record.published.window if record.published else "")
        winfo = hub.structure.windows.get(window)
        prompt = machine.prompt
        return m.PaneState(
            pane=record.id,
            session=hub.session_id,
            session_name=hub.name,
            window=window,
            window_index=winfo.index if winfo is not None else (record.published.window_index if record.published else 0),
            state=machine.state,
            since=round(self._wall + machine.since, 3),
            title=record.title,
            command=record.command,
            lines=list(machine.lines),
            prompt=None
            if prompt is None
            else m.PanePrompt(
                rule=prompt.rule,
                tool=prompt.tool,
                question=prompt.question,
                choices=[m.PromptChoice(label=label) for label in prompt.labels],
            ),
            screen=machine.screen,
            exit_status=machine.exit_status,
            gone=machine.gone,
            version=self._version + 1,
        )

    def _publish(self, record: _Pane) -> None:
        previous = record.published.state if record.published is not None else None
        state = self._state_of(record)
        self._version += 1
        if not record.machine.gone:
            record.published = state
        self.broadcast("pane-state", msgspec.json.encode(state))
        if state.state != previous:
            transition = Transition(state, previous)
            for callback in self._transition_hooks:
                try:
                    callback(transition)
                except Exception:
                    log.exception("a transition hook failed")


def keys_lines(pane: str, keys: Sequence[str]) -> list[str]:
    """The tmux commands that type a choice's keys: a named key (rules'
    NAMED_KEYS) as that key, anything else as literal text, byte-exact."""
    from tmuxweb.rules import NAMED_KEYS

    lines: list[str] = []
    for key in keys:
        if key in NAMED_KEYS:
            lines += cmdline.send_keys(pane, [key])
        else:
            lines += cmdline.send_bytes(pane, cmdline.encode_text(key))
    return lines


def states_json(tracker: StateTracker) -> bytes:
    """The body of GET /api/states."""
    return msgspec.json.encode(m.PaneStates(now=round(tracker.now(), 3), panes=tracker.states()))
