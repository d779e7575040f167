"""The words for why a call failed or was canceled (`bot/calls/reasons.py`), as its message and thread show them.

Reasons read as the end of a sentence ("Failed: the line was busy (486 Busy Here)"), so they start in lower case
and end without a full stop. Voximplant's and the scenario's own words are kept beside ours.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.calls.reasons import Ending, read_reason
from bot.calls.states import NO_CODE

_PLAIN = {
    Ending.HUNG_UP_EARLY: "hung up before anyone answered",
    Ending.ENDED_UNANSWERED: "the call ended before it was answered",
    Ending.NO_THREAD: "its Slack thread could not be posted",
    Ending.NOT_SET_UP: "calling is not set up on this workspace",
    Ending.START_CREDENTIALS: (
        "Voximplant refused our credentials; an admin needs to check VOXIMPLANT_ACCOUNT_ID and the API key"
    ),
    Ending.RESTARTED_BEFORE_PLACING: "the bot restarted before placing it; nothing was dialled",
    Ending.STOPPED_WHILE_STARTING: (
        "the bot stopped while starting this call; if the phone rang, the call was real (it was not retried)"
    ),
    Ending.END_NEVER_HEARD: (
        "its end was never heard, and Voximplant never confirmed the call, nor does its call history show a session "
        "for it; it cannot still be under way"
    ),
    Ending.HISTORY_NO_DIAL: "the session ended before it dialled",
    Ending.HISTORY_UNANSWERED: "the call was not answered",
}
# CallEvents.Failed codes as Voximplant documents them (the `_FailedEvent` declaration in voxengine.d.ts v28 and
# voximplant.com/docs/references/voxengine/callevents#failed): 486 busy, 487 request terminated, 404 invalid number,
# 480 destination unavailable, 402 insufficient funds, 603 rejected, 408 not answered within 60 s.
FAILURE_WORDS = {
    402: "the Voximplant account's balance is too low to place calls (a callbot admin needs to top it up)",
    404: "the number does not exist or cannot be reached",
    408: "nobody answered",
    480: "the person was unavailable (the phone may be off or out of reach)",
    486: "the line was busy",
    487: "nobody answered before the call was given up",
    488: "the other side could not accept the call",
    503: "the phone network could not carry the call",
    600: "the line was busy",
    603: "the call was declined",
}


def reason(state_reason: str) -> str:
    """A call's `state_reason` in words; text that holds no reason code is shown as it is."""
    found = read_reason(state_reason)
    if found is None:
        return state_reason
    plain = _PLAIN.get(found.why)
    return plain if plain is not None else _SAYS[found.why](found.facts)


def _never_placed(f: Mapping[str, Any]) -> str:
    return f"the call was never placed ({f['detail']})" if f.get("detail") else "the call was never placed"


def _failed(f: Mapping[str, Any]) -> str:
    """Plain words for a SIP-style code, keeping Voximplant's own text beside them."""
    code, detail = f["code"], f.get("detail", "")
    words = FAILURE_WORDS.get(code, "the call could not be completed")
    if code == NO_CODE:  # VoxEngine's Failed event gave no code
        return f"{words} ({detail})" if detail else words
    return f"{words} ({code} {detail})" if detail else f"{words} ({code})"


def _not_shown_in_time(f: Mapping[str, Any]) -> str:
    return (
        f"Slack did not take this call's message within {f['seconds']:g} s (it may be down or slow), so the call was "
        "not dialled; ask again"
    )


def _brief_undelivered(f: Mapping[str, Any]) -> str:
    words = f"its session could not be handed the call ({f['detail']}); nothing was dialled"
    if f.get("outdated_scenario"):
        words += "; the scenario on Voximplant predates pull mode: an admin needs to run callbot setup"
    return words


def _start_refused(f: Mapping[str, Any]) -> str:
    return f"Voximplant refused to start the call: {f['detail']} (error {f['code']})"


def _start_unconfirmed(f: Mapping[str, Any]) -> str:
    return (
        f"Voximplant did not confirm the call ({f['detail']}). It was not retried, to avoid calling twice; if the "
        "phone rings anyway, the call is real"
    )


def _start_unreachable(f: Mapping[str, Any]) -> str:
    return f"Voximplant could not be reached ({f['detail']}); nothing was dialled. Try again in a minute"


_SAYS: dict[Ending, Callable[[Mapping[str, Any]], str]] = {
    Ending.NEVER_PLACED: _never_placed,
    Ending.FAILED: _failed,
    Ending.NOT_SHOWN_IN_TIME: _not_shown_in_time,
    Ending.BRIEF_UNDELIVERED: _brief_undelivered,
    Ending.START_REFUSED: _start_refused,
    Ending.START_UNCONFIRMED: _start_unconfirmed,
    Ending.START_UNREACHABLE: _start_unreachable,
}
if missing := [ending for ending in Ending if ending not in _PLAIN and ending not in _SAYS]:
    raise RuntimeError(f"reasons without words: {missing}")
