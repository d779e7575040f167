"""How a call ended, as people say it: talked with a person, left a voicemail, busy, declined… (`Outcome`).

The outcome is decided once, when the call reaches a terminal state, inside the transaction that stores the move (the
store calls `judge`), from the call, its terminal transition and its `answered` and `voicemail` events:

- a call that connected: `voicemail_left` when a `voicemail` event says a message was left; `voicemail_no_message`
  when one says none was, or answering-machine detection said a voicemail answered; else `talked`;
- a failure with a SIP-style code: busy, declined, not answered or unavailable as `FAILURE_OUTCOMES` sorts the codes
  (the words for each code are `bot/slack/texts/reasons.py`'s, and a test keeps the two tables agreeing); any
  other code is `failed`;
- a call nobody answered (the session ended first, the call history says so, Hang up before an answer): not answered;
- a call stopped before anything was dialled (the launch failed, the session placed no call): `refused`;
- anything else (the bot stopped while starting it, its end was never heard): `failed`.

Status events may arrive out of order: a `voicemail` event stored after the call ended refines its outcome, but only
from `talked` towards what the voicemail shows (and from `voicemail_no_message` to `voicemail_left`), never anywhere
else: a failed, busy or unanswered call stays so whatever arrives late.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.calls.models import (
    AnsweredEvent,
    Call,
    CallState,
    Evidence,
    Outcome,
    Transition,
    VoicemailEvent,
)
from bot.calls.reasons import Ending, read_reason

# VoxEngine's CallEvents.Failed codes (SIP statuses) by what they mean for the person who asked for the call.
FAILURE_OUTCOMES = {
    486: Outcome.BUSY,  # Busy Here
    600: Outcome.BUSY,  # Busy Everywhere
    603: Outcome.DECLINED,  # Decline
    408: Outcome.NOT_ANSWERED,  # Request Timeout: not answered within 60 s
    487: Outcome.NOT_ANSWERED,  # Request Terminated: given up before an answer
    480: Outcome.UNAVAILABLE,  # Temporarily Unavailable: the phone is off or out of reach
    404: Outcome.UNAVAILABLE,  # Not Found: no such number
    410: Outcome.UNAVAILABLE,  # Gone
    484: Outcome.UNAVAILABLE,  # Address Incomplete
    604: Outcome.UNAVAILABLE,  # Does Not Exist Anywhere
}
# Endings where nothing was dialled: the launch failed, or the session ended before it placed a call.
NOT_DIALLED = frozenset(
    {
        Ending.NEVER_PLACED,
        Ending.NOT_SHOWN_IN_TIME,
        Ending.NO_THREAD,
        Ending.NOT_SET_UP,
        Ending.BRIEF_UNDELIVERED,
        Ending.START_CREDENTIALS,
        Ending.START_REFUSED,
        Ending.START_UNREACHABLE,
        Ending.RESTARTED_BEFORE_PLACING,
        Ending.HISTORY_NO_DIAL,
    }
)
_UNANSWERED = frozenset({Ending.ENDED_UNANSWERED, Ending.HISTORY_UNANSWERED, Ending.HUNG_UP_EARLY})
# How far a late `voicemail` or `answered` event may move an ended call's outcome: only up this ladder.
_REFINES = (Outcome.TALKED, Outcome.VOICEMAIL_NO_MESSAGE, Outcome.VOICEMAIL_LEFT)


def judge(call: Call, transition: Transition, evidence: Sequence[Evidence]) -> Outcome:
    """The outcome of `call` ending with `transition`; for a call already over, its outcome refined by `evidence`."""
    found = outcome_of(transition, evidence)
    if call.is_live or call.outcome is None:
        return found
    if call.outcome in _REFINES and found in _REFINES and _REFINES.index(found) > _REFINES.index(call.outcome):
        return found
    return call.outcome


def outcome_of(transition: Transition, evidence: Sequence[Evidence]) -> Outcome:
    """What a terminal `transition` means, with what the call's `answered` and `voicemail` events say."""
    if transition.state is CallState.ENDED:
        return _connected(evidence)
    found = read_reason(transition.reason)
    if found is None:  # plain text: a call stored before reasons had codes
        return Outcome.FAILED
    if found.why is Ending.FAILED:
        code = found.facts.get("code")
        return FAILURE_OUTCOMES.get(code, Outcome.FAILED) if isinstance(code, int) else Outcome.FAILED
    if found.why in NOT_DIALLED:
        return Outcome.REFUSED
    if found.why in _UNANSWERED:
        return Outcome.NOT_ANSWERED
    return Outcome.FAILED


def _connected(evidence: Sequence[Evidence]) -> Outcome:
    voicemails = [event for event in evidence if isinstance(event, VoicemailEvent)]
    if any(event.data.left for event in voicemails):
        return Outcome.VOICEMAIL_LEFT
    by_machine = any(isinstance(event, AnsweredEvent) and event.data.by == "voicemail" for event in evidence)
    if voicemails or by_machine:
        return Outcome.VOICEMAIL_NO_MESSAGE
    return Outcome.TALKED
