"""Pure Block Kit builders: domain values in, Slack message dicts out. Every message has its fallback text."""

from __future__ import annotations

from typing import Any

from bot.calls.models import Call, Channel
from bot.calls.numbers import format_international
from bot.slack import texts
from bot.slack.ids import BlockId

Message = dict[str, Any]


def call_message(call: Call) -> Message:
    """The parent message of a call's thread: who asked, to and from, the state."""
    request = call.request
    details = f"Requested by <@{request.origin.user_id}> · from {format_international(request.caller_id)}"
    if request.channel is not Channel.PSTN:
        details += f" · via {request.channel.value}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{texts.escape(texts.headline(call))}*\n{details}"}},
        {
            "type": "context",
            "block_id": BlockId.CALL_STATE,
            "elements": [{"type": "mrkdwn", "text": texts.escape(texts.state_line(call))}],
        },
    ]
    if request.instructions:
        blocks.insert(1, {"type": "section", "text": {"type": "mrkdwn", "text": _quote(request.instructions)}})
    return {"text": texts.summary(call), "blocks": blocks}


def thread_line(text: str) -> Message:
    return {"text": text}


def _quote(text: str) -> str:
    clipped = text if len(text) <= 2900 else text[:2899] + "…"
    return "\n".join(f"> {line}" for line in texts.escape(clipped).splitlines() or [""])
