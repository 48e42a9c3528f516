"""When the HTTP reply of a typing command goes out: after its echo.

A typing command (`input`, `keys`, `paste`, `paste-buffer`, `send-prefix`)
is written at once; its reply waits until the pane's next output has been
queued for the watchers, or `config.echo_wait` after tmux's replies (at
once on an %error), whichever is first.

Why wait: on a keystroke, anything this process does between tmux's reply
and the echo delays the echo by more than its own duration (tmux, the pty
and this process share two cores; benchmarks/README.md measures it), and
the echo is what the person typing waits for. So the HTTP reply, which
nobody waits for, goes out after it.

The hub only tells an `OutputWatch` about output; the waits are kept here,
one `EchoWaits` per hub, installed on it only while something waits.
"""

from __future__ import annotations

import asyncio

from tmuxweb.tmux.client import Answer
from tmuxweb.tmux.hub import SessionHub


class _EchoWait:
    """A typing command whose replies are in, waiting for its pane's next
    output (the echo) to go out to the watchers, or for its deadline."""

    __slots__ = ("done", "answers", "pane", "timer")

    def __init__(self, done: asyncio.Future[list[Answer]], answers: list[Answer], pane: str | None) -> None:
        self.done = done
        self.answers = answers
        self.pane = pane  # None: any pane of the session (tmux picks the active one)
        self.timer: asyncio.TimerHandle | None = None

    def finish(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if not self.done.done():
            self.done.set_result(self.answers)


class EchoWaits:
    """The typing commands of one hub waiting for their echo (the hub's
    `output_watch` while there are any)."""

    def __init__(self, hub: SessionHub) -> None:
        self._hub = hub
        # Insertion-ordered, O(1) removal: thousands may wait at once when a
        # program types fast into a pane that echoes slowly.
        self._waits: dict[_EchoWait, None] = {}

    def add(self, wait: _EchoWait, delay: float) -> None:
        wait.timer = asyncio.get_running_loop().call_later(delay, self._expired, wait)
        self._waits[wait] = None
        self._hub.output_watch = self

    def _expired(self, wait: _EchoWait) -> None:
        self._waits.pop(wait, None)
        self._forget_if_idle()
        wait.finish()

    def echoed(self, pane: str) -> None:
        echoed = [w for w in self._waits if w.pane is None or w.pane == pane]
        for wait in echoed:
            del self._waits[wait]
            wait.finish()
        self._forget_if_idle()

    def release(self) -> None:
        for wait in self._waits:
            wait.finish()
        self._waits.clear()
        self._forget_if_idle()

    def _forget_if_idle(self) -> None:
        if not self._waits and self._hub.output_watch is self:
            self._hub.output_watch = None


def send_typing(hub: SessionHub, lines: list[str], pane: str | None) -> asyncio.Future[list[Answer]]:
    """Write typing commands now; the future resolves with their replies
    once the pane's next output has been handed to the watchers, or
    `config.echo_wait` after the replies (at once on an %error)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[list[Answer]] = loop.create_future()

    def replied(answers: list[Answer]) -> None:
        # In the reader, at the replies' stream position: output parsed
        # after this point is the command's echo, or later.
        wait = _EchoWait(done, answers, pane)
        if any(not a.reply.ok for a in answers) or hub.closed:
            wait.finish()
            return
        watch = hub.output_watch
        waits = watch if isinstance(watch, EchoWaits) else EchoWaits(hub)
        waits.add(wait, hub.config.echo_wait)

    def failed(fut: asyncio.Future[Answer]) -> None:
        # tmux went away before replying (every pending reply fails at
        # once, the last one too): the hook never runs.
        if not done.done() and not fut.cancelled() and fut.exception() is not None:
            done.set_exception(fut.exception())  # type: ignore[arg-type]
            done.exception()  # the caller may be gone (client disconnected)

    hub.send(lines, on_done=replied)[-1].add_done_callback(failed)
    return done
