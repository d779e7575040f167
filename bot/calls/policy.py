"""Who may call from which number: the caller-ID allowlist."""

from __future__ import annotations

from bot.calls.models import CallerId, Channel
from bot.calls.numbers import format_international
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
                f"{format_international(typed)} is not an allowed caller ID for {_channel_words(channel)}. "
                + _choices(allowed),
                field=_FIELD,
            )
        return entry.number
    if default is not None and any(e.number == default for e in allowed):
        return default
    if len(allowed) == 1:
        return allowed[0].number
    if not allowed:
        raise Refusal(
            f"No caller ID is allowed for {_channel_words(channel)} yet. An admin can add one with "
            "`/call callerid add +14155550123` (or `callbot callerids sync`).",
            field=_FIELD,
        )
    raise Refusal(f"Say which number to call from, e.g. `from {allowed[0].number}`. " + _choices(allowed), field=_FIELD)


def _choices(allowed: list[CallerId]) -> str:
    if not allowed:
        return "No caller ID is allowed yet; ask an admin to add one."
    shown = ", ".join(f"{format_international(e.number)}" + (f" ({e.label})" if e.label else "") for e in allowed[:10])
    return f"Allowed: {shown}."


def _channel_words(channel: Channel) -> str:
    return {
        Channel.PSTN: "phone calls",
        Channel.SIP: "SIP calls",
        Channel.USER: "app user calls",
        Channel.WHATSAPP: "WhatsApp calls",
    }[channel]
