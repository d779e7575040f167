"""Saying: the requester (or a callbot admin) has the agent of a connected call say something (Say…).

The same people as for Hang up may ask, and only while the call is connected and its session can be reached. The
text goes to the call's session (`{"action":"say","text":…}` with the control secret); the scenario adds it to the
conversation, or answers why its agent cannot take it (not on the line yet, a voicemail box, the call ending).

Every attempt is audited (`call.say`): who, which call, allowed or refused and why. The audit line keeps the text's
length, never the text: the audit log keeps its lines for good (it refuses updates and deletes), and what a person
asks an agent to tell a callee is often personal (a health detail, an address, a code to read out). The text stays
where the person put it, in the call's thread, under the workspace's own retention rules.
"""

from __future__ import annotations

import logging

from bot.calls.clock import Clock, utc_now
from bot.calls.models import MAX_SAY_CHARS, Call, CallState
from bot.calls.observer import CallObserver
from bot.calls.permissions import AdminCheck, acts_for
from bot.calls.ports import Voximplant
from bot.calls.refusals import Why
from bot.errors import Refusal, VoximplantError
from bot.store import Store

log = logging.getLogger(__name__)
SAY_FIELD = "say_text"  # the form's input a refusal of the text is shown under
AUDITED = "call.say"  # the audit log's name for a Say… request


class Saying:
    """Checks who may have a call's agent say something, and passes the text on to the call's session."""

    def __init__(
        self,
        store: Store,
        voximplant: Voximplant | None,
        *,
        is_admin: AdminCheck,
        observer: CallObserver | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._voximplant = voximplant
        self._is_admin = is_admin
        self._observer = observer
        self._clock = clock

    async def may_say(self, call_id: str, user_id: str) -> Call:
        """The call `user_id` wants its agent to speak on, or a Refusal (audited): only the requester or an admin,
        only a connected call whose session can be reached."""
        try:
            return await self._check(call_id, user_id)
        except Refusal as refusal:
            await self._audit(user_id, call_id, f"refused: {refusal.why.value}", allowed=False)
            raise

    async def _check(self, call_id: str, user_id: str) -> Call:
        call = await self._store.call(call_id)
        if call is None:
            raise Refusal(Why.HANG_UP_UNKNOWN)
        requester = call.request.origin.user_id
        if not await acts_for(self._is_admin, user_id, requester):
            raise Refusal(Why.SAY_NOT_YOURS, requester=requester)
        if not call.is_live:
            raise Refusal(Why.SAY_OVER)
        if call.state is not CallState.CONNECTED:
            raise Refusal(Why.SAY_NOT_CONNECTED)
        if call.access_url is None or self._voximplant is None:
            raise Refusal(Why.SAY_UNCONFIRMED)
        return call

    @staticmethod
    def check_text(text: str) -> str:
        """The text to send, trimmed; a Refusal (under the form's field) when it is empty or too long."""
        trimmed = text.strip()
        if not trimmed or len(trimmed) > MAX_SAY_CHARS:
            raise Refusal(Why.SAY_TEXT, field=SAY_FIELD, length=len(trimmed), limit=MAX_SAY_CHARS)
        return trimmed

    async def say(self, call: Call, user_id: str, text: str) -> str | None:
        """Send `text` (checked by `check_text`) to the call's agent; None once it has it, else the reason it has not
        (the scenario's words, or why the session could not be reached). The thread shows it only once it is taken.
        """
        if self._voximplant is None or call.access_url is None:  # may_say() refuses this
            return "the call's session cannot be reached"
        try:
            await self._voximplant.say(
                call.access_url, text=text, secret=call.control_secret or "", plain_url=call.plain_access_url
            )
        except VoximplantError as error:
            log.warning("call %s: the agent did not take %s's Say… text: %s", call.id, user_id, error.message)
            await self._audit(user_id, call.id, f"{len(text)} characters; not taken: {error.message}", allowed=True)
            return error.message
        log.info("call %s: %s had the agent say something (%d characters)", call.id, user_id, len(text))
        await self._audit(user_id, call.id, f"{len(text)} characters; taken by the agent", allowed=True)
        if self._observer is not None:
            await self._observer.say_requested(call, user_id, text)
        return None

    async def _audit(self, actor: str, call_id: str, detail: str, *, allowed: bool) -> None:
        await self._store.audit(
            actor=actor, action=AUDITED, target=call_id, detail=detail, allowed=allowed, at=self._clock()
        )
