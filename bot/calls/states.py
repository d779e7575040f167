"""The call's state machine: which event moves a call where, and the words for why a call failed."""

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
    Transition,  # a domain value of models.py; still importable from here
)

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

# SIP-style codes Voximplant reports in CallEvents.Failed, in words a person understands.
# CallEvents.Failed codes as Voximplant documents them (the `_FailedEvent` declaration in voxengine.d.ts v28 and
# voximplant.com/docs/references/voxengine/callevents#failed): 486 busy, 487 request terminated, 404 invalid number,
# 480 destination unavailable, 402 insufficient funds, 603 rejected, 408 not answered within 60 s.
_FAILURE_WORDS = {
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


def can_move(current: CallState, target: CallState) -> bool:
    """True if a call in `current` may move to `target`: forward only, and never out of a terminal state."""
    return current not in TERMINAL_STATES and _RANK[target] > _RANK[current]


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
        return Transition(CallState.CANCELED, "hung up before anyone answered")
    return Transition(CallState.FAILED, "the call ended before it was answered")


def describe_failure(code: int, reason: str) -> str:
    """Plain words for a failed call's SIP-style code, keeping Voximplant's own text beside them."""
    if code == NOT_PLACED:
        return f"the call was never placed ({reason})" if reason else "the call was never placed"
    words = _FAILURE_WORDS.get(code)
    if words is None:
        words = "the call could not be completed"
    if code == NO_CODE:
        return f"{words} ({reason})" if reason else words
    return f"{words} ({code} {reason})" if reason else f"{words} ({code})"
