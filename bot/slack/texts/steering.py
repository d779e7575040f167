"""The words of steering a live call from Slack: the Say… button and its form, and keys the agent pressed."""

from __future__ import annotations

from bot.slack.texts.markup import escape

SAY_BUTTON = "Say…"
SAY_TITLE = "Say on the call"  # a modal title: at most 24 characters
SAY_SUBMIT = "Send to the agent"
SAY_LABEL = "What should the agent tell them?"
SAY_PLACEHOLDER = "e.g. The meeting moved to 4 pm; ask whether that still works."
SAY_HINT = (
    "The agent works it into the conversation at the next pause, in its own words. The thread shows what you sent."
)

SAY_OPEN_FAILED = "I couldn't open the Say… form ({why}). Press Say… again."


def say_requested(user_id: str, text: str) -> str:
    """The thread line once the agent has the text."""
    return f":speech_balloon: <@{user_id}> asked the agent to say: {escape(text)}"


def say_failed(why: str) -> str:
    """To the person who sent it, alone: the call's session did not take the text."""
    return f"The agent didn't get that ({escape(why)}). Nothing was said; try again in a moment if the call goes on."


def keys_pressed(digits: str) -> str:
    """The thread line for keys the agent pressed (0-9, * and #): a `*` would start bold text, so such keys are shown
    as code."""
    shown = f"`{digits}`" if "*" in digits else digits
    return f":1234: pressed {shown}"
