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
import subprocess
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tmuxweb.tmux.errors import (
    SessionNotFound,
    TmuxRefused,
    TmuxStalled,
    TmuxUnavailable,
)
from tmuxweb.tmux.protocol import Event, Exit, Notification, Parser, Reply

log = logging.getLogger("tmuxweb.tmux")

START_TIMEOUT = 10.0
# After tmux has closed our stdout, how long its process may take to exit
# (and the other way round).
EXIT_TIMEOUT = 5.0
# Marks our control clients in their environment so a later tmuxweb can
# recognise orphans of its own (see reap_orphans in server.py).
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


class _Pipes(asyncio.SubprocessProtocol):
    """Hands the control client's stdout to its parser as it arrives."""

    def __init__(self, client: ControlClient) -> None:
        self._client = client

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == 1:
            self._client._received(data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self._client._stdout_ended()

    def process_exited(self) -> None:
        self._client._process_exited()


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
        reply_deadline: float | None = None,
    ) -> None:
        self._argv = [*tmux_args, "-C", "attach-session", "-t", target]
        self._on_events = on_events
        self._on_exit = on_exit
        self._position = position
        self._parser = Parser()
        # (future, hook, loop time the line was written)
        self._pending: deque[tuple[asyncio.Future[Answer], _Hook | None, float]] = deque()
        # One watchdog per client, not a timer per command (keystrokes are
        # commands): armed while replies are awaited, it looks at the oldest.
        self._deadline = reply_deadline
        self._watchdog: asyncio.TimerHandle | None = None
        # True once the client was killed for missing the reply deadline.
        self.stalled = False
        self._transport: asyncio.SubprocessTransport | None = None
        self._stdin: asyncio.WriteTransport | None = None
        self._pid: int | None = None
        # Resolved once asyncio has waited for the process (its exit status).
        self._exited: asyncio.Future[None] | None = None
        # Resolved once tmux's stdout has been read to its end.
        self._stdout_done: asyncio.Future[None] | None = None
        self._kill_timer: asyncio.TimerHandle | None = None
        self._stdout_closed = False
        self._attached = False
        self._session_changed = False
        self._ready = asyncio.Event()
        self._start_error: str | None = None
        self.state = ClientState.UNOPENED
        self.exit_reason = ""

    @property
    def pid(self) -> int | None:
        return self._pid

    @property
    def reaped(self) -> bool:
        """The process has exited and been waited for (or never started)."""
        return self._exited is None or self._exited.done()

    async def start(self) -> None:
        """Spawn and wait until tmux has attached us (the start-up race)."""
        if self.state is not ClientState.UNOPENED:
            raise RuntimeError(f"control client is {self.state.value}")
        env = {k: v for k, v in os.environ.items() if k != "TMUX"}
        env[MARKER] = str(os.getpid())
        loop = asyncio.get_running_loop()
        self._exited = loop.create_future()
        self._stdout_done = loop.create_future()
        # A protocol rather than a StreamReader: tmux's output is parsed in
        # the callback that receives it, one event-loop turn sooner than a
        # reader task would see it (this is on every keystroke's echo path).
        transport, _ = await loop.subprocess_exec(
            lambda: _Pipes(self),
            *self._argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            preexec_fn=_die_with_parent(os.getpid()),
        )
        self._transport = transport
        self._pid = transport.get_pid()
        stdin = transport.get_pipe_transport(0)
        assert isinstance(stdin, asyncio.WriteTransport)
        self._stdin = stdin
        self.state = ClientState.OPEN
        try:
            await asyncio.wait_for(self._ready.wait(), START_TIMEOUT)
        except TimeoutError:
            await self.close()
            raise TmuxUnavailable("tmux did not attach the control client") from None
        except BaseException:
            # Cancelled (the watcher who asked went away): a client left
            # running here would stay attached, and its pipes open, for good.
            await self.close()
            raise
        if self._start_error is not None or self.state is ClientState.CLOSED:
            await self.close()
            raise SessionNotFound(self._start_error or "tmux session not found")

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
        if self.state is not ClientState.OPEN or self._stdin is None or self._stdin.is_closing():
            raise TmuxUnavailable("tmux control client is not running")
        loop = asyncio.get_running_loop()
        if any("\n" in line or "\r" in line for line in lines):
            raise ValueError("a command line must not contain a newline")
        futures: list[asyncio.Future[Answer]] = [loop.create_future() for _ in lines]
        now = loop.time()
        for i, fut in enumerate(futures):
            last = i == len(futures) - 1
            hook = _Hook(futures, on_done) if last and on_done is not None else None
            self._pending.append((fut, hook, now))
        self._stdin.write("".join(line + "\n" for line in lines).encode())
        if self._watchdog is None and self._deadline is not None:
            self._watchdog = loop.call_later(self._deadline, self._check_deadline)
        return futures

    async def run(self, lines: Sequence[str]) -> list[Answer]:
        """Send lines and wait for every reply; the first %error raises."""
        return check_answers(list(await asyncio.gather(*self.send(lines))))

    def _check_deadline(self) -> None:
        """The watchdog: has the oldest command waited past the deadline?

        tmux runs one client's commands in order, so when the oldest has no
        reply, none after it will get one either: a command that waits for
        input a control client can never give (a prompt opened by a hook or
        a key binding) blocks the client for good (TMUX-NOTES). Then the
        client is killed and every waiting command fails with TmuxStalled;
        the owner starts a fresh one.
        """
        self._watchdog = None
        if self.state is not ClientState.OPEN or not self._pending or self._deadline is None:
            return
        loop = asyncio.get_running_loop()
        overdue = loop.time() - self._pending[0][2]
        if overdue < self._deadline:
            self._watchdog = loop.call_later(self._deadline - overdue, self._check_deadline)
            return
        reason = f"tmux did not answer within {self._deadline:g} s"
        log.warning("%s (control client %s): killing it", reason, self._pid)
        self.stalled = True
        self._kill()
        self._finish(reason, TmuxStalled(f"{reason}; tmuxweb reconnects to the session, try again"))

    # -- reading (called by _Pipes, synchronously, as bytes arrive) --------

    def _received(self, data: bytes) -> None:
        if self.state is ClientState.CLOSED:
            return
        try:
            exit_reason = self._dispatch(self._parser.feed(data))
        except Exception:  # a bug here must not leave futures hanging forever
            log.exception("control-mode reader failed")
            exit_reason = "tmuxweb internal error reading from tmux"
        if exit_reason is not None:
            self._ended(exit_reason or "session ended")

    def _stdout_ended(self) -> None:
        self._stdout_closed = True
        if self._stdout_done is not None and not self._stdout_done.done():
            self._stdout_done.set_result(None)
        self._ended("tmux control client ended")

    def _ended(self, reason: str) -> None:
        """tmux said %exit, or closed our stdout: no more replies will come."""
        self._finish(reason)
        # tmux closes our stdout when it exits; collect the exit status so
        # the process (and its transport) is released now, or kill it.
        if self._exited is not None and not self._exited.done() and self._kill_timer is None:
            self._kill_timer = asyncio.get_running_loop().call_later(EXIT_TIMEOUT, self._kill)
        self._release()

    def _kill(self) -> None:
        if self._transport is not None and self._exited is not None and not self._exited.done():
            try:
                self._transport.kill()
            except ProcessLookupError:
                pass

    def _process_exited(self) -> None:
        # Output may still be on its way through the pipe (the %exit line
        # among it): the client ends when stdout does, not here.
        if self._kill_timer is not None:
            self._kill_timer.cancel()
        if self._exited is not None and not self._exited.done():
            self._exited.set_result(None)
        if not self._stdout_closed:
            asyncio.get_running_loop().call_later(EXIT_TIMEOUT, self._stdout_overdue)
        self._release()

    def _stdout_overdue(self) -> None:
        # The process is gone and its stdout should have ended with it:
        # end anyway after EXIT_TIMEOUT, unless it has ended meanwhile (the
        # usual case, which must not end the client a second time).
        if not self._stdout_closed:
            self._stdout_ended()

    def _release(self) -> None:
        # Like asyncio's own process streams: close the transport once the
        # process has been waited for and its stdout has been read to the end.
        done = self._exited is not None and self._exited.done()
        if done and self._stdout_closed and self._transport is not None:
            self._transport.close()

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
        fut, hook, _ = self._pending.popleft()
        if not fut.done():
            fut.set_result(Answer(reply, self._position()))
        if hook is not None:
            hook.fire()

    def _check_ready(self) -> None:
        if self._attached and self._session_changed:
            self._ready.set()

    def _finish(self, reason: str, error: TmuxUnavailable | None = None) -> None:
        if self.state is ClientState.CLOSED:
            return
        self.state = ClientState.CLOSED
        self.exit_reason = reason
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        while self._pending:
            fut, _, _ = self._pending.popleft()
            if not fut.done():
                fut.set_exception(error or TmuxUnavailable(f"tmux went away: {reason}"))
                # Hook-driven captures are never awaited: mark the error as
                # seen so asyncio does not log it as lost.
                fut.exception()
        self._ready.set()
        self._on_exit(reason)

    # -- shutdown ----------------------------------------------------------

    async def close(self, timeout: float = 3.0) -> None:  # noqa: ASYNC109 (how long tmux gets to detach)
        """Detach cleanly (close stdin: tmux prints %exit, the session lives).

        If tmux does not let go in time the process is killed; killing a
        control client never kills the session. Returns only once the
        process has been waited for *and* its stdout read to the end, with
        the transport closed: the exit status alone can arrive first, and a
        transport still open when the event loop ends is left to the garbage
        collector (ResourceWarning: unclosed transport).
        """
        if self._exited is None or self._stdout_done is None or self._transport is None:
            self.state = ClientState.CLOSED
            return
        if self._stdin is not None and not self._stdin.is_closing():
            self._stdin.close()
        gone = asyncio.gather(self._exited, self._stdout_done)
        try:
            try:
                await asyncio.wait_for(asyncio.shield(gone), timeout)
            except TimeoutError:
                self._kill()
                await asyncio.wait_for(asyncio.shield(gone), EXIT_TIMEOUT)
        except TimeoutError:
            log.warning("tmux control client %s did not end after SIGKILL", self._pid)
        finally:
            # Also when cancelled: closing the transport closes the pipes
            # and kills the process if it still runs.
            self._finish("detached")
            self._transport.close()
