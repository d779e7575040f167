"""Work one replica at a time may do, among replicas sharing one database: held by lease (bot/store/leases.py).

Every process is a `Replica`: it takes a lease before such work (a call's Slack writes, a watchdog round), renews
it in the background while the work lasts, and releases it when done. A replica that dies holds its leases only
until they expire; then another takes them. Each replica also keeps a presence lease, so that work done at start
(settling what a stopped bot left behind) can tell "the only replica, restarted" from "one of several, joining".

On SQLite there are no replicas (one process serves the database: roles and replicas need PostgreSQL), so there
every lease is this process's at once, without a write, and a restarted bot takes over at once what it left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from bot.calls.clock import Clock, utc_now
from bot.errors import StoreUnavailable
from bot.store import Store
from bot.tasks import Renewal

log = logging.getLogger(__name__)

LEASE_TTL_S = 15.0  # LEASE_S: a dead replica's work waits this long, at most, before another takes it over
PRESENCE = "replica "


class Replica:
    """This process among the replicas: its name, and the leases it takes."""

    def __init__(self, store: Store, *, clock: Clock = utc_now, ttl_s: float = LEASE_TTL_S) -> None:
        self._store = store
        self._clock = clock
        self._ttl = timedelta(seconds=ttl_s)
        self.renew_every_s = ttl_s / 3  # two renewals may fail (a slow database) before the lease lapses
        self.name = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._kept: dict[str, Renewal] = {}  # leases held until `leave` (presence, leadership)
        self.shared = store.backend == "postgresql"  # else this process is the only one (see above)

    async def take(self, name: str) -> bool:
        """Take or renew the lease `name`; False while another replica holds it (or the database fails)."""
        if not self.shared:
            return True
        try:
            return await self._store.take_lease(name, self.name, now=self._clock(), ttl=self._ttl)
        except StoreUnavailable as error:
            log.warning("could not take the lease %r: %s", name, error.reason)
            return False

    async def release(self, name: str) -> None:
        if not self.shared:
            return
        with contextlib.suppress(StoreUnavailable):  # it lapses by itself
            await self._store.release_lease(name, self.name)

    @contextlib.asynccontextmanager
    async def holding(
        self, name: str, *, let_go: Callable[[str], Awaitable[None]] | None = None
    ) -> AsyncIterator[bool]:
        """Yield True with the lease `name` held (renewed in the background, released after), False if another
        replica holds it. `let_go(holder)` releases it instead of `release`: for a holder with more to do in that
        statement (a StoreUnavailable it raises is ignored: the lease lapses by itself)."""
        if not await self.take(name):
            yield False
            return
        if not self.shared:
            yield True
            return
        renewal = _renewal(self, name)
        try:
            yield True
        finally:
            await renewal.stop()
            if let_go is None:
                await self.release(name)
            else:
                with contextlib.suppress(StoreUnavailable):
                    await let_go(self.name)

    async def lead(self, name: str) -> bool:
        """True while this replica leads `name` (the watchdog): it keeps the lease, renewed, until it leaves or dies;
        False while another replica does."""
        if name in self._kept or not self.shared:
            return True
        if not await self.take(name):
            return False
        self._kept[name] = _renewal(self, name)
        log.info("this replica (%s) now leads %r", self.name, name)
        return True

    async def join(self) -> bool:
        """Announce this replica (its presence lease, renewed until `leave`); True if no other replica is present."""
        if not self.shared:
            return True
        alone = not await self._store.lease_holders(PRESENCE, now=self._clock(), besides=self.name)
        await self.lead(PRESENCE + self.name)
        return alone

    async def leave(self) -> None:
        """Give up every lease kept, so that other replicas take the work over at once."""
        kept, self._kept = self._kept, {}
        await asyncio.gather(*(renewal.stop() for renewal in kept.values()))
        for name in kept:
            await self.release(name)


def _renewal(replica: Replica, name: str) -> Renewal:
    """Keeps the lease `name` while its work lasts."""
    return Renewal(lambda: replica.take(name), replica.renew_every_s, what=f"the lease {name!r}")
