"""Shows a call in Slack: the parent message, its updates, and one thread reply per milestone.

Nothing here calls Slack directly: every write goes through the outbox (`bot/slack/delivery/`), which stores it
before sending and delivers it in order, paced, through rate limits and restarts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.calls.models import (
    AnsweredEvent,
    Call,
    ErrorEvent,
    JoinEvent,
    KeysEvent,
    RecordingEvent,
    StatusEvent,
    TranscriptEvent,
    Transition,
    VoicemailEvent,
)
from bot.slack import texts
from bot.slack.delivery import Delivery
from bot.slack.texts import join as join_texts
from bot.slack.texts import steering

log = logging.getLogger(__name__)


class SlackCallView:
    """The CallObserver that keeps a call's Slack thread up to date."""

    def __init__(self, delivery: Delivery, *, admins: Sequence[str] = ()) -> None:
        self._delivery = delivery
        self._admins = tuple(admins)  # CALLBOT_ADMINS: told in a DM what only an admin can fix

    async def call_created(self, call: Call, *, within_s: float | None = None) -> bool:
        if await self._delivery.post_parent(call, within_s=within_s):
            return True
        # No thread anywhere: the person who asked still hears why nothing happens.
        why = self._delivery.why_nowhere(call.id) or "Slack refused it"
        await self._delivery.tell_requester(call, texts.nowhere_to_post(why))
        return False

    async def call_moved(self, call: Call, transition: Transition) -> None:
        del transition  # the call already says where it is now
        await self._delivery.update(call)
        if call.is_live:
            line = texts.milestone(call)
            if line is not None:
                await self._delivery.reply(call, line)
            return
        await self._summary(call)

    async def call_event(self, call: Call, event: StatusEvent) -> bool:
        if isinstance(event, TranscriptEvent):  # its one write: queued with the event noted announced
            line = texts.transcript(event.data.role, event.data.text)
            await self._delivery.reply(call, line, group=True, seq=event.seq, announces=True)
            return True
        if isinstance(event, ErrorEvent):
            words = texts.agent_stumbled if event.data.recoverable else texts.scenario_error
            await self._delivery.reply(call, words(event.data.message))
        elif isinstance(event, AnsweredEvent):
            await self._delivery.reply(call, texts.answered(event.data.by))
        elif isinstance(event, VoicemailEvent):
            await self._delivery.reply(call, texts.voicemail(event.data.left, event.data.message_s))
        elif isinstance(event, RecordingEvent):
            await self._recording(call, event.data.url)
        elif isinstance(event, JoinEvent):
            line = join_texts.result(event.data.by, event.data.result, event.data.reason, event.data.code)
            await self._delivery.reply(call, line)
        elif isinstance(event, KeysEvent):
            await self._delivery.reply(call, steering.keys_pressed(event.data.digits))
        return False

    async def _recording(self, call: Call, url: str) -> None:
        """The recording's link goes to the requester and the admins only, each in a DM: anyone who has it can
        listen, so it never goes to the call's channel or thread; the thread only says where it went."""
        requester = call.request.origin.user_id
        for user_id in dict.fromkeys((requester, *self._admins)):
            await self._delivery.tell_user(call, user_id, texts.recording_link(call, url))
        await self._delivery.reply(call, texts.recording_shared(requester))

    async def balance_empty(self, call: Call) -> None:
        if not self._admins:
            log.warning("no CALLBOT_ADMINS to tell that the Voximplant balance is too low to place calls")
        for admin in self._admins:
            await self._delivery.tell_user(call, admin, texts.balance_empty(call.request.origin.user_id))

    async def hang_up_requested(self, call: Call, user_id: str) -> None:
        await self._delivery.reply(call, texts.hang_up_requested(user_id))

    async def hang_up_failed(self, call: Call, why: str) -> None:
        await self._delivery.reply(call, texts.hang_up_failed(why))

    async def join_requested(self, call: Call, user_id: str) -> None:
        await self._delivery.reply(call, join_texts.requested(user_id))

    async def join_failed(self, call: Call, user_id: str, why: str) -> None:
        await self._delivery.reply(call, join_texts.refused(user_id, why))

    async def say_requested(self, call: Call, user_id: str, text: str) -> None:
        await self._delivery.reply(call, steering.say_requested(user_id, text))

    async def call_unconfirmed(self, call: Call, why: str) -> None:
        await self._delivery.reply(call, texts.start_unconfirmed(why))

    async def call_reconciled(self, call: Call, cost: float | None) -> None:
        await self._delivery.update(call)
        await self._summary(call, cost=cost, from_history=True)

    async def _summary(self, call: Call, *, cost: float | None = None, from_history: bool = False) -> None:
        # Written when it is sent, not now: transcript lines that arrive late (after the end) are counted too.
        await self._delivery.summary(call, cost=cost, from_history=from_history)
