"""Buttons on a call's parent message: Hang up here; Say… (`say.py`) and Join (`join.py`) press the same way
(`pressed_on`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.calls.models import Call
from bot.errors import Refusal
from bot.logs import bind_call
from bot.slack import texts
from bot.slack.deps import Deps
from bot.slack.ids import ActionId

log = logging.getLogger(__name__)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(ActionId.HANG_UP)
    async def hang_up(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user_id = body["user"]["id"]
        call = await pressed_on(deps.placing.may_hang_up, action, user_id, respond)
        if call is None:
            return
        bind_call(call.id)  # this request's remaining log lines, and the hang-up task's, carry the call id
        log.info("call %s: %s asked to hang up", call.id, user_id)
        deps.background.spawn(deps.placing.hang_up(call, user_id), key=call.id, name=f"hang up {call.id}")


async def pressed_on(
    may: Callable[[str, str], Awaitable[Call]], action: dict[str, Any], user_id: str, respond: AsyncRespond
) -> Call | None:
    """The call a button (its value: the call id) was pressed on, if `may` lets the presser act on it; else None, and
    the refusal is said to the presser alone, as an ephemeral reply that leaves the message as it is."""
    try:
        return await may(str(action.get("value", "")), user_id)
    except Refusal as refusal:
        await respond(text=texts.refusal(refusal), response_type="ephemeral", replace_original=False)
        return None
