"""Group commit (bot/store/batches.py): calls arriving while a run is under way go together in the next one."""

from __future__ import annotations

import asyncio

import pytest

from bot.store.batches import Batch
from bot.store.errors import StoreUnavailable


class Runs:
    """A run function that records each run's items and holds it until released, answering each item doubled."""

    def __init__(self) -> None:
        self.seen: list[list[tuple[str, int]]] = []
        self.release = asyncio.Event()
        self.fail: Exception | None = None

    async def __call__(self, items: list[tuple[str, int]]) -> list[int]:
        self.seen.append(items)
        await self.release.wait()
        self.release.clear()
        if self.fail is not None:
            raise self.fail
        if any(value < 0 for _, value in items):
            raise ValueError("a value the statement cannot take")
        return [value * 2 for _, value in items]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_the_first_call_goes_at_once_and_those_arriving_meanwhile_go_together_next() -> None:
    runs = Runs()
    batch = Batch(runs, key=lambda item: item[0])
    first = asyncio.create_task(batch(("a", 1)))
    await settle()
    assert runs.seen == [[("a", 1)]]  # alone, it did not wait for company
    later = [asyncio.create_task(batch((key, n))) for n, key in enumerate("bcd", start=2)]
    await settle()
    assert len(runs.seen) == 1  # one run at a time
    runs.release.set()
    assert await first == 2
    await settle()
    assert runs.seen[1] == [("b", 2), ("c", 3), ("d", 4)]
    runs.release.set()
    assert await asyncio.gather(*later) == [4, 6, 8]


async def test_two_calls_of_one_key_never_share_a_run_and_keep_their_order() -> None:
    runs = Runs()
    batch = Batch(runs, key=lambda item: item[0])
    calls = [asyncio.create_task(batch(item)) for item in [("a", 1), ("a", 2), ("b", 3), ("a", 4)]]
    for _ in range(3):
        await settle()
        runs.release.set()
    assert await asyncio.gather(*calls) == [2, 4, 6, 8]
    assert runs.seen == [[("a", 1), ("b", 3)], [("a", 2)], [("a", 4)]]


async def test_a_run_that_finds_the_database_gone_fails_each_of_its_calls_and_the_next_run_goes_on() -> None:
    runs = Runs()
    batch = Batch(runs, key=lambda item: item[0])
    runs.fail = StoreUnavailable("postgresql://callbot", "the database went away")
    failing = [asyncio.create_task(batch(item)) for item in [("a", 1), ("b", 2), ("a", 3)]]
    await settle()
    runs.release.set()
    await settle()
    runs.fail = None
    runs.release.set()
    results = await asyncio.gather(*failing, return_exceptions=True)
    assert [type(r) for r in results[:2]] == [StoreUnavailable, StoreUnavailable]
    assert results[2] == 6  # it waited for the next run, which worked
    assert runs.seen == [[("a", 1), ("b", 2)], [("a", 3)]]


async def test_a_caller_cancelled_before_its_run_is_left_out_of_it() -> None:
    runs = Runs()
    batch = Batch(runs, key=lambda item: item[0])
    first = asyncio.create_task(batch(("a", 1)))
    await settle()
    gone = asyncio.create_task(batch(("b", 2)))
    kept = asyncio.create_task(batch(("c", 3)))
    await settle()
    gone.cancel()
    runs.release.set()
    await settle()
    runs.release.set()
    assert (await first, await kept) == (2, 6)
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert runs.seen == [[("a", 1)], [("c", 3)]]


async def test_a_call_whose_values_fail_the_statement_fails_alone() -> None:
    runs = Runs()
    runs.release.set()
    batch = Batch(runs, key=lambda item: item[0])

    async def released(item: tuple[str, int]) -> int:
        task = asyncio.create_task(batch(item))
        while not task.done():  # every run waits for its release
            runs.release.set()
            await asyncio.sleep(0)
        return await task

    results = await asyncio.gather(*(released(item) for item in [("a", 1), ("b", -1), ("c", 3)]),
                                   return_exceptions=True)  # fmt: skip
    assert results[0] == 2 and results[2] == 6
    assert isinstance(results[1], ValueError)
    assert runs.seen == [[("a", 1), ("b", -1), ("c", 3)], [("a", 1)], [("b", -1)], [("c", 3)]]  # together, then alone


async def test_a_run_goes_in_its_keys_order_so_two_replicas_lock_shared_rows_alike() -> None:
    runs = Runs()
    runs.release.set()
    batch = Batch(runs, key=lambda item: item[0])
    results = await asyncio.gather(*(batch(item) for item in [("c", 1), ("a", 2), ("b", 3)]))
    assert results == [2, 4, 6]  # each caller its own answer
    assert runs.seen == [[("a", 2), ("b", 3), ("c", 1)]]


async def test_no_caller_is_left_waiting_when_the_sending_is_cancelled() -> None:
    runs = Runs()
    batch = Batch(runs, key=lambda item: item[0])
    calls = [asyncio.create_task(batch(item)) for item in [("a", 1), ("b", -1), ("c", 3), ("a", 4)]]
    await settle()
    runs.release.set()  # the three together fail for b: each is then run alone, a first
    await settle()
    [sending] = [task for task in asyncio.all_tasks() if task.get_name() == "store batch"]
    assert runs.seen[-1] == [("a", 1)]
    sending.cancel()  # shutdown, while a runs alone and b, c and the second a wait
    done, pending = await asyncio.wait(calls, timeout=1)
    assert not pending
    assert all(call.cancelled() for call in done)
