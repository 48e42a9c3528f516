"""One `tmux -C` control-mode client process and its command/reply pairing.

The client writes one plain command per line and keeps a FIFO of futures:
tmux answers commands from stdin (`%begin … flags 1`) in the order they were
written, so the oldest pending future owns the next flags-1 reply.

Everything that is not a reply goes, in stream order, to the owner's
`on_events` callback. Replies are resolved *between* those batches, together
with `position()` as it stands at that instant, so the owner knows exactly
which events came before a reply (the anchor for snapshot-then-stream).
"""

from __future__ import annotations

import asyncio
import ctypes
import enum
import logging
import os
import signal
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tmuxweb.errors import NotFound, TmuxRefused, TmuxUnavailable
from tmuxweb.tmux.protocol import Event, Exit, Notification, Parser, Reply

log = logging.getLogger("tmuxweb.tmux")

READ_SIZE = 256 * 1024
START_TIMEOUT = 10.0
# Marks our control clients in their environment so a later tmuxweb can
# recognise orphans of its own (see reap_orphans in hub.py).
MARKER = "TMUXWEB_CONTROL_CLIENT"

_PR_SET_PDEATHSIG = 1
try:
    _libc: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - not Linux
    _libc = None


def _die_with_parent(parent: int) -> Callable[[], None]:
    """preexec_fn: SIGKILL the child when the thread that spawned it dies.

    A control client whose reader has died while tmux has output queued for
    it never exits and freezes the panes (TMUX-NOTES); this makes a
    SIGKILLed tmuxweb take its clients with it.
    """

    def preexec() -> None:
        if _libc is not None:
            _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # parent died before prctl took effect
            os._exit(1)

    return preexec


@dataclass(frozen=True, slots=True)
class _Hook:
    futures: list[asyncio.Future[Answer]]
    callback: Callable[[list[Answer]], None]

    def fire(self) -> None:
        if any(not f.done() or f.cancelled() or f.exception() for f in self.futures):
            return
        answers = [f.result() for f in self.futures]
        try:
            self.callback(answers)
        except Exception:  # the reader must survive a bug in a hook
            log.exception("reply hook failed")


class ClientState(enum.Enum):
    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Answer:
    """A reply and the owner's stream position when it was parsed."""

    reply: Reply
    position: int

    def text(self) -> list[str]:
        return [line.decode("utf-8", "replace") for line in self.reply.lines]


def check_answers(answers: list[Answer]) -> list[Answer]:
    """Raise TmuxRefused with tmux's own message for the first %error."""
    for answer in answers:
        if not answer.reply.ok:
            message = " ".join(answer.text()).strip()
            raise TmuxRefused(f"tmux: {message}" if message else "tmux refused the command")
    return answers


class ControlClient:
    """A `tmux -u [-L|-S] -C attach -t TARGET` child process."""

    def __init__(
        self,
        tmux_args: Sequence[str],
        target: str,
        on_events: Callable[[list[Event]], None],
        on_exit: Callable[[str], None],
        position: Callable[[], int],
    ) -> None:
        self._argv = [*tmux_args, "-C", "attach-session", "-t", target]
        self._on_events = on_events
        self._on_exit = on_exit
        self._position = position
        self._parser = Parser()
        self._pending: deque[tuple[asyncio.Future[Answer], _Hook | None]] = deque()
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._attached = False
        self._session_changed = False
        self._ready = asyncio.Event()
        self._start_error: str | None = None
        self.state = ClientState.UNOPENED
        self.exit_reason = ""

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def reaped(self) -> bool:
        """The process has exited and been waited for (or never started)."""
        return self._proc is None or self._proc.returncode is not None

    async def start(self) -> None:
        """Spawn and wait until tmux has attached us (the start-up race)."""
        if self.state is not ClientState.UNOPENED:
            raise RuntimeError(f"control client is {self.state.value}")
        env = {k: v for k, v in os.environ.items() if k != "TMUX"}
        env[MARKER] = str(os.getpid())
        self._proc = await asyncio.create_subprocess_exec(
            *self._argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
            preexec_fn=_die_with_parent(os.getpid()),
        )
        self.state = ClientState.OPEN
        self._reader = asyncio.create_task(self._read_loop(), name="tmux-control-reader")
        try:
            await asyncio.wait_for(self._ready.wait(), START_TIMEOUT)
        except TimeoutError:
            await self.close()
            raise TmuxUnavailable("tmux did not attach the control client") from None
        if self._start_error is not None or self.state is ClientState.CLOSED:
            await self.close()
            raise NotFound(self._start_error or "tmux session not found")

    # -- commands ----------------------------------------------------------

    def send(
        self, lines: Sequence[str], on_done: Callable[[list[Answer]], None] | None = None
    ) -> list[asyncio.Future[Answer]]:
        """Write command lines now, in order; one future per line.

        Writing is synchronous, so the order of `send` calls is the order
        tmux executes them in, whatever the callers await afterwards.

        `on_done` runs synchronously inside the reader the moment the last
        reply is parsed, before any later event is dispatched: that is how
        the hub inserts an event at the exact stream position of a reply
        (a coroutine resuming later would already be past it).
        """
        if self.state is not ClientState.OPEN or self._proc is None or self._proc.stdin is None:
            raise TmuxUnavailable("tmux control client is not running")
        loop = asyncio.get_running_loop()
        if any("\n" in line or "\r" in line for line in lines):
            raise ValueError("a command line must not contain a newline")
        futures: list[asyncio.Future[Answer]] = [loop.create_future() for _ in lines]
        for i, fut in enumerate(futures):
            last = i == len(futures) - 1
            hook = _Hook(futures, on_done) if last and on_done is not None else None
            self._pending.append((fut, hook))
        self._proc.stdin.write("".join(line + "\n" for line in lines).encode())
        return futures

    async def run(self, lines: Sequence[str]) -> list[Answer]:
        """Send lines and wait for every reply; the first %error raises."""
        return check_answers(list(await asyncio.gather(*self.send(lines))))

    # -- reading -----------------------------------------------------------

    async def _read_loop(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        stdout = self._proc.stdout
        reason = "tmux control client ended"
        try:
            while True:
                data = await stdout.read(READ_SIZE)
                if not data:
                    break
                if (exit_reason := self._dispatch(self._parser.feed(data))) is not None:
                    reason = exit_reason or "session ended"
                    break
        except Exception:  # a bug here must not leave futures hanging forever
            log.exception("control-mode reader failed")
            reason = "tmuxweb internal error reading from tmux"
        finally:
            self._finish(reason)
            # tmux closes our stdout when it exits: collect the exit status so
            # the process (and its transport) is released now.
            if self._proc is not None and self._proc.returncode is None:
                try:
                    await asyncio.wait_for(self._proc.wait(), 5)
                except TimeoutError:
                    self._proc.kill()
                    await self._proc.wait()

    def _dispatch(self, events: list[Event]) -> str | None:
        """Route parsed events; returns the exit reason once tmux says %exit."""
        batch: list[Event] = []
        for event in events:
            if isinstance(event, Reply):
                self._flush(batch)
                batch = []
                self._on_reply(event)
            elif isinstance(event, Exit):
                self._flush(batch)
                return event.reason
            else:
                if isinstance(event, Notification) and event.name == "session-changed":
                    self._session_changed = True
                    self._check_ready()
                batch.append(event)
        self._flush(batch)
        return None

    def _flush(self, batch: list[Event]) -> None:
        if batch:
            self._on_events(batch)

    def _on_reply(self, reply: Reply) -> None:
        if reply.flags == 0:
            # The attach command's own block (or a hook's). A failed attach
            # names the reason inside it.
            if not self._attached:
                self._attached = True
                if not reply.ok:
                    self._start_error = b" ".join(reply.lines).decode("utf-8", "replace")
                    self._ready.set()
                self._check_ready()
            return
        if not self._pending:
            log.warning("tmux reply with no pending command")
            return
        fut, hook = self._pending.popleft()
        if not fut.done():
            fut.set_result(Answer(reply, self._position()))
        if hook is not None:
            hook.fire()

    def _check_ready(self) -> None:
        if self._attached and self._session_changed:
            self._ready.set()

    def _finish(self, reason: str) -> None:
        if self.state is ClientState.CLOSED:
            return
        self.state = ClientState.CLOSED
        self.exit_reason = reason
        while self._pending:
            fut, _ = self._pending.popleft()
            if not fut.done():
                fut.set_exception(TmuxUnavailable(f"tmux went away: {reason}"))
                # Hook-driven captures are never awaited: mark the error as
                # seen so asyncio does not log it as lost.
                fut.exception()
        self._ready.set()
        self._on_exit(reason)

    # -- shutdown ----------------------------------------------------------

    async def close(self, timeout: float = 3.0) -> None:
        """Detach cleanly (close stdin: tmux prints %exit, the session lives).

        If tmux does not let go in time the process is killed; killing a
        control client never kills the session.
        """
        proc = self._proc
        if proc is None:
            self.state = ClientState.CLOSED
            return
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, timeout)
            except (TimeoutError, asyncio.CancelledError):
                self._reader.cancel()
        self._finish("detached")
