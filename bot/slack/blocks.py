"""Pure Block Kit builders: domain values in, Slack message dicts out. Every message has its fallback text."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from bot.calls.models import MAX_SAY_CHARS, Call, CallerId, CallState, Channel
from bot.calls.numbers import format_international
from bot.slack import schedule_blocks, texts
from bot.slack.ids import ActionId, BlockId, CallbackId, FieldId, ModalContext, SayContext
from bot.slack.texts import steering
from bot.text import shorten

Message = dict[str, Any]
View = dict[str, Any]
SHORT_TEXT = 1000  # each text of a parent message Slack found too long, when it is sent again shortened


def call_message(call: Call) -> Message:
    """The parent message of a call's thread: who asked, to and from, the state, when it was placed, Hang up
    while it lives and Say… while it is connected. Nothing in it changes with time alone: Slack updates are spent
    on changes of state only."""
    request = call.request
    details = (
        f"Requested by <@{request.origin.user_id}> · to {texts.escape(texts.destination(call))}"
        f" · from {format_international(request.caller_id)}"
    )
    if request.channel is not Channel.PSTN:
        details += f" · via {request.channel.value}"
    state = f"{texts.state_line(call)} · {texts.placed_at(call)}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "block_id": BlockId.CALL_HEAD,
            "text": {"type": "mrkdwn", "text": f"*{texts.escape(texts.headline(call))}*\n{details}"},
        },
        {
            "type": "context",
            "block_id": BlockId.CALL_STATE,
            "elements": [{"type": "mrkdwn", "text": state}],  # state_line escapes what came from outside
        },
    ]
    if call.is_live:
        blocks.append(_hang_up_button(call))
    if request.instructions:
        quote = {"type": "section", "block_id": BlockId.CALL_QUOTE, "text": {"type": "mrkdwn", "text": _quote(
            request.instructions)}}  # fmt: skip
        blocks.insert(1, quote)
    return {"text": texts.summary(call), "blocks": _versioned(blocks)}


def _versioned(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each block_id with the version of what the blocks show (a digest): a new id whenever the message changes,
    the same when it does not."""
    version = hashlib.sha256(json.dumps(blocks, sort_keys=True).encode()).hexdigest()[:12]
    return [{**block, "block_id": f"{block['block_id']}.{version}"} for block in blocks]


def shortened(message: Message, limit: int = SHORT_TEXT) -> Message:
    """`message` with its fallback text and every text in its blocks clipped to `limit` characters.

    For a parent message Slack refused as too long (`msg_too_long`): the same blocks, buttons included, shorter.
    """

    def clipped(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: clip(v, limit) if k == "text" and isinstance(v, str) else clipped(v) for k, v in node.items()}
        if isinstance(node, list):
            return [clipped(item) for item in node]
        return node

    return dict(clipped(message))


def clip(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, ending in … when cut, never inside a <@mention|link> or an &entity;."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if cut.rfind("<") > cut.rfind(">"):
        cut = cut[: cut.rfind("<")]
    amp = cut.rfind("&")
    if amp > cut.rfind(";") and len(cut) - amp <= len("&amp;"):
        cut = cut[:amp]
    return cut + "…"


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
                    "text": {
                        "type": "mrkdwn",
                        "text": f"The call to {texts.escape(texts.destination(call))} ends for everyone.",
                    },
                    "confirm": {"type": "plain_text", "text": "Hang up"},
                    "deny": {"type": "plain_text", "text": "Keep talking"},
                    "style": "danger",
                },
            },
            *([_say_button(call), _join_button(call)] if call.state is CallState.CONNECTED else []),
        ],
    }


def _say_button(call: Call) -> dict[str, Any]:
    """Say…, beside Hang up once the call is connected: opens the form (`say_modal`)."""
    return {
        "type": "button", "action_id": ActionId.SAY, "text": {"type": "plain_text", "text": steering.SAY_BUTTON},
        "value": call.id,
    }  # fmt: skip


def _join_button(call: Call) -> dict[str, Any]:
    """Join, beside Say… once the call is connected: opens the form asking where to call the person (`join.py`)."""
    return {
        "type": "button",
        "action_id": ActionId.JOIN,
        "text": {"type": "plain_text", "text": "Join"},
        "value": call.id,
    }


def say_modal(context: SayContext) -> View:
    """The Say… form: one multiline input, at most what the scenario takes."""
    return {
        "type": "modal",
        "callback_id": CallbackId.SAY_MODAL,
        "title": _plain(steering.SAY_TITLE),
        "submit": _plain(steering.SAY_SUBMIT),
        "close": _plain("Cancel"),
        "private_metadata": context.model_dump_json(),
        "blocks": [
            {
                "type": "input",
                "block_id": FieldId.SAY_TEXT,
                "label": _plain(steering.SAY_LABEL),
                "hint": _plain(steering.SAY_HINT),
                "element": {
                    "type": "plain_text_input", "action_id": FieldId.SAY_TEXT, "multiline": True,
                    "max_length": MAX_SAY_CHARS, "placeholder": _plain(steering.SAY_PLACEHOLDER),
                },
            }
        ],
    }  # fmt: skip


def thread_line(text: str) -> Message:
    return {"text": text}


MAX_SECTION_TEXT = 3000  # Slack refuses a message whose section text is longer (invalid_blocks)


def _quote(text: str) -> str:
    """`text` escaped and quoted line by line, then cut to what a section holds: escaping (`&` is `&amp;`) and the
    `> ` before each line can make a text several times longer than it was typed."""
    return clip("\n".join(f"> {line}" for line in texts.escape(text).splitlines() or [""]), MAX_SECTION_TEXT)


# -- the call form and the usage card ---------------------------------------------------------------------------

MAX_OPTIONS = 100  # Slack's limit for a static_select; longer caller-ID lists show their first 100
MAX_OPTION_TEXT = 75
MAX_INPUT = 3000


@dataclass(frozen=True, slots=True)
class FormPrefill:
    """What the form opens with: the parts of a CallDraft that already read well."""

    destination: str = ""
    channel: Channel | None = None
    caller_id: str | None = None
    minutes: int | None = None
    instructions: str = ""
    voicemail: str | None = None  # "leave" or "hang_up"
    record: bool = False
    retry: str | None = None  # the retry plan as typed (`2 every 10m`)


def call_modal(
    prefill: FormPrefill,
    caller_ids: list[CallerId],
    context: ModalContext,
    *,
    max_minutes: int,
    default_region: str,
    default_caller_id: str | None = None,
    after_hours: bool = False,
    recording: bool = False,
) -> View:
    """The call form: destination, channel, caller ID, time limit, instructions, what to do at a voicemail greeting,
    recording (only while an admin has turned it on), and where the thread goes; with `after_hours` (an admin,
    calling hours on), the reason to call outside calling hours."""
    blocks: list[dict[str, Any]] = [
        _input(
            FieldId.DESTINATION,
            texts.LABEL_DESTINATION,
            _text_input(FieldId.DESTINATION, texts.PLACEHOLDER_DESTINATION, prefill.destination, max_length=300),
            hint=texts.HINT_DESTINATION.format(region=default_region),
        ),
        _input(
            FieldId.CHANNEL,
            texts.LABEL_CHANNEL,
            _select(
                FieldId.CHANNEL,
                texts.PLACEHOLDER_CHANNEL,
                [_option(texts.CHANNEL_NAMES[c], c.value) for c in Channel],
                selected=prefill.channel.value if prefill.channel else None,
            ),
            optional=True,
        ),
    ]
    blocks.extend(_caller_id_blocks(caller_ids, prefill.caller_id or default_caller_id))
    duration: dict[str, Any] = {
        "type": "number_input",
        "action_id": FieldId.DURATION,
        "is_decimal_allowed": False,
        "min_value": "1",
        "max_value": str(max_minutes),
        "placeholder": _plain(texts.PLACEHOLDER_DURATION.format(minutes=max_minutes)),
    }
    if prefill.minutes is not None and 1 <= prefill.minutes <= max_minutes:
        duration["initial_value"] = str(prefill.minutes)
    blocks.append(_input(FieldId.DURATION, texts.LABEL_DURATION, duration, optional=True))
    instructions = _text_input(
        FieldId.INSTRUCTIONS, texts.PLACEHOLDER_INSTRUCTIONS, prefill.instructions, max_length=MAX_INPUT
    )
    instructions["multiline"] = True
    blocks.append(_input(FieldId.INSTRUCTIONS, texts.LABEL_INSTRUCTIONS, instructions))
    choices = [_option(words, value) for value, words in texts.VOICEMAIL_CHOICES.items()]
    leave = texts.VOICEMAIL_CHOICES["leave"]
    voicemail = _select(FieldId.VOICEMAIL, leave, choices, selected=prefill.voicemail or "leave")
    blocks.append(_input(FieldId.VOICEMAIL, texts.LABEL_VOICEMAIL, voicemail, optional=True))
    if recording:
        record_option = _option(texts.RECORD_OPTION, "record")
        record: dict[str, Any] = {"type": "checkboxes", "action_id": FieldId.RECORD, "options": [record_option]}
        if prefill.record:
            record["initial_options"] = [record_option]
        blocks.append(_input(FieldId.RECORD, texts.LABEL_RECORD, record, optional=True, hint=texts.HINT_RECORD))
    blocks.extend(schedule_blocks.form_fields(prefill.retry))  # call later, retry
    # response_url_enabled: the submission brings a response_url for the chosen conversation, through which the
    # person can be told what happened even where the bot cannot post.
    where: dict[str, Any] = {
        "type": "conversations_select", "action_id": FieldId.CONVERSATION, "response_url_enabled": True,
    }  # fmt: skip
    if context.conversation_id is not None:
        where["initial_conversation"] = context.conversation_id
    else:
        where["default_to_current_conversation"] = True
    blocks.append(_input(FieldId.CONVERSATION, texts.LABEL_CONVERSATION, where))
    if after_hours:
        reason = _text_input(FieldId.AFTER_HOURS_REASON, texts.PLACEHOLDER_AFTER_HOURS, "", max_length=300)
        blocks.append(
            _input(
                FieldId.AFTER_HOURS_REASON, texts.LABEL_AFTER_HOURS, reason, optional=True, hint=texts.HINT_AFTER_HOURS
            )
        )
    if context.thread_ts is not None:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": texts.THREAD_NOTE}]})
    return {
        "type": "modal",
        "callback_id": CallbackId.CALL_MODAL,
        "title": _plain(texts.MODAL_TITLE),
        "submit": _plain(texts.MODAL_SUBMIT),
        "close": _plain(texts.MODAL_CLOSE),
        "private_metadata": context.model_dump_json(exclude_none=True),
        "blocks": blocks,
    }


def refused_view(text: str) -> View:
    """What replaces the form when a refusal is about no field of it (e.g. calling is not set up)."""
    return {
        "type": "modal",
        "callback_id": CallbackId.CALL_MODAL,
        "title": _plain(texts.REFUSED_TITLE),
        "close": _plain("Close"),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f":no_entry_sign: {shorten(text, 2900)}"}}],
    }


def usage_card(*, extra: str | None = None) -> Message:
    """`/call help`: the grammar and examples (and `extra`, e.g. the admin commands), as an ephemeral message."""
    examples = "\n".join(f"• `{command}`: {what}" for command, what in texts.USAGE_EXAMPLES)
    sections = [texts.USAGE, f"*Examples*\n{examples}", *([extra] if extra else [])]
    return {
        "text": texts.USAGE,
        "blocks": [
            *({"type": "section", "text": {"type": "mrkdwn", "text": text}} for text in sections),
            {"type": "context", "elements": [{"type": "mrkdwn", "text": texts.USAGE_FOOTER}]},
        ],
    }


def caller_id_option_text(entry: CallerId) -> str:
    number = format_international(entry.number)
    return shorten(f"{entry.label} · {number}", MAX_OPTION_TEXT) if entry.label else number


def _caller_id_blocks(caller_ids: list[CallerId], preferred: str | None) -> list[dict[str, Any]]:
    if not caller_ids:
        return [{"type": "context", "elements": [{"type": "mrkdwn", "text": texts.NO_CALLER_IDS}]}]
    shown = sorted(caller_ids, key=lambda e: (e.number != preferred, e.label.lower() or "~", e.number))[:MAX_OPTIONS]
    options = [_option(caller_id_option_text(e), e.number) for e in shown]
    selected = preferred if any(e.number == preferred for e in shown) else None
    if selected is None and len(caller_ids) == 1:
        selected = caller_ids[0].number
    hint = (
        texts.HINT_CALLER_ID_CLIPPED.format(shown=len(shown), total=len(caller_ids))
        if len(caller_ids) > MAX_OPTIONS
        else texts.HINT_CALLER_ID_DEFAULT
    )
    element = _select(FieldId.CALLER_ID, texts.PLACEHOLDER_CALLER_ID, options, selected=selected)
    return [_input(FieldId.CALLER_ID, texts.LABEL_CALLER_ID, element, optional=True, hint=hint)]


def _input(
    field: FieldId, label: str, element: dict[str, Any], *, optional: bool = False, hint: str | None = None
) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "input", "block_id": field, "label": _plain(label), "element": element}
    if optional:
        block["optional"] = True
    if hint:
        block["hint"] = _plain(hint)
    return block


def _text_input(field: FieldId, placeholder: str, initial: str, *, max_length: int) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": field,
        "placeholder": _plain(placeholder),
        "max_length": max_length,
    }
    if initial:
        element["initial_value"] = shorten(initial, max_length)
    return element


def _select(field: FieldId, placeholder: str, options: list[dict[str, Any]], *, selected: str | None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": field,
        "placeholder": _plain(placeholder),
        "options": options,
    }
    initial = next((o for o in options if o["value"] == selected), None)
    if initial is not None:
        element["initial_option"] = initial
    return element


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": _plain(shorten(text, MAX_OPTION_TEXT)), "value": value}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}
