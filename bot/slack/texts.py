"""Every sentence a person reads in Slack, in one place so tone and accuracy are reviewed together."""

from __future__ import annotations

from datetime import datetime

from bot.calls.models import Call, CallState, Channel
from bot.calls.numbers import format_international

USAGE = (
    "*Place a call:* `/call <number> [from <caller id>] <what the agent should say>`\n"
    "For example: `/call +14155550100 remind Ana the review moved to 3pm`"
)
UNEXPECTED = (
    "Something went wrong on our side (reference `{ref}`). Check the call's thread before you try again; "
    "if it keeps failing, give your admin the reference."
)
FALLBACK_TO_DM = "I couldn't post in <#{conversation}> ({why}), so I'm following this call here."
MOVED_TO_DM = "I can no longer post in <#{conversation}> ({why}), so I'm following this call here from now on."
NOWHERE_TO_POST = "I couldn't post the call's thread anywhere ({why}), so I did not place the call."

_STATE_WORDS = {
    CallState.REQUESTED: ":telephone_receiver: Dialing…",
    CallState.STARTING: ":telephone_receiver: Dialing…",
    CallState.DIALING: ":telephone_receiver: Dialing…",
    CallState.RINGING: ":bell: Ringing…",
    CallState.CONNECTED: ":large_green_circle: Connected: the agent is talking",
}


def destination(call: Call) -> str:
    request = call.request
    if request.channel in (Channel.PSTN, Channel.WHATSAPP):
        return format_international(request.destination)
    return request.destination


def duration(seconds: float | None) -> str:
    total = round(seconds or 0)
    minutes, secs = divmod(total, 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def state_line(call: Call) -> str:
    """The call's state as the parent message shows it."""
    if call.state in _STATE_WORDS:
        return _STATE_WORDS[call.state]
    if call.state is CallState.ENDED:
        return f":white_check_mark: Ended after {duration(call.duration_s)}"
    if call.state is CallState.CANCELED:
        return f":no_entry_sign: Canceled: {call.state_reason}"
    return f":x: Failed: {call.state_reason}"


def headline(call: Call) -> str:
    return f"Call to {destination(call)}"


def summary(call: Call) -> str:
    """One line for notifications and the parent message's fallback text."""
    return f"{headline(call)}: {state_line(call)}"


def milestone(call: Call) -> str | None:
    """The thread reply for the state a call just reached, or None for states that get none."""
    match call.state:
        case CallState.DIALING:
            return f":telephone_receiver: Dialing {destination(call)}…"
        case CallState.RINGING:
            return ":bell: Ringing…"
        case CallState.CONNECTED:
            return ":large_green_circle: Connected. The agent is talking."
        case CallState.ENDED:
            return f":white_check_mark: Call ended after {duration(call.duration_s)}."
        case CallState.FAILED:
            return f":x: The call failed: {call.state_reason}."
        case CallState.CANCELED:
            return f":no_entry_sign: The call was canceled: {call.state_reason}."
    return None


def elapsed(call: Call, now: datetime) -> str:
    """How long the call has been going, for the parent message."""
    return duration((now - call.created_at).total_seconds())


def final_summary(call: Call, *, turns: int, cost: float | None, from_history: bool = False) -> str:
    """The last reply of a call's thread: outcome, duration, turns, and cost when Voximplant reported it."""
    text = milestone(call) or summary(call)
    if call.state is CallState.ENDED:
        text += f" {turns} {'turn' if turns == 1 else 'turns'}."
    if cost is not None:
        text += f" Cost: {cost:.4f} (Voximplant account currency)."
    if from_history:
        text += " _No status came from the call for a while, so this final state comes from Voximplant's call history._"
    return text


def hang_up_requested(user_id: str) -> str:
    return f":octagonal_sign: <@{user_id}> asked to hang up."


def hang_up_failed(why: str) -> str:
    return f":warning: I couldn't reach the call to hang it up ({escape(why)}). I'm checking Voximplant's call history."


def transcript(role: str, text: str) -> str:
    speaker = "Agent" if role == "agent" else "Callee"
    return f"*{speaker}:* {escape(text)}"


def scenario_error(message: str) -> str:
    return f":warning: The call reported a problem: {escape(message)}"


def escape(text: str) -> str:
    """Escape Slack's three control characters, so typed or spoken text cannot forge mentions or links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
