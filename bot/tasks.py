"""Background work that outlives the HTTP request that started it, tracked so shutdown can finish it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


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
        for task in still:
            task.cancel()
        await asyncio.gather(*still, return_exceptions=True)
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
