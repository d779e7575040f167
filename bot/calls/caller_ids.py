"""Which number a call is placed from: the one typed, the default or the only one, and it must be allowed."""

from __future__ import annotations

from bot.calls.models import CallerId, Channel
from bot.calls.refusals import Choice, Why
from bot.errors import Refusal
from bot.store import Store

_FIELD = "caller_id"


async def resolve_caller_id(store: Store, typed: str | None, channel: Channel, *, default: str | None) -> str:
    """The caller ID to call from: the one typed, else the default, else the only one allowed; it must be allowed."""
    allowed = [entry for entry in await store.caller_ids() if channel in entry.channels]
    if typed is not None:
        entry = next((e for e in allowed if e.number == typed), None)
        if entry is None:
            raise Refusal(
                Why.CALLER_ID_NOT_ALLOWED, field=_FIELD, number=typed, channel=channel, allowed=_choices(allowed)
            )
        return entry.number
    if default is not None and any(e.number == default for e in allowed):
        return default
    if len(allowed) == 1:
        return allowed[0].number
    if not allowed:
        raise Refusal(Why.NO_CALLER_ID, field=_FIELD, channel=channel)
    raise Refusal(Why.CHOOSE_CALLER_ID, field=_FIELD, allowed=_choices(allowed))


def _choices(allowed: list[CallerId]) -> tuple[Choice, ...]:
    return tuple(Choice(entry.number, entry.label) for entry in allowed)
