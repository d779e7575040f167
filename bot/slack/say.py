"""The Say… button on a call's parent message, and its form: the requester (or an admin) has the agent say something.

The press is checked as Hang up is (`Saying.may_say`, audited when refused, answered to the presser alone), then
opens the form with its trigger. The submission is checked again (the call may have ended meanwhile), closes the
form, and the text goes to the call's session after the ack; the thread shows it once the agent has it, and a
refusal from the session reaches the presser alone (chat.postEphemeral where the button was pressed).
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.calls.models import Call
from bot.calls.saying import Saying
from bot.errors import Refusal
from bot.logs import bind_call
from bot.slack import blocks, modals, texts
from bot.slack.actions import pressed_on
from bot.slack.api_errors import error_code
from bot.slack.deps import Deps
from bot.slack.ids import ActionId, CallbackId, FieldId, SayContext
from bot.slack.texts import steering

log = logging.getLogger(__name__)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(ActionId.SAY)
    async def pressed(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        user_id = body["user"]["id"]
        call = await pressed_on(deps.saying.may_say, action, user_id, respond)
        if call is None:
            return
        where = (body.get("container") or {}).get("channel_id") or call.request.origin.conversation_id
        try:
            context = SayContext(call_id=call.id, channel_id=where)
            await client.views_open(trigger_id=body["trigger_id"], view=blocks.say_modal(context))
        except (SlackApiError, ValidationError) as error:
            why = error_code(error, "unknown error") if isinstance(error, SlackApiError) else "an unexpected channel"
            log.warning("call %s: could not open the Say… form: %s", call.id, why)
            await respond(text=steering.SAY_OPEN_FAILED.format(why=why), response_type="ephemeral",
                          replace_original=False)  # fmt: skip

    @app.view(CallbackId.SAY_MODAL)
    async def submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        user_id = body["user"]["id"]
        context = await modals.form_context(SayContext, view, ack)
        if context is None:
            return
        try:
            text = Saying.check_text(modals.typed_in(view, FieldId.SAY_TEXT))
            call = await deps.saying.may_say(context.call_id, user_id)
        except Refusal as refusal:
            await ack(response_action="errors", errors={FieldId.SAY_TEXT: texts.refusal(refusal)})
            return
        await ack()  # closes the form
        bind_call(call.id)
        work = _say(deps, client, call, user_id, text, context.channel_id)
        deps.background.spawn(work, key=call.id, name=f"say on {call.id}")


async def _say(deps: Deps, client: AsyncWebClient, call: Call, user_id: str, text: str, channel_id: str) -> None:
    """Pass the text on; when the call's session does not take it, tell the presser alone why."""
    why = await deps.saying.say(call, user_id, text)
    if why is None:
        return
    try:
        await client.chat_postEphemeral(channel=channel_id, user=user_id, text=steering.say_failed(why))
    except SlackApiError as error:
        log.warning("call %s: could not tell <@%s> their Say… text was not taken (%s)", call.id, user_id,
                    error_code(error, "unknown error"))  # fmt: skip
