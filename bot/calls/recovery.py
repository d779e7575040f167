"""Recovery: calls whose news stopped coming, or that a stopped bot left behind, are settled.

At start: events stored but never announced are announced, calls never sent to Voximplant fail undialled, and
calls StartScenarios never confirmed are settled once they cannot be under way. Every RECONCILE_EVERY_S, on one
replica at a time (`watch`), a live call that has heard nothing for a while is looked up in Voximplant's call
history (`reconcile`), and what a replica that died left behind is settled as at start.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.calls.clock import Clock, utc_now
from bot.calls.intake import Intake
from bot.calls.models import STATUS_EVENTS, Call, CallState, Transition
from bot.calls.moves import Moves
from bot.calls.observer import CallObserver
from bot.calls.outcomes import judge
from bot.calls.placing import InFlight
from bot.calls.policy import CallPolicy
from bot.calls.ports import Voximplant
from bot.calls.reasons import Ending, reason
from bot.calls.reconcile import verdict
from bot.errors import VoximplantError
from bot.logs import bound_call
from bot.store import Store

log = logging.getLogger(__name__)
# How long past its time limit a session may still run: the scenario's watchdog (WATCHDOG_EXTRA_S in
# scenarios/outbound_call.js) ends it max_duration_s + 300 s after its start, and its last events take seconds.
SESSION_OVERRUN_S = 300 + 60
# How long after StartScenarios timed out an unheard `starting` call is left alone (another process may be sending).
START_MARGIN_S = 20.0  # covers connect retries too: 3 attempts of up to 5 s each, and their backoff
# With other replicas about, what a stopped one left behind is told apart from their work under way by its age:
# a launch posts its message and sends StartScenarios within seconds (a parent waits SLACK_PARENT_TIMEOUT_S at most
# once it has its turn), and an event is announced within milliseconds of being stored.
UNPLACED_AFTER = timedelta(minutes=5)
UNANNOUNCED_AFTER = timedelta(minutes=1)


class Recovery:
    """Settles what no status event will: from the call history, or by time once a call cannot be under way."""

    def __init__(
        self,
        store: Store,
        voximplant: Voximplant | None,
        policy: CallPolicy,
        *,
        intake: Intake,
        moves: Moves,
        in_flight: InFlight,
        observer: CallObserver | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._voximplant = voximplant
        self._policy = policy
        self._intake = intake
        self._moves = moves
        self._in_flight = in_flight  # calls this process is launching: never settled meanwhile
        self._observer = observer
        self._clock = clock

    async def start(self, *, alone: bool) -> None:
        """At start: settle what a stopped bot left behind. Not `alone` (other replicas serve the same database),
        only what is old enough not to be their work under way."""
        await self.reannounce_stranded(older_than=None if alone else UNANNOUNCED_AFTER)
        await self.fail_unplaced(older_than=None if alone else UNPLACED_AFTER)
        await self.settle_unconfirmed()

    async def round(self, quiet_for: timedelta) -> None:
        """One round of the watchdog (one replica at a time runs it): calls gone quiet are reconciled, and what a
        replica that died left behind is settled."""
        await self.reconcile_stale(quiet_for)
        await self.settle_unconfirmed()
        await self.reannounce_stranded(older_than=UNANNOUNCED_AFTER)
        await self.fail_unplaced(older_than=UNPLACED_AFTER)

    async def reconcile_stale(self, quiet_for: timedelta) -> int:
        """Reconcile each live call that has heard nothing for `quiet_for`; returns how many were settled."""
        settled = 0
        quiet_since = self._clock() - quiet_for
        stale = await self._store.stale_calls(quiet_since=quiet_since)
        stale += await self._store.stale_calls(quiet_since=quiet_since, unconfirmed=True)  # looked up by custom data
        for call in stale:
            with bound_call(call.id):  # each call's log lines carry its id
                settled += await self.reconcile(call)
        return settled

    async def reconcile(self, call: Call) -> bool:
        """Settle a call from Voximplant's call history if the session is over; True if it moved.

        A call StartScenarios never confirmed (its answer was lost) is looked up by the custom data it was sent with.
        """
        if self._voximplant is None:
            return False
        try:
            if call.history_id is not None:
                session = await self._voximplant.get_call_history(call.history_id, started_at=call.created_at)
            elif call.custom_data is not None and call.id not in self._in_flight:
                session = await self._voximplant.find_session(call.custom_data, started_at=call.created_at)
                if session is not None:
                    await self._store.set_history_id(call.id, session.call_session_history_id)
            else:
                return False
        except VoximplantError as error:
            log.warning("call history for call %s could not be read: %s", call.id, error)
            return False
        found = verdict(session)
        if found is None:
            return False
        moved = await self._store.settle(
            call.id, found.transition, self._clock(), duration_s=found.duration_s, cost=found.cost, judge=judge
        )
        if moved is None:
            return False
        log.info("call %s settled from call history: %s", call.id, moved.state)
        if self._observer is not None:
            await self._observer.call_reconciled(moved, found.cost)
        return True

    async def reannounce_stranded(self, *, older_than: timedelta | None = None) -> int:
        """Announce events a stopped bot stored but never announced. Returns how many.

        `older_than`: only those stored that long ago, as another replica may be announcing newer ones right now.
        """
        before = self._clock() - older_than if older_than is not None else None
        stranded = await self._store.unannounced_events(received_before=before)
        for raw in stranded:
            await self._intake.reannounce(STATUS_EVENTS.validate_python(raw))
        return len(stranded)

    async def fail_unplaced(self, *, older_than: timedelta | None = None) -> int:
        """Calls stored but never sent to Voximplant (the bot stopped in between) fail, and say so. Returns how many.

        They are not placed now: the person may have asked again meanwhile, and a late call surprises everyone.
        `older_than`: only those stored that long ago, as another replica may be launching newer ones right now.
        """
        before = self._clock() - older_than if older_than is not None else None
        stranded = await self._store.calls_in_state(CallState.REQUESTED, created_before=before)
        stranded = [call for call in stranded if call.id not in self._in_flight]  # this process is launching them
        for call in stranded:
            await self._moves.move(call.id, Transition(CallState.FAILED, reason(Ending.RESTARTED_BEFORE_PLACING)))
        return len(stranded)

    async def settle_unconfirmed(self) -> int:
        """Settle live calls Voximplant never confirmed (no call-history id) that cannot be under way; how many.

        A call still `starting` with nothing heard, long after its StartScenarios was sent, was dropped by a bot that
        stopped (or broke off) before the answer came. Any other unconfirmed live call (its answer was lost, yet its
        events came) is settled once its session has surely ended: from the call history found by its custom data, or
        as never heard when the history has no such session.
        """
        now = self._clock()
        settled = 0
        sent_before = now - timedelta(seconds=self._policy.start_timeout_s + START_MARGIN_S)
        stopped = Transition(CallState.FAILED, reason(Ending.STOPPED_WHILE_STARTING))
        for call in await self._store.unheard_starting_calls(sent_before=sent_before):
            if call.id not in self._in_flight:  # else StartScenarios may still be waiting for its turn here
                settled += await self._moves.move_if_unheard(call.id, stopped) is not None
        never_heard = Transition(CallState.FAILED, reason(Ending.END_NEVER_HEARD))
        quiet_since = now - timedelta(seconds=SESSION_OVERRUN_S)
        for call in await self._store.stale_calls(quiet_since=quiet_since, unconfirmed=True):
            over_by = call.created_at + timedelta(seconds=call.request.max_duration_s + SESSION_OVERRUN_S)
            if call.id not in self._in_flight and now >= over_by and not await self.reconcile(call):
                settled += await self._moves.move(call.id, never_heard) is not None
        if settled:
            log.info("settled %d calls Voximplant never confirmed", settled)
        return settled
