"""The words for refusing a press of a call's buttons (Hang up, Say…, Join): who may, and when the call can take it.
`refusals.py` answers with them as with every other refusal code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.calls.refusals import Why
from bot.errors import Refusal

# What each button would have done, for "Only <@requester> … can …".
_DOES = {
    Why.HANG_UP_NOT_YOURS: "hang it up",
    Why.SAY_NOT_YOURS: "have its agent say something",
    Why.JOIN_NOT_YOURS: "join it",
}

PLAIN = {
    Why.HANG_UP_UNKNOWN: "I can't find that call any more; it may belong to an older installation of callbot.",
    Why.HANG_UP_OVER: "This call has already ended; there is nothing to hang up.",
    Why.HANG_UP_TOO_EARLY: "The call is still being set up, so it cannot be hung up yet. Try again in a few seconds.",
    Why.JOIN_OVER: "This call has already ended; there is nothing to join.",
    Why.JOIN_NOT_CONNECTED: "Nobody has answered yet. You can join once the call is connected and the agent talks.",
    Why.JOIN_UNREACHABLE: "Voximplant never confirmed this call, so I have no way to reach it to add you.",
    Why.JOIN_NO_TARGET: (
        "Say where I should call you: a phone number in international form (e.g. +14155550100), or the name of your "
        "Voximplant app user."
    ),
    Why.SAY_OVER: "This call has ended; there is nobody to say anything to.",
    Why.SAY_NOT_CONNECTED: "Nobody has answered yet. Say… works once the call is connected.",
    Why.SAY_UNCONFIRMED: "Voximplant never confirmed this call, so I have no way to reach its agent.",
}


def _not_yours(refused: Refusal, f: dict[str, Any]) -> str:
    return f"Only <@{f['requester']}> (who placed this call) or a callbot admin can {_DOES[refused.why]}."


def _say_text(_: Refusal, f: dict[str, Any]) -> str:
    if not f["length"]:
        return "Write what the agent should say."
    return f"That is {f['length']} characters; the agent takes at most {f['limit']} at a time."


def _unconfirmed(_: Refusal, f: dict[str, Any]) -> str:
    return (
        "Voximplant never confirmed this call, so I have no way to reach it to hang it up. It ends by itself within "
        f"its time limit ({max(1, f['max_duration_s'] // 60)} min)."
    )


SAYS: dict[Why, Callable[[Refusal, dict[str, Any]], str]] = {
    **dict.fromkeys(_DOES, _not_yours),
    Why.SAY_TEXT: _say_text,
    Why.HANG_UP_UNCONFIRMED: _unconfirmed,
}
