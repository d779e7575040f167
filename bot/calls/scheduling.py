"""Scheduling: calls asked for later (`at 15:30`, `in 20m`), and redials of a busy or unanswered line (`retry 2`).

- `schedule` vets the request now (everything but the limits and calling hours, which hold at dial time), reads
  when in the requester's time zone (bot/calls/when.py), moves a time outside the destination's calling hours to
  the next allowed one, and stores attempt 1.
- `round`, run every SCHEDULE_EVERY_S on one replica at a time (the `scheduler` lease, bot/build.py), dials the
  attempts whose time has come and decides, for each dialled attempt whose call has ended, whether to retry.
- An attempt is claimed (scheduled → dialed, one statement) before it is vetted again and launched: a second
  replica, or a second round, finds it claimed and leaves it, so no attempt is launched twice. A crash between the
  claim and the launch loses that attempt rather than risk dialling it twice (StartScenarios is not idempotent).
- At its time an attempt is vetted again, whole (`Vetting.vet`: guard rails, deny list, caller IDs, permissions,
  limits, spending caps, calling hours); a refusal ends the schedule, and the thread says why.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from bot.calls.clock import Clock, utc_now
from bot.calls.destinations import dialled_number
from bot.calls.grammar import CallDraft
from bot.calls.hours import closed
from bot.calls.models import AttemptState, Call, CallRequest, Channel, Origin, Outcome, ScheduledAttempt
from bot.calls.permissions import Permissions, acts_for, admin_check
from bot.calls.placing import Placing
from bot.calls.policy import CallPolicy
from bot.calls.refusals import Why
from bot.calls.schedule_requests import dump_request, stored_request
from bot.calls.vetting import Vetting
from bot.calls.when import due_at, retry_plan
from bot.errors import Refusal
from bot.store import Store

log = logging.getLogger(__name__)
RETRY_OUTCOMES = frozenset({Outcome.BUSY, Outcome.NOT_ANSWERED})  # never after talk, voicemail, declined, failed
CANCEL = "schedule.cancel"  # the audit log's name for a cancel (allowed or refused)
THREAD_WAIT = timedelta(seconds=15)  # an attempt due at once waits this long, at most, for its Slack thread
# A claimed attempt with no call after this long was left by a bot that stopped (vetting and create take seconds).
STRANDED_AFTER = timedelta(minutes=2)


class ScheduleObserver(Protocol):
    """What the domain tells the Slack side about a schedule; bot/slack/schedule_view.py implements it."""

    async def attempt_moved(self, attempt: ScheduledAttempt, due: datetime) -> None: ...

    async def attempt_dialled(self, attempt: ScheduledAttempt, call: Call) -> None: ...

    async def attempt_refused(self, attempt: ScheduledAttempt, refusal: Refusal) -> None: ...

    async def attempt_finished(self, attempt: ScheduledAttempt, retry: ScheduledAttempt | None) -> None: ...

    async def cancelled(self, attempt: ScheduledAttempt, by: str) -> None: ...


def new_schedule_id() -> str:
    return uuid.uuid4().hex[:12]


class Scheduler:
    """Stores scheduled calls, dials them at their time, redials busy or unanswered ones, and cancels them."""

    def __init__(
        self, store: Store, vetting: Vetting, placing: Placing, policy: CallPolicy, *,
        launch: Callable[[Call], Awaitable[None]], permissions: Permissions | None = None,
        observer: ScheduleObserver | None = None, clock: Clock = utc_now, new_id: Callable[[], str] = new_schedule_id,
    ) -> None:  # fmt: skip
        self._store = store
        self._vetting = vetting
        self._placing = placing
        self._policy = policy
        self._launch = launch  # the same launch as a call placed now (bot/roles.py Launches)
        self._permissions = permissions
        self._is_admin = admin_check(permissions, policy.admins)
        self.observer = observer
        self._clock = clock
        self._new_id = new_id

    async def schedule(
        self, draft: CallDraft, origin: Origin, *, tz: str, channel: Channel | None = None, requester_name: str = ""
    ) -> ScheduledAttempt:
        """Vet and store a call for later (`draft.when`), or raise a Refusal saying why not."""
        now = self._clock()
        due = due_at(draft.when, tz, now) if draft.when is not None else now  # `retry` alone: the first dial now
        plan = retry_plan(draft.retry)
        request = await self._vetting.vet(
            draft, origin, channel=channel, requester_name=requester_name, scheduled=True
        )  # fmt: skip
        allowed = self.opening(request, due)
        attempt = ScheduledAttempt(
            schedule_id=self._new_id(), attempt=1, due_at=allowed, state=AttemptState.SCHEDULED, retries=plan.count,
            retry_every_s=plan.every_s, origin=origin, request=dump_request(request, draft), tz=tz, created_at=now,
            updated_at=now, moved_from=due if allowed != due else None,
        )  # fmt: skip
        await self._store.insert_attempt(attempt)
        return attempt

    def opening(self, request: CallRequest, at: datetime) -> datetime:
        """`at`, or when it falls outside the destination's calling hours, the next time inside them."""
        window = self._policy.calling_hours
        number = dialled_number(request.destination, request.channel, self._policy.default_region)
        if window is None or number is None or not number.startswith("+"):
            return at
        shut = closed(window, number, at)
        if shut is None:
            return at
        if shut.opens_at is None:
            raise Refusal(Why.NEVER_OPEN, field="when", number=number)
        return shut.opens_at

    async def round(self) -> int:
        """Follow up attempts whose call ended, then dial those due; returns how many were dialled."""
        for ended in await self._store.ended_attempts():
            await self._follow_up(ended)
        for stranded in await self._store.stranded_attempts(self._clock() - STRANDED_AFTER):
            refusal = Refusal(Why.SCHEDULE_INTERRUPTED)
            if await self._store.refuse_attempt(stranded, refusal.why.value, self._clock()) and self.observer:
                await self.observer.attempt_refused(stranded, refusal)
        dialled = 0
        for attempt in await self._store.due_attempts(self._clock()):
            dialled += await self._dial(attempt)
        return dialled

    async def _dial(self, attempt: ScheduledAttempt) -> bool:
        now = self._clock()
        if attempt.slack_ts is None and now - attempt.created_at < THREAD_WAIT:
            return False  # its Slack message is on its way: the attempt's thread goes under it
        request, draft = stored_request(attempt.request)
        try:
            allowed = self.opening(request, now)
        except Refusal:
            allowed = now  # vetting refuses it below, saying so
        if allowed > now:  # a retry, or a schedule made under other calling hours: moved, and said so
            if await self._store.move_attempt(attempt, allowed, now) and self.observer is not None:
                await self.observer.attempt_moved(attempt, allowed)
            return False
        if not await self._store.claim_attempt(attempt, now):
            return False  # another round or replica has it
        origin = attempt.origin
        if attempt.slack_ts is not None and attempt.slack_channel == origin.conversation_id:
            origin = origin.model_copy(update={"thread_ts": attempt.slack_ts})
        try:
            vetted = await self._vetting.vet(
                draft, origin, channel=request.channel, requester_name=request.requester_name
            )  # fmt: skip
            call = await self._placing.create(vetted)
        except Refusal as refusal:
            log.info("scheduled call %s attempt %d refused at its time: %s", attempt.schedule_id, attempt.attempt,
                     refusal.why.value)  # fmt: skip
            await self._store.refuse_attempt(attempt, refusal.why.value, now)
            if self.observer is not None:
                await self.observer.attempt_refused(attempt, refusal)
            return False
        except BaseException:
            await self._store.refuse_attempt(attempt, "error", now)  # claimed: it is never dialled after this
            raise
        await self._store.attach_call(attempt, call.id)
        attempt = replace(attempt, state=AttemptState.DIALED, call_id=call.id)
        if self.observer is not None:
            await self.observer.attempt_dialled(attempt, call)
        await self._launch(call)
        return True

    async def _follow_up(self, attempt: ScheduledAttempt) -> None:
        """The attempt's call ended: retry a busy or unanswered line while the plan allows, else the schedule ends."""
        now = self._clock()
        retry = None
        if attempt.outcome in RETRY_OUTCOMES and attempt.attempt <= attempt.retries:
            due = now + timedelta(seconds=attempt.retry_every_s)
            request, _ = stored_request(attempt.request)
            try:
                allowed = self.opening(request, due)
            except Refusal:
                allowed = due  # refused at its time, saying why
            retry = replace(
                attempt, attempt=attempt.attempt + 1, due_at=allowed, state=AttemptState.SCHEDULED, call_id=None,
                moved_from=due if allowed != due else None, detail="", outcome=None, created_at=now, updated_at=now,
            )  # fmt: skip
        if await self._store.finish_attempt(attempt, now, retry) and self.observer is not None:
            await self.observer.attempt_finished(attempt, retry)

    async def cancel(self, schedule_id: str, user_id: str) -> ScheduledAttempt | None:
        """Cancel a schedule's waiting attempt: the requester or an admin only (a refusal is audited). None when
        it was cancelled already (a repeated press, absorbed); a Refusal when it is being dialled or over."""
        latest = await self._store.latest_attempt(schedule_id)
        if latest is None:
            raise Refusal(Why.SCHEDULE_UNKNOWN)
        now = self._clock()
        requester = latest.origin.user_id
        if not await acts_for(self._is_admin, user_id, requester):
            await self._store.audit(actor=user_id, action=CANCEL, target=schedule_id, detail="refused: not theirs",
                                    allowed=False, at=now)  # fmt: skip
            raise Refusal(Why.CANCEL_NOT_YOURS, requester=requester)
        if await self._store.cancel_schedule(schedule_id, user_id, now):
            await self._store.audit(actor=user_id, action=CANCEL, target=schedule_id, detail="", allowed=True, at=now)
            return replace(latest, state=AttemptState.CANCELLED, detail=user_id)
        latest = await self._store.latest_attempt(schedule_id) or latest
        if latest.state is AttemptState.CANCELLED:
            return None
        if latest.state is AttemptState.DIALED:
            stopped = await self._store.stop_retries(schedule_id, now)
            raise Refusal(Why.CANCEL_TOO_LATE, attempt=latest.attempt, retries_stopped=stopped)
        raise Refusal(Why.CANCEL_OVER, state=latest.state.value)

    async def pending(self, user_id: str | None) -> list[ScheduledAttempt]:
        """Attempts waiting for their time: one person's, or (None) everyone's."""
        return await self._store.pending_attempts(user_id=user_id)
