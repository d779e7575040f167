"""The state machine: forward only, terminal states final, failures in plain words."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.calls.models import (
    STATUS_EVENTS,
    Call,
    CallRequest,
    CallState,
    DisconnectedEvent,
    ErrorEvent,
    FailedEvent,
    Origin,
    ProgressEvent,
    TranscriptEvent,
)
from bot.calls.reasons import Ending, Reason, read_reason
from bot.calls.states import brought_to, can_move, describe_failure, may_move, transition_for
from bot.slack.texts import reason as words

T0 = datetime(2026, 11, 25, tzinfo=UTC)
BASE = {"v": 1, "call_id": "c1", "seq": 1, "at": T0}


def call_in(state: CallState, **changes: object) -> Call:
    request = CallRequest(
        destination="+14155550100", caller_id="+14155550123", max_duration_s=60,
        origin=Origin(team_id="T", user_id="U", conversation_id="C"),
    )  # fmt: skip
    return replace(Call(id="c1", request=request, state=state, state_reason="", created_at=T0, updated_at=T0),
                   **changes)  # type: ignore[arg-type]  # fmt: skip


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (CallState.STARTING, CallState.RINGING, True),
        (CallState.RINGING, CallState.DIALING, False),
        (CallState.CONNECTED, CallState.CONNECTED, False),
        (CallState.CONNECTED, CallState.ENDED, True),
        (CallState.ENDED, CallState.FAILED, False),
        (CallState.FAILED, CallState.CONNECTED, False),
        (CallState.CANCELED, CallState.ENDED, False),
    ],
)
def test_moves_only_forward(current: CallState, target: CallState, allowed: bool) -> None:
    assert can_move(current, target) is allowed


def test_disconnect_outcomes() -> None:
    hung_up = DisconnectedEvent.model_validate({**BASE, "event": "disconnected",
                                               "data": {"duration_s": 0, "reason": "hangup_requested"}})  # fmt: skip
    dropped = DisconnectedEvent.model_validate({**BASE, "event": "disconnected", "data": {"duration_s": 0}})
    talked = DisconnectedEvent.model_validate({**BASE, "event": "disconnected", "data": {"duration_s": 12}})
    assert transition_for(call_in(CallState.RINGING), hung_up).state is CallState.CANCELED  # type: ignore[union-attr]
    assert transition_for(call_in(CallState.RINGING), dropped).state is CallState.FAILED  # type: ignore[union-attr]
    assert transition_for(call_in(CallState.RINGING), talked).state is CallState.ENDED  # type: ignore[union-attr]
    connected = call_in(CallState.CONNECTED, connected_at=T0)
    assert transition_for(connected, hung_up).state is CallState.ENDED  # type: ignore[union-attr]


def test_informational_events_change_nothing() -> None:
    line = TranscriptEvent.model_validate({**BASE, "event": "transcript", "data": {"role": "agent", "text": "hi"}})
    assert transition_for(call_in(CallState.CONNECTED), line) is None
    late = ProgressEvent.model_validate({**BASE, "event": "ringing"})
    assert transition_for(call_in(CallState.CONNECTED), late) is None


# One event of each kind the scenario sends (docs/architecture.md, status events), with the data that can move a call.
EVERY_KIND = [
    *({"event": name} for name in ("started", "dialing", "ringing", "connected")),
    {"event": "transcript", "data": {"role": "agent", "text": "hi"}},
    {"event": "failed", "data": {"code": 486, "reason": "Busy Here"}},
    {"event": "disconnected", "data": {"duration_s": 12, "cost": 0.1}},
    {"event": "error", "data": {"message": "boom"}},
    {"event": "answered", "data": {"by": "voicemail"}},
    {"event": "voicemail", "data": {"left": True, "message_s": 9}},
    {"event": "recording", "data": {"url": "https://records.example/1.mp3"}},
    {"event": "join", "data": {"result": "joined", "by": "U1"}},
    {"event": "keys", "data": {"digits": "1#"}},
]


@pytest.mark.parametrize("fields", EVERY_KIND, ids=lambda fields: str(fields["event"]))
def test_an_event_said_to_move_nothing_moves_no_call_in_any_state(fields: dict[str, object]) -> None:
    """The store keeps an event that may not move its call in one statement, without its state machine."""
    event = STATUS_EVENTS.validate_python({**BASE, **fields})
    moves = [state for state in CallState if transition_for(call_in(state), event) is not None]
    assert may_move(event) is bool(moves), moves  # no event is said to move nothing that moves a call somewhere
    assert may_move(event) is (fields["event"] in {"started", "dialing", "ringing", "connected", "failed",
                                                  "disconnected", "error"})  # fmt: skip


def test_failure_words() -> None:
    failed = FailedEvent.model_validate({**BASE, "event": "failed", "data": {"code": 486, "reason": "Busy Here"}})
    move = transition_for(call_in(CallState.RINGING), failed)
    assert move is not None and read_reason(move.reason) == Reason(Ending.FAILED, {"code": 486, "detail": "Busy Here"})
    assert words(move.reason) == "the line was busy (486 Busy Here)"
    assert words(describe_failure(999, "")) == "the call could not be completed (999)"


def test_an_error_before_any_dial_ends_the_call_and_later_it_is_only_shown() -> None:
    error = ErrorEvent.model_validate({**BASE, "event": "error", "data": {"message": "bad custom data: no v"}})
    move = transition_for(call_in(CallState.STARTING), error)
    assert move is not None and move.state is CallState.FAILED
    assert words(move.reason) == "the call was never placed (bad custom data: no v)"
    assert brought_to(error, call_in(CallState.FAILED, state_reason=move.reason))
    # Once a dial was heard of, the scenario's own Failed or Disconnected ends the call; the error is only shown.
    assert transition_for(call_in(CallState.DIALING), error) is None
    assert not brought_to(error, call_in(CallState.FAILED, state_reason=describe_failure(486, "Busy Here")))
    assert words(describe_failure(0, "")) == "the call was never placed"
    assert words(describe_failure(-1, "Gone")) == "the call could not be completed (Gone)"  # VoxEngine gave no code


def test_a_reason_without_a_code_is_shown_as_it_is() -> None:
    # Calls stored before reasons had codes, and the scenario's own words, read as they were written.
    for text in ("the line was busy (486)", "remote_hangup", "{not json", '{"why": "no such code"}', ""):
        assert read_reason(text) is None and words(text) == text
    assert words(str(Reason(Ending.NOT_SHOWN_IN_TIME, {"seconds": 15.0}))).startswith(
        "Slack did not take this call's message within 15 s"
    )
