"""CallService: vet a request, place the call, take in the scenario's status events."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from bot.calls import launch
from bot.calls.destinations import dialled_number, infer_channel, parse_channel, parse_destination, parse_duration
from bot.calls.grammar import CallDraft
from bot.calls.models import (
    STATUS_EVENTS,
    Call,
    CallRequest,
    CallState,
    Channel,
    ErrorEvent,
    FailedEvent,
    SlackOrigin,
    StatusEvent,
    TranscriptEvent,
)
from bot.calls.numbers import (
    CALLABLE_TYPES,
    ambiguous_number,
    parse_phone_number,
    refuse_if_emergency,
    region_of,
)
from bot.calls.permissions import Permissions
from bot.calls.policy import resolve_caller_id
from bot.calls.reasons import Ending, reason
from bot.calls.reconcile import verdict
from bot.calls.refusals import Why
from bot.calls.states import Transition, brought_to, transition_for
from bot.errors import BadToken, BriefWithheld, Refusal, Refusals, UnknownCall, VoximplantError, Withheld
from bot.logs import bound_call
from bot.store import EventOutcome, Store
from bot.voximplant import VoximplantClient

log = logging.getLogger(__name__)
T = TypeVar("T")
_NO_CALL = hashlib.sha256(b"no such call").hexdigest()  # compared against when the call is unknown
MAX_INSTRUCTIONS = 3000
# How long past its time limit a session may still run: the scenario's watchdog (WATCHDOG_EXTRA_S in
# scenarios/outbound_call.js) ends it max_duration_s + 300 s after its start, and its last events take seconds.
SESSION_OVERRUN_S = 300 + 60
BAD_CREDENTIALS = 100  # Voximplant's error code for an unknown account or a wrong API key
INSUFFICIENT_FUNDS = 402  # CallEvents.Failed: "402 insufficient funds" (voxengine.d.ts v28, _FailedEvent)
BALANCE_NOTICE = "voximplant_balance_empty"
# How long a brief token opens the brief, past the longest launch (the wait for Slack, then StartScenarios): the
# scenario retries its fetch for at most 30 s (BRIEF_TRIES in scenarios/outbound_call.js), plus a margin.
BRIEF_FETCH_S = 60.0
# How long after StartScenarios timed out an unheard `starting` call is left alone (another process may be sending).
START_MARGIN_S = 20.0  # covers connect retries too: 3 attempts of up to 5 s each, and their backoff


class CallObserver(Protocol):
    """What the Slack side does when a call is created or changes; the domain knows nothing more of Slack."""

    async def call_created(self, call: Call, *, within_s: float | None = None) -> bool:
        """Show a new call; False if it could not be shown anywhere (then it is not placed). TimeoutError when the
        place it is shown in has not taken it `within_s` after it was sent (it is still shown later)."""
        ...

    async def call_moved(self, call: Call, transition: Transition) -> None: ...

    async def call_event(self, call: Call, event: StatusEvent) -> None: ...

    async def hang_up_requested(self, call: Call, user_id: str) -> None: ...

    async def hang_up_failed(self, call: Call, why: str) -> None: ...

    async def call_unconfirmed(self, call: Call, why: str) -> None:
        """StartScenarios failed (`why`), yet the call's own status events show it is under way."""
        ...

    async def call_reconciled(self, call: Call, cost: float | None) -> None:
        """The call's final state came from Voximplant's call history, not from its status events."""
        ...

    async def balance_empty(self, call: Call) -> None:
        """Voximplant refused `call` for want of funds (402): no call can be placed until the account is topped up.
        Said once, until a call connects again."""
        ...


@dataclass(frozen=True, slots=True)
class CallPolicy:
    """The settings the domain needs, taken from Settings once."""

    default_region: str
    allowed_countries: frozenset[str]
    default_caller_id: str | None
    max_duration_s: int
    rule_id: int | None
    public_base_url: str | None  # where the scenario reaches the bot: the brief, and the status events
    pull: bool = False  # no public URL: the bot brings the brief and fetches the events through each session
    start_timeout_s: float = 10.0  # the longest one StartScenarios request waits for its answer
    show_timeout_s: float = 15.0  # the longest a new call waits to be shown (its Slack message) before it is dialled
    allowed_types: frozenset[int] = CALLABLE_TYPES
    admins: frozenset[str] = frozenset()


def utc_now() -> datetime:
    return datetime.now(UTC)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class CallService:
    """Places calls and keeps their records; every path in and out of a call goes through here."""

    def __init__(
        self,
        store: Store,
        voximplant: VoximplantClient | None,
        policy: CallPolicy,
        *,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex[:12],
        permissions: Permissions | None = None,
    ) -> None:
        self.store = store
        self.permissions = permissions
        self._admitting = asyncio.Lock()
        self._voximplant = voximplant
        self._policy = policy
        self._clock = clock
        self._new_id = new_id
        self.observer: CallObserver | None = None
        self.follow: Callable[[Call], None] | None = None  # pull mode: start fetching a launched call's events
        self._launching: set[str] = set()  # calls whose launch() runs now: StartScenarios may still be in flight

    def now(self) -> datetime:
        """The service's clock (injected in tests)."""
        return self._clock()

    @property
    def policy(self) -> CallPolicy:
        return self._policy

    async def vet(self, draft: CallDraft, origin: SlackOrigin, *, channel: Channel | None = None) -> CallRequest:
        """Turn what a person asked for into a request we are willing to place, or raise a Refusal saying why not.

        The channel is `channel` when given (the form's select), else the one the draft names (`via sip`), else the
        one its destination implies (`sip:` URIs are SIP, everything else is a phone call).
        """
        if draft.destination is None or not draft.destination.strip():
            raise Refusal(Why.NO_DESTINATION, field="destination")
        # An emergency number is refused as such whoever asks, however it is typed, and whatever else is wrong:
        # before the other refusals below that stop the checks; the checks that follow refuse it too.
        if self._voximplant is None or self._policy.rule_id is None or not self._reachable():
            refuse_if_emergency(draft.destination, self._policy.default_region)
            raise Refusal(Why.NOT_SET_UP)
        if self.permissions is not None:
            try:
                await self.permissions.check_may_call(origin)
            except Refusal:
                refuse_if_emergency(draft.destination, self._policy.default_region)
                raise
        # Each part is checked even when another is wrong, so a form can show every problem at once.
        refusals: list[Refusal] = []

        def checked(check: Callable[[], T]) -> T | None:
            try:
                return check()
            except Refusal as refusal:
                refusals.append(refusal)
                return None

        picked = channel
        channel = checked(lambda: choose_channel(draft, picked))
        caller_id = None
        if channel is not None:
            typed_caller_id = None
            if draft.caller_id is not None:
                typed_caller_id = checked(lambda: self._typed_caller_id(draft))
            if draft.caller_id is None or typed_caller_id is not None:
                try:
                    caller_id = await resolve_caller_id(
                        self.store, typed_caller_id, channel, default=self._policy.default_caller_id
                    )
                except Refusal as refusal:
                    refusals.append(refusal)
        allowed = self._policy.allowed_countries or frozenset(filter(None, [region_of(caller_id)] if caller_id else []))
        destination = checked(lambda: self._destination(draft, channel, allowed))
        max_duration_s = checked(lambda: self.max_duration_s(draft))
        instructions = checked(lambda: check_instructions(draft.instructions))
        dialled = dialled_number(destination, channel, self._policy.default_region) if destination and channel else None
        if dialled is not None and (denied := await self.store.denial_for(dialled)) is not None:
            refusals.append(Refusal(Why.DENIED, field="destination", number=dialled, reason=denied.reason))
        if refusals:
            # What is wrong with the destination comes first: an emergency number is named as such before anything.
            refusals.sort(key=lambda refusal: refusal.field != "destination")
            raise refusals[0] if len(refusals) == 1 else Refusals(refusals)
        if (
            channel is None
            or caller_id is None
            or destination is None
            or max_duration_s is None
            or instructions is None
        ):
            raise RuntimeError("a check failed without a refusal")  # unreachable: every failed check refuses
        if self.permissions is not None:
            await self.permissions.check_limits(origin)
        return CallRequest(
            destination=destination,
            caller_id=caller_id,
            channel=channel,
            instructions=instructions,
            max_duration_s=max_duration_s,
            origin=origin,
        )

    def _typed_caller_id(self, draft: CallDraft) -> str:
        if draft.caller_id_readings:
            raise ambiguous_number(draft.caller_id or "", draft.caller_id_readings, field="caller_id")
        return parse_phone_number(draft.caller_id or "", self._policy.default_region, field="caller_id")

    def _destination(self, draft: CallDraft, channel: Channel | None, allowed: frozenset[str]) -> str:
        if draft.destination_readings:
            raise ambiguous_number(draft.destination or "", draft.destination_readings)
        return parse_destination(
            draft.destination or "",
            channel or infer_channel(draft.destination or ""),
            default_region=self._policy.default_region,
            allowed_regions=allowed,
            allowed_types=self._policy.allowed_types,
        )

    def max_duration_s(self, draft: CallDraft) -> int:
        """The call's time limit: what the draft asks for (`for 5m`), capped by the setting; else the setting."""
        if draft.duration is None or not draft.duration.strip():
            return self._policy.max_duration_s
        return parse_duration(draft.duration, max_s=self._policy.max_duration_s)

    async def create(self, request: CallRequest) -> tuple[Call, str]:
        """Store a new call in `requested`; returns it with its brief token (for its launch's custom data only).

        Raises LimitReached when a call limit filled up since `vet()`.
        """
        now = self._clock()
        call = Call(
            id=self._new_id(), request=request, state=CallState.REQUESTED, state_reason="", created_at=now,
            updated_at=now, control_secret=secrets.token_urlsafe(24),
        )  # fmt: skip
        token = launch.new_brief_token()
        async with self._admitting:
            # vet() checked the limits already; checked again here, where no other request can slip in between the
            # count and the insert, so two requests at once cannot both take the last place.
            if self.permissions is not None:
                await self.permissions.check_limits(request.origin)
            await self.store.insert_call(call, brief_token_hash=hash_token(token))
        return call, token

    async def launch(self, call: Call, token: str) -> Call:
        """Post the call's message, then start its scenario. StartScenarios is never repeated once it may have run."""
        self._launching.add(call.id)
        try:
            return await self._launch(call, token)
        finally:
            self._launching.discard(call.id)

    async def _launch(self, call: Call, token: str) -> Call:
        if self.observer is not None:
            # A phone that rings minutes after it was asked for surprises everyone: past the bound, the call fails
            # undialled. Its message stays queued, so the thread shows the failure once Slack takes it.
            try:
                shown = await self.observer.call_created(call, within_s=self._policy.show_timeout_s)
            except TimeoutError:
                why = reason(Ending.NOT_SHOWN_IN_TIME, seconds=self._policy.show_timeout_s)
                return await self._move(call, Transition(CallState.FAILED, why))
            if not shown:
                return await self._move(call, Transition(CallState.FAILED, reason(Ending.NO_THREAD)))
        base_url, pull = self._policy.public_base_url, self._policy.pull
        if self._voximplant is None or self._policy.rule_id is None or not self._reachable():  # vet() refuses this
            return await self._move(call, Transition(CallState.FAILED, reason(Ending.NOT_SET_UP)))
        if pull or base_url is None:
            custom_data = launch.pull_custom_data(call.id)
        else:
            custom_data = launch.custom_data(call.id, base_url=base_url, brief_token=token)
        # Recorded before the request leaves: a call still `requested` after a crash was provably never sent.
        starting = await self.store.mark_starting(
            call.id, Transition(CallState.STARTING, "sent to Voximplant"), self._clock(), custom_data=custom_data,
            pull=pull,
        )  # fmt: skip
        if starting is None:
            return await self.store.call(call.id) or call
        call = starting
        try:
            result = await self._voximplant.start_scenarios(rule_id=self._policy.rule_id, custom_data=custom_data)
        except VoximplantError as error:
            log.warning("StartScenarios failed for call %s: %s", call.id, error)
            return await self._start_failed(call, error)
        await self.store.set_session(
            call.id,
            access_url=result.media_session_access_secure_url,
            plain_access_url=result.media_session_access_url,
            history_id=result.call_session_history_id,
        )
        call = await self.store.call(call.id) or call
        if pull:
            call = await self._hand_brief(call)
        return call

    def _reachable(self) -> bool:
        """The scenario can be given its call: through PUBLIC_BASE_URL, or (pull mode) through its session."""
        return self._policy.pull or self._policy.public_base_url is not None

    async def _hand_brief(self, call: Call) -> Call:
        """Pull mode: deliver the brief through the session's access URL, then have its events fetched.

        The scenario waits at most 30 s for it; when it cannot be delivered the session ends undialled, so the call
        fails saying so.
        """
        if self._voximplant is None or call.access_url is None:
            return call
        body = {"action": "brief", "brief": self._brief_for(call)}
        try:
            await self._voximplant.session_request(call.access_url, body, plain_url=call.plain_access_url)
        except VoximplantError as error:
            log.warning("the brief of call %s could not be delivered: %s", call.id, error)
            # A scenario from before pull mode knows no brief action: it answers as to a wrong secret.
            outdated = "missing or wrong secret" in error.message
            why = reason(Ending.BRIEF_UNDELIVERED, detail=error.message, outdated_scenario=outdated)
            failed = await self.store.move_if_unheard(call.id, Transition(CallState.FAILED, why), self._clock())
            if failed is not None and self.observer is not None:
                await self.observer.call_moved(failed, Transition(CallState.FAILED, why))
            return failed or call
        if self.follow is not None:
            self.follow(call)
        return call

    async def _start_failed(self, call: Call, error: VoximplantError) -> Call:
        """Fail the call, unless its scenario reported in meanwhile: then it is under way, and it stays live."""
        transition = Transition(CallState.FAILED, _start_failure(error))
        failed = await self.store.move_if_unheard(call.id, transition, self._clock())
        if failed is not None:
            if self.observer is not None:
                await self.observer.call_moved(failed, transition)
            return failed
        current = await self.store.call(call.id) or call
        log.warning("call %s is under way although StartScenarios failed: its events arrived", call.id)
        if current.is_live and self.observer is not None:
            await self.observer.call_unconfirmed(current, error.message)
        return current

    async def brief(self, brief_token: str) -> dict[str, object]:
        """The call's brief for its scenario (launch contract v2); BadToken or BriefWithheld when it is not given.

        The brief token opens it only while the call is live and has reported nothing, and for no longer after the
        call was created than the longest launch plus BRIEF_FETCH_S. Each brief carries a new callback token (only
        its hash is kept), so a brief fetched twice (an answer lost on the way) leaves the last one working.
        """
        call = await self.store.call_by_brief_token(hash_token(brief_token)) if brief_token else None
        if call is None:
            raise BadToken
        if not call.is_live:
            raise BriefWithheld(Withheld.CALL_OVER)
        ttl = timedelta(seconds=self._policy.show_timeout_s + self._policy.start_timeout_s + BRIEF_FETCH_S)
        if call.last_seq > 0 or self._clock() - call.created_at > ttl:
            raise BriefWithheld(Withheld.TOKEN_SPENT)
        if self._policy.public_base_url is None or call.control_secret is None:
            raise BriefWithheld(Withheld.NOT_SET_UP)
        callback_token = secrets.token_urlsafe(32)
        if not await self.store.issue_callback_token(call.id, token_hash=hash_token(callback_token)):
            raise BriefWithheld(Withheld.TOKEN_SPENT)
        return {
            **self._brief_for(call),
            "callback_url": launch.events_url(self._policy.public_base_url),
            "callback_token": callback_token,
        }

    def _brief_for(self, call: Call) -> dict[str, object]:
        """What the scenario needs to place the call and take orders (pull mode's whole brief)."""
        request = call.request
        return {
            "v": launch.CONTRACT_VERSION,
            "call_id": call.id,
            "destination": request.destination,
            "caller_id": request.caller_id,
            "channel": request.channel.value,
            "instructions": request.instructions,
            "max_duration_s": request.max_duration_s,
            "control_secret": call.control_secret,
        }

    async def receive(self, event: StatusEvent, token: str) -> EventOutcome:
        """Check `token` (the call's callback token), then store the pushed event once and apply it; BadToken if not.

        An unknown call reads exactly as a wrong token (a comparison made all the same): whoever sends events learns
        nothing about which call ids exist.
        """
        expected = await self.store.token_hash(event.call_id)
        matches = hmac.compare_digest(hash_token(token), expected or _NO_CALL)
        if expected is None or not matches:
            raise BadToken
        return await self.accept_event(event)

    async def accept_event(self, event: StatusEvent) -> EventOutcome:
        """Store a status event once and apply it (its origin already checked: a token, or the session itself)."""
        outcome = await self.store.record_event(event, received_at=self._clock(), decide=transition_for)
        if outcome is None:  # pragma: no cover - the call existed a moment ago and calls are never deleted
            raise UnknownCall
        return outcome

    async def announce(self, outcome: EventOutcome, event: StatusEvent) -> None:
        """Tell the observer what an accepted event did."""
        if self.observer is None or outcome.duplicate:
            return
        if outcome.transition is not None:
            await self.observer.call_moved(outcome.call, outcome.transition)
            await self._mind_the_balance(outcome, event)
        else:
            await self.observer.call_event(outcome.call, event)

    async def _mind_the_balance(self, outcome: EventOutcome, event: StatusEvent) -> None:
        """402 (insufficient funds) is the account's problem, not the call's: its admins hear it, once."""
        if self.observer is None or outcome.transition is None:
            return
        if isinstance(event, FailedEvent) and event.data.code == INSUFFICIENT_FUNDS:
            if await self.store.first_notice(BALANCE_NOTICE, at=self._clock()):
                log.warning("Voximplant refused a call for want of funds (402): top up the account's balance")
                await self.observer.balance_empty(outcome.call)
        elif outcome.transition.state is CallState.CONNECTED:
            await self.store.clear_notice(BALANCE_NOTICE)  # calls work again: a later 402 is news again

    async def may_hang_up(self, call_id: str, user_id: str) -> Call:
        """The call `user_id` wants to hang up, or a Refusal: only the requester or an admin, only a live call."""
        call = await self.store.call(call_id)
        if call is None:
            raise Refusal(Why.HANG_UP_UNKNOWN)
        requester = call.request.origin.user_id
        if user_id != requester and not await self._is_admin(user_id):
            raise Refusal(Why.HANG_UP_NOT_YOURS, requester=requester)
        if not call.is_live:
            raise Refusal(Why.HANG_UP_OVER)
        if call.access_url is None:
            if call.id in self._launching or call.state is CallState.REQUESTED:
                raise Refusal(Why.HANG_UP_TOO_EARLY)
            raise Refusal(Why.HANG_UP_UNCONFIRMED, max_duration_s=call.request.max_duration_s)
        return call

    async def _is_admin(self, user_id: str) -> bool:
        """The admins lists, history and status use: CALLBOT_ADMINS, and workspace admins when the setting says so."""
        if self.permissions is not None:
            return await self.permissions.is_admin(user_id)
        return user_id in self._policy.admins

    async def hang_up(self, call: Call, user_id: str) -> None:
        """Ask the call's session to hang up; the scenario answers and reports `disconnected` (hangup_requested)."""
        if self._voximplant is None or call.access_url is None:  # may_hang_up() refuses this
            return
        if self.observer is not None:
            await self.observer.hang_up_requested(call, user_id)
        try:
            await self._voximplant.hang_up(
                call.access_url, secret=call.control_secret or "", plain_url=call.plain_access_url
            )
        except VoximplantError as error:
            log.warning("hang-up of call %s failed: %s", call.id, error)
            if self.observer is not None:
                await self.observer.hang_up_failed(call, error.message)
            await self.reconcile(call)

    async def reconcile_stale(self, quiet_for: timedelta) -> int:
        """Reconcile each live call that has heard nothing for `quiet_for`; returns how many were settled."""
        settled = 0
        quiet_since = self._clock() - quiet_for
        stale = await self.store.stale_calls(quiet_since=quiet_since)
        stale += await self.store.stale_calls(quiet_since=quiet_since, unconfirmed=True)  # looked up by custom data
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
            elif call.custom_data is not None and call.id not in self._launching:
                session = await self._voximplant.find_session(call.custom_data, started_at=call.created_at)
                if session is not None:
                    await self.store.set_history_id(call.id, session.call_session_history_id)
            else:
                return False
        except VoximplantError as error:
            log.warning("call history for call %s could not be read: %s", call.id, error)
            return False
        found = verdict(session)
        if found is None:
            return False
        moved = await self.store.settle(call.id, found.transition, self._clock(), duration_s=found.duration_s)
        if moved is None:
            return False
        log.info("call %s settled from call history: %s", call.id, moved.state)
        if self.observer is not None:
            await self.observer.call_reconciled(moved, found.cost)
        return True

    async def announce_once(self, outcome: EventOutcome, event: StatusEvent) -> None:
        """Announce a newly stored event and note that its Slack writes are queued."""
        await self.announce(outcome, event)
        await self.store.mark_announced(event.call_id, event.seq)

    async def catch_up(self, event: StatusEvent) -> None:
        """A repeated event whose first delivery was stored but never announced (we stopped in between): announce it."""
        if not await self.store.is_announced(event.call_id, event.seq):
            await self._reannounce(event)

    async def reannounce_stranded(self) -> int:
        """At start: announce events an earlier run stored but stopped before announcing. Returns how many."""
        stranded = await self.store.unannounced_events()
        for raw in stranded:
            await self._reannounce(STATUS_EVENTS.validate_python(raw))
        return len(stranded)

    async def _reannounce(self, event: StatusEvent) -> None:
        # The transition this event made (if any) is already stored; show the call as it is now. The milestone is
        # repeated only when this event is what put the call in its current state.
        call = await self.store.call(event.call_id)
        if call is None:
            return
        if self.observer is not None:
            if brought_to(event, call):
                await self.observer.call_moved(call, Transition(call.state, call.state_reason))
            elif isinstance(event, TranscriptEvent | ErrorEvent):
                await self.observer.call_event(call, event)
        await self.store.mark_announced(event.call_id, event.seq)

    async def fail_unplaced(self) -> int:
        """At start: calls stored but never sent to Voximplant (the bot stopped in between) fail, and say so.

        They are not placed now: the person may have asked again meanwhile, and a late call surprises everyone.
        """
        stranded = await self.store.calls_in_state(CallState.REQUESTED)
        for call in stranded:
            await self._move(call, Transition(CallState.FAILED, reason(Ending.RESTARTED_BEFORE_PLACING)))
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
        for call in await self.store.unheard_starting_calls(sent_before=sent_before):
            if call.id not in self._launching:  # else StartScenarios may still be waiting for its turn here
                settled += await self._announced(await self.store.move_if_unheard(call.id, stopped, now), stopped)
        never_heard = Transition(CallState.FAILED, reason(Ending.END_NEVER_HEARD))
        quiet_since = now - timedelta(seconds=SESSION_OVERRUN_S)
        for call in await self.store.stale_calls(quiet_since=quiet_since, unconfirmed=True):
            over_by = call.created_at + timedelta(seconds=call.request.max_duration_s + SESSION_OVERRUN_S)
            if call.id not in self._launching and now >= over_by and not await self.reconcile(call):
                settled += await self._announced(await self.store.move(call.id, never_heard, now), never_heard)
        if settled:
            log.info("settled %d calls Voximplant never confirmed", settled)
        return settled

    async def _announced(self, moved: Call | None, transition: Transition) -> bool:
        """Tell the observer about a move the store made; False when it made none."""
        if moved is None:
            return False
        if self.observer is not None:
            await self.observer.call_moved(moved, transition)
        return True

    async def _move(self, call: Call, transition: Transition) -> Call:
        moved = await self.store.move(call.id, transition, self._clock())
        if moved is None:
            return await self.store.call(call.id) or call
        if self.observer is not None:
            await self.observer.call_moved(moved, transition)
        return moved


def choose_channel(draft: CallDraft, picked: Channel | None = None) -> Channel:
    """The channel a request uses: picked in a form, else named in the text, else implied by the destination."""
    if picked is not None:
        return picked
    if draft.channel is not None and draft.channel.strip():
        return parse_channel(draft.channel)
    return infer_channel(draft.destination or "")


def check_instructions(text: str) -> str:
    if not text.strip():
        raise Refusal(Why.NO_INSTRUCTIONS, field="instructions")
    if len(text) > MAX_INSTRUCTIONS:
        raise Refusal(Why.INSTRUCTIONS_TOO_LONG, field="instructions", length=len(text), limit=MAX_INSTRUCTIONS)
    return text


def _start_failure(error: VoximplantError) -> str:
    """Why a call failed whose StartScenarios failed: refused (credentials, or another code), unconfirmed or
    unreachable."""
    if error.code == BAD_CREDENTIALS:
        return reason(Ending.START_CREDENTIALS)
    if error.code is not None:
        return reason(Ending.START_REFUSED, code=error.code, detail=error.message)
    if error.may_have_started:
        return reason(Ending.START_UNCONFIRMED, detail=error.message)
    return reason(Ending.START_UNREACHABLE, detail=error.message)
