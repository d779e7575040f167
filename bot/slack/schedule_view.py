"""A scheduled call in Slack: its message in the channel (Cancel while it waits) and the lines in its thread.

The schedule's message and lines are written directly, not through the calls' outbox (which is per call, and a
schedule has no call until it is dialled), as `Delivery.tell_user` writes: one try, and an ERROR line when Slack
refuses. Each attempt is a call whose own messages go into this message's thread through the outbox as usual
(its origin's `thread_ts`). Where the channel refuses the message, it goes to the requester's DM.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.calls.models import Call, Origin, ScheduledAttempt
from bot.errors import Refusal
from bot.slack import schedule_blocks, texts
from bot.slack.api_errors import error_code
from bot.slack.privately import tell_privately
from bot.slack.texts import schedules as words
from bot.store import Store

log = logging.getLogger(__name__)


class ScheduleView:
    """`bot.calls.scheduling.ScheduleObserver` over the Slack Web API."""

    def __init__(self, client: AsyncWebClient, store: Store) -> None:
        self._client = client
        self._store = store

    async def show(self, attempt: ScheduledAttempt) -> bool:
        """Post the schedule's message where it was asked for (else in the requester's DM) and store where it is."""
        message = schedule_blocks.schedule_message(attempt)
        for channel in (attempt.origin.conversation_id, attempt.origin.user_id):
            answer = await self._call("chat_postMessage", attempt, channel=channel, **message)
            if answer is not None:
                await self._store.set_schedule_thread(attempt.schedule_id, str(answer["channel"]), str(answer["ts"]))
                return True
        return False

    async def tell(self, origin: Origin, text: str) -> None:
        """`text` to the requester alone, where they asked (the form's confirmation)."""
        await tell_privately(self._client, {"text": text}, url=None, channel=origin.conversation_id,
                             user=origin.user_id, about="a schedule")  # fmt: skip

    async def attempt_moved(self, attempt: ScheduledAttempt, due: datetime) -> None:
        await self._reply(attempt, words.moved(due, attempt.tz))
        await self._refresh(attempt.schedule_id)

    async def attempt_dialled(self, attempt: ScheduledAttempt, call: Call) -> None:
        await self._reply(attempt, words.dialled(attempt))
        await self._refresh(attempt.schedule_id)

    async def attempt_refused(self, attempt: ScheduledAttempt, refusal: Refusal) -> None:
        await self._reply(attempt, words.refused_at_dial_time(texts.refusal(refusal)))
        await self._refresh(attempt.schedule_id)

    async def attempt_finished(self, attempt: ScheduledAttempt, retry: ScheduledAttempt | None) -> None:
        line = words.finished(attempt, retry)
        if line is not None:
            await self._reply(attempt, line)
        await self._refresh(attempt.schedule_id)

    async def cancelled(self, attempt: ScheduledAttempt, by: str) -> None:
        await self._reply(attempt, words.cancelled(by))
        await self._refresh(attempt.schedule_id, by=by)

    async def _refresh(self, schedule_id: str, *, by: str | None = None) -> None:
        """Re-render the schedule's message from its latest attempt as stored."""
        latest = await self._store.latest_attempt(schedule_id)
        if latest is None or latest.slack_channel is None or latest.slack_ts is None:
            return
        message = schedule_blocks.schedule_message(latest, by=by)
        await self._call("chat_update", latest, channel=latest.slack_channel, ts=latest.slack_ts, **message)

    async def _reply(self, attempt: ScheduledAttempt, text: str) -> None:
        latest = await self._store.latest_attempt(attempt.schedule_id) or attempt
        if latest.slack_channel is None or latest.slack_ts is None:
            return
        await self._call("chat_postMessage", latest, channel=latest.slack_channel, thread_ts=latest.slack_ts, text=text)

    async def _call(self, method: str, attempt: ScheduledAttempt, **kwargs: Any) -> Any:
        try:
            return await getattr(self._client, method)(**kwargs)
        except SlackApiError as error:
            code = error_code(error)
        except (aiohttp.ClientError, TimeoutError) as error:
            code = type(error).__name__
        log.error("scheduled call %s: Slack refused %s (%s)", attempt.schedule_id, method, code)
        return None
