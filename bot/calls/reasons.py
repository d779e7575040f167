"""Why a call failed or was canceled: a code and its facts, stored as the call's `state_reason`. No words.

A `Transition` carries its reason as text, and the store keeps it as text; a reason the domain gives is that text
in a fixed form, `{"why": "<code>", <facts>}` (compact JSON, keys sorted, so the same reason always reads the same).
`bot/slack/texts/reasons.py` turns it into words. Any other reason text (a call stored before reasons had codes, a
progress event's name, the scenario's own `disconnected` reason) is shown as it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

Fact = str | int | float | bool


class Ending(StrEnum):
    """Why a call ended where it did, with the facts each carries."""

    NEVER_PLACED = "never_placed"  # detail: the scenario's words, or ""
    FAILED = "failed"  # code: VoxEngine's SIP-style code (-1 when it gave none); detail: its words, or ""
    HUNG_UP_EARLY = "hung_up_early"  # canceled: Hang up was pressed before anyone answered
    ENDED_UNANSWERED = "ended_unanswered"  # the session ended before anyone answered
    NOT_SHOWN_IN_TIME = "not_shown_in_time"  # seconds: how long Slack had to take the call's message
    NO_THREAD = "no_thread"  # the call's Slack thread could be posted nowhere
    NOT_SET_UP = "not_set_up"  # Voximplant is not configured
    BRIEF_UNDELIVERED = "brief_undelivered"  # detail: the session's error; outdated_scenario: bool
    START_CREDENTIALS = "start_credentials"  # StartScenarios refused our credentials (error 100)
    START_REFUSED = "start_refused"  # code: Voximplant's error code; detail: its message
    START_UNCONFIRMED = "start_unconfirmed"  # detail: why StartScenarios' outcome is unknown (it was not retried)
    START_UNREACHABLE = "start_unreachable"  # detail: why Voximplant could not be reached (nothing was dialled)
    RESTARTED_BEFORE_PLACING = "restarted_before_placing"  # the bot stopped between storing and sending the call
    STOPPED_WHILE_STARTING = "stopped_while_starting"  # the bot stopped while StartScenarios was under way
    END_NEVER_HEARD = "end_never_heard"  # unconfirmed, unheard, and no session in the call history
    HISTORY_NO_DIAL = "history_no_dial"  # the call history shows a session that ended before it dialled
    HISTORY_UNANSWERED = "history_unanswered"  # the call history shows an outgoing call nobody answered


@dataclass(frozen=True, slots=True)
class Reason:
    """A reason with its facts; `str(reason)` is its stored form."""

    why: Ending
    facts: Mapping[str, Fact] = field(default_factory=dict)

    def __str__(self) -> str:
        return json.dumps({**self.facts, "why": self.why.value}, sort_keys=True, separators=(",", ":"))


def reason(why: Ending, **facts: Fact) -> str:
    """The stored form of a reason: what a Transition carries."""
    return str(Reason(why, facts))


def read_reason(text: str) -> Reason | None:
    """The reason a stored `state_reason` holds, or None when it is plain text (shown as it is)."""
    if not text.startswith("{"):
        return None
    try:
        found = json.loads(text)
    except ValueError:
        return None
    if not isinstance(found, dict):
        return None
    code = found.pop("why", None)
    why = next((ending for ending in Ending if ending.value == code), None)
    if why is None or not all(isinstance(value, Fact) for value in found.values()):
        return None
    return Reason(why, found)
