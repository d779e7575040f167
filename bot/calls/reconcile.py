"""What Voximplant's call history says about a call whose status callbacks stopped coming."""

from __future__ import annotations

from dataclasses import dataclass

from bot.calls.models import CallState, Transition
from bot.calls.reasons import Ending, reason
from bot.calls.states import describe_failure
from bot.voximplant.models import CallSessionInfo


@dataclass(frozen=True, slots=True)
class HistoryVerdict:
    """The terminal move call history justifies, with the duration and cost it reported."""

    transition: Transition
    duration_s: float | None
    cost: float | None


def verdict(session: CallSessionInfo | None) -> HistoryVerdict | None:
    """The final state of a finished session, or None while it is still running (or not listed yet)."""
    if session is None or not session.finished:
        return None
    call = session.outgoing
    if call is None:
        return HistoryVerdict(Transition(CallState.FAILED, reason(Ending.HISTORY_NO_DIAL)), None, None)
    if call.successful and (call.duration or 0) > 0:
        return HistoryVerdict(Transition(CallState.ENDED, "from call history"), call.duration, call.cost)
    end = call.end_reason or {}
    code = end.get("code")
    if isinstance(code, int):
        why = describe_failure(code, str(end.get("description", "")))
    else:
        why = reason(Ending.HISTORY_UNANSWERED)
    return HistoryVerdict(Transition(CallState.FAILED, why), 0, call.cost)
