"""Replica: work one replica at a time does, on PostgreSQL; on SQLite, one process serves, and every lease is its."""

from __future__ import annotations

from bot.leases import Replica
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
