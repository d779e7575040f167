"""The call's state machine: which event moves a call where, and why a call failed (as a reason code)."""

from __future__ import annotations

from bot.calls.models import (
    TERMINAL_STATES,
    Call,
    CallState,
    DisconnectedEvent,
    ErrorEvent,
    FailedEvent,
    ProgressEvent,
    StatusEvent,
    Transition,
)
from bot.calls.reasons import Ending, reason

# How far along a call is. A call only ever moves forward; every terminal state outranks every live one.
_RANK = {
    CallState.REQUESTED: 0,
    CallState.STARTING: 1,
    CallState.DIALING: 2,
    CallState.RINGING: 3,
    CallState.CONNECTED: 4,
    CallState.ENDED: 9,
    CallState.FAILED: 9,
    CallState.CANCELED: 9,
}

_PROGRESS = {
    "started": CallState.STARTING,
    "dialing": CallState.DIALING,
    "ringing": CallState.RINGING,
    "connected": CallState.CONNECTED,
}

# The scenario's `failed` codes that are no SIP status: the session ended before it placed a call; VoxEngine's
# Failed event carried no code.
NOT_PLACED = 0
NO_CODE = -1
_NOT_YET_DIALLED = frozenset({CallState.REQUESTED, CallState.STARTING})


def can_move(current: CallState, target: CallState) -> bool:
    """True if a call in `current` may move to `target`: forward only, and never out of a terminal state."""
    return current not in TERMINAL_STATES and _RANK[target] > _RANK[current]


_MOVING_EVENTS = (ProgressEvent, FailedEvent, DisconnectedEvent, ErrorEvent)  # the cases of `transition_for`


def may_move(event: StatusEvent) -> bool:
    """False for an event that moves no call, whatever its state (`transition_for` returns None for it): the store
    keeps such an event in one statement."""
    return isinstance(event, _MOVING_EVENTS)


def transition_for(call: Call, event: StatusEvent) -> Transition | None:
    """The move `event` makes for `call`, or None when it changes nothing (late, repeated or informational)."""
    match event:
        case ProgressEvent():
            target = Transition(_PROGRESS[event.event], event.event)
        case FailedEvent():
            target = Transition(CallState.FAILED, describe_failure(event.data.code, event.data.reason))
        case DisconnectedEvent():
            target = _after_disconnect(call, event)
        case ErrorEvent() if call.state in _NOT_YET_DIALLED and not event.data.recoverable:
            # The scenario ends its session after any error. Before we heard of a dial, no Failed or Disconnected
            # may follow (scenarios older than the `failed` code 0 send none): the error itself ends the call.
            target = Transition(CallState.FAILED, describe_failure(NOT_PLACED, event.data.message))
        case _:
            return None
    return target if can_move(call.state, target.state) else None


def brought_to(event: StatusEvent, call: Call) -> bool:
    """True if `event` is the kind of event that put `call` in the state it is in now."""
    match event:
        case ProgressEvent():
            return _PROGRESS[event.event] is call.state
        case FailedEvent() | DisconnectedEvent():
            return not call.is_live
        case ErrorEvent():  # an error ends a call only before it was dialled, with these words
            ended_it = describe_failure(NOT_PLACED, event.data.message)
            return call.state is CallState.FAILED and call.state_reason == ended_it
    return False


def _after_disconnect(call: Call, event: DisconnectedEvent) -> Transition:
    was_connected = call.connected_at is not None or event.data.duration_s > 0
    if was_connected:
        return Transition(CallState.ENDED, event.data.reason)
    if event.data.reason == "hangup_requested":
        return Transition(CallState.CANCELED, reason(Ending.HUNG_UP_EARLY))
    return Transition(CallState.FAILED, reason(Ending.ENDED_UNANSWERED))


def describe_failure(code: int, detail: str) -> str:
    """Why a call failed, from the `failed` event's code (or the call history's): never placed, or a SIP-style code
    (VoxEngine's CallEvents.Failed: 486 busy, 404 no such number, 402 insufficient funds…) with Voximplant's words."""
    if code == NOT_PLACED:
        return reason(Ending.NEVER_PLACED, detail=detail)
    return reason(Ending.FAILED, code=code, detail=detail)
