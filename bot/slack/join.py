"""The Join button on a live call's parent message, and its form.

Pressing Join (the requester or a callbot admin) opens a small form: where to call them, prefilled with the phone
number on their Slack profile (users.info, `profile.phone`; the `users:read` scope) when the guard rails allow it,
else empty with a hint saying why. Submitting it checks the number (or app user name) again and asks the call's
session to dial them in; a refusal shows under the field. Refused presses are answered ephemerally (and audited by
`Joining.may_join`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.calls.joining import Joining
from bot.calls.models import Call, Channel
from bot.calls.numbers import format_international
from bot.errors import Refusal, Refusals
from bot.logs import bind_call
from bot.slack import blocks, modals, texts
from bot.slack.actions import pressed_on
from bot.slack.deps import Deps
from bot.slack.ids import ActionId, CallbackId, FieldId
from bot.slack.texts import join as words

log = logging.getLogger(__name__)
PROFILE_LOOKUP_S = 1.5  # users.info must answer well inside Slack's 3 s for views.open's trigger
MAX_TYPED = 64


class JoinContext(BaseModel):
    """The Join form's `private_metadata`: the call, and how the agent names the person joining."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Annotated[int, Field(ge=1, le=1)] = 1
    call_id: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, Field(max_length=80)] = ""


def register(app: AsyncApp, deps: Deps) -> None:
    joining = deps.joining

    @app.action(ActionId.JOIN)
    async def join_pressed(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        user_id = body["user"]["id"]
        call = await pressed_on(joining.may_join, action, user_id, respond)
        if call is None:
            return
        bind_call(call.id)
        phone, name = await _profile(client, user_id)
        offered, hint = await _offer(joining, call, user_id, phone)
        context = JoinContext(call_id=call.id, name=(name or str(body["user"].get("name") or ""))[:80])
        try:
            await client.views_open(
                trigger_id=body.get("trigger_id", ""), view=join_modal(call, offered, hint, context)
            )
        except SlackApiError as error:
            await respond(text=modals.open_failed(error), response_type="ephemeral", replace_original=False)

    @app.view(CallbackId.JOIN_MODAL)
    async def join_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        context = await modals.form_context(JoinContext, view, ack)
        if context is None:
            return
        user_id = body["user"]["id"]
        typed = modals.typed_in(view, FieldId.JOIN_TO)
        try:
            call = await joining.may_join(context.call_id, user_id)
        except Refusal as refusal:
            await ack(response_action="update", view=blocks.refused_view(texts.refusal(refusal)))
            return
        try:
            target = await joining.target(typed, call, user_id)
        except Refusal as refusal:
            first = refusal.each[0] if isinstance(refusal, Refusals) else refusal
            await ack(response_action="errors", errors={FieldId.JOIN_TO: texts.refusal(first)})
            return
        bind_call(call.id)
        await ack()
        log.info("call %s: %s asked to join", call.id, user_id)
        deps.background.spawn(
            joining.join(call, user_id, target, name=context.name), key=call.id, name=f"join {call.id}"
        )


async def _profile(client: AsyncWebClient, user_id: str) -> tuple[str, str]:
    """The phone number and the name on the person's Slack profile (users.info: `user.profile.phone`, which Slack
    gives with `users:read`; only the email needs more); empty when Slack does not answer in time."""
    try:
        async with asyncio.timeout(PROFILE_LOOKUP_S):
            response = await client.users_info(user=user_id)
    except (SlackApiError, TimeoutError) as error:
        log.info("users.info for the Join form failed (%s); the form opens without the profile's number",
                 type(error).__name__)  # fmt: skip
        return "", ""
    user = response.get("user") or {}
    profile = user.get("profile") or {}
    name = profile.get("display_name") or profile.get("real_name") or user.get("real_name") or ""
    return str(profile.get("phone") or ""), str(name)


async def _offer(joining: Joining, call: Call, user_id: str, phone: str) -> tuple[str | None, str]:
    """The profile's number to prefill (E.164) when the guard rails allow it, and the field's hint."""
    if not phone.strip():
        return None, words.NO_PROFILE_PHONE
    target, refusal = await joining.usable(phone, call, user_id)
    if target is not None and target.channel is Channel.PSTN:
        return target.destination, words.FROM_PROFILE
    if refusal is None:  # letters only: read as an app user name, which a profile's phone is not
        return None, words.PROFILE_NOT_A_NUMBER.format(typed=phone.strip()[:MAX_TYPED]) + words.TYPE_ANOTHER
    return None, words.PROFILE_REFUSED.format(why=texts.refusal(refusal)) + words.TYPE_ANOTHER


def join_modal(call: Call, offered: str | None, hint: str, context: JoinContext) -> blocks.View:
    """The Join form: one line on what happens, and where to call the person (the profile's number if usable)."""
    element: dict[str, Any] = {
        "type": "plain_text_input", "action_id": FieldId.JOIN_TO, "max_length": MAX_TYPED,
        "placeholder": {"type": "plain_text", "text": words.PLACEHOLDER},
    }  # fmt: skip
    if offered is not None:
        element["initial_value"] = format_international(offered)
    return {
        "type": "modal",
        "callback_id": CallbackId.JOIN_MODAL,
        "title": {"type": "plain_text", "text": words.MODAL_TITLE},
        "submit": {"type": "plain_text", "text": words.MODAL_SUBMIT},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": context.model_dump_json(),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": words.intro(texts.destination(call))}},
            {
                "type": "input",
                "block_id": FieldId.JOIN_TO,
                "label": {"type": "plain_text", "text": words.LABEL},
                "element": element,
                "hint": {"type": "plain_text", "text": blocks.clip(hint, 1900)},
            },
        ],
    }
