"""What each pane is doing: the pure state machine. No I/O and no clock.

Every input carries its own time (the tracker's monotonic clock), so the
machine is tested by feeding it inputs, as the control-mode parser is. The
tracker (states.py) owns the I/O: it feeds output as it arrives (a
timestamp and whether a BEL rang, nothing else), asks `due()` when to look
again, reads the screen then and hands the read back with the rules'
verdict.

States, in the order they need a person's attention (ATTENTION):

* `waiting`: a waiting rule matched the screen at the last read;
* `bell`: the program rang the bell (BEL outside an OSC sequence);
* `exited`: the pane is dead (`pane_dead`, with its status) or gone;
* `done`: a done rule matched after the pane had worked `min_busy` seconds;
* `working`: output within the last `idle_after` seconds;
* `idle`: quiet that long, and no rule matched.

Output alone never reads anything: it moves a resting pane (`idle`, `done`,
`exited`) to `working` at once and marks the screen unread. `waiting` and
`bell` are sticky: typing into a prompt echoes, and a prompt may redraw,
so they last until the read after the output settles decides (or, for
output that never settles, the read `sticky_wait` after it began). An
answer sent through tmuxweb (`answered`) ends `waiting` at once; a key
typed at a terminal is only seen through the screen, so a program that
asks the same question again within `sticky_wait` looks like one question.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

StateName = Literal["working", "waiting", "done", "idle", "bell", "exited"]
# Who needs the person first: the order of GET /api/states.
ATTENTION: tuple[StateName, ...] = ("waiting", "bell", "exited", "done", "working", "idle")
_STICKY = frozenset({"waiting", "bell"})
# How many non-empty screen lines a state carries (the overview's preview).
PREVIEW_LINES = 8


class ChoiceLike(Protocol):
    """rules.Choice, as far as states need it."""

    @property
    def label(self) -> str: ...
    @property
    def keys(self) -> tuple[str, ...]: ...


class RuleLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def tool(self) -> str: ...
    @property
    def min_busy(self) -> float: ...


class MatchLike(Protocol):
    """rules.Match: what a rule made of a screen."""

    @property
    def rule(self) -> RuleLike: ...
    @property
    def state(self) -> Literal["waiting", "done"]: ...
    @property
    def question(self) -> str: ...
    @property
    def choices(self) -> Sequence[ChoiceLike]: ...


@dataclass(frozen=True, slots=True)
class Prompt:
    """A recognised prompt. `keys` stay on the server: only labels go out."""

    rule: str
    tool: str
    question: str
    labels: tuple[str, ...]
    keys: tuple[tuple[str, ...], ...]

    @classmethod
    def of(cls, match: MatchLike) -> Prompt:
        return cls(
            rule=match.rule.name,
            tool=match.rule.tool,
            question=match.question,
            labels=tuple(c.label for c in match.choices),
            keys=tuple(tuple(c.keys) for c in match.choices),
        )


@dataclass(frozen=True, slots=True)
class Read:
    """One read of a pane: its visible screen (plain text, top to bottom,
    trailing spaces stripped) and details, with the rules' verdict.

    `match` is the rules' answer for the pane's `busy_for()`; `resting`
    says whether the screen shows an input prompt at all (some rule would
    match, however long the pane had worked): the next output then begins
    a new busy period, and a silent command does not (see busy_for)."""

    lines: tuple[str, ...]
    match: MatchLike | None = None
    resting: bool = False
    dead: bool = False
    dead_status: int | None = None


def screen_hash(lines: Sequence[str], since: float) -> str:
    """The answer guard: a short digest of the whole visible screen and of
    when the pane began waiting. With the time in it, the same question
    asked again after the pane worked (an agent's next identical prompt)
    gets another hash, so a stale tap cannot answer it."""
    text = f"{since!r}\n" + "\n".join(lines)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def preview(lines: Sequence[str]) -> tuple[str, ...]:
    return tuple([line for line in lines if line.strip()][-PREVIEW_LINES:])


# In an OSC sequence (ESC ] … BEL or ESC \), BEL is a terminator, not a bell:
# titles (OSC 0/2), which agents set all the time, end with it.
_BEL_TOKENS = re.compile(r"\x1b\]|\x1b\\|\x1b|\x07|[\x18\x1a]")


def scan_bell(text: str, in_osc: bool) -> tuple[bool, bool]:
    """(a bell rang in `text`, an OSC sequence is still open at its end).
    Two substring checks for the common chunk without either."""
    if not in_osc and "\x07" not in text and "\x1b]" not in text:
        return False, False
    rang = False
    for token in _BEL_TOKENS.finditer(text):
        t = token.group()
        if t == "\x1b]":
            in_osc = True
        elif t == "\x07":
            if in_osc:
                in_osc = False
            else:
                rang = True
        else:  # ST, another escape, CAN or SUB ends (or aborts) the OSC
            in_osc = False
    return rang, in_osc


class PaneMachine:
    """One pane's state. Inputs return True when anything a PaneState
    shows changed; `state` and `since` say where it is now."""

    def __init__(self, now: float, settle: float, idle_after: float, sticky_wait: float) -> None:
        self.settle = settle
        self.idle_after = idle_after
        self.sticky_wait = sticky_wait
        self.state: StateName = "idle"
        self.since = now
        self.lines: tuple[str, ...] = ()
        self.prompt: Prompt | None = None
        self.screen = ""  # the hash of the screen `prompt` was read from
        self.exit_status: int | None = None
        self.gone = False
        self.last_output: float | None = None
        # The first output the screen has not been read since (None: read).
        self.unread_since: float | None = None
        # When the current busy period began (None: at rest, see Read).
        self.busy_start: float | None = None
        self.bell_pending = False
        self.in_osc = False

    # -- inputs ---------------------------------------------------------------

    def output(self, now: float, text: str) -> bool:
        """The pane printed `text`. Only cheap bookkeeping: never a read."""
        rang, self.in_osc = scan_bell(text, self.in_osc)
        self.last_output = now
        if self.unread_since is None:
            self.unread_since = now
        if self.busy_start is None:
            self.busy_start = now
        if rang:
            self.bell_pending = True
            # A prompt that rings stays a prompt: it says more than the bell.
            return False if self.state in _STICKY else self._enter("bell", now)
        if self.state == "working" or self.state in _STICKY:
            return False
        return self._enter("working", now)

    def read(self, now: float, read: Read) -> bool:
        """The screen as read at `now`."""
        self.unread_since = None
        changed = False
        new_lines = preview(read.lines)
        if new_lines != self.lines:
            self.lines, changed = new_lines, True
        if read.dead:
            return self.died(now, read.dead_status) or changed
        match = read.match
        if match is not None and match.state == "done" and match.rule.min_busy > self.busy_for():
            match = None  # the rules should not have said so; min_busy holds here too
        if match is not None or read.resting:
            self.busy_start = None
        if match is not None:
            self.bell_pending = False
            changed = self._enter(match.state, now) or changed
            prompt, screen = Prompt.of(match), screen_hash(read.lines, self.since)
            if (prompt, screen) != (self.prompt, self.screen):
                self.prompt, self.screen, changed = prompt, screen, True
            return changed
        changed = self._clear_prompt() or changed
        if self.bell_pending:
            self.bell_pending = False
            return self._enter("bell", now) or changed
        return self._enter(self._busy_or_idle(now), now) or changed

    def answered(self, now: float) -> bool:
        """An answer was typed into the prompt: the program works on it.
        Counted as output, so the screen is read once it settles: a prompt
        still (or again) there is a new question with a new hash, even if
        it reads the same."""
        self._clear_prompt()
        self.last_output = now
        self.unread_since = now
        self.busy_start = now
        return self._enter("working", now)

    def tick(self, now: float) -> bool:
        """Time passed: a working pane that stayed quiet becomes idle."""
        if self.state == "working" and self.unread_since is None and self._busy_or_idle(now) == "idle":
            return self._enter("idle", now)
        return False

    def died(self, now: float, status: int | None) -> bool:
        """The pane's program exited and tmux keeps the pane (remain-on-exit)."""
        changed = self._clear_prompt() or self.exit_status != status
        self.exit_status = status
        self.unread_since = None
        self.busy_start = None
        return self._enter("exited", now) or changed

    def vanished(self, now: float) -> bool:
        """The pane is gone (killed, or exited without remain-on-exit)."""
        if self.gone:
            return False
        self.gone = True
        self.exit_status = None
        self._clear_prompt()
        self.unread_since = None
        self._enter("exited", now)
        return True

    # -- questions --------------------------------------------------------------

    def busy_for(self) -> float:
        """Seconds the pane has worked, from the first output after it was
        last seen at rest to its latest output. A command that runs silently
        past `idle_after` (idle meanwhile) still counts from its start."""
        if self.busy_start is None or self.last_output is None:
            return 0.0
        return self.last_output - self.busy_start

    def due(self) -> float | None:
        """When the tracker should call again: a read (`needs_read`), the
        idle tick, or None when only new output can change anything."""
        if self.gone or self.state == "exited" and self.unread_since is None:
            return None
        if self.unread_since is not None:
            assert self.last_output is not None
            settled = self.last_output + self.settle
            if self.state in _STICKY:
                return min(settled, self.unread_since + self.sticky_wait)
            return settled
        if self.state == "working" and self.last_output is not None:
            return self.last_output + self.idle_after
        return None

    def needs_read(self, now: float) -> bool:
        due = self.due()
        return self.unread_since is not None and due is not None and now >= due

    # -- internals ----------------------------------------------------------------

    def _busy_or_idle(self, now: float) -> StateName:
        if self.last_output is not None and now - self.last_output < self.idle_after:
            return "working"
        return "idle"

    def _clear_prompt(self) -> bool:
        if self.prompt is None and not self.screen:
            return False
        self.prompt, self.screen = None, ""
        return True

    def _enter(self, state: StateName, now: float) -> bool:
        if state == self.state:
            return False
        if state != "exited":
            self.exit_status = None
        self.state, self.since = state, now
        return True
