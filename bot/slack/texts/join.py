"""The words of Join: the form, and the thread's lines as the requester is dialled, joins, or is not reached."""

from __future__ import annotations

from bot.slack.texts.markup import escape
from bot.slack.texts.reasons import FAILURE_WORDS

MODAL_TITLE = "Join the call"
MODAL_SUBMIT = "Call me"
LABEL = "Call me at"
PLACEHOLDER = "+14155550100, or your Voximplant app user name"
FROM_PROFILE = "From your Slack profile. You can type another number, or the name of your Voximplant app user."
NO_PROFILE_PHONE = (
    "Your Slack profile has no phone number. Type one in international form (e.g. +14155550100), or the name of your "
    "Voximplant app user."
)
PROFILE_NOT_A_NUMBER = "I couldn't read the phone number on your Slack profile ({typed}) as a number."
PROFILE_REFUSED = "The phone number on your Slack profile can't be used: {why}"
CALL_ENDED = "the call ended"  # the scenario's reason for a join cut short by the call's end
TYPE_ANOTHER = " Type another number, or the name of your Voximplant app user."


def intro(callee: str) -> str:
    """The form's first line (mrkdwn; `callee` as shown, escaped here)."""
    return (
        f"I'll call you. Once you answer (within 30 s), the agent tells {escape(callee)} that you are joining, then "
        "leaves the line and you two talk. The call ends when either of you hangs up."
    )


def requested(user_id: str) -> str:
    return f":telephone_receiver: Calling <@{user_id}> to join the call…"


def refused(user_id: str, why: str) -> str:
    """The session refused the Join or could not be reached: the call goes on as it was."""
    return f":warning: I couldn't add <@{user_id}> to the call ({escape(why)}). The call goes on with the agent."


def result(by: str, outcome: str, reason: str, code: int | None) -> str:
    """The thread line for a `join` event: joined, not answered in 30 s, or failed (and why)."""
    who = f"<@{by}>" if by else "The requester"
    if outcome == "joined":
        return f":telephone_receiver: {who} joined the call; the agent left the line."
    if outcome == "no_answer":
        return f":hourglass: {who} did not answer within 30 s; the agent carries on."
    if reason == CALL_ENDED and code is None:
        return f":heavy_minus_sign: {who} was not connected: the call ended first."
    words = FAILURE_WORDS.get(code) if code is not None else None
    why = f"{words} ({code} {reason})".replace(" )", ")") if words else reason or "the call to them failed"
    return f":warning: {who} could not be connected: {escape(why)}. The agent carries on."
