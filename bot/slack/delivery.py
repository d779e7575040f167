"""The outbox: every Slack write for a call is stored in SQLite first and forgotten only once Slack accepted it.

Per call, writes leave strictly in the order they were queued, by one worker task at a time:

- `parent`: the call's parent message. It goes first, and its `ts` is stored before anything else is sent, because
  every later write needs it. Where the conversation refuses us (`channel_not_found`, `not_in_channel`,
  `is_archived`), the parent goes to a DM with the requester, followed by a line saying why.
- `update`: re-render the parent from the call as it is *now* (so all updates queued so far are sent as one);
  `msg_too_long` sends it once more with its texts clipped, then gives up on that update (logged).
- `reply`: a thread reply. Consecutive transcript lines (`group`) are joined into one message, in order, none
  dropped; `msg_too_long` splits the text again.
- `summary`: the call's final reply, written when it is sent (like `update`), so its turn count includes transcript
  lines that arrived late, after the call ended but before the summary went out; they follow it in the thread. A
  line arriving after the summary was posted is shown but not counted in it (the scenario sends every line before
  it reports the end, so such a line is one whose delivery failed and was retried for a while).

Per channel, writes are paced (`pace_s` apart, about one a second as Slack asks) and an HTTP 429 holds the channel
for its `Retry-After`. 5xx answers and connection errors are retried with capped exponential backoff, for as long
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
from bot.slack.pacing import Clock, MonotonicClock, Pacer
from bot.store import OutboxRow, Store

log = logging.getLogger(__name__)

MAX_REPLY_CHARS = 3000  # Slack shows long texts poorly and truncates over 40,000; one grouped reply stays short
MAX_BACKOFF_S = 60.0
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
    MSG_TOO_LONG = "msg_too_long"
    RATELIMITED = "ratelimited"


WHERE_ELSE = frozenset({SlackErrorCode.CHANNEL_NOT_FOUND, SlackErrorCode.NOT_IN_CHANNEL, SlackErrorCode.IS_ARCHIVED})
TRANSIENT = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
# Slack refuses the token itself: no write can succeed until someone fixes it, and then every held write should.
AUTH_REFUSED = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive", "missing_scope"}
)


# -- retry rules: each answers one question about a failed write --------------------------------------------------


def is_rate_limited(error: SlackApiError) -> bool:
    return error.response.status_code == 429 or error_code(error) == SlackErrorCode.RATELIMITED


def is_auth_refused(error: SlackApiError) -> bool:
    """Slack refuses the bot token (revoked, rotated, expired, missing a scope): hold the write, do not drop it."""
    return error_code(error) in AUTH_REFUSED


def is_transient(error: SlackApiError) -> bool:
    """Slack had trouble of its own (5xx or a transient error code): the same write may succeed later."""
    return error.response.status_code >= 500 or error_code(error) in TRANSIENT


def retry_after(error: SlackApiError, default: float = 1.0) -> float:
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
    ) -> None:
        self._client = client
        self._on_retry = on_retry  # each retry's reason (ratelimited, server_error, connection, auth), for metrics
        self._store = store
        self._clock = clock or MonotonicClock()
        self._pacer = Pacer(self._clock, pace_s)
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

    async def reply(self, call: Call, text: str, *, group: bool = False, broadcast: bool = False) -> None:
        """Queue a thread reply; `group` lets consecutive lines share one message."""
        body: dict[str, Any] = {"text": text}
        if group:
            body["group"] = True
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
            batch = _reply_batch([await self._written_summary(call, first)] if first.kind == Kind.SUMMARY else rows)
            sent = await self._post_reply(call, batch)
        if sent:
            await self._store.drop_slack([row.id for row in batch])

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
        sending = wait.sending if wait is not None else None
        message = blocks.call_message(call, now=self._wall_clock())
        note = None
        try:
            answer = await self._send(origin.conversation_id, self._client.chat_postMessage, sending=sending,
                                      channel=origin.conversation_id, thread_ts=origin.thread_ts,
                                      **message)  # fmt: skip
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

    async def _update_parent(self, call: Call) -> bool:
        """Refresh the parent; if Slack finds it too long, send it once more with its texts clipped, else drop it."""
        message = blocks.call_message(call, now=self._wall_clock())
        shown = _fingerprint(message)
        if self._shown.get(call.id) == shown:
            if not call.is_live:
                del self._shown[call.id]  # its last update: nothing is compared with it again
            return True  # Slack shows exactly this already (requested, starting and dialing all read "Dialing…")
        where = {"channel": call.slack_channel, "ts": call.slack_ts}
        try:
            sent = await self._write(call, self._client.chat_update, too_long_raises=True, **where, **message)
        except _TooLong:
            log.warning("call %s: Slack found its message too long; updating it with shortened texts", call.id)
            sent = await self._write(call, self._client.chat_update, **where, **blocks.shortened(message))
        if sent and call.is_live:
            self._shown[call.id] = shown
        else:
            self._shown.pop(call.id, None)  # its last update: nothing is compared with it again
        return sent

    def _settle_parent(self, row_id: int, *, posted: bool) -> None:
        wait = self._parents.get(row_id)
        if wait is not None and not wait.posted.done():
            wait.posted.set_result(posted)

    async def _post_reply(self, call: Call, batch: list[OutboxRow]) -> bool:
        text = "\n".join(str(row.body["text"]) for row in batch)
        broadcast = any(row.body.get("broadcast") for row in batch)
        parts = [text]
        while parts:
            part = parts.pop(0)
            extra: dict[str, Any] = {"reply_broadcast": True} if broadcast else {}
            try:
                sent = await self._write(call, self._client.chat_postMessage, too_long_raises=len(part) > 1,
                                         channel=call.slack_channel, thread_ts=_thread_of(call), text=part,
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
            if code in WHERE_ELSE and await self._move_to_dm(call, code):
                return False
            log.error("call %s: Slack refused %s (%s); the write is dropped", call.id, method.__name__, code)
            return True

    async def _move_to_dm(self, call: Call, code: str) -> bool:
        """The call's conversation refuses us mid-call: follow the call in a DM with the requester, saying why."""
        origin = call.request.origin
        if call.slack_channel is None or call.slack_channel.startswith("D"):
            return False
        message = blocks.call_message(call, now=self._wall_clock())
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
        return True

    async def _send(
        self, where: str, method: SlackMethod, *, sending: asyncio.Event | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """One Slack call, paced; retried through 429s, 5xx, connection errors and a refused token; raises the rest.

        `sending` is set once the call has its first turn in the channel: from then on, waiting is Slack's doing.
        """
        failures = 0
        while True:
            await self._pacer.turn(where)
            if sending is not None:
                sending.set()
            try:
                response = await method(**kwargs)
            except SlackApiError as error:
                if is_rate_limited(error):
                    self._pacer.hold(where, retry_after(error))
                    log.info("Slack asked us to slow down in %s for %ss", where, retry_after(error))
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


def _fingerprint(message: dict[str, Any]) -> int:
    return hash(json.dumps(message, sort_keys=True))


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


def _split(text: str) -> list[str]:
    """Two parts of a text Slack found too long: at the line break nearest the middle, else mid-text."""
    middle = len(text) // 2
    breaks = [i for i, char in enumerate(text) if char == "\n"]
    if not breaks:
        return [text[:middle], text[middle:]]
    cut = min(breaks, key=lambda i: abs(i - middle))
    return [text[:cut], text[cut + 1 :]]


def _thread_of(call: Call) -> str | None:
    """Replies go under the parent, or under the message the call was asked from when the parent is in its thread."""
    origin = call.request.origin
    if origin.thread_ts is not None and call.slack_channel == origin.conversation_id:
        return origin.thread_ts
    return call.slack_ts
