"""Parent updates within the workspace's chat.update budget.

An `update` re-renders the parent from the call as it is *now*, so all updates queued so far are sent as one.
chat.update is Tier 3, about 50 a minute for the whole workspace: every update takes a place in one budget of
`updates_per_minute` (a little under Slack's limit), and a chat.update 429 holds the whole budget for its
Retry-After. While the budget has room and nobody waits, a call's worker sends its update in line; otherwise it
hands the update to the updater, which sends the waiting updates as places free up, calls that ended first (their
final state, no Hang up button), then in the order asked, while each call's replies go on.
The parent shows when the call was placed as a Slack date, so no update is spent on a ticking clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot.calls.models import Call
from bot.logs import bind_call
from bot.slack.delivery.kinds import Kind
from bot.slack.delivery.sender import MAX_BACKOFF_S
from bot.slack.delivery.threads import Threads
from bot.slack.pacing import Budget, Clock
from bot.store import Store

log = logging.getLogger(__name__)

# chat.update: Tier 3, "50+ per minute" per workspace (docs.slack.dev/reference/methods/chat.update;
# docs.slack.dev/apis/web-api/rate-limits). We spend a little less, with a short burst, so a minute never sees 50.
UPDATES_PER_MINUTE = 40
UPDATE_BURST = 5
UPDATER = "parent updates"  # the updater's key among the workers


class Updater:
    """Sends the parent updates that wait for the budget, one refresh at a time, best first."""

    def __init__(
        self,
        store: Store,
        threads: Threads,
        updates: Budget,
        clock: Clock,
        *,
        workers: dict[str, asyncio.Task[None]],
        kick: Callable[[str], None],
    ) -> None:
        self._store = store
        self._threads = threads
        self._updates = updates
        self._clock = clock
        self._workers = workers  # the outbox's tasks: the updater and each refresh are among them, so flush sees them
        self._kick = kick  # hand a call back to its worker
        # Calls whose parent needs refreshing, each with its place in line: (0: it ended, 1: live; then the order
        # they were asked in). The updater takes them best first, one chat.update budget slot at a time.
        self._to_update: dict[str, tuple[int, int]] = {}
        self._asked = 0
        self._wanted = asyncio.Event()

    def waits(self, call: Call) -> bool:
        """Whether the call's parent update must wait for the updater: the workspace's chat.update budget is spent
        for now, or other calls wait for it already, or this call's update is under way there. Otherwise its worker
        sends it at once, in order."""
        if call.slack_channel is None or call.slack_ts is None:
            return False  # no parent in Slack yet: the worker posts it
        return bool(self._to_update) or _refreshing(call.id) in self._workers or not self._updates.ready()

    def want(self, call: Call) -> None:
        """Ask for the call's parent to be refreshed: calls that ended first, then in the order asked."""
        rank = 1 if call.is_live else 0
        self._asked += 1
        self._to_update[call.id] = min(self._to_update.get(call.id, (rank, self._asked)), (rank, self._asked))
        self._wanted.set()
        updater = self._workers.get(UPDATER)
        if updater is None or updater.done():
            self._workers[UPDATER] = asyncio.create_task(self._update_loop(), name="slack parent updates")

    async def _update_loop(self) -> None:
        """Start one refresh at a time, best first; the next starts once this one holds its budget slot (or needed
        none), so the order of the line is the order Slack sees."""
        try:
            while True:
                waiting = [c for c in self._to_update if _refreshing(c) not in self._workers]
                if not waiting:
                    if not self._to_update:
                        return
                    self._wanted.clear()
                    await self._wanted.wait()  # a refresh under way ends, or a call asks again
                    continue
                call_id = min(waiting, key=self._to_update.__getitem__)
                del self._to_update[call_id]
                claimed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._workers[_refreshing(call_id)] = asyncio.create_task(
                    self._refresh(call_id, claimed), name=f"slack parent update {call_id}"
                )
                await claimed
        finally:
            if self._workers.get(UPDATER) is asyncio.current_task():
                del self._workers[UPDATER]

    async def _refresh(self, call_id: str, claimed: asyncio.Future[None]) -> None:
        bind_call(call_id)
        key = _refreshing(call_id)
        try:
            rows = [row for row in await self._store.pending_slack(call_id) if row.kind == Kind.UPDATE]
            call = await self._store.call(call_id)
            if call is None or not rows:
                return
            if call.slack_channel is None or call.slack_ts is None:
                if self._threads.why_nowhere(call_id) is not None:
                    await self._store.drop_slack([row.id for row in rows])
                return  # its worker posts the parent, rendered as the call is then, and hands these back after
            if await self._threads.update_parent(call, claimed):
                await self._store.drop_slack([row.id for row in rows])
            else:
                self._kick(call_id)  # it moved to a DM: its worker posts the note and hands the update back
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug must not stop later updates; the rows stay for a retry
            log.exception("call %s: updating its Slack message failed unexpectedly", call_id)
            await self._clock.sleep(MAX_BACKOFF_S)
            self._kick(call_id)
        finally:
            if not claimed.done():
                claimed.set_result(None)
            if self._workers.get(key) is asyncio.current_task():
                del self._workers[key]
            self._wanted.set()


def _refreshing(call_id: str) -> str:
    """A refresh's key among the workers."""
    return f"update {call_id}"
