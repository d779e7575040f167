"""Scheduled calls from Slack: `/call … at 15:30` / `in 20m` / `retry 2 every 10m`, and the Cancel button.

The requester's time zone is their Slack profile's (users.info `tz`), asked before the ack with a short deadline;
without an answer the time is read in UTC, and the confirmation says so.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.calls.grammar import CallDraft
from bot.calls.models import Channel, Origin, ScheduledAttempt
from bot.calls.scheduling import Scheduler
from bot.errors import DirectoryError, Refusal
from bot.slack import schedule_blocks, texts
from bot.slack.directory import SlackDirectory
from bot.slack.ids import ActionId
from bot.slack.schedule_view import ScheduleView
from bot.slack.texts import schedules as words
from bot.tasks import Background

log = logging.getLogger(__name__)
ZONE_DEADLINE_S = 1.0  # of Slack's 3 s for the ack: users.info is one quick call, usually cached
UTC_NOTE = " (Slack did not tell me your time zone, so times are read in UTC.)"


@dataclass(frozen=True, slots=True)
class SlackSchedules:
    """What the listeners need for scheduled calls."""

    scheduler: Scheduler
    view: ScheduleView
    directory: SlackDirectory | None
    background: Background

    async def zone_of(self, user_id: str) -> str | None:
        if self.directory is None:
            return None
        try:
            return await asyncio.wait_for(self.directory.time_zone(user_id), ZONE_DEADLINE_S)
        except (TimeoutError, DirectoryError):
            return None

    async def schedule(
        self, draft: CallDraft, origin: Origin, *, channel: Channel | None = None, requester_name: str = ""
    ) -> str:
        """Schedule the call and have its message posted; the confirmation for the requester, or a Refusal."""
        tz = await self.zone_of(origin.user_id)
        attempt = await self.scheduler.schedule(
            draft, origin, tz=tz or "UTC", channel=channel, requester_name=requester_name
        )  # fmt: skip
        self.background.spawn(self.view.show(attempt), key=f"schedule {attempt.schedule_id}", name="schedule message")
        said = words.confirmation(attempt, schedule_blocks.destination(attempt))
        return said + (UTC_NOTE if tz is None else "")

    async def history(self, reply: str, user_id: str, *, everyone: bool) -> dict[str, Any]:
        """`/call history` with the scheduled calls waiting (one person's, or everyone's for an admin)."""
        pending: list[ScheduledAttempt] = await self.scheduler.pending(None if everyone else user_id)
        return schedule_blocks.history_message(reply, pending)


def register(app: AsyncApp, schedules: SlackSchedules) -> None:
    @app.action(ActionId.CANCEL_SCHEDULE)
    async def cancel(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user_id = body["user"]["id"]
        try:
            cancelled = await schedules.scheduler.cancel(str(action.get("value", "")), user_id)
        except Refusal as refusal:
            await respond(text=texts.refusal(refusal), response_type="ephemeral", replace_original=False)
            return
        if cancelled is None:
            return  # cancelled already: a repeated press changes nothing
        log.info("scheduled call %s cancelled by %s", cancelled.schedule_id, user_id)
        schedules.background.spawn(
            schedules.view.cancelled(cancelled, user_id), key=f"schedule {cancelled.schedule_id}", name="cancel"
        )
