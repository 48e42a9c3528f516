"""A bounded set of background tasks: the notify command's runs and the
Web Push deliveries (notify.py, webpush.py).

At most `size` run at once; `spawn` waits for a free slot, so the caller's
own queue (bounded, oldest dropped) is where a backlog waits. Each task is
held by a hard reference until it ends (the event loop keeps only weak
ones), and `close` cancels and reaps whatever still runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVarTuple

Ts = TypeVarTuple("Ts")


class TaskPool:
    def __init__(self, size: int) -> None:
        self._slots = asyncio.Semaphore(size)
        self._tasks: set[asyncio.Task[None]] = set()

    async def spawn(self, fn: Callable[[*Ts], Awaitable[None]], *args: *Ts) -> None:
        """Start `fn(*args)` once a slot is free. The coroutine is made
        inside the task, so a task cancelled before it starts leaves no
        coroutine that was never awaited."""
        await self._slots.acquire()
        task = asyncio.create_task(self._run(fn, *args))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, fn: Callable[[*Ts], Awaitable[None]], *args: *Ts) -> None:
        try:
            await fn(*args)
        finally:
            self._slots.release()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
