"""Vetting: what a person asked for, checked part by part, becomes a request we are willing to place, or a Refusal.

Every check is here, shared by `/call` and the form: who may call, the channel, the caller ID, the destination (an
emergency number first, whatever else is wrong), the time limit, the instructions, the deny list, the limits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from bot.calls.caller_ids import resolve_caller_id
from bot.calls.clock import Clock, utc_now
from bot.calls.destinations import (
    dialled_number,
    infer_channel,
    parse_channel,
    parse_destination,
    parse_duration,
    parse_user_name,
)
from bot.calls.grammar import VOICEMAIL_WORDS, CallDraft
from bot.calls.hours import closed
from bot.calls.models import AtVoicemail, CallRequest, Channel, Origin
from bot.calls.numbers import ambiguous_number, parse_phone_number, refuse_if_emergency, region_of
from bot.calls.permissions import Permissions
from bot.calls.policy import CallPolicy
from bot.calls.refusals import Why
from bot.errors import Refusal, Refusals
from bot.store import Store

T = TypeVar("T")
MAX_INSTRUCTIONS = 3000
AFTER_HOURS = "call.after_hours"  # the audit log's name for a call placed outside calling hours by an admin


class Vetting:
    """Checks call requests; reads the allowlist and the deny list, and asks Permissions who may call."""

    def __init__(
        self, store: Store, policy: CallPolicy, *, set_up: bool, permissions: Permissions | None = None,
        clock: Clock = utc_now,
    ) -> None:  # fmt: skip
        self._store = store
        self._policy = policy
        self._set_up = set_up  # Voximplant is configured and the scenario can be reached: calls can be placed
        self._permissions = permissions
        self._clock = clock

    async def vet(
        self, draft: CallDraft, origin: Origin, *, channel: Channel | None = None, requester_name: str = "",
        scheduled: bool = False,
    ) -> CallRequest:  # fmt: skip
        """Turn what a person asked for into a request we are willing to place, or raise a Refusal saying why not.

        `scheduled`: a call for later, checked now and again when it is dialled: the limits and calling hours are
        left to that second check (bot/calls/scheduling.py moves a time outside calling hours instead).
        The channel is `channel` when given (the form's select), else the one the draft names (`via sip`), else the
        one its destination implies (`sip:` URIs are SIP, everything else is a phone call).
        """
        if draft.destination is None or not draft.destination.strip():
            raise Refusal(Why.NO_DESTINATION, field="destination")
        # An emergency number is refused as such whoever asks, however it is typed, and whatever else is wrong:
        # before the other refusals below that stop the checks; the checks that follow refuse it too.
        if not self._set_up:
            refuse_if_emergency(draft.destination, self._policy.default_region)
            raise Refusal(Why.NOT_SET_UP)
        if self._permissions is not None:
            try:
                await self._permissions.check_may_call(origin)
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
                        self._store, typed_caller_id, channel, default=self._policy.default_caller_id
                    )
                except Refusal as refusal:
                    refusals.append(refusal)
        allowed = self._policy.allowed_countries or frozenset(filter(None, [region_of(caller_id)] if caller_id else []))
        destination = checked(lambda: self._destination(draft, channel, allowed))
        max_duration_s = checked(lambda: self.max_duration_s(draft))
        instructions = checked(lambda: check_instructions(draft.instructions))
        voicemail = checked(lambda: at_voicemail(draft.voicemail))
        if draft.record and not self._policy.recording_enabled:
            refusals.append(Refusal(Why.RECORDING_OFF, field="record"))
        dialled = dialled_number(destination, channel, self._policy.default_region) if destination and channel else None
        if dialled is not None and (denied := await self._store.denial_for(dialled)) is not None:
            refusals.append(Refusal(Why.DENIED, field="destination", number=dialled, reason=denied.reason))
        overridden = False  # an admin's reason took a call outside calling hours: audited once the call is accepted
        if dialled is not None and not scheduled:
            refused, overridden = await self._calling_hours(draft, origin, dialled)
            if refused is not None:
                refusals.append(refused)
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
            or voicemail is None
        ):
            raise RuntimeError("a check failed without a refusal")  # unreachable: every failed check refuses
        if self._permissions is not None and not scheduled:
            await self._permissions.check_limits(origin)
        if overridden and dialled is not None:
            detail = f"outside calling hours: {draft.after_hours_reason}"
            await self._store.audit(
                actor=origin.user_id, action=AFTER_HOURS, target=dialled, detail=detail, allowed=True, at=self._clock()
            )
        return CallRequest(
            destination=destination,
            caller_id=caller_id,
            channel=channel,
            instructions=instructions,
            max_duration_s=max_duration_s,
            origin=origin,
            voicemail=voicemail,
            record=draft.record,
            requester_name=requester_name,
        )

    async def _calling_hours(self, draft: CallDraft, origin: Origin, number: str) -> tuple[Refusal | None, bool]:
        """Whether `number` may be called now: (None, False) inside its calling hours; outside them, (None, True)
        when an admin gave a reason, else the refusal (`admin`: the person could give one), or the refusal of a
        reason given by someone who is no admin."""
        window, now = self._policy.calling_hours, self._clock()
        shut = closed(window, number, now) if window is not None and number.startswith("+") else None
        if shut is None:
            return None, False
        if draft.after_hours_reason and self._permissions is not None:
            try:
                await self._permissions.require_admin(origin.user_id, action=AFTER_HOURS, target=number)
            except Refusal as refused:
                return Refusal(refused.why, field="after_hours_reason", **refused.facts), False
            return None, True
        admin = self._permissions is not None and await self._permissions.is_admin(origin.user_id)
        facts = {"closed": shut, "window": window, "admin": admin, "now": now}
        return Refusal(Why.OUTSIDE_CALLING_HOURS, field="destination", **facts), False

    async def vet_join(self, typed: str, *, caller_id: str, user_id: str) -> JoinTarget:
        """Where to dial someone joining a call: a phone number, or a Voximplant application user name (a word with a
        letter in it), checked by the guard rails a call's destination meets: never an emergency, short or
        premium-rate number, only the allowed countries (by default the caller ID's), not on the deny list, and
        inside calling hours (no admin override here: the form has no reason field). A Refusal says what is wrong.
        """
        text = typed.strip()
        if not text:
            raise Refusal(Why.JOIN_NO_TARGET, field="destination")
        draft = CallDraft(destination=text, caller_id=None, instructions="")
        if _APP_USER.fullmatch(text.removeprefix("@")):
            return JoinTarget(Channel.USER, parse_user_name(text))
        allowed = self._policy.allowed_countries or frozenset(filter(None, [region_of(caller_id)]))
        number = self._destination(draft, Channel.PSTN, allowed)
        if (denied := await self._store.denial_for(number)) is not None:
            raise Refusal(Why.DENIED, field="destination", number=number, reason=denied.reason)
        origin = Origin(team_id="", user_id=user_id, conversation_id="")
        refused, _ = await self._calling_hours(draft, origin, number)
        if refused is not None:
            raise Refusal(refused.why, field=refused.field, **{**refused.facts, "admin": False})
        return JoinTarget(Channel.PSTN, number)

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


@dataclass(frozen=True, slots=True)
class JoinTarget:
    """Where a Join dials the person joining: PSTN (an E.164 number) or USER (an application user name)."""

    channel: Channel
    destination: str


# An application user name as `/call … via user` takes it (destinations.parse_user_name), with a letter in it: what
# has none (`911`, `+1 415 555 0100`) is read as a phone number and vetted as one.
_APP_USER = re.compile(r"(?=[^A-Za-z]*[A-Za-z])[A-Za-z0-9][A-Za-z0-9._\-]{0,49}")


def choose_channel(draft: CallDraft, picked: Channel | None = None) -> Channel:
    """The channel a request uses: picked in a form, else named in the text, else implied by the destination."""
    if picked is not None:
        return picked
    if draft.channel is not None and draft.channel.strip():
        return parse_channel(draft.channel)
    return infer_channel(draft.destination or "")


def at_voicemail(typed: str | None) -> AtVoicemail:
    """What to do at a voicemail greeting: as typed after `voicemail:` (or picked in the form); leave by default."""
    if typed is None or not typed.strip():
        return AtVoicemail.LEAVE
    choice = VOICEMAIL_WORDS.get(" ".join(typed.lower().split()))
    if choice is None:
        raise Refusal(Why.BAD_VOICEMAIL, field="voicemail", typed=typed)
    return AtVoicemail(choice)


def check_instructions(text: str) -> str:
    if not text.strip():
        raise Refusal(Why.NO_INSTRUCTIONS, field="instructions")
    if len(text) > MAX_INSTRUCTIONS:
        raise Refusal(Why.INSTRUCTIONS_TOO_LONG, field="instructions", length=len(text), limit=MAX_INSTRUCTIONS)
    return text
