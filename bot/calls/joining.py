"""Join: the requester (or a callbot admin) asks to be put on a live call.

Who may: the person who placed the call or a callbot admin, as for Hang up; every refused attempt is written to the
audit log. Where they are dialled: the phone number on their Slack profile, or one they type, or a Voximplant
application user they name, each vetted by the guard rails a call's destination meets (`Vetting.vet_join`). The
session is asked over its access URL (`{"action":"join",…}`); it dials them, and once they answer within 30 s it has
the agent say who is joining, bridges callee and requester, and takes the agent off the line. Its `join` status event
says how it went (scenarios/README.md, "Join").
"""

from __future__ import annotations

import logging

from bot.calls.clock import Clock, utc_now
from bot.calls.models import Call, CallState, Channel
from bot.calls.observer import CallObserver
from bot.calls.permissions import Permissions, acts_for, admin_check
from bot.calls.policy import CallPolicy
from bot.calls.ports import Voximplant
from bot.calls.refusals import Why
from bot.calls.vetting import JoinTarget, Vetting
from bot.errors import Refusal, VoximplantError
from bot.store import Store

log = logging.getLogger(__name__)
JOIN = "call.join"  # the audit log's name for a Join refused to someone
MAX_NAME_CHARS = 80  # the scenario's limit on how the agent names the person joining
# The scenario's word for each channel a Join may dial (scenarios/README.md, "Join").
_SCENARIO_CHANNELS = {Channel.PSTN: "pstn", Channel.USER: "app_user"}


class Joining:
    """Checks who may join a call and where to dial them, and asks the call's session to do it."""

    def __init__(
        self,
        store: Store,
        voximplant: Voximplant | None,
        policy: CallPolicy,
        vetting: Vetting,
        *,
        observer: CallObserver | None = None,
        permissions: Permissions | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._voximplant = voximplant
        self._policy = policy
        self._vetting = vetting
        self._observer = observer
        self._permissions = permissions
        self._is_admin = admin_check(permissions, policy.admins)
        self._clock = clock

    async def may_join(self, call_id: str, user_id: str) -> Call:
        """The call `user_id` wants to join, or a Refusal (audited): only the requester or an admin, only a call that
        is connected and whose session can be reached."""
        try:
            return await self._joinable(call_id, user_id)
        except Refusal as refusal:
            await self._store.audit(
                actor=user_id, action=JOIN, target=call_id[:64], detail=refusal.why.value, allowed=False,
                at=self._clock(),
            )  # fmt: skip
            raise

    async def _joinable(self, call_id: str, user_id: str) -> Call:
        call = await self._store.call(call_id)
        if call is None:
            raise Refusal(Why.HANG_UP_UNKNOWN)
        requester = call.request.origin.user_id
        if not await acts_for(self._is_admin, user_id, requester):
            raise Refusal(Why.JOIN_NOT_YOURS, requester=requester)
        if not call.is_live:
            raise Refusal(Why.JOIN_OVER)
        if call.state is not CallState.CONNECTED:
            raise Refusal(Why.JOIN_NOT_CONNECTED)
        if call.access_url is None or self._voximplant is None:
            raise Refusal(Why.JOIN_UNREACHABLE)
        return call

    async def target(self, typed: str, call: Call, user_id: str) -> JoinTarget:
        """Where to dial `user_id` for `call`: what they typed (or their profile's number), vetted."""
        return await self._vetting.vet_join(typed, caller_id=call.request.caller_id, user_id=user_id)

    async def usable(self, typed: str, call: Call, user_id: str) -> tuple[JoinTarget | None, Refusal | None]:
        """`target`, or why not, without raising: for a profile's number, offered only when it passes."""
        try:
            return await self.target(typed, call, user_id), None
        except Refusal as refusal:
            return None, refusal

    async def join(self, call: Call, user_id: str, target: JoinTarget, *, name: str = "") -> None:
        """Ask the call's session to dial `target` and bridge them in; the thread says it is dialling them, and
        why not when the session refuses or cannot be reached (the call goes on as it was)."""
        if self._voximplant is None or call.access_url is None:  # may_join() refuses this
            return
        if self._observer is not None:
            await self._observer.join_requested(call, user_id)
        to = {"channel": _SCENARIO_CHANNELS[target.channel], "destination": target.destination}
        try:
            await self._voximplant.join(
                call.access_url, secret=call.control_secret or "", to=to, by=user_id,
                name=name.strip()[:MAX_NAME_CHARS], plain_url=call.plain_access_url,
            )  # fmt: skip
        except VoximplantError as error:
            log.warning("join of call %s failed: %s", call.id, error)
            if self._observer is not None:
                await self._observer.join_failed(call, user_id, error.message)
