"""A call's transcript lines in the call's order: a line with an earlier event still missing waits for it, at most
GAP_WAIT_S (real time: a retried request comes within moments) once per gap, then goes on without it."""

from __future__ import annotations

import asyncio
import logging

from bot.calls.models import Call
from bot.slack.delivery.replies import line_run
from bot.store import OutboxRow, Store

log = logging.getLogger(__name__)

GAP_WAIT_S = 1.0  # the longest a line waits for an earlier event
GAP_POLL_S = 0.02


class CallOrder:
    """The outbox worker's ordering of each call's lines; remembers, per live call, the seq up to which no event is
    waited for any more (every one below it was queued, or its gap waited out), so that the events are read only
    when a line skips ahead of it, past a seq that is not one of the lines at hand."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._gaps_waited: dict[str, int] = {}

    async def of(self, call: Call, rows: list[OutboxRow]) -> list[OutboxRow]:
        """The pending rows, their leading run of transcript lines in seq order, after waiting (at most GAP_WAIT_S,
        once per gap) for an earlier event's writes to be queued (stored is not enough), then read again."""
        deadline, looked = asyncio.get_running_loop().time() + GAP_WAIT_S, False
        while True:
            run = line_run(rows)
            if not run:
                return rows
            seqs = {int(row.body["seq"]) for row in run}
            top, floor = max(seqs), self._gaps_waited.get(call.id, 0)
            missing = [seq for seq in range(floor + 1, top) if seq not in seqs]  # events before a line, not lines here
            if missing:  # read only then: those whose writes are queued (an update, a reply) are not missing
                queued, looked = await self._store.announced_seqs(call.id), True
                missing = [seq for seq in missing if seq not in queued]
            if not missing or asyncio.get_running_loop().time() >= deadline:
                if missing:
                    log.info("call %s: events %s never came; its lines go on without them", call.id, missing)
                if call.is_live:
                    self._gaps_waited[call.id] = max(floor, top)
                else:  # a line after the end comes rarely: the events are read then
                    self._gaps_waited.pop(call.id, None)
                break
            await asyncio.sleep(GAP_POLL_S)
            fresh = await self._store.pending_slack(call.id)
            if line_run(fresh):
                rows = fresh  # lines that came meanwhile take their place
        rows = (await self._store.pending_slack(call.id) or rows) if looked else rows
        run = line_run(rows)
        return sorted(run, key=lambda row: int(row.body["seq"])) + rows[len(run) :]
