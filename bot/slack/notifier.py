"""Shows a call in Slack: the parent message, its updates, and one thread reply per milestone."""

from __future__ import annotations

import logging
from enum import StrEnum

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.calls.models import Call, StatusEvent, TranscriptEvent
from bot.calls.states import Transition
from bot.slack import blocks, texts
from bot.store import Store

log = logging.getLogger(__name__)


class SlackErrorCode(StrEnum):
    """Slack errors that retrying cannot fix: the message must go somewhere else."""

    CHANNEL_NOT_FOUND = "channel_not_found"
    NOT_IN_CHANNEL = "not_in_channel"
    IS_ARCHIVED = "is_archived"


_WHERE_ELSE = frozenset(SlackErrorCode)


class SlackCallView:
    """The CallObserver that keeps a call's Slack thread up to date."""

    def __init__(self, client: AsyncWebClient, store: Store) -> None:
        self._client = client
        self._store = store

    async def call_created(self, call: Call) -> bool:
        origin = call.request.origin
        message = blocks.call_message(call)
        try:
            response = await self._client.chat_postMessage(
                channel=origin.conversation_id, thread_ts=origin.thread_ts, **message
            )
        except SlackApiError as error:
            code = error.response.get("error", "")
            if code not in _WHERE_ELSE:
                raise
            try:  # a bot may always write to its own DM with the requester
                response = await self._client.chat_postMessage(channel=origin.user_id, **message)
            except SlackApiError as dm_error:
                log.error("call %s: could not post in %s (%s) nor DM (%s)", call.id, origin.conversation_id, code,
                          dm_error.response.get("error"))  # fmt: skip
                return False
            await self._client.chat_postMessage(
                channel=response["channel"],
                thread_ts=response["ts"],
                text=texts.FALLBACK_TO_DM.format(conversation=origin.conversation_id, why=code),
            )
        await self._store.set_slack_message(call.id, channel=response["channel"], ts=response["ts"])
        return True

    async def call_moved(self, call: Call, transition: Transition) -> None:
        del transition  # the call already says where it is now
        call = await self._located(call)
        if call.slack_channel is None or call.slack_ts is None:
            log.warning("call %s has no Slack message to update", call.id)
            return
        await self._client.chat_update(channel=call.slack_channel, ts=call.slack_ts, **blocks.call_message(call))
        line = texts.milestone(call)
        if line is not None:
            await self._reply(call, line)

    async def call_event(self, call: Call, event: StatusEvent) -> None:
        call = await self._located(call)
        if isinstance(event, TranscriptEvent):
            await self._reply(call, texts.transcript(event.data.role, event.data.text))
        elif event.event == "error":
            await self._reply(call, texts.scenario_error(getattr(event.data, "message", "")))

    async def _reply(self, call: Call, text: str) -> None:
        if call.slack_channel is None or call.slack_ts is None:
            log.warning("call %s has no Slack thread to reply in", call.id)
            return
        await self._client.chat_postMessage(channel=call.slack_channel, thread_ts=_thread_of(call), text=text)

    async def _located(self, call: Call) -> Call:
        if call.slack_ts is not None:
            return call
        return await self._store.call(call.id) or call


def _thread_of(call: Call) -> str | None:
    """Replies go under the parent, or under the message the call was asked from when the parent is in its thread."""
    origin = call.request.origin
    if origin.thread_ts is not None and call.slack_channel == origin.conversation_id:
        return origin.thread_ts
    return call.slack_ts
