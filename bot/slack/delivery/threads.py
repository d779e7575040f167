"""Where a call's messages go, and how each write to its thread is sent.

`parent`: the call's parent message, posted where the call was asked for, ahead of the channel's waiting thread
writes (`Lane.PARENT`: its launch waits for it). Where the conversation refuses us
(`channel_not_found`, `not_in_channel`, `is_archived`, `restricted_action…`; `is_inactive` from `chat.update`), the
thread goes to a DM with the requester, followed by a line saying why. Where only a reply to the message the call
was asked about is refused (`cannot_reply_to_message`), the thread starts in the conversation itself instead.

`update`: the parent re-rendered from the call; `msg_too_long` sends it once more with its texts clipped, then gives
up on that update (logged). A reply Slack finds too long is split again. Any other refusal drops that one write
(logged), so it cannot block the thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.calls.models import Call
from bot.slack import blocks, texts
from bot.slack.api_errors import error_code
from bot.slack.delivery.replies import pieces, split
from bot.slack.delivery.rules import WHERE_ELSE, SlackErrorCode
from bot.slack.delivery.sender import ParentWait, Sender, SlackMethod
from bot.slack.pacing import Budget, Lane, Pacer
from bot.store import OutboxRow, Store

log = logging.getLogger(__name__)


class Threads:
    """A call's messages in Slack: its parent (in the conversation, or a DM), the replies under it, its updates."""

    def __init__(
        self,
        client: AsyncWebClient,
        store: Store,
        sender: Sender,
        *,
        pacer: Pacer,
        updates: Budget,
        wall_clock: Callable[[], datetime],
        kick: Callable[[str], None],
    ) -> None:
        self._client = client
        self._store = store
        self._sender = sender
        self._pacer = pacer
        self._updates = updates  # chat.update, workspace-wide
        self._wall_clock = wall_clock
        self._kick = kick  # wake the call's worker: a note waits in its queue
        # Calls whose message could be posted neither in their conversation nor in a DM, since this start, with
        # Slack's reasons: their later writes are dropped at once instead of asking Slack again for each batch.
        self._nowhere: dict[str, str] = {}
        # What each live call's parent message shows in Slack now (since this start), so an update that would
        # change nothing is not sent: chat.update is rate-limited per workspace, and a call sends several.
        self._shown: dict[str, int] = {}
        # Calls whose thread could not reply to the message they were asked about (cannot_reply_to_message): their
        # parent stands alone in the conversation and replies go under it. Learnt again after a restart, the same way.
        self._unthreaded: set[str] = set()

    def why_nowhere(self, call_id: str) -> str | None:
        """Slack's reasons when the call's message could be posted nowhere (since this start); None otherwise."""
        return self._nowhere.get(call_id)

    async def post_parent(self, call: Call, row_id: int | None, wait: ParentWait | None) -> bool:
        """Post the call's parent, rendered as the call is, and store where it went (its row `row_id` leaves the
        outbox); else, in a DM with the requester. False, the row dropped, when it could be posted nowhere."""
        origin = call.request.origin
        message = blocks.call_message(call)
        note = None
        try:
            answer = await self._post_in_conversation(call, message, wait)
        except SlackApiError as error:
            code = error_code(error)
            try:
                if code not in WHERE_ELSE:
                    raise
                answer = await self._sender.send(origin.user_id, self._client.chat_postMessage, lane=Lane.PARENT,
                                                  channel=origin.user_id, **message)  # fmt: skip
            except SlackApiError as final:
                why = code if final is error else f"{code}; in a DM: {error_code(final)}"
                log.error("call %s: could not post its message in %s nor anywhere else (%s)", call.id,
                          origin.conversation_id, why)  # fmt: skip
                self._nowhere[call.id] = why
                if row_id is not None:
                    await self._store.drop_slack([row_id])
                return False
            note = texts.FALLBACK_TO_DM.format(conversation=origin.conversation_id, why=code)
        await self._store.parent_posted(call.id, row_id, channel=answer["channel"], ts=answer["ts"], note=note,
                                        at=self._wall_clock())  # fmt: skip
        self._shown[call.id] = _fingerprint(message)
        return True

    async def _post_in_conversation(
        self, call: Call, message: dict[str, Any], wait: ParentWait | None
    ) -> dict[str, Any]:
        """Post the parent where the call was asked for: in the thread it was asked from, else (that message takes no
        replies) in the conversation itself."""
        origin = call.request.origin
        where = origin.conversation_id
        try:
            return await self._sender.send(where, self._client.chat_postMessage, parent=wait, lane=Lane.PARENT,
                                           channel=where, thread_ts=origin.thread_ts, **message)  # fmt: skip
        except SlackApiError as error:
            if origin.thread_ts is None or error_code(error) != SlackErrorCode.CANNOT_REPLY:
                raise
        log.info("call %s: the message it was asked about takes no replies; its thread starts on its own", call.id)
        self._unthreaded.add(call.id)
        return await self._sender.send(where, self._client.chat_postMessage, lane=Lane.PARENT, channel=where,
                                       **message)  # fmt: skip

    async def update_parent(self, call: Call, claimed: asyncio.Future[None] | None = None) -> bool:
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
        where: dict[str, Any] = {"channel": call.slack_channel, "ts": call.slack_ts}
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

    async def post_reply(self, call: Call, batch: list[OutboxRow]) -> bool:
        """Send a batch of reply rows as one reply (in parts when long). False when it must be tried again."""
        text = "\n".join(str(row.body["text"]) for row in batch)
        broadcast = any(row.body.get("broadcast") for row in batch)
        parts = pieces(text)
        while parts:
            part = parts.pop(0)
            extra: dict[str, Any] = {"reply_broadcast": True} if broadcast else {}
            try:
                sent = await self._write(call, self._client.chat_postMessage, too_long_raises=len(part) > 1,
                                         channel=call.slack_channel, thread_ts=self._thread_of(call), text=part,
                                         **extra)  # fmt: skip
            except _TooLong:
                parts[:0] = split(part)
                continue
            if not sent:
                return False
        return True

    async def post_dm(self, call: Call, user_id: str, text: str) -> None:
        """A DM to `user_id`, retried through Slack's trouble; a refusal for good is logged (never the text, which may
        hold a private link) and the DM is done: it is never sent anywhere else instead."""
        try:
            await self._sender.send(user_id, self._client.chat_postMessage, channel=user_id, text=text)
        except SlackApiError as error:
            log.error("call %s: could not tell <@%s> in a DM (%s)", call.id, user_id, error_code(error))

    def _thread_of(self, call: Call) -> str | None:
        """Replies go under the parent, or under the message the call was asked from when the parent is in its
        thread (and that message takes replies)."""
        origin = call.request.origin
        in_its_thread = origin.thread_ts is not None and call.slack_channel == origin.conversation_id
        return origin.thread_ts if in_its_thread and call.id not in self._unthreaded else call.slack_ts

    async def _write(self, call: Call, method: SlackMethod, *, too_long_raises: bool = False, **kwargs: Any) -> bool:
        """Send one write for an already posted call. False when it must be tried again (the call moved to a DM).

        Permanent refusals are logged and count as done, so one bad write cannot block the call's thread; so is
        `msg_too_long`, unless `too_long_raises` asks for `_TooLong` (the caller sends it again in a shorter form).
        """
        where = call.slack_channel or call.request.origin.conversation_id
        try:
            await self._sender.send(where, method, **kwargs)
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
            answer = await self._sender.send(origin.user_id, self._client.chat_postMessage, channel=origin.user_id,
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


class _TooLong(Exception):
    """Slack said msg_too_long: the text must go in smaller parts."""


def _fingerprint(message: dict[str, Any]) -> int:
    return hash(json.dumps(message, sort_keys=True))
