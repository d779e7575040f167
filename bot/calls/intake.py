"""Intake: the scenario's status events, checked, stored once, applied to the call and announced to the observer.

A pushed event comes with the call's callback token (`receive`); a pulled one was fetched through the call's own
session (`accept_event`). Storing an event and queueing its Slack writes are two steps: each event carries an
`announced` flag, so an event stored but never announced (the bot stopped in between) is announced later.
"""

from __future__ import annotations

import logging

from bot.calls import launch
from bot.calls.clock import Clock, utc_now
from bot.calls.models import (
    AnsweredEvent,
    CallState,
    Decide,
    ErrorEvent,
    EventOutcome,
    FailedEvent,
    JoinEvent,
    KeysEvent,
    RecordingEvent,
    StatusEvent,
    TranscriptEvent,
    Transition,
    VoicemailEvent,
)
from bot.calls.observer import CallObserver
from bot.calls.outcomes import judge
from bot.calls.states import brought_to, may_move, transition_for
from bot.errors import BadToken, UnknownCall
from bot.store import Store

log = logging.getLogger(__name__)
# The events that move no state but show something in the thread.
_SHOWN_EVENTS = (TranscriptEvent, ErrorEvent, AnsweredEvent, VoicemailEvent, RecordingEvent, KeysEvent, JoinEvent)
INSUFFICIENT_FUNDS = 402  # CallEvents.Failed: "402 insufficient funds" (voxengine.d.ts v28, _FailedEvent)
BALANCE_NOTICE = "voximplant_balance_empty"


class Intake:
    """Takes in status events: each is stored once, moves the call at most once, and is announced once."""

    def __init__(self, store: Store, observer: CallObserver | None = None, *, clock: Clock = utc_now) -> None:
        self._store = store
        self._observer = observer
        self._clock = clock

    async def receive(self, event: StatusEvent, token: str) -> EventOutcome:
        """Check `token` (the call's callback token), then store the pushed event once and apply it; BadToken if not.

        An unknown call reads exactly as a wrong token (one statement checks both, `record_event`): whoever sends
        events learns nothing about which call ids exist.
        """
        outcome = await self._store.record_event(
            event, received_at=self._clock(), decide=_decide(event), judge=judge, token_hash=launch.hash_token(token)
        )
        if outcome is None:
            raise BadToken
        return outcome

    async def accept_event(self, event: StatusEvent) -> EventOutcome:
        """Store a status event once and apply it (its origin already checked: a token, or the session itself)."""
        outcome = await self._store.record_event(event, received_at=self._clock(), decide=_decide(event), judge=judge)
        if outcome is None:  # pragma: no cover - the call existed a moment ago and calls are never deleted
            raise UnknownCall
        return outcome

    async def announce_once(self, outcome: EventOutcome, event: StatusEvent) -> None:
        """Announce a newly stored event and note that its Slack writes are queued (unless the observer noted it
        with them)."""
        if not await self._announce(outcome, event):
            await self._store.mark_announced(event.call_id, event.seq)

    async def catch_up(self, event: StatusEvent) -> None:
        """A repeated event whose first delivery was stored but never announced (we stopped in between): announce it."""
        if not await self._store.is_announced(event.call_id, event.seq):
            await self.reannounce(event)

    async def reannounce(self, event: StatusEvent) -> None:
        """Announce a stored event late: its transition (if any) is stored already, so the call is shown as it is now.
        The milestone is repeated only when this event is what put the call in its current state."""
        call = await self._store.call(event.call_id)
        if call is None:
            return
        if self._observer is not None:
            if brought_to(event, call):
                await self._observer.call_moved(call, Transition(call.state, call.state_reason))
            elif isinstance(event, _SHOWN_EVENTS) and await self._observer.call_event(call, event):
                return  # noted announced with its writes
        await self._store.mark_announced(event.call_id, event.seq)

    async def _announce(self, outcome: EventOutcome, event: StatusEvent) -> bool:
        """Tell the observer what an accepted event did; True when it noted the event announced itself."""
        if self._observer is None or outcome.duplicate:
            return False
        if outcome.transition is not None:
            await self._observer.call_moved(outcome.call, outcome.transition)
            await self._mind_the_balance(outcome, event)
            return False
        return await self._observer.call_event(outcome.call, event)

    async def _mind_the_balance(self, outcome: EventOutcome, event: StatusEvent) -> None:
        """402 (insufficient funds) is the account's problem, not the call's: its admins hear it, once."""
        if self._observer is None or outcome.transition is None:
            return
        if isinstance(event, FailedEvent) and event.data.code == INSUFFICIENT_FUNDS:
            if await self._store.first_notice(BALANCE_NOTICE, at=self._clock()):
                log.warning("Voximplant refused a call for want of funds (402): top up the account's balance")
                await self._observer.balance_empty(outcome.call)
        elif outcome.transition.state is CallState.CONNECTED:
            await self._store.clear_notice(BALANCE_NOTICE)  # calls work again: a later 402 is news again


def _decide(event: StatusEvent) -> Decide | None:
    """The state machine for an event that may move its call; None for one that moves none (one statement)."""
    return transition_for if may_move(event) else None
