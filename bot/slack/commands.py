"""`/call`: parse the text, refuse with a reason or place the call."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.calls.grammar import parse_command
from bot.calls.models import SlackOrigin
from bot.errors import Refusal
from bot.logs import bind_call
from bot.slack import admin, texts
from bot.slack.deps import Deps

log = logging.getLogger(__name__)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.command("/call")
    async def place_call(ack: AsyncAck, command: dict[str, Any]) -> None:
        # Bolt runs with process_before_response: the answer leaves when this returns, so only quick checks
        # (parsing and SQLite) happen here; the slow work goes to the background.
        text = command.get("text", "").strip()
        if text.lower() in {"", "help"}:
            await ack(text=f"{texts.USAGE}\n\n{admin.USAGE}", response_type="ephemeral")
            return
        if admin.handles(text):
            reply = await admin.answer(text, command["user_id"], deps.calls, deps.default_region)
            await ack(text=reply, response_type="ephemeral")
            return
        origin = SlackOrigin(
            team_id=command["team_id"], user_id=command["user_id"], conversation_id=command["channel_id"]
        )
        draft = parse_command(text, deps.default_region)
        try:
            request = await deps.calls.vet(draft, origin)
            call, token = await deps.calls.create(request)
        except Refusal as refusal:
            await ack(text=refusal.text, response_type="ephemeral")
            return
        bind_call(call.id)  # this request's remaining log lines, and the launch task's, carry the call id
        await ack()
        deps.background.spawn(deps.calls.launch(call, token), key=call.id, name=f"launch call {call.id}")
