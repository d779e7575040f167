"""Among replicas: a call's Slack writes that another replica is delivering (it holds the call's lease).

The holder delivers every write of the call it finds waiting, those other replicas queued included, until none is
left; then it releases the lease. A write queued just as it finished would wait, so the replica that queued it
looks again shortly, and less often each time the lease is still held (a holder waiting out an hour's Retry-After
is not asked four times a second). Every replica also sweeps for writes waiting: those of a replica that died are
delivered once its lease lapses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.errors import StoreUnavailable
from bot.store import Store

log = logging.getLogger(__name__)

LOOK_AGAIN_S = 0.25  # the first look again (real time: it waits for another process), doubled each time after
LOOK_AGAIN_AT_MOST_S = 5.0


class Handover:
    def __init__(self, store: Store, kick: Callable[[str], None], resume: Callable[[], Awaitable[int]]) -> None:
        self._store = store
        self._kick = kick
        self._resume = resume
        self._later: dict[str, asyncio.Task[None]] = {}
        self._pause: dict[str, float] = {}  # call id -> how long the next look again waits

    def held_elsewhere(self, call_id: str) -> None:
        """Another replica holds the call's lease: look again later."""
        if call_id not in self._later:
            pause = self._pause.get(call_id, LOOK_AGAIN_S)
            self._pause[call_id] = min(pause * 2, LOOK_AGAIN_AT_MOST_S)
            self._later[call_id] = asyncio.create_task(self._look_again(call_id, pause), name=f"slack look {call_id}")

    def taken(self, call_id: str) -> None:
        """This replica holds the call's lease now."""
        self._pause.pop(call_id, None)

    async def _look_again(self, call_id: str, pause: float) -> None:
        try:
            await asyncio.sleep(pause)
            if await self._store.pending_slack(call_id, limit=1):
                self._kick(call_id)
            else:
                self._pause.pop(call_id, None)
        except StoreUnavailable as error:
            log.warning("could not look at call %s's Slack writes again: %s", call_id, error.reason)
        finally:
            self._later.pop(call_id, None)

    async def sweep(self, every_s: float) -> None:
        """Forever: kick every call with writes waiting."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await self._resume()
            except StoreUnavailable as error:
                log.warning("could not look for Slack writes waiting: %s", error.reason)

    @property
    def tasks(self) -> set[asyncio.Task[None]]:
        return set(self._later.values())

    def cancel(self) -> None:
        for task in self._later.values():
            task.cancel()
