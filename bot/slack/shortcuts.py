"""Shortcuts: "Place a call" (global) and "Call about this" (on a message) open the call form."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.calls.grammar import CallDraft, readable
from bot.slack import modals
from bot.slack.deps import Deps
from bot.slack.ids import CallbackId, ModalContext

log = logging.getLogger(__name__)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.shortcut(CallbackId.PLACE_CALL_SHORTCUT)
    async def place_call(ack: AsyncAck, shortcut: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        # A global shortcut names no conversation: the form's select starts at the one the person is viewing.
        try:
            await modals.open_call_modal(
                client, deps, trigger_id=shortcut["trigger_id"], draft=_EMPTY, context=ModalContext(),
                user_id=shortcut["user"]["id"],
            )  # fmt: skip
        except SlackApiError as error:  # a global shortcut has no response_url: the bot's DM says it
            await client.chat_postMessage(channel=shortcut["user"]["id"], text=modals.open_failed(error))

    @app.shortcut(CallbackId.CALL_ABOUT_MESSAGE)
    async def call_about(
        ack: AsyncAck, shortcut: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond | None
    ) -> None:
        await ack()
        message = shortcut.get("message") or {}
        context = ModalContext(
            conversation_id=(shortcut.get("channel") or {}).get("id"),
            thread_ts=message.get("thread_ts") or message.get("ts") or shortcut.get("message_ts"),
        )
        draft = CallDraft(destination=None, caller_id=None, instructions=readable(message.get("text") or "").strip())
        try:
            await modals.open_call_modal(
                client, deps, trigger_id=shortcut["trigger_id"], draft=draft, context=context,
                user_id=shortcut["user"]["id"],
            )  # fmt: skip
        except SlackApiError as error:
            text = modals.open_failed(error)
            if respond is not None:  # message shortcuts carry a response_url
                await respond(text=text, response_type="ephemeral")


_EMPTY = CallDraft(destination=None, caller_id=None, instructions="")
