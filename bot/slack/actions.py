"""Buttons on a call's parent message: Hang up."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

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
        try:
            call = await deps.placing.may_hang_up(str(action.get("value", "")), user_id)
        except Refusal as refusal:
            await respond(text=texts.refusal(refusal), response_type="ephemeral", replace_original=False)
            return
        bind_call(call.id)  # this request's remaining log lines, and the hang-up task's, carry the call id
        log.info("call %s: %s asked to hang up", call.id, user_id)
        deps.background.spawn(deps.placing.hang_up(call, user_id), key=call.id, name=f"hang up {call.id}")
