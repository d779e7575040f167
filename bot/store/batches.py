"""Group commit: concurrent calls of one store method, sent to PostgreSQL as one statement.

A statement on PostgreSQL costs a round trip, callbot's CPU and the server's on top of the work it does; under
load, most of an event's cost was round trips (docs/benchmarks.md). A `Batch` sends the calls that arrive while
its previous statement is under way together, in the next one: one round trip for many, and none kept waiting
when it is alone (the first call goes at once). It is what a database's group commit does for its log.

The statement for a batch takes arrays (`unnest`), one element per call, and its results come back in the calls'
order. At most one call per key goes in a batch (a call's row is changed once per statement), so two events of one
call go in two statements, in the order they came. A statement is all or nothing: when one call's values make it
fail, the others are sent again, each alone, so that only that call fails, as it would have alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from bot.store.errors import StoreUnavailable

A = TypeVar("A")
R = TypeVar("R")
MOST = 200  # calls in one statement at most: a bound on its size, far above what a replica's load gathers


def columns(rows: Sequence[Sequence[object]]) -> list[list[object]]:
    """Rows of values as the columns a batch's statement takes (`unnest(?::text[], …)`)."""
    return [list(column) for column in zip(*rows, strict=True)]


class Batch(Generic[A, R]):
    """Runs `run` on the calls gathered while its last run was under way; `run` returns one result per call.

    - one run at a time: the calls that arrive meanwhile wait for the next;
    - `key` keeps two calls of one key out of one run (the later waits for the next, in order), and orders a run;
    - when a run raises StoreUnavailable (the database is gone, or refused the statement: a deadlock, a timeout),
      each of its calls raises it; any other error may be one call's doing: each call is run again alone, and
      gets its own result or error;
    - a caller cancelled before its run was sent is left out of it.
    """

    def __init__(
        self, run: Callable[[list[A]], Awaitable[Sequence[R]]], *, key: Callable[[A], str], most: int = MOST
    ) -> None:
        self._run = run
        self._key = key
        self._most = most
        self._waiting: list[tuple[A, asyncio.Future[R]]] = []
        self._sending: asyncio.Task[None] | None = None

    async def __call__(self, item: A) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._sending is None:
            self._sending = asyncio.create_task(self._send(), name="store batch")
        return await future

    async def _send(self) -> None:
        try:
            while self._waiting:
                batch = self._next()
                if batch:
                    await self._run_one(batch)
        finally:  # ended by a cancel (shutdown) or a bug: nobody is left waiting for a run that will not come
            waiting, self._waiting, self._sending = self._waiting, [], None
            for _, future in waiting:
                future.cancel()

    def _next(self) -> list[tuple[A, asyncio.Future[R]]]:
        """The next run's calls: the first of each key, while there is room, in the keys' order (so that two
        replicas' statements lock the rows they share in the same order, and never deadlock); the rest wait."""
        batch: list[tuple[A, asyncio.Future[R]]] = []
        keys: set[str] = set()
        waiting: list[tuple[A, asyncio.Future[R]]] = []
        for item, future in self._waiting:
            if future.done():  # its caller was cancelled
                continue
            key = self._key(item)
            if key in keys or len(batch) >= self._most:
                waiting.append((item, future))
            else:
                keys.add(key)
                batch.append((item, future))
        self._waiting = waiting
        return sorted(batch, key=lambda entry: self._key(entry[0]))

    async def _run_one(self, batch: list[tuple[A, asyncio.Future[R]]]) -> None:
        try:
            try:
                results = await self._run([item for item, _ in batch])
            except StoreUnavailable as error:  # each caller gets what the statement raised
                _fail(batch, error)
                return
            except Exception as error:
                if len(batch) == 1:
                    _fail(batch, error)
                    return
                for one in batch:  # the statement changed nothing: each alone, so the error stays with its cause
                    await self._run_one([one])
                return
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
        finally:  # cancelled meanwhile: none of this run's callers is left waiting
            for _, future in batch:
                if not future.done():
                    future.cancel()


def _fail(batch: list[tuple[A, asyncio.Future[R]]], error: Exception) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)
