"""Background work that outlives the HTTP request that started it, tracked so shutdown can finish it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


async def cancel_and_wait(tasks: set[asyncio.Task[Any]], *, again_after_s: float = 0.5) -> None:
    """Cancel `tasks` and wait until every one has ended, cancelling again those that carry on.

    On Python 3.11 asyncio.wait_for (psycopg_pool waits for a connection with it) can swallow a cancel that lands as
    the awaited result arrives: the task then carries on, and a single cancel would leave its waiter waiting for it.
    """
    running = set(tasks)
    while running:
        for task in running:
            task.cancel()
        _, running = await asyncio.wait(running, timeout=again_after_s)
    for task in tasks:  # what they raised was theirs to log; retrieved, so asyncio does not warn of it again
        if not task.cancelled():
            task.exception()


class Renewal:
    """Renews a claim (a lease, a slash command taken) every `every_s` until stopped: `renew()` returns False when
    the claim was lost, which is logged, naming `what`.

    Stopped by an event, not by cancellation alone: on Python 3.11, a cancel that lands while psycopg_pool hands the
    renewal a connection can be swallowed (its asyncio.wait_for), and a loop relying on it would run, and hold its
    holder's `stop()`, forever. The event ends the loop at its next turn whatever became of the cancel.
    """

    def __init__(self, renew: Callable[[], Awaitable[bool]], every_s: float, *, what: str) -> None:
        self._renew_it = renew
        self._every_s = every_s
        self._what = what
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._renew(), name=f"renew {what}")

    async def _renew(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._every_s)
                return
            if not await self._renew_it():
                log.warning("lost %s: another replica may take its work over", self._what)

    async def stop(self) -> None:
        self._stopping.set()
        await cancel_and_wait({self._task})


class Background:
    """Runs coroutines as tasks; work sharing a `key` runs one after another, in the order it was spawned."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._tails: dict[str, asyncio.Task[None]] = {}

    def spawn(self, work: Coroutine[Any, Any, object], *, key: str | None = None, name: str = "work") -> None:
        before = self._tails.get(key) if key is not None else None
        task = asyncio.create_task(self._run(work, before, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if key is not None:
            self._tails[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))

    @property
    def pending(self) -> int:
        """How many tasks are queued or running."""
        return len(self._tasks)

    async def drain(self, timeout_s: float) -> int:
        """Wait up to `timeout_s` for the work under way, then cancel what is left and wait for it to unwind (so
        nothing still runs when the store closes); returns how many tasks had to be cancelled."""
        pending = set(self._tasks)
        if not pending:
            return 0
        _, still = await asyncio.wait(pending, timeout=timeout_s)
        await cancel_and_wait(still)
        return len(still)

    async def idle(self) -> None:
        """Wait until no work is under way (work spawned meanwhile included)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    def _forget(self, key: str, done: asyncio.Task[None]) -> None:
        if self._tails.get(key) is done:
            del self._tails[key]

    @staticmethod
    async def _run(work: Coroutine[Any, Any, object], before: asyncio.Task[None] | None, name: str) -> None:
        if before is not None:
            await asyncio.wait([before])
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background work %s failed", name)
