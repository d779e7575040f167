"""How a call ended (bot/calls/outcomes.py): each ending's outcome, the refinement rule, and one table of SIP codes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.calls.models import (
    STATUS_EVENTS,
    AnsweredEvent,
    Call,
    CallRequest,
    CallState,
    Evidence,
    Origin,
    Outcome,
    Transition,
    VoicemailEvent,
)
from bot.calls.outcomes import FAILURE_OUTCOMES, NOT_DIALLED, judge, outcome_of
from bot.calls.reasons import Ending, reason
from bot.calls.states import NO_CODE, NOT_PLACED, describe_failure
from bot.slack.texts.outcomes import OUTCOME_WORDS
from bot.slack.texts.reasons import FAILURE_WORDS

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def evidence(*events: tuple[str, dict[str, Any]]) -> list[Evidence]:
    parsed = [
        STATUS_EVENTS.validate_python({"v": 1, "call_id": "c1", "seq": n, "event": name, "at": T0, "data": data})
        for n, (name, data) in enumerate(events, start=5)
    ]
    return [event for event in parsed if isinstance(event, AnsweredEvent | VoicemailEvent)]


def call(state: CallState, outcome: Outcome | None = None) -> Call:
    origin = Origin(team_id="T1", user_id="U1", conversation_id="C1")
    request = CallRequest(destination="+14155550100", caller_id="+14155550123", max_duration_s=600, origin=origin)
    return Call(id="c1", request=request, state=state, state_reason="", created_at=T0, updated_at=T0, outcome=outcome)


ENDED = Transition(CallState.ENDED, "remote_hangup")
HUMAN = ("answered", {"by": "human"})
MACHINE = ("answered", {"by": "voicemail"})
UNKNOWN = ("answered", {"by": "unknown"})
LEFT = ("voicemail", {"left": True, "message_s": 12})
NOT_LEFT = ("voicemail", {"left": False})


@pytest.mark.parametrize(
    ("events", "outcome"),
    [
        ((), Outcome.TALKED),
        ((HUMAN,), Outcome.TALKED),
        ((UNKNOWN,), Outcome.TALKED),
        ((MACHINE,), Outcome.VOICEMAIL_NO_MESSAGE),
        ((NOT_LEFT,), Outcome.VOICEMAIL_NO_MESSAGE),
        ((MACHINE, LEFT), Outcome.VOICEMAIL_LEFT),
        ((LEFT,), Outcome.VOICEMAIL_LEFT),
        ((MACHINE, NOT_LEFT, LEFT), Outcome.VOICEMAIL_LEFT),  # any message left counts
    ],
)
def test_a_connected_call_talked_or_reached_voicemail_as_its_events_say(
    events: tuple[tuple[str, dict[str, Any]], ...], outcome: Outcome
) -> None:
    assert outcome_of(ENDED, evidence(*events)) is outcome


@pytest.mark.parametrize(
    ("transition", "outcome"),
    [
        (Transition(CallState.FAILED, describe_failure(486, "Busy Here")), Outcome.BUSY),
        (Transition(CallState.FAILED, describe_failure(600, "Busy Everywhere")), Outcome.BUSY),
        (Transition(CallState.FAILED, describe_failure(603, "Decline")), Outcome.DECLINED),
        (Transition(CallState.FAILED, describe_failure(408, "Request Timeout")), Outcome.NOT_ANSWERED),
        (Transition(CallState.FAILED, describe_failure(487, "Request Terminated")), Outcome.NOT_ANSWERED),
        (Transition(CallState.FAILED, describe_failure(480, "Temporarily Unavailable")), Outcome.UNAVAILABLE),
        (Transition(CallState.FAILED, describe_failure(404, "Not Found")), Outcome.UNAVAILABLE),
        (Transition(CallState.FAILED, describe_failure(484, "Address Incomplete")), Outcome.UNAVAILABLE),
        (Transition(CallState.FAILED, describe_failure(402, "Payment Required")), Outcome.FAILED),
        (Transition(CallState.FAILED, describe_failure(503, "Service Unavailable")), Outcome.FAILED),
        (Transition(CallState.FAILED, describe_failure(NO_CODE, "lost")), Outcome.FAILED),
        (Transition(CallState.FAILED, describe_failure(NOT_PLACED, "bad number")), Outcome.REFUSED),
        (Transition(CallState.FAILED, reason(Ending.ENDED_UNANSWERED)), Outcome.NOT_ANSWERED),
        (Transition(CallState.FAILED, reason(Ending.HISTORY_UNANSWERED)), Outcome.NOT_ANSWERED),
        (Transition(CallState.CANCELED, reason(Ending.HUNG_UP_EARLY)), Outcome.NOT_ANSWERED),
        (Transition(CallState.FAILED, reason(Ending.START_REFUSED, code=10, detail="x")), Outcome.REFUSED),
        (Transition(CallState.FAILED, reason(Ending.RESTARTED_BEFORE_PLACING)), Outcome.REFUSED),
        (Transition(CallState.FAILED, reason(Ending.NOT_SHOWN_IN_TIME, seconds=15)), Outcome.REFUSED),
        (Transition(CallState.FAILED, reason(Ending.STOPPED_WHILE_STARTING)), Outcome.FAILED),  # it may have rung
        (Transition(CallState.FAILED, reason(Ending.START_UNCONFIRMED, detail="timeout")), Outcome.FAILED),
        (Transition(CallState.FAILED, reason(Ending.END_NEVER_HEARD)), Outcome.FAILED),
        (Transition(CallState.FAILED, "busy"), Outcome.FAILED),  # plain text, from before reasons had codes
    ],
)
def test_a_call_that_did_not_connect_gets_the_outcome_its_reason_means(
    transition: Transition, outcome: Outcome
) -> None:
    # Voicemail evidence changes nothing for a call that never connected.
    assert outcome_of(transition, evidence(MACHINE, LEFT)) is outcome


def test_nothing_dialled_is_refused_before_dialling_and_every_other_ending_is_something_else() -> None:
    for ending in Ending:
        transition = Transition(CallState.FAILED, reason(ending, code=999, detail="", seconds=1))
        refused = outcome_of(transition, []) is Outcome.REFUSED
        assert refused == (ending in NOT_DIALLED), ending


def test_the_outcome_table_and_the_failure_words_agree_on_every_code() -> None:
    """One meaning per SIP code: the outcome and the words the thread shows for it must not tell two stories."""
    meaning = {
        "the line was busy": Outcome.BUSY,
        "the call was declined": Outcome.DECLINED,
        "nobody answered": Outcome.NOT_ANSWERED,
        "nobody answered before the call was given up": Outcome.NOT_ANSWERED,
        "the person was unavailable (the phone may be off or out of reach)": Outcome.UNAVAILABLE,
        "the number does not exist or cannot be reached": Outcome.UNAVAILABLE,
    }
    for code, words in FAILURE_WORDS.items():
        assert FAILURE_OUTCOMES.get(code, Outcome.FAILED) is meaning.get(words, Outcome.FAILED), code
    assert set(OUTCOME_WORDS) == set(Outcome)  # every outcome has words


@pytest.mark.parametrize(
    ("before", "events", "after"),
    [
        (Outcome.TALKED, (LEFT,), Outcome.VOICEMAIL_LEFT),
        (Outcome.TALKED, (MACHINE,), Outcome.VOICEMAIL_NO_MESSAGE),
        (Outcome.VOICEMAIL_NO_MESSAGE, (MACHINE, LEFT), Outcome.VOICEMAIL_LEFT),
        (Outcome.VOICEMAIL_LEFT, (HUMAN,), Outcome.VOICEMAIL_LEFT),  # never back towards talked
        (Outcome.VOICEMAIL_NO_MESSAGE, (HUMAN,), Outcome.VOICEMAIL_NO_MESSAGE),
        (Outcome.TALKED, (HUMAN,), Outcome.TALKED),
    ],
)
def test_late_evidence_refines_an_ended_call_only_towards_voicemail(
    before: Outcome, events: tuple[tuple[str, dict[str, Any]], ...], after: Outcome
) -> None:
    over = call(CallState.ENDED, before)
    assert judge(over, Transition(CallState.ENDED, "remote_hangup"), evidence(*events)) is after


@pytest.mark.parametrize("before", [Outcome.BUSY, Outcome.NOT_ANSWERED, Outcome.FAILED, Outcome.REFUSED])
def test_late_evidence_never_moves_a_call_that_did_not_connect(before: Outcome) -> None:
    over = call(CallState.FAILED, before)
    # Even were its transition read as an ended one, the outcome it has stays.
    assert judge(over, ENDED, evidence(MACHINE, LEFT)) is before


def test_a_live_call_is_judged_afresh() -> None:
    assert judge(call(CallState.CONNECTED), ENDED, evidence(LEFT)) is Outcome.VOICEMAIL_LEFT
