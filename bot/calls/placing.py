"""Placing: store a vetted call, show it, start its scenario, hand it its brief; and Hang up.

A call is stored (`requested`) before Slack's ack, and `starting` is recorded before StartScenarios leaves, so no call
is lost or dialled twice across a crash (docs/architecture.md). StartScenarios is never repeated once it may have run.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.calls import briefing, launch
from bot.calls.clock import Clock, utc_now
from bot.calls.models import Call, CallRequest, CallState, Transition
from bot.calls.moves import Moves
from bot.calls.observer import CallObserver
from bot.calls.permissions import Permissions, acts_for, admin_check
from bot.calls.policy import CallPolicy
from bot.calls.ports import Voximplant
from bot.calls.reasons import Ending, reason
from bot.calls.refusals import Why
from bot.errors import BadToken, BriefWithheld, Refusal, VoximplantError, Withheld
from bot.store import Store

log = logging.getLogger(__name__)
HANG_UP = "call.hang_up"  # the audit log's name for a Hang up refused to someone
BAD_CREDENTIALS = 100  # Voximplant's error code for an unknown account or a wrong API key
# How long a brief token opens the brief, past the longest launch (the wait for Slack, then StartScenarios): the
# scenario retries its fetch for at most 30 s (BRIEF_TRIES in scenarios/outbound_call.js), plus a margin.
BRIEF_FETCH_S = 60.0


def new_call_id() -> str:
    """12 hex digits (launch.CALL_ID_CHARS): short enough for custom data and `/call status`."""
    return uuid.uuid4().hex[: launch.CALL_ID_CHARS]


class InFlight:
    """The calls whose launch runs now in this process: StartScenarios may still be under way for them."""

    def __init__(self) -> None:
        self._ids: set[str] = set()

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._ids

    def add(self, call_id: str) -> None:
        self._ids.add(call_id)

    def discard(self, call_id: str) -> None:
        self._ids.discard(call_id)


class Placing:
    """Creates and launches calls, gives scenarios their briefs, and hangs calls up."""

    def __init__(
        self,
        store: Store,
        voximplant: Voximplant | None,
        policy: CallPolicy,
        *,
        moves: Moves,
        in_flight: InFlight,
        reconcile: Callable[[Call], Awaitable[bool]],
        observer: CallObserver | None = None,
        permissions: Permissions | None = None,
        follow: Callable[[Call], None] | None = None,
        clock: Clock = utc_now,
        new_id: Callable[[], str] = new_call_id,
    ) -> None:
        self._store = store
        self._voximplant = voximplant
        self._policy = policy
        self._moves = moves
        self._in_flight = in_flight
        self._reconcile = reconcile  # settles a call from the call history (Recovery.reconcile)
        self._observer = observer
        self._permissions = permissions
        self._is_admin = admin_check(permissions, policy.admins)
        self._follow = follow  # pull mode: start fetching a launched call's events
        self._clock = clock
        self._new_id = new_id

    async def create(self, request: CallRequest, *, call_id: str | None = None) -> Call:
        """Store a new call in `requested`, for a launch here or on a worker replica (`launch`). `call_id`: the
        id it takes, when the request that asked for it has one already (a slash command a worker runs).

        Raises LimitReached when a call limit filled up since `vet()`.
        """
        now = self._clock()
        call = Call(
            id=call_id or self._new_id(), request=request, state=CallState.REQUESTED, state_reason="", created_at=now,
            updated_at=now, control_secret=secrets.token_urlsafe(24),
        )  # fmt: skip
        if self._permissions is None or not self._permissions.limits.count_calls:
            await self._store.insert_call(call)  # no limit to hold: nothing to count, no lock to take
            return call
        async with self._store.exclusive(f"admit {request.origin.team_id}"):
            # vet() checked the limits already; checked again here, where no other request of the workspace, on
            # this replica or another, can slip in between the count and the insert: two requests at once cannot
            # both take the last place.
            await self._permissions.check_limits(request.origin)
            await self._store.insert_call(call)
        return call

    async def launch(self, call: Call) -> Call:
        """Post the call's message, then start its scenario. StartScenarios is never repeated once it may have run."""
        self._in_flight.add(call.id)
        try:
            return await self._launch(call)
        finally:
            self._in_flight.discard(call.id)

    async def _launch(self, call: Call) -> Call:
        if self._observer is not None:
            # A phone that rings minutes after it was asked for surprises everyone: past the bound, the call fails
            # undialled. Its message stays queued, so the thread shows the failure once Slack takes it.
            try:
                shown = await self._observer.call_created(call, within_s=self._policy.show_timeout_s)
            except TimeoutError:
                why = reason(Ending.NOT_SHOWN_IN_TIME, seconds=self._policy.show_timeout_s)
                return await self._fail(call, why)
            if not shown:
                return await self._fail(call, reason(Ending.NO_THREAD))
        base_url, pull, rule_id = self._policy.public_base_url, self._policy.pull, self._policy.rule_id
        if self._voximplant is None or rule_id is None or not self._policy.reachable:  # vet() refuses this
            return await self._fail(call, reason(Ending.NOT_SET_UP))
        # The brief token, in the custom data only: the store keeps its hash, which the scenario's fetch must match.
        token = launch.new_brief_token()
        if pull or base_url is None:
            custom_data = launch.pull_custom_data(call.id)
        else:
            custom_data = launch.custom_data(call.id, base_url=base_url, brief_token=token)
        # Recorded before the request leaves: a call still `requested` after a crash was provably never sent.
        starting = await self._store.mark_starting(
            call.id, Transition(CallState.STARTING, "sent to Voximplant"), self._clock(), custom_data=custom_data,
            pull=pull, brief_token_hash=launch.hash_token(token),
        )  # fmt: skip
        if starting is None:
            return await self._store.call(call.id) or call
        call = starting
        try:
            result = await self._voximplant.start_scenarios(rule_id=rule_id, custom_data=custom_data)
        except VoximplantError as error:
            log.warning("StartScenarios failed for call %s: %s", call.id, error)
            return await self._start_failed(call, error)
        await self._store.set_session(
            call.id,
            access_url=result.media_session_access_secure_url,
            plain_access_url=result.media_session_access_url,
            history_id=result.call_session_history_id,
        )
        call = await self._store.call(call.id) or call
        if pull:
            call = await self._hand_brief(call)
        return call

    async def _fail(self, call: Call, why: str) -> Call:
        failed = await self._moves.move(call.id, Transition(CallState.FAILED, why))
        return failed or await self._store.call(call.id) or call

    async def _hand_brief(self, call: Call) -> Call:
        """Pull mode: deliver the brief through the session's access URL, then have its events fetched.

        The scenario waits at most 30 s for it; when it cannot be delivered the session ends undialled, so the call
        fails saying so.
        """
        if self._voximplant is None or call.access_url is None:
            return call
        body: dict[str, object] = {"action": "brief", "brief": self._brief_for(call)}
        try:
            await self._voximplant.session_request(call.access_url, body, plain_url=call.plain_access_url)
        except VoximplantError as error:
            log.warning("the brief of call %s could not be delivered: %s", call.id, error)
            # A scenario from before pull mode knows no brief action: it answers as to a wrong secret.
            outdated = "missing or wrong secret" in error.message
            why = reason(Ending.BRIEF_UNDELIVERED, detail=error.message, outdated_scenario=outdated)
            return await self._moves.move_if_unheard(call.id, Transition(CallState.FAILED, why)) or call
        if self._follow is not None:
            self._follow(call)
        return call

    async def _start_failed(self, call: Call, error: VoximplantError) -> Call:
        """Fail the call, unless its scenario reported in meanwhile: then it is under way, and it stays live."""
        failed = await self._moves.move_if_unheard(call.id, Transition(CallState.FAILED, _start_failure(error)))
        if failed is not None:
            return failed
        current = await self._store.call(call.id) or call
        log.warning("call %s is under way although StartScenarios failed: its events arrived", call.id)
        if current.is_live and self._observer is not None:
            await self._observer.call_unconfirmed(current, error.message)
        return current

    async def brief(self, brief_token: str) -> dict[str, object]:
        """The call's brief for its scenario (launch contract v2); BadToken or BriefWithheld when it is not given.

        The brief token opens it only while the call is live and has reported nothing, and for no longer after the
        call was created than the longest launch plus BRIEF_FETCH_S. Each brief carries a new callback token (only
        its hash is kept), so a brief fetched twice (an answer lost on the way) leaves the last one working.
        """
        call = await self._store.call_by_brief_token(launch.hash_token(brief_token)) if brief_token else None
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
        if not await self._store.issue_callback_token(call.id, token_hash=launch.hash_token(callback_token)):
            raise BriefWithheld(Withheld.TOKEN_SPENT)
        return {
            **self._brief_for(call),
            "callback_url": launch.events_url(self._policy.public_base_url),
            "callback_token": callback_token,
        }

    def _brief_for(self, call: Call) -> dict[str, object]:
        """What the scenario needs to place the call and take orders (pull mode's whole brief)."""
        request = call.request
        brief: dict[str, object] = {
            "v": launch.CONTRACT_VERSION,
            "call_id": call.id,
            "destination": request.destination,
            "caller_id": request.caller_id,
            "channel": request.channel.value,
            "instructions": request.instructions,
            "max_duration_s": request.max_duration_s,
            "control_secret": call.control_secret,
            # Apart from the instructions, so that they cannot word it away: the scenario has the agent say it first.
            "disclosure": briefing.disclosure(self._policy.disclosure, request),
            "voicemail": request.voicemail.value,
            "record": request.record,
        }
        model = briefing.amd_model(request)
        if model is not None:
            brief["amd_model"] = model
        return brief

    async def may_hang_up(self, call_id: str, user_id: str) -> Call:
        """The call `user_id` wants to hang up, or a Refusal (audited, as for Say… and Join): only the requester or
        an admin, only a live call."""
        try:
            return await self._hangable(call_id, user_id)
        except Refusal as refusal:
            await self._store.audit(actor=user_id, action=HANG_UP, target=call_id[:64], detail=refusal.why.value,
                                    allowed=False, at=self._clock())  # fmt: skip
            raise

    async def _hangable(self, call_id: str, user_id: str) -> Call:
        call = await self._store.call(call_id)
        if call is None:
            raise Refusal(Why.HANG_UP_UNKNOWN)
        requester = call.request.origin.user_id
        if not await acts_for(self._is_admin, user_id, requester):
            raise Refusal(Why.HANG_UP_NOT_YOURS, requester=requester)
        if not call.is_live:
            raise Refusal(Why.HANG_UP_OVER)
        if call.access_url is None:
            if call.id in self._in_flight or call.state is CallState.REQUESTED:
                raise Refusal(Why.HANG_UP_TOO_EARLY)
            raise Refusal(Why.HANG_UP_UNCONFIRMED, max_duration_s=call.request.max_duration_s)
        return call

    async def hang_up(self, call: Call, user_id: str) -> None:
        """Ask the call's session to hang up; the scenario answers and reports `disconnected` (hangup_requested)."""
        if self._voximplant is None or call.access_url is None:  # may_hang_up() refuses this
            return
        if self._observer is not None:
            await self._observer.hang_up_requested(call, user_id)
        try:
            await self._voximplant.hang_up(
                call.access_url, secret=call.control_secret or "", plain_url=call.plain_access_url
            )
        except VoximplantError as error:
            log.warning("hang-up of call %s failed: %s", call.id, error)
            if self._observer is not None:
                await self._observer.hang_up_failed(call, error.message)
            await self._reconcile(call)


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
