"""The outbox: every Slack write for a call is stored in SQLite first and forgotten only once Slack accepted it.

Per call, writes leave strictly in the order they were queued, by one worker task at a time:

- `parent`: the call's parent message. It goes first, and its `ts` is stored before anything else is sent, because
  every later write needs it. Where the conversation refuses us (`channel_not_found`, `not_in_channel`,
  `is_archived`, `restricted_action…`; `is_inactive` from `chat.update`), the thread goes to a DM with the requester,
  followed by a line saying why. Where only a reply to the message the call was asked about is refused
  (`cannot_reply_to_message`), the thread starts in the conversation itself instead.
- `update`: re-render the parent from the call as it is *now* (so all updates queued so far are sent as one);
  `msg_too_long` sends it once more with its texts clipped, then gives up on that update (logged). chat.update is
  Tier 3, about 50 a minute for the whole workspace: every update takes a place in one budget of
  `updates_per_minute` (a little under Slack's limit), and a chat.update 429 holds the whole budget for its
  Retry-After. While the budget has room and nobody waits, a call's worker sends its update in line; otherwise it
  hands the update to the updater, which sends the waiting updates as places free up, calls that ended first (their
  final state, no Hang up button), then in the order asked, while each call's replies go on.
  The parent shows when the call was placed as a Slack date, so no update is spent on a ticking clock.
- `reply`: a thread reply. Consecutive transcript lines (`group`) are joined into one message, in the call's order
  (`seq`), none dropped: a line that arrives after a later one (a retried request, a parallel sender) takes its
  place, and a line with an earlier event still missing waits for it, at most `GAP_WAIT_S` (real time) once per gap.
  chat.postMessage cuts text over 40,000 characters without a word, so we never send that much: a line is capped at
  `MAX_LINE_CHARS` when queued (its end replaced by …), and a reply longer than `MAX_REPLY_CHARS` goes as several,
  split at line breaks or spaces, never inside an &entity; or a <link>. `msg_too_long` splits it again.
- `summary`: the call's final reply, written when it is sent (like `update`), so its turn count includes transcript
  lines that arrived late, after the call ended but before the summary went out; they follow it in the thread. A
  line arriving after the summary was posted is shown but not counted in it (the scenario sends every line before
  it reports the end, so such a line is one whose delivery failed and was retried for a while).

Per channel, writes are paced (`pace_s` apart, about one a second as Slack asks) and an HTTP 429 holds the channel
for its `Retry-After`, as does an HTTP 200 `rate_limited` ("posted too many messages"; without a Retry-After, for
the backoff below). 5xx answers and connection errors are retried with capped exponential backoff, for as long
as it takes: the row stays in SQLite, and a restart resumes it. So is a refused token (`invalid_auth`,
`token_revoked`, `missing_scope`, ...): one ERROR line says so, and the writes go out once Slack accepts the token
again, or after a restart with a fixed one. Any other refusal drops that one write (logged), so it cannot block the
thread.

Duplicates: a write whose outcome is unknown (a 5xx, or the connection lost after sending) is sent again, so Slack
may show that reply twice. We prefer a rare repeated line to a lost one; `chat.update` repeats are harmless.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.calls.models import Call
from bot.logs import bind_call
from bot.slack import blocks, texts
from bot.slack.api_errors import error_code
from bot.slack.pacing import Budget, Clock, MonotonicClock, Pacer
from bot.store import OutboxRow, Store

log = logging.getLogger(__name__)

# chat.postMessage truncates text over 40,000 characters (docs.slack.dev/reference/methods/chat.postMessage,
# "Truncating content"; it no longer answers msg_too_long) and shows long texts poorly: we stay well under.
MAX_REPLY_CHARS = 3000  # one message of the thread
MAX_LINE_CHARS = 12_000  # one line (a transcript turn, escaped): at most four messages
MAX_BACKOFF_S = 60.0
# A new call's parent, while its launch waits for it (SLACK_PARENT_TIMEOUT_S): retried this often through 5xx and
# connection errors, so a short Slack outage costs no more than this beyond its end (Retry-After still holds).
PARENT_RETRY_S = 1.0
# A transcript line whose call has an earlier event (lower seq) not stored yet waits this long, at most, for it: a
# retried or parallel request from the scenario arrives within moments. Real time: it waits for the network.
GAP_WAIT_S = 1.0
GAP_POLL_S = 0.02
# chat.update: Tier 3, "50+ per minute" per workspace (docs.slack.dev/reference/methods/chat.update;
# docs.slack.dev/apis/web-api/rate-limits). We spend a little less, with a short burst, so a minute never sees 50.
UPDATES_PER_MINUTE = 40
UPDATE_BURST = 5
UPDATER = "parent updates"  # the updater's key among the workers
MAX_UNEXPECTED_FAILURES = 3  # a write that fails this often, not on Slack's answer but in our code, is dropped
# A Web API method of the client, named by attribute (`client.chat_update`) so tests/test_manifest.py sees it.
SlackMethod = Callable[..., Awaitable[AsyncSlackResponse]]


class Kind(StrEnum):
    PARENT = "parent"
    UPDATE = "update"
    REPLY = "reply"
    SUMMARY = "summary"


class SlackErrorCode(StrEnum):
    """Slack error codes delivery branches on."""

    CHANNEL_NOT_FOUND = "channel_not_found"
    NOT_IN_CHANNEL = "not_in_channel"
    IS_ARCHIVED = "is_archived"
    IS_INACTIVE = "is_inactive"  # chat.update's word for an archived or frozen channel
    RESTRICTED_ACTION = "restricted_action"
    READ_ONLY_CHANNEL = "restricted_action_read_only_channel"
    THREAD_ONLY_CHANNEL = "restricted_action_thread_only_channel"  # no top-level messages
    NON_THREADABLE_CHANNEL = "restricted_action_non_threadable_channel"  # no thread replies at all
    CANNOT_REPLY = "cannot_reply_to_message"  # this one message takes no replies
    MSG_TOO_LONG = "msg_too_long"
    RATELIMITED = "ratelimited"
    RATE_LIMITED = "rate_limited"  # chat.postMessage, HTTP 200: "posted too many messages"


# The conversation will not take the call's thread: follow the call in a DM with the requester instead
# (docs.slack.dev/reference/methods/chat.postMessage and chat.update, "Errors").
WHERE_ELSE = frozenset(
    {
        SlackErrorCode.CHANNEL_NOT_FOUND,
        SlackErrorCode.NOT_IN_CHANNEL,
        SlackErrorCode.IS_ARCHIVED,
        SlackErrorCode.IS_INACTIVE,
        SlackErrorCode.RESTRICTED_ACTION,
        SlackErrorCode.READ_ONLY_CHANNEL,
        SlackErrorCode.THREAD_ONLY_CHANNEL,
        SlackErrorCode.NON_THREADABLE_CHANNEL,
    }
)
TRANSIENT = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
# Slack refuses the token itself: no write can succeed until someone fixes it, and then every held write should.
AUTH_REFUSED = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive", "missing_scope"}
)


# -- retry rules: each answers one question about a failed write --------------------------------------------------


def is_rate_limited(error: SlackApiError) -> bool:
    """HTTP 429, or chat.postMessage's HTTP 200 `rate_limited`: the same write goes later, never dropped."""
    return error.response.status_code == 429 or error_code(error) in {
        SlackErrorCode.RATELIMITED,
        SlackErrorCode.RATE_LIMITED,
    }


def is_auth_refused(error: SlackApiError) -> bool:
    """Slack refuses the bot token (revoked, rotated, expired, missing a scope): hold the write, do not drop it."""
    return error_code(error) in AUTH_REFUSED


def is_transient(error: SlackApiError) -> bool:
    """Slack had trouble of its own (5xx or a transient error code): the same write may succeed later."""
    return error.response.status_code >= 500 or error_code(error) in TRANSIENT


def retry_after(error: SlackApiError, default: float = 1.0) -> float:
    if "Retry-After" not in error.response.headers:
        return default
    try:
        return max(0.0, float(error.response.headers.get("Retry-After", default)))
    except (TypeError, ValueError):
        return default


class Delivery:
    """Queues a call's Slack writes in the store and delivers them, one worker per call with pending writes."""

    def __init__(
        self,
        client: AsyncWebClient,
        store: Store,
        *,
        pace_s: float = 1.0,
        clock: Clock | None = None,
        backoff_s: float = 1.0,
        broadcast_summary: bool = False,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_retry: Callable[[str], None] = lambda reason: None,
        updates_per_minute: float = UPDATES_PER_MINUTE,
    ) -> None:
        self._client = client
        self._on_retry = on_retry  # each retry's reason (ratelimited, server_error, connection, auth), for metrics
        self._store = store
        self._clock = clock or MonotonicClock()
        self._pacer = Pacer(self._clock, pace_s)
        self._updates = Budget(self._clock, updates_per_minute, burst=UPDATE_BURST)  # chat.update, workspace-wide
        # Calls whose parent needs refreshing, each with its place in line: (0: it ended, 1: live; then the order
        # they were asked in). The updater takes them best first, one chat.update budget slot at a time.
        self._to_update: dict[str, tuple[int, int]] = {}
        self._asked = 0
        self._wanted = asyncio.Event()
        self._backoff_s = backoff_s
        self._wall_clock = wall_clock
        self.broadcast_summary = broadcast_summary
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._dirty: set[str] = set()
        self._parents: dict[int, _ParentWait] = {}
        self._token_refused: str | None = None  # Slack's error code while it refuses the bot token
        # Calls whose message could be posted neither in their conversation nor in a DM, since this start, with
        # Slack's reasons: their later writes are dropped at once instead of asking Slack again for each batch.
        self._nowhere: dict[str, str] = {}
        # What each live call's parent message shows in Slack now (since this start), so an update that would
        # change nothing is not sent: chat.update is rate-limited per workspace, and a call sends several.
        self._shown: dict[str, int] = {}
        # Calls whose thread could not reply to the message they were asked about (cannot_reply_to_message): their
        # parent stands alone in the conversation and replies go under it. Learnt again after a restart, the same way.
        self._unthreaded: set[str] = set()
        # Per call, the seq below which missing events are no longer waited for (waited once already, since start).
        self._gaps_waited: dict[str, int] = {}
        self._unexpected: dict[int, int] = {}  # outbox row id -> unexpected failures in a row (see _gave_up_on)

    # -- queueing ------------------------------------------------------------------------------------------------

    async def post_parent(self, call: Call, *, within_s: float | None = None) -> bool:
        """Queue the call's parent message and wait until it is in Slack; False if it could be posted nowhere.

        With `within_s`, raise TimeoutError when Slack has not taken it that long after it first had its turn in the
        channel: waiting behind the channel's other writes (our own pacing) does not count; Slack's trouble (5xx,
        unreachable, Retry-After holds after the first try) does.
        The message stays queued either way.
        """
        row_id = await self._store.enqueue_slack(call.id, Kind.PARENT, {}, at=self._wall_clock(), rank=0)
        wait = _ParentWait(asyncio.get_running_loop().create_future(), asyncio.Event())
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
        self._kick(call.id)

    async def reply(
        self, call: Call, text: str, *, group: bool = False, broadcast: bool = False, seq: int | None = None
    ) -> None:
        """Queue a thread reply; `group` lets consecutive lines share one message, in `seq` order when given."""
        body: dict[str, Any] = {"text": blocks.clip(text, MAX_LINE_CHARS)}
        if group:
            body["group"] = True
        if seq is not None:
            body["seq"] = seq
        if broadcast:
            body["broadcast"] = True
        await self._store.enqueue_slack(call.id, Kind.REPLY, body, at=self._wall_clock())
        self._kick(call.id)

    async def summary(self, call: Call, *, cost: float | None = None, from_history: bool = False) -> None:
        """Queue the call's final summary, written when it is sent: its turns count every line stored by then."""
        body: dict[str, Any] = {"cost": cost, "from_history": from_history}
        if self.broadcast_summary:
            body["broadcast"] = True
        await self._store.enqueue_slack(call.id, Kind.SUMMARY, body, at=self._wall_clock())
        self._kick(call.id)

    def why_nowhere(self, call_id: str) -> str | None:
        """Slack's reasons when the call's message could be posted nowhere (since this start); None otherwise."""
        return self._nowhere.get(call_id)

    async def tell_requester(self, call: Call, text: str) -> bool:
        """Show `text` to the person who asked for the call, to them alone: through the request's response_url,
        else with chat.postEphemeral where they asked. Not queued (a response_url lives in memory only); False when
        neither reached them.
        """
        origin = call.request.origin
        if origin.response_url:
            webhook = AsyncWebhookClient(origin.response_url, session=self._client.session)
            try:
                answer = await webhook.send(text=text, response_type="ephemeral", replace_original=False)
                if answer.status_code == 200:
                    return True
                log.warning("call %s: the response_url answered HTTP %s", call.id, answer.status_code)
            except (aiohttp.ClientError, TimeoutError) as error:
                log.warning("call %s: the response_url could not be reached (%s)", call.id, type(error).__name__)
        try:
            await self._client.chat_postEphemeral(channel=origin.conversation_id, user=origin.user_id, text=text)
            return True
        except SlackApiError as error:
            log.error("call %s: could not tell <@%s> either (%s)", call.id, origin.user_id, error_code(error))
        except (aiohttp.ClientError, TimeoutError) as error:
            log.error("call %s: could not tell <@%s> either (%s)", call.id, origin.user_id, type(error).__name__)
        return False

    async def tell_user(self, user_id: str, text: str) -> bool:
        """A DM from the bot to `user_id` (App Home's Messages tab, which manifest.yml turns on). Not queued: a
        notice for an admin, not a line of a call's thread; False (and one ERROR line) when Slack refused it."""
        try:
            await self._client.chat_postMessage(channel=user_id, text=text)
            return True
        except SlackApiError as error:
            log.error("could not tell <@%s> in a DM (%s)", user_id, error_code(error))
        except (aiohttp.ClientError, TimeoutError) as error:
            log.error("could not tell <@%s> in a DM (%s)", user_id, type(error).__name__)
        return False

    # -- lifecycle -----------------------------------------------------------------------------------------------

    async def resume(self) -> int:
        """At start: deliver what an earlier run left pending. Returns how many calls had writes waiting."""
        pending = await self._store.calls_with_pending_slack()
        for call_id in pending:
            self._kick(call_id)
        return len(pending)

    async def flush(self, timeout_s: float) -> int:
        """Give the workers `timeout_s` to finish, then stop them; what is left waits in SQLite for the next start."""
        workers = set(self._workers.values())
        if workers:
            _, still = await asyncio.wait(workers, timeout=timeout_s)
        else:
            still = set()
        for task in still:
            task.cancel()
        await asyncio.gather(*still, return_exceptions=True)
        return len(still)

    async def idle(self) -> None:
        """Wait until nothing is pending (tests and benchmarks)."""
        while self._workers:
            await asyncio.wait(set(self._workers.values()))

    # -- the worker ----------------------------------------------------------------------------------------------

    def _kick(self, call_id: str) -> None:
        self._dirty.add(call_id)
        worker = self._workers.get(call_id)
        if worker is None or worker.done():
            task = asyncio.create_task(self._work(call_id), name=f"slack delivery {call_id}")
            self._workers[call_id] = task

    async def _work(self, call_id: str) -> None:
        bind_call(call_id)  # this worker's task only: its log lines carry the call id, whoever kicked it
        try:
            while True:
                self._dirty.discard(call_id)
                call = await self._store.call(call_id)
                if call is None:
                    return
                channel = call.slack_channel or call.request.origin.conversation_id
                await self._pacer.ready(channel)  # lines arriving meanwhile join the next grouped reply
                rows = await self._store.pending_slack(call_id)
                if rows and rows[0].kind == Kind.UPDATE and self._updates_wait(call):
                    self._want_update(call)  # the updater sends them when the workspace's budget allows
                    rows = [row for row in rows if row.kind != Kind.UPDATE]
                if not rows:
                    if call_id in self._dirty:
                        continue
                    return
                # Read again after the rows: a write is queued only after the change it shows was stored, so the
                # call read now is at least as new as every row (the one read before the wait may be stale).
                call = await self._store.call(call_id) or call
                try:
                    await self._deliver(call, rows)
                    self._unexpected.pop(rows[0].id, None)
                except asyncio.CancelledError:
                    raise
                except Exception:  # a bug must not stop the call's later writes; the row stays for a retry
                    log.exception("call %s: delivering a Slack write failed unexpectedly", call_id)
                    if await self._gave_up_on(rows):
                        continue
                    await self._clock.sleep(MAX_BACKOFF_S)
        finally:
            if self._workers.get(call_id) is asyncio.current_task():
                del self._workers[call_id]

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

    async def _deliver(self, call: Call, rows: list[OutboxRow]) -> None:
        first = rows[0]
        if first.kind == Kind.PARENT:
            await self._post_parent(call, first)
            return
        if call.slack_channel is None or call.slack_ts is None:
            # No parent in Slack: the bot stopped before queueing it, or it could be posted nowhere. Post it now
            # (rendered as the call is); if that fails too, these writes have nowhere to go.
            if call.id in self._nowhere or not await self._post_parent(call, None):
                log.error("call %s: %d Slack writes dropped, the call has no message", call.id, len(rows))
                await self._store.drop_slack([row.id for row in rows])
            return
        if first.kind == Kind.UPDATE:
            # Rendered from the call as it is now, one update stands for every update queued so far.
            batch = [row for row in rows if row.kind == Kind.UPDATE]
            sent = await self._update_parent(call)
        else:
            if first.kind == Kind.REPLY and first.body.get("seq") is not None:
                rows = await self._in_call_order(call, rows)
            batch = _reply_batch([await self._written_summary(call, first)] if first.kind == Kind.SUMMARY else rows)
            sent = await self._post_reply(call, batch)
        if sent:
            await self._store.drop_slack([row.id for row in batch])

    async def _in_call_order(self, call: Call, rows: list[OutboxRow]) -> list[OutboxRow]:
        """The pending rows with their leading run of transcript lines in seq order, after waiting (at most
        GAP_WAIT_S, once per gap) for an earlier event the call has not stored yet."""
        deadline = asyncio.get_running_loop().time() + GAP_WAIT_S
        while True:
            run = _line_run(rows)
            if not run:
                return rows
            top = max(int(row.body["seq"]) for row in run)
            floor = self._gaps_waited.get(call.id, 0)
            if top > floor + 1:
                stored = {seq for seq, _, _ in await self._store.events(call.id)}
                missing = [seq for seq in range(floor + 1, top) if seq not in stored]
            else:
                missing = []
            if not missing or asyncio.get_running_loop().time() >= deadline:
                if missing:
                    log.info("call %s: events %s never came; its lines go on without them", call.id, missing)
                    self._gaps_waited[call.id] = top
                break
            await asyncio.sleep(GAP_POLL_S)
            fresh = await self._store.pending_slack(call.id)
            if _line_run(fresh):
                rows = fresh  # lines that came meanwhile take their place
        run = _line_run(rows)
        return sorted(run, key=lambda row: int(row.body["seq"])) + rows[len(run) :]

    async def _written_summary(self, call: Call, row: OutboxRow) -> OutboxRow:
        """A summary row as the reply it becomes now, from the call and every event stored so far."""
        events = await self._store.events(call.id)
        turns = sum(1 for _, name, _ in events if name == "transcript")
        cost = row.body.get("cost")
        if cost is None:
            cost = next((data.get("cost") for _, name, data in events if name == "disconnected"), None)
        text = texts.final_summary(call, turns=turns, cost=cost, from_history=bool(row.body.get("from_history")))
        return replace(row, kind=Kind.REPLY, body={"text": text, "broadcast": bool(row.body.get("broadcast"))})

    async def _post_parent(self, call: Call, row: OutboxRow | None) -> bool:
        origin = call.request.origin
        wait = self._parents.get(row.id) if row is not None else None
        message = blocks.call_message(call)
        note = None
        try:
            answer = await self._post_in_conversation(call, message, wait)
        except SlackApiError as error:
            code = error_code(error)
            try:
                if code not in WHERE_ELSE:
                    raise
                answer = await self._send(origin.user_id, self._client.chat_postMessage, channel=origin.user_id,
                                          **message)  # fmt: skip
            except SlackApiError as final:
                why = code if final is error else f"{code}; in a DM: {error_code(final)}"
                log.error("call %s: could not post its message in %s nor anywhere else (%s)", call.id,
                          origin.conversation_id, why)  # fmt: skip
                self._nowhere[call.id] = why
                if row is not None:
                    await self._store.drop_slack([row.id])
                    self._settle_parent(row.id, posted=False)
                return False
            note = texts.FALLBACK_TO_DM.format(conversation=origin.conversation_id, why=code)
        row_id = row.id if row is not None else None
        await self._store.parent_posted(call.id, row_id, channel=answer["channel"], ts=answer["ts"], note=note,
                                        at=self._wall_clock())  # fmt: skip
        self._shown[call.id] = _fingerprint(message)
        if row_id is not None:
            self._settle_parent(row_id, posted=True)
        return True

    async def _post_in_conversation(
        self, call: Call, message: dict[str, Any], wait: _ParentWait | None
    ) -> dict[str, Any]:
        """Post the parent where the call was asked for: in the thread it was asked from, else (that message takes no
        replies) in the conversation itself."""
        origin = call.request.origin
        where = origin.conversation_id
        try:
            return await self._send(where, self._client.chat_postMessage, parent=wait, channel=where,
                                    thread_ts=origin.thread_ts, **message)  # fmt: skip
        except SlackApiError as error:
            if origin.thread_ts is None or error_code(error) != SlackErrorCode.CANNOT_REPLY:
                raise
        log.info("call %s: the message it was asked about takes no replies; its thread starts on its own", call.id)
        self._unthreaded.add(call.id)
        return await self._send(where, self._client.chat_postMessage, channel=where, **message)

    # -- the updater: parent updates, within the workspace's chat.update budget --------------------------------------

    def _updates_wait(self, call: Call) -> bool:
        """Whether the call's parent update must wait for the updater: the workspace's chat.update budget is spent
        for now, or other calls wait for it already, or this call's update is under way there. Otherwise its worker
        sends it at once, in order."""
        if call.slack_channel is None or call.slack_ts is None:
            return False  # no parent in Slack yet: the worker posts it
        return bool(self._to_update) or _refreshing(call.id) in self._workers or not self._updates.ready()

    def _want_update(self, call: Call) -> None:
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
                if call_id in self._nowhere:
                    await self._store.drop_slack([row.id for row in rows])
                return  # its worker posts the parent, rendered as the call is then, and hands these back after
            if await self._update_parent(call, claimed):
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

    async def _update_parent(self, call: Call, claimed: asyncio.Future[None] | None = None) -> bool:
        """Refresh the parent; if Slack finds it too long, send it once more with its texts clipped, else drop it.

        Unchanged, it is not sent and spends nothing; changed, it waits for its place in the workspace's
        chat.update budget (`claimed` is set then), then for the channel, and is rendered as the call is by then.
        """
        if self._shown.get(call.id) == _fingerprint(blocks.call_message(call)):
            if not call.is_live:
                del self._shown[call.id]  # its last update: nothing is compared with it again
            return True  # Slack shows exactly this already (requested, starting and dialing all read "Dialing…")
        await self._updates.take()
        if claimed is not None and not claimed.done():
            claimed.set_result(None)
        await self._pacer.ready(call.slack_channel or "")
        call = await self._store.call(call.id) or call  # it may have moved on meanwhile: show where it is now
        message = blocks.call_message(call)
        shown = _fingerprint(message)
        if self._shown.get(call.id) == shown:
            if not call.is_live:
                del self._shown[call.id]
            return True
        where = {"channel": call.slack_channel, "ts": call.slack_ts}
        try:
            sent = await self._write(call, self._client.chat_update, too_long_raises=True, budget=self._updates,
                                     **where, **message)  # fmt: skip
        except _TooLong:
            log.warning("call %s: Slack found its message too long; updating it with shortened texts", call.id)
            sent = await self._write(call, self._client.chat_update, budget=self._updates, **where,
                                     **blocks.shortened(message))  # fmt: skip
        if sent and call.is_live:
            self._shown[call.id] = shown
        else:
            self._shown.pop(call.id, None)  # its last update: nothing is compared with it again
        return sent

    def _thread_of(self, call: Call) -> str | None:
        """Replies go under the parent, or under the message the call was asked from when the parent is in its
        thread (and that message takes replies)."""
        origin = call.request.origin
        in_its_thread = origin.thread_ts is not None and call.slack_channel == origin.conversation_id
        return origin.thread_ts if in_its_thread and call.id not in self._unthreaded else call.slack_ts

    def _settle_parent(self, row_id: int, *, posted: bool) -> None:
        wait = self._parents.get(row_id)
        if wait is not None and not wait.posted.done():
            wait.posted.set_result(posted)

    async def _post_reply(self, call: Call, batch: list[OutboxRow]) -> bool:
        text = "\n".join(str(row.body["text"]) for row in batch)
        broadcast = any(row.body.get("broadcast") for row in batch)
        parts = _pieces(text)
        while parts:
            part = parts.pop(0)
            extra: dict[str, Any] = {"reply_broadcast": True} if broadcast else {}
            try:
                sent = await self._write(call, self._client.chat_postMessage, too_long_raises=len(part) > 1,
                                         channel=call.slack_channel, thread_ts=self._thread_of(call), text=part,
                                         **extra)  # fmt: skip
            except _TooLong:
                parts[:0] = _split(part)
                continue
            if not sent:
                return False
        return True

    async def _write(self, call: Call, method: SlackMethod, *, too_long_raises: bool = False, **kwargs: Any) -> bool:
        """Send one write for an already posted call. False when it must be tried again (the call moved to a DM).

        Permanent refusals are logged and count as done, so one bad write cannot block the call's thread; so is
        `msg_too_long`, unless `too_long_raises` asks for `_TooLong` (the caller sends it again in a shorter form).
        """
        where = call.slack_channel or call.request.origin.conversation_id
        try:
            await self._send(where, method, **kwargs)
            return True
        except SlackApiError as error:
            code = error_code(error)
            if code == SlackErrorCode.MSG_TOO_LONG and too_long_raises:
                raise _TooLong from None
            if code == SlackErrorCode.CANNOT_REPLY and kwargs.get("thread_ts") not in {None, call.slack_ts}:
                # The thread the call was asked from takes no replies (any more): reply under the parent instead.
                log.info("call %s: its thread's first message takes no replies; replying under its message", call.id)
                self._unthreaded.add(call.id)
                return False
            if code in WHERE_ELSE and await self._move_to_dm(call, code):
                return False
            log.error("call %s: Slack refused %s (%s); the write is dropped", call.id, method.__name__, code)
            return True

    async def _move_to_dm(self, call: Call, code: str) -> bool:
        """The call's conversation refuses us mid-call: follow the call in a DM with the requester, saying why."""
        origin = call.request.origin
        if call.slack_channel is None or call.slack_channel.startswith("D"):
            return False
        message = blocks.call_message(call)
        try:
            answer = await self._send(origin.user_id, self._client.chat_postMessage, channel=origin.user_id,
                                      **message)  # fmt: skip
        except SlackApiError as error:
            log.error("call %s: could not move to a DM either (%s)", call.id, error_code(error))
            return False
        self._shown[call.id] = _fingerprint(message)
        note = texts.MOVED_TO_DM.format(conversation=call.slack_channel, why=code)
        # The note is queued ahead of every pending write (rank 0), so it opens the DM thread.
        await self._store.parent_posted(call.id, None, channel=answer["channel"], ts=answer["ts"], note=note,
                                        at=self._wall_clock())  # fmt: skip
        self._kick(call.id)  # the note must go out, even when the move was an update's (the updater's, not a worker)
        return True

    async def _send(
        self, where: str, method: SlackMethod, *, parent: _ParentWait | None = None, budget: Budget | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:  # fmt: skip
        """One Slack call, paced; retried through 429s, 5xx, connection errors and a refused token; raises the rest.

        `parent`: a launch waits for this message. Its `sending` is set once the message has its first turn in the
        channel (from then on, waiting is Slack's doing), and while the launch waits, failures are retried every
        PARENT_RETRY_S instead of backing off.
        `budget`: the method is limited per workspace (its first place in it was taken already): a 429 holds the
        whole budget, not the channel, and each retry takes a new place.
        """
        failures = 0
        again = False
        while True:
            if again and budget is not None:
                await budget.take()
            again = True
            await self._pacer.turn(where)
            if parent is not None:
                parent.sending.set()
            try:
                response = await method(**kwargs)
            except SlackApiError as error:
                if is_rate_limited(error):
                    if "Retry-After" not in error.response.headers:
                        failures += 1  # an HTTP 200 rate_limited says not for how long: back off
                    hold = retry_after(error, default=self._backoff(max(failures, 1)))
                    if budget is not None:
                        budget.hold(hold)
                    else:
                        self._pacer.hold(where, hold)
                    log.info("Slack asked us to slow down in %s for %ss (%s)", where, hold, error_code(error))
                    self._on_retry("ratelimited")
                    continue
                if is_auth_refused(error):
                    self._hold_for_token(error_code(error))
                    self._on_retry("auth")
                    failures += 1
                    await self._clock.sleep(self._backoff(failures))
                    continue
                if not is_transient(error):
                    raise
                why = f"HTTP {error.response.status_code} {error_code(error)}".rstrip()
                self._on_retry("server_error")
            except (aiohttp.ClientError, TimeoutError) as error:
                why = type(error).__name__
                self._on_retry("connection")
            else:
                self._token_accepted()
                return dict(response.data)
            failures += 1
            delay = self._backoff(failures)
            if parent is not None and not parent.posted.done():
                delay = min(delay, PARENT_RETRY_S)
            log.warning("Slack %s to %s failed (%s); trying again in %.1fs", method.__name__, where, why, delay)
            await self._clock.sleep(delay)

    def _backoff(self, failures: int) -> float:
        return min(self._backoff_s * 2 ** (failures - 1), MAX_BACKOFF_S)

    @property
    def token_refused(self) -> str | None:
        """Slack's error code while it refuses the bot token (writes are held), else None."""
        return self._token_refused

    def _hold_for_token(self, code: str) -> None:
        # Said once per hold, not per retry: every call's worker meets the same refusal until the token is fixed.
        if self._token_refused is None:
            log.error(
                "Slack refuses callbot's bot token (%s): every Slack write is kept and retried until Slack accepts "
                "it. Check SLACK_BOT_TOKEN (revoked or rotated?) or reinstall the app (a missing scope), then "
                "restart callbot with a valid token; the held writes go out then.",
                code,
            )
        self._token_refused = code

    def _token_accepted(self) -> None:
        if self._token_refused is not None:
            log.info("Slack accepts callbot's bot token again; held writes resume")
            self._token_refused = None


@dataclass(frozen=True, slots=True)
class _ParentWait:
    """A launch waiting for its call's parent message: `sending` once it leaves the queue, `posted` with the outcome."""

    posted: asyncio.Future[bool]
    sending: asyncio.Event


class _TooLong(Exception):
    """Slack said msg_too_long: the text must go in smaller parts."""


def _refreshing(call_id: str) -> str:
    """A refresh's key among the workers."""
    return f"update {call_id}"


def _fingerprint(message: dict[str, Any]) -> int:
    return hash(json.dumps(message, sort_keys=True))


def _line_run(rows: list[OutboxRow]) -> list[OutboxRow]:
    """The leading run of transcript lines that carry their seq."""
    run: list[OutboxRow] = []
    for row in rows:
        if row.kind != Kind.REPLY or not row.body.get("group") or row.body.get("seq") is None:
            break
        run.append(row)
    return run


def _reply_batch(rows: list[OutboxRow]) -> list[OutboxRow]:
    """The next reply: one row, or a run of consecutive grouped lines that fits one message."""
    first = rows[0]
    if not first.body.get("group"):
        return [first]
    batch, size = [first], len(first.body["text"])
    for row in rows[1:]:
        if row.kind != Kind.REPLY or not row.body.get("group"):
            break
        size += 1 + len(row.body["text"])
        if size > MAX_REPLY_CHARS:
            break
        batch.append(row)
    return batch


def _pieces(text: str, limit: int = MAX_REPLY_CHARS) -> list[str]:
    """`text` in parts of at most `limit` characters, cut at the last line break, else space, in the second half of
    what fits (that one character is dropped), else just before an &entity; or a <link> the cut would break;
    nothing else is lost."""
    parts: list[str] = []
    while len(text) > limit:
        window = text[: limit + 1]  # a break right after the limit still leaves `limit` characters before it
        cut = next((at for at in (window.rfind("\n"), window.rfind(" ")) if at >= limit // 2), 0)
        if cut:
            parts.append(text[:cut])
            text = text[cut + 1 :]
            continue
        cut = limit
        if text.rfind("<", 0, cut) > text.rfind(">", 0, cut):
            cut = text.rfind("<", 0, cut) or limit
        amp = text.rfind("&", 0, cut)
        if amp > text.rfind(";", 0, cut) and cut - amp < len("&amp;"):
            cut = amp or limit
        parts.append(text[:cut])
        text = text[cut:]
    parts.append(text)
    return parts


def _split(text: str) -> list[str]:
    """Two parts of a text Slack found too long: at the line break nearest the middle, else mid-text."""
    middle = len(text) // 2
    breaks = [i for i, char in enumerate(text) if char == "\n"]
    if not breaks:
        return [text[:middle], text[middle:]]
    cut = min(breaks, key=lambda i: abs(i - middle))
    return [text[:cut], text[cut + 1 :]]
