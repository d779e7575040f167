"""The store's leases: work that one process at a time may do, among replicas sharing one database.

A lease is a name (a call's Slack writes, the watchdog), its holder (one process) and when it expires. The holder
renews it while it works and releases it when done; one that dies loses it when it expires, and another takes it.
Times come from the processes' clocks, which must agree to well within a lease's length (NTP does).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.store.database import Base


class Leases(Base):
    """Store methods about leases; `Store` combines them with the rest."""

    async def take_lease(self, name: str, holder: str, *, now: datetime, ttl: timedelta) -> bool:
        """Take (or renew) the lease `name` for `holder` until now + ttl; False while another holder's is in force."""
        changed = await self._change(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at"
            " WHERE leases.holder = excluded.holder OR leases.expires_at <= ?",
            name, holder, (now + ttl).isoformat(), now.isoformat(),
        )  # fmt: skip
        return changed == 1

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
