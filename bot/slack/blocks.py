"""Pure Block Kit builders: domain values in, Slack message dicts out. Every message has its fallback text."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.calls.models import Call, Channel
from bot.calls.numbers import format_international
from bot.slack import texts
from bot.slack.ids import ActionId, BlockId

Message = dict[str, Any]
MIN_ELAPSED_S = 5  # a freshly placed call shows no "0s since it was placed"


def call_message(call: Call, *, now: datetime | None = None) -> Message:
    """The parent message of a call's thread: who asked, to and from, the state, and Hang up while it lives."""
    request = call.request
    details = (
        f"Requested by <@{request.origin.user_id}> · to {texts.destination(call)}"
        f" · from {format_international(request.caller_id)}"
    )
    if request.channel is not Channel.PSTN:
        details += f" · via {request.channel.value}"
    state = texts.state_line(call)
    if call.is_live and now is not None and (now - call.created_at).total_seconds() >= MIN_ELAPSED_S:
        state += f" · {texts.elapsed(call, now)} since it was placed"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{texts.escape(texts.headline(call))}*\n{details}"}},
        {
            "type": "context",
            "block_id": BlockId.CALL_STATE,
            "elements": [{"type": "mrkdwn", "text": texts.escape(state)}],
        },
    ]
    if call.is_live:
        blocks.append(_hang_up_button(call))
    if request.instructions:
        blocks.insert(1, {"type": "section", "text": {"type": "mrkdwn", "text": _quote(request.instructions)}})
    return {"text": texts.summary(call), "blocks": blocks}


def _hang_up_button(call: Call) -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": BlockId.CALL_ACTIONS,
        "elements": [
            {
                "type": "button",
                "action_id": ActionId.HANG_UP,
                "text": {"type": "plain_text", "text": "Hang up"},
                "style": "danger",
                "value": call.id,
                "confirm": {
                    "title": {"type": "plain_text", "text": "Hang up this call?"},
                    "text": {"type": "mrkdwn", "text": f"The call to {texts.destination(call)} ends for everyone."},
                    "confirm": {"type": "plain_text", "text": "Hang up"},
                    "deny": {"type": "plain_text", "text": "Keep talking"},
                    "style": "danger",
                },
            }
        ],
    }


def thread_line(text: str) -> Message:
    return {"text": text}


def _quote(text: str) -> str:
    clipped = text if len(text) <= 2900 else text[:2899] + "…"
    return "\n".join(f"> {line}" for line in texts.escape(clipped).splitlines() or [""])
