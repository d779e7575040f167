"""The outbox's worker: per call, writes leave strictly in the order they were queued, by one worker task at a time.

- `parent` goes first, and its `ts` is stored before anything else is sent, because every later write needs it
  (`threads.py`: where it goes when the conversation refuses it). Its launch waits for it, so in its channel it goes
  ahead of the other calls' waiting writes, and may use the channel's burst (`bot/slack/pacing.py`).
- `update` re-renders the parent from the call as it is *now*, so all updates queued so far are sent as one; while
  the workspace's chat.update budget has room and nobody waits, the worker sends it in line, else the updater does
  (`updater.py`).
- `reply`: consecutive transcript lines (`group`) are joined into one message, in the call's order (`seq`), none
  dropped: a line that arrives after a later one (a retried request, a parallel sender) takes its place, and a line
  with an earlier event still missing waits for it, at most `GAP_WAIT_S` (real time) once per gap (`call_order.py`;
  `replies.py`: how lines are grouped and long texts cut).
- `summary`: the call's final reply, written when it is sent (`replies.py`), with its written lines asked for
  once before (`write_ups.py`).
- `dm`: a message to one person (the recording's link, a notice for admins), in the call's order; it needs no parent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.calls.models import Call
from bot.errors import StoreUnavailable
from bot.leases import Replica
from bot.logs import bind_call
from bot.slack import blocks
from bot.slack.delivery.call_order import CallOrder
from bot.slack.delivery.handover import Handover
from bot.slack.delivery.kinds import Kind
from bot.slack.delivery.replies import MAX_LINE_CHARS, reply_batch, written_summary
from bot.slack.delivery.sender import MAX_BACKOFF_S, ParentWait, Sender
from bot.slack.delivery.threads import Threads
from bot.slack.delivery.updater import UPDATE_BURST, UPDATES_PER_MINUTE, Updater
from bot.slack.delivery.write_ups import Writer, WriteUps
from bot.slack.pacing import BURST, Budget, Clock, MonotonicClock, Pacer
from bot.slack.privately import tell_privately
from bot.slack.reply_urls import ReplyUrls
from bot.store import OutboxRow, Store
from bot.tasks import cancel_and_wait

log = logging.getLogger(__name__)

MAX_UNEXPECTED_FAILURES = 3  # a write that fails this often, not on Slack's answer but in our code, is dropped


class Delivery:
    """Queues a call's Slack writes in the store and delivers them, one worker per call with pending writes."""

    def __init__(
        self,
        client: AsyncWebClient,
        store: Store,
        *,
        pace_s: float = 1.0,
        burst: int = BURST,
        clock: Clock | None = None,
        backoff_s: float = 1.0,
        broadcast_summary: bool = False,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_retry: Callable[[str], None] = lambda reason: None,
        updates_per_minute: float = UPDATES_PER_MINUTE,
        reply_urls: ReplyUrls | None = None,
        replica: Replica | None = None,
        deliver: bool = True,
        writer: Writer | None = None,  # the summary's written lines (OPENAI_API_KEY): write_ups.py
    ) -> None:
        self._client = client
        self._reply_urls = reply_urls if reply_urls is not None else ReplyUrls()
        self._store = store
        self._replica = replica if replica is not None else Replica(store)
        # False on a web replica: it queues writes and tells the workers, which deliver them (`_wake`).
        self._delivers = deliver
        self._clock = clock or MonotonicClock()
        self._pacer = Pacer(self._clock, pace_s, burst=burst)
        updates = Budget(self._clock, updates_per_minute, burst=UPDATE_BURST)  # chat.update, workspace-wide
        self._sender = Sender(self._pacer, self._clock, backoff_s=backoff_s, on_retry=on_retry)
        self._wall_clock = wall_clock
        self.broadcast_summary = broadcast_summary
        self._write_ups = WriteUps(store, writer)
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._handover = Handover(store, self._kick, self.resume)  # among replicas (handover.py)
        self._threads = Threads(
            client, store, self._sender, pacer=self._pacer, updates=updates, wall_clock=wall_clock, kick=self._kick
        )
        self._updater = Updater(store, self._threads, updates, self._clock, workers=self._workers, kick=self._kick)
        self._dirty: set[str] = set()
        self._parents: dict[int, ParentWait] = {}
        # Per call, the seq below which missing events are no longer waited for (waited once already, since start).
        self._call_order = CallOrder(store)
        self._unexpected: dict[int, int] = {}  # outbox row id -> unexpected failures in a row (see _gave_up_on)
        self._undropped: dict[str, list[int]] = {}  # call id -> writes Slack took whose DELETE failed with its read

    # -- queueing ------------------------------------------------------------------------------------------------

    async def post_parent(self, call: Call, *, within_s: float | None = None) -> bool:
        """Queue the call's parent message and wait until it is in Slack; False if it could be posted nowhere.

        With `within_s`, raise TimeoutError when Slack has not taken it that long after it first had its turn in the
        channel: waiting behind the channel's other writes (our own pacing) does not count; Slack's trouble (5xx,
        unreachable, Retry-After holds after the first try) does.
        The message stays queued either way.
        """
        row_id = await self._store.enqueue_slack(call.id, Kind.PARENT, {}, at=self._wall_clock(), rank=0)
        wait = ParentWait(asyncio.get_running_loop().create_future(), asyncio.Event())
        self._parents[row_id] = wait
        self._kick(call.id)
        try:
            if within_s is None:
                return await wait.posted
            await wait.sending.wait()
            return await asyncio.wait_for(wait.posted, within_s)
        finally:
            self._parents.pop(row_id, None)

    async def update(self, call: Call) -> None:
        """Queue a refresh of the parent message (rendered from the call as it is when sent)."""
        await self._store.enqueue_slack(call.id, Kind.UPDATE, {}, at=self._wall_clock())
        await self._wake(call.id)

    async def reply(
        self,
        call: Call,
        text: str,
        *,
        group: bool = False,
        broadcast: bool = False,
        seq: int | None = None,
        announces: bool = False,
    ) -> None:
        """Queue a thread reply; `group` lets consecutive lines share one message, in `seq` order when given.
        `announces`: the line is event `seq`'s only write, and the event is noted announced with it, at once."""
        body: dict[str, Any] = {"text": blocks.clip(text, MAX_LINE_CHARS)}
        if group:
            body["group"] = True
        if seq is not None:
            body["seq"] = seq
        if broadcast:
            body["broadcast"] = True
        announced = seq if announces else None
        await self._store.enqueue_slack(call.id, Kind.REPLY, body, at=self._wall_clock(), announces=announced)
        await self._wake(call.id)

    async def summary(self, call: Call, *, cost: float | None = None, from_history: bool = False) -> None:
        """Queue the call's final summary, written when it is sent: its turns count every line stored by then."""
        body: dict[str, Any] = {"cost": cost, "from_history": from_history}
        if self.broadcast_summary:
            body["broadcast"] = True
        await self._store.enqueue_slack(call.id, Kind.SUMMARY, body, at=self._wall_clock())
        await self._wake(call.id)

    def why_nowhere(self, call_id: str) -> str | None:
        """Slack's reasons when the call's message could be posted nowhere (since this start); None otherwise."""
        return self._threads.why_nowhere(call_id)

    async def tell_requester(self, call: Call, text: str) -> bool:
        """Show `text` to the person who asked for the call, to them alone: through the request's response_url,
        else with chat.postEphemeral where they asked. Not queued (a response_url lives in memory only); False when
        neither reached them.
        """
        origin = call.request.origin
        return await tell_privately(
            self._client, {"text": text}, url=self._reply_urls.get(call.id), channel=origin.conversation_id,
            user=origin.user_id, about=f"call {call.id}",
        )  # fmt: skip

    async def tell_user(self, call: Call, user_id: str, text: str) -> None:
        """Queue a DM from the bot to `user_id` about `call` (App Home's Messages tab, which manifest.yml turns on):
        sent in the call's order, retried like its thread's writes, and never redirected anywhere else."""
        await self._store.enqueue_slack(call.id, Kind.DM, {"user": user_id, "text": text}, at=self._wall_clock())
        await self._wake(call.id)

    # -- lifecycle -----------------------------------------------------------------------------------------------

    async def resume(self) -> int:
        """At start: deliver what an earlier run left pending. Returns how many calls had writes waiting."""
        pending = await self._store.calls_with_pending_slack()
        for call_id in pending:
            self._kick(call_id)
        return len(pending)

    async def flush(self, timeout_s: float) -> int:
        """Give the workers `timeout_s` to finish, then stop them; the rest waits for the next start (or replica)."""
        self._handover.cancel()
        workers = set(self._workers.values())
        if workers:
            _, still = await asyncio.wait(workers, timeout=timeout_s)
        else:
            still = set()
        await cancel_and_wait(still)
        return len(still)

    def waiting(self, channel: str) -> int:
        """How many writes wait for their turn in `channel` now (tests)."""
        return self._pacer.waiting(channel)

    async def idle(self) -> None:
        """Wait until nothing is pending (tests and benchmarks)."""
        while self._workers or self._handover.tasks:
            await asyncio.wait({*self._workers.values(), *self._handover.tasks})

    # -- the worker ----------------------------------------------------------------------------------------------

    async def _wake(self, call_id: str) -> None:
        """A write was queued for `call_id`: deliver it, or, on a web replica, tell the workers (who sweep too)."""
        if self._delivers:
            self._kick(call_id)
            return
        try:
            await self._store.notify(f"slack {call_id}")
        except StoreUnavailable as error:
            log.warning("could not tell the workers of a Slack write: %s", error.reason)

    async def sweep(self, every_s: float) -> None:
        """Forever: deliver the writes waiting that nobody delivers (a dead replica's, once its lease lapses)."""
        await self._handover.sweep(every_s)

    def kick(self, call_id: str) -> None:
        """Deliver the writes waiting for `call_id` (a worker told of them by a web replica)."""
        self._kick(call_id)

    def _kick(self, call_id: str) -> None:
        self._dirty.add(call_id)
        worker = self._workers.get(call_id)
        if worker is None or worker.done():
            task = asyncio.create_task(self._work(call_id), name=f"slack delivery {call_id}")
            self._workers[call_id] = task

    async def _work(self, call_id: str) -> None:
        """Deliver the call's pending writes, holding its lease: among replicas, one delivers a call's writes."""
        bind_call(call_id)  # this worker's task only: its log lines carry the call id, whoever kicked it
        lease = f"slack {call_id}"
        seen = 0  # the newest write this worker read
        newer = False  # a write newer than `seen` waited as the lease was let go

        async def let_go(holder: str) -> None:
            nonlocal newer
            try:
                newer = await self._store.let_go_of_writes(lease, holder, call_id, after=seen)
            except StoreUnavailable:  # the lease lapses by itself; whether a write waits is not known: look again
                newer = True

        try:
            while True:
                newer = False
                async with self._replica.holding(lease, let_go=let_go) as held:
                    if held:
                        seen = max(seen, await self._deliver_pending(call_id))
                if not held:
                    if call_id in self._dirty:  # a write was queued here meanwhile: the holder may have let go since
                        self._dirty.discard(call_id)
                        continue
                    # Another replica delivers them: it may finish before it sees ours, so look again.
                    self._handover.held_elsewhere(call_id)
                    return
                self._handover.taken(call_id)
                if call_id in self._dirty:  # a write was queued here while the lease was being released
                    continue
                # Another replica may have queued one as this one finished, and found the lease still held: the
                # holder looks once more as it lets go (the same statement), so it is not left for that replica's
                # next look (which comes LOOK_AGAIN_S later, if it was queued while that statement ran).
                if not newer:
                    return
        except StoreUnavailable as error:  # the writes stay queued: look again later, as for a lease held elsewhere
            log.warning("Slack writes wait: %s", error.reason)
            self._handover.held_elsewhere(call_id)
        finally:
            if self._workers.get(call_id) is asyncio.current_task():
                del self._workers[call_id]

    async def _deliver_pending(self, call_id: str) -> int:
        """Deliver the call's writes until none is left (but updates left to the updater); the newest id read."""
        seen = 0
        done = self._undropped.pop(call_id, [])  # writes Slack took: forgotten by the next read, in the same statement
        while True:
            self._dirty.discard(call_id)
            try:
                call, rows = await self._store.call_and_pending(call_id, dropping=done)
            except StoreUnavailable:
                self._undropped[call_id] = done  # sent: forgotten by this replica's next read, never sent again here
                raise
            done = []
            # Its parent posted, a thread write waits for the channel's turn (else the parent comes next: it goes at
            # once, ahead of thread writes); lines queued meanwhile join the next reply, so read again after a wait.
            if call is not None and call.slack_ts is not None and await self._pacer.ready(call.slack_channel or ""):
                call, rows = await self._store.call_and_pending(call_id)
            if call is None:
                return seen
            seen = max([seen, *(row.id for row in rows)])
            if rows and rows[0].kind == Kind.UPDATE and self._updater.waits(call):
                self._updater.want(call)  # the updater sends them when the workspace's budget allows
                rows = [row for row in rows if row.kind != Kind.UPDATE]
            if not rows:
                if call_id in self._dirty:
                    continue
                return seen
            try:
                done = await self._deliver(call, rows)
                self._unexpected.pop(rows[0].id, None)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not stop the call's later writes; the row stays for a retry
                log.exception("call %s: delivering a Slack write failed unexpectedly", call_id)
                if await self._gave_up_on(rows):
                    continue
                await self._clock.sleep(MAX_BACKOFF_S)

    async def _gave_up_on(self, rows: list[OutboxRow]) -> bool:
        """Count an unexpected failure of the write at the head of a call's queue; at the MAX_UNEXPECTED_FAILURES-th,
        drop it (an update: every update queued, since they are sent as one) and return True, so that a write that
        can never succeed does not hold back the lines after it."""
        head = rows[0]
        failures = self._unexpected.pop(head.id, 0) + 1
        if failures < MAX_UNEXPECTED_FAILURES:
            self._unexpected[head.id] = failures
            return False
        dropped = [row.id for row in rows if row.kind == Kind.UPDATE] if head.kind == Kind.UPDATE else [head.id]
        log.error("call %s: a Slack %s failed %d times unexpectedly; it is dropped", head.call_id, head.kind, failures)
        await self._store.drop_slack(dropped)
        return True

    async def _deliver(self, call: Call, rows: list[OutboxRow]) -> list[int]:
        """Send the write at the head of the call's queue (with those sent as one with it); the ids of the writes
        done, for the store to forget."""
        first = rows[0]
        if first.kind == Kind.PARENT:
            await self._post_parent(call, first)  # forgotten as the call's message is kept
            return []
        if first.kind == Kind.DM:  # needs no parent: it goes to one person, wherever the call's thread is
            await self._threads.post_dm(call, str(first.body["user"]), str(first.body["text"]))
            return [first.id]
        if call.slack_channel is None or call.slack_ts is None:
            # No parent in Slack: the bot stopped before queueing it, or it could be posted nowhere. Post it now
            # (rendered as the call is); if that fails too, these writes have nowhere to go (but the DMs).
            if self._threads.why_nowhere(call.id) is not None or not await self._post_parent(call, None):
                lost = [row.id for row in rows if row.kind != Kind.DM]
                log.error("call %s: %d Slack writes dropped, the call has no message", call.id, len(lost))
                return lost
            return []
        if first.kind == Kind.UPDATE:
            # Rendered from the call as it is now, one update stands for every update queued so far.
            batch = [row for row in rows if row.kind == Kind.UPDATE]
            sent = await self._threads.update_parent(call)
        else:
            if first.kind == Kind.REPLY and first.body.get("seq") is not None:
                rows = await self._call_order.of(call, rows)
            if first.kind == Kind.SUMMARY:  # written now, from every event stored by now (its lines asked once)
                events = await self._store.events(call.id)
                rows = [written_summary(call, await self._write_ups.ready(first, events), events)]
            batch = reply_batch(rows)
            sent = await self._threads.post_reply(call, batch)
        return [row.id for row in batch] if sent else []

    async def _post_parent(self, call: Call, row: OutboxRow | None) -> bool:
        """Post the call's parent (its queued row, or for a row lost, none); a launch waiting for it is told."""
        if row is None:
            return await self._threads.post_parent(call, None, None)
        posted = await self._threads.post_parent(call, row.id, self._parents.get(row.id))
        self._settle_parent(row.id, posted=posted)
        return posted

    def _settle_parent(self, row_id: int, *, posted: bool) -> None:
        wait = self._parents.get(row_id)
        if wait is not None and not wait.posted.done():
            wait.posted.set_result(posted)

    @property
    def token_refused(self) -> str | None:
        """Slack's error code while it refuses the bot token (writes are held), else None."""
        return self._sender.token_refused
