"""Every action_id, callback_id and block_id callbot uses in Slack."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class ActionId(StrEnum):
    HANG_UP = "call_hang_up"
    JOIN = "call_join"
    SAY = "call_say"
    CANCEL_SCHEDULE = "schedule_cancel"  # a scheduled call's Cancel (its message, /call history)


class BlockId(StrEnum):
    """A call message's blocks. Sent as `<id>.<version>`: Slack asks for a new block_id in each version of an
    updated message (docs.slack.dev/reference/block-kit/blocks, `block_id`)."""

    CALL_HEAD = "call_head"
    CALL_QUOTE = "call_quote"
    CALL_STATE = "call_state"
    CALL_ACTIONS = "call_actions"
    SCHEDULE_ACTIONS = "schedule_actions"  # a scheduled call's message: Cancel


class CallbackId(StrEnum):
    """Views and shortcuts; the shortcut ids must match `manifest.yml`."""

    CALL_MODAL = "call_modal"
    PLACE_CALL_SHORTCUT = "place_call"
    CALL_ABOUT_MESSAGE = "call_about_message"
    JOIN_MODAL = "join_modal"
    SAY_MODAL = "call_say_modal"


class FieldId(StrEnum):
    """The call form's inputs: each is both the input block's block_id and its element's action_id.

    The values are the `field` names Refusals carry, so a refusal lands under the input it is about.
    """

    DESTINATION = "destination"
    CHANNEL = "channel"
    CALLER_ID = "caller_id"
    DURATION = "duration"
    INSTRUCTIONS = "instructions"
    VOICEMAIL = "voicemail"
    RECORD = "record"
    CONVERSATION = "conversation"
    WHEN = "when"  # a scheduled call's time (bot/slack/schedule_blocks.py)
    RETRY = "retry"  # its retry plan (`2 every 10m`)
    AFTER_HOURS_REASON = "after_hours_reason"  # callbot admins only: why a call may ring outside calling hours
    JOIN_TO = "join_to"  # the Join form's one input: where to call the person joining
    SAY_TEXT = "say_text"  # the Say… form's one input (bot/calls/saying.py SAY_FIELD)


class ModalContext(BaseModel):
    """The call form's `private_metadata`: where the form was opened, so the call's thread goes back there.

    `thread_ts` is set by the message shortcut: the call's thread then replies to that message.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1
    conversation_id: Annotated[str | None, Field(max_length=32, pattern=r"^[A-Z0-9]+$")] = None
    thread_ts: Annotated[str | None, Field(max_length=32, pattern=r"^\d+\.\d+$")] = None


class SayContext(BaseModel):
    """The Say… form's `private_metadata`: the call, and where its button was pressed (for a reply to the presser
    alone, with chat.postEphemeral, once the call's session has answered)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1
    call_id: Annotated[str, Field(min_length=1, max_length=64)]
    channel_id: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Z0-9]+$")]
