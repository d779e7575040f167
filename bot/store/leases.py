"""The store's leases: work that one process at a time may do, among replicas sharing one database.

A lease is a name (a call's Slack writes, the watchdog), its holder (one process) and when it expires. The holder
renews it while it works and releases it when done; one that dies loses it when it expires, and another takes it.
Times come from the processes' clocks, which must agree to well within a lease's length (NTP does).
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from bot.store.batches import Batch, columns
from bot.store.database import Base


class Leases(Base):
    """Store methods about leases; `Store` combines them with the rest."""

    async def take_lease(self, name: str, holder: str, *, now: datetime, ttl: timedelta) -> bool:
        """Take (or renew) the lease `name` for `holder` until now + ttl; False while another holder's is in force."""
        expires_at, now_at = (now + ttl).isoformat(), now.isoformat()
        if self._db.dialect == "postgresql":  # with the others taken meanwhile, in one statement
            return await self._leases_taken((name, holder, expires_at, now_at))
        changed = await self._change(_TAKE.format("VALUES (?, ?, ?)", "?"), name, holder, expires_at, now_at)
        return changed == 1

    @functools.cached_property
    def _leases_taken(self) -> Batch[tuple[str, str, str, str], bool]:
        """Leases taken as `take_lease` takes one, many to a statement (PostgreSQL)."""

        async def take(leases: list[tuple[str, str, str, str]]) -> list[bool]:
            rows = await self._db.single(lambda tx: tx.fetch(_TAKE_MANY, *columns(leases)))
            taken = {row["name"] for row in rows}
            return [lease[0] in taken for lease in leases]

        return Batch(take, key=lambda lease: lease[0])

    async def release_lease(self, name: str, holder: str) -> None:
        """Give up the lease `name`, if `holder` holds it."""
        await self._change("DELETE FROM leases WHERE name = ? AND holder = ?", name, holder)

    async def lease_holder(self, name: str, *, now: datetime) -> str | None:
        """Who holds the lease `name` now, if anyone."""
        value = await self._scalar("SELECT holder FROM leases WHERE name = ? AND expires_at > ?", name, now.isoformat())
        return str(value) if value is not None else None

    async def lease_holders(self, prefix: str, *, now: datetime, besides: str = "") -> list[str]:
        """Who holds a lease whose name starts with `prefix` now, `besides` left out."""
        rows = await self._fetch(
            "SELECT holder FROM leases WHERE SUBSTR(name, 1, LENGTH(?)) = ? AND expires_at > ? AND holder != ?"
            " ORDER BY holder",
            prefix, prefix, now.isoformat(), besides,
        )  # fmt: skip
        return [str(row["holder"]) for row in rows]


_TAKE = (
    "INSERT INTO leases (name, holder, expires_at) {}"
    " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at"
    " WHERE leases.holder = excluded.holder OR leases.expires_at <= {}"
)
# `take_lease` for distinct leases, each against its own holder's clock.
_TAKE_MANY = (
    "WITH i AS (SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[]) AS i (name, holder, expires_at, now)) "
    + _TAKE.format("SELECT name, holder, expires_at FROM i", "(SELECT now FROM i WHERE i.name = excluded.name)")
    + " RETURNING name"
)
