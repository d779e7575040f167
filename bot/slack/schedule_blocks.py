"""Block Kit for scheduled calls: the schedule's message (with Cancel while it waits) and `/call history`'s list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.calls.models import AttemptState, ScheduledAttempt
from bot.calls.numbers import format_international
from bot.calls.schedule_requests import stored_request
from bot.slack.ids import ActionId, BlockId, FieldId
from bot.slack.texts import schedules as words

Message = dict[str, Any]
SECTION_CHARS = 3000  # Slack's limit for a section's text (docs.slack.dev/reference/block-kit/blocks/section-block)


def destination(attempt: ScheduledAttempt) -> str:
    """The scheduled call's destination as people read it: a number in international form."""
    request, _ = stored_request(attempt.request)
    return format_international(request.destination) if request.destination.startswith("+") else request.destination


def cancel_button(attempt: ScheduledAttempt) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": ActionId.CANCEL_SCHEDULE,
        "text": {"type": "plain_text", "text": words.SCHEDULE_BUTTON},
        "style": "danger",
        "value": attempt.schedule_id,
        "confirm": {
            "title": {"type": "plain_text", "text": "Cancel the call?"},
            "text": {"type": "plain_text", "text": words.SCHEDULE_BUTTON_CONFIRM},
            "confirm": {"type": "plain_text", "text": "Cancel it"},
            "deny": {"type": "plain_text", "text": "Keep it"},
        },
    }


def schedule_message(attempt: ScheduledAttempt, *, by: str | None = None) -> Message:
    """The schedule's message in the channel, as its latest attempt stands; Cancel while an attempt waits."""
    head = words.headline(attempt, by=by)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": head}},
        {"type": "context", "elements": [
            {"type": "mrkdwn", "text": words.requested_by(attempt.origin.user_id, destination(attempt))}
        ]},
    ]  # fmt: skip
    if attempt.state is AttemptState.SCHEDULED:
        blocks.append({"type": "actions", "block_id": BlockId.SCHEDULE_ACTIONS, "elements": [cancel_button(attempt)]})
    return {"text": head, "blocks": blocks}


def form_fields(retry: str | None = None) -> list[dict[str, Any]]:
    """The call form's two optional fields for later: when (Slack's date-and-time picker, which gives a moment, so
    the person's own time zone is whatever their Slack shows) and the retry plan, as `/call` takes it."""
    when = {"type": "datetimepicker", "action_id": FieldId.WHEN}
    plan: dict[str, Any] = {
        "type": "plain_text_input", "action_id": FieldId.RETRY, "max_length": 40,
        "placeholder": {"type": "plain_text", "text": words.PLACEHOLDER_RETRY},
    }  # fmt: skip
    if retry:
        plan["initial_value"] = retry[:40]
    return [
        {"type": "input", "block_id": FieldId.WHEN, "optional": True, "element": when,
         "label": {"type": "plain_text", "text": words.LABEL_WHEN},
         "hint": {"type": "plain_text", "text": words.HINT_WHEN}},
        {"type": "input", "block_id": FieldId.RETRY, "optional": True, "element": plan,
         "label": {"type": "plain_text", "text": words.LABEL_RETRY},
         "hint": {"type": "plain_text", "text": words.HINT_RETRY}},
    ]  # fmt: skip


def history_message(reply: str, pending: Sequence[ScheduledAttempt]) -> Message:
    """`/call history`: the calls placed (`reply`), then each scheduled call waiting, with its Cancel."""
    if not pending:
        return {"text": reply}
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": reply[:SECTION_CHARS]}},
        {"type": "header", "text": {"type": "plain_text", "text": "Scheduled"}},
    ]
    for attempt in pending:
        line = words.pending_line(attempt, destination(attempt))
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": line}, "accessory": cancel_button(attempt)}
        )
    return {"text": reply, "blocks": blocks}
