"""The caller-ID allowlist and the deny list: each change written with its audit line, whoever makes it.

Three doors lead here: a callbot admin in Slack (`/call callerid …`, `/call deny …`), the CLI (`callbot callerids
…`) and the Voximplant sync (`callbot callerids sync`). Who may make a change is asked before (Permissions); what
a change is, and that it is audited, is said once, here.
"""

from __future__ import annotations

import re

from bot.calls.clock import Clock, utc_now
from bot.calls.models import CallerId, Channel, DeniedDestination
from bot.calls.numbers import parse_phone_number
from bot.calls.refusals import Why
from bot.errors import Refusal
from bot.store import Store

_PREFIX = re.compile(r"\+[1-9]\d{0,14}")


class Allowlist:
    """Reads and changes both lists; every change is audited as done by `by` (a Slack user ID, `cli`, the sync)."""

    def __init__(self, store: Store, *, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    async def caller_ids(self) -> list[CallerId]:
        return await self._store.caller_ids()

    async def add_caller_id(
        self, number: str, *, label: str, channels: frozenset[Channel], by: str, detail: str | None = None
    ) -> bool:
        """Allow calls from `number` (E.164) on `channels`; True when it is new, False when it was updated."""
        now = self._clock()
        new = await self._store.add_caller_id(number, label=label, channels=channels, added_by=by, at=now)
        if detail is None:
            detail = f"label={label!r} channels={','.join(sorted(channels))}"
        await self._audit(by, "callerid.add", number, detail)
        return new

    async def remove_caller_id(self, number: str, *, by: str, detail: str = "") -> bool:
        """Stop allowing `number`; False (and nothing audited) when it was not on the list."""
        if not await self._store.remove_caller_id(number):
            return False
        await self._audit(by, "callerid.remove", number, detail)
        return True

    async def denied(self) -> list[DeniedDestination]:
        return await self._store.denied_destinations()

    async def deny(self, prefix: str, *, reason: str, by: str) -> bool:
        """Refuse calls to numbers starting with `prefix` (E.164 digits); True when the entry is new."""
        new = await self._store.add_denied(prefix, reason=reason, added_by=by, at=self._clock())
        await self._audit(by, "deny.add", prefix, reason)
        return new

    async def undeny(self, prefix: str, *, by: str) -> bool:
        """Remove a deny-list entry; False (and nothing audited) when there was none."""
        if not await self._store.remove_denied(prefix):
            return False
        await self._audit(by, "deny.remove", prefix, "")
        return True

    async def _audit(self, actor: str, action: str, target: str, detail: str) -> None:
        await self._store.audit(
            actor=actor, action=action, target=target, detail=detail, allowed=True, at=self._clock()
        )


def channels_named(text: str) -> frozenset[Channel]:
    """`pstn,whatsapp` or `pstn whatsapp` (the channels' values) as Channels; pstn when none is named. A Refusal
    names the words when one is not a channel."""
    names = [name for name in re.split(r"[,\s]+", text.strip().lower()) if name]
    try:
        return frozenset(Channel(name) for name in names) or frozenset({Channel.PSTN})
    except ValueError:
        raise Refusal(Why.UNKNOWN_CHANNELS, typed=text.strip()) from None


def deny_prefix(typed: str, default_region: str) -> str:
    """A deny-list entry as E.164 digits: a whole number (read as `/call` reads it) or its first digits."""
    compact = re.sub(r"[\s().\-]", "", typed)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if _PREFIX.fullmatch(compact):
        return compact
    try:
        return parse_phone_number(typed, default_region)
    except Refusal:
        raise Refusal(Why.BAD_PREFIX, typed=typed) from None
