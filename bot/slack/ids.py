"""Every action_id, callback_id and block_id callbot uses in Slack."""

from __future__ import annotations

from enum import StrEnum


class ActionId(StrEnum):
    HANG_UP = "call_hang_up"


class BlockId(StrEnum):
    CALL_STATE = "call_state"
    CALL_ACTIONS = "call_actions"
