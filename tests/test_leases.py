"""Replica: work one replica at a time does, on PostgreSQL; on SQLite, one process serves, and every lease is its."""

from __future__ import annotations

import asyncio
import contextlib

from bot.leases import Replica
from bot.store import Store
from bot.tasks import Renewal
from tests.test_store import T0, a_call


async def test_a_lease_held_by_one_replica_is_refused_to_another_until_it_is_released(store: Store) -> None:
    first, second = Replica(store), Replica(store)
    async with first.holding("slack C1") as held:
        assert held
        async with second.holding("slack C1") as also:
            # On PostgreSQL replicas share the database: the second waits its turn. On SQLite one process serves
            # it, so a lease left by a process that died is this one's at once (a restart takes over at once).
            assert also is (store.backend == "sqlite")
    async with second.holding("slack C1") as held:
        assert held  # released when the first was done


async def test_a_holder_lets_go_and_hears_of_writes_another_replica_left_to_it(store: Store) -> None:
    """A call's Slack writes: the holder releases their lease and looks for newer writes in one statement."""
    first, second = Replica(store), Replica(store)
    await store.insert_call(a_call(), brief_token_hash="h")
    seen = await store.enqueue_slack("call1", "reply", {"text": "read by the holder"}, at=T0)
    heard: list[bool] = []

    async def let_go(holder: str) -> None:
        heard.append(await store.let_go_of_writes("slack call1", holder, "call1", after=seen))

    async with first.holding("slack call1", let_go=let_go) as held:
        assert held
        await store.enqueue_slack("call1", "reply", {"text": "queued by another replica"}, at=T0)
        async with second.holding("slack call1") as also:
            assert also is (store.backend == "sqlite")  # on PostgreSQL it is left to the holder
    shared = store.backend == "postgresql"
    assert heard == ([True] if shared else [])  # SQLite: no replicas, no lease to let go of
    async with second.holding("slack call1") as held:
        assert held  # let go of
    assert not await store.let_go_of_writes("slack call1", first.name, "call1", after=seen + 1)  # none newer


async def test_the_watchdog_has_one_leader_until_it_leaves(store: Store) -> None:
    first, second = Replica(store), Replica(store)
    assert await first.join()  # the first replica is alone
    assert await first.lead("watchdog")
    shared = store.backend == "postgresql"
    assert await second.join() is not shared  # on PostgreSQL, another replica is present
    assert await second.lead("watchdog") is not shared
    await first.leave()  # it stops: its leases go at once, not when they lapse
    assert await second.lead("watchdog")
    await second.leave()


async def test_a_renewal_stops_even_when_its_cancel_is_swallowed() -> None:
    """On Python 3.11, psycopg_pool's asyncio.wait_for can swallow a cancel that lands while it hands out a
    connection: the renewal then carries on with its `take`, and must still stop after it, not loop forever."""
    takes = 0

    async def take() -> bool:
        nonlocal takes
        takes += 1
        with contextlib.suppress(asyncio.CancelledError):  # the cancel is lost...
            await asyncio.sleep(0.01)  # ...while waiting for a pooled connection
        return True

    renewal = Renewal(take, 0.0, what="the lease 'slack C1'")
    while takes == 0:
        await asyncio.sleep(0)
    await asyncio.wait_for(renewal.stop(), 5)  # a renewal that ignored its stop would hang here
    taken = takes
    await asyncio.sleep(0.05)
    assert takes == taken  # and it takes no more
