"""Replica: work one replica at a time does, on PostgreSQL; on SQLite, one process serves, and every lease is its."""

from __future__ import annotations

import asyncio
import contextlib

from bot.leases import Replica, _Renewal
from bot.store import Store


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

    class SwallowingReplica:
        renew_every_s = 0.0
        takes = 0

        async def take(self, name: str) -> bool:
            self.takes += 1
            with contextlib.suppress(asyncio.CancelledError):  # the cancel is lost...
                await asyncio.sleep(0.01)  # ...while waiting for a pooled connection
            return True

    replica = SwallowingReplica()
    renewal = _Renewal(replica, "slack C1")  # type: ignore[arg-type]
    while replica.takes == 0:
        await asyncio.sleep(0)
    await asyncio.wait_for(renewal.stop(), 5)  # a renewal that ignored its stop would hang here
    takes = replica.takes
    await asyncio.sleep(0.05)
    assert replica.takes == takes  # and it takes no more
