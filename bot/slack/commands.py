"""`/call`: parse the text, then refuse with a reason, place the call, or open the form for what is missing."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.calls.grammar import parse_command
from bot.calls.models import Origin
from bot.calls.refusals import Why
from bot.errors import Refusal, Refusals
from bot.logs import bind_call
from bot.slack import admin, blocks, modals, texts
from bot.slack.deps import Deps
from bot.slack.ids import ModalContext
from bot.slack.inbox import COMMAND_ID

log = logging.getLogger(__name__)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.command("/call")
    async def place_call(
        ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        # Bolt runs with process_before_response: the answer leaves when this returns, so only quick checks
        # (parsing and SQLite) happen here; the slow work goes to the background.
        text = command.get("text", "").strip()
        if text.lower() in {"help", "-h", "--help", "?"}:
            await ack(response_type="ephemeral", **blocks.usage_card(extra=admin.USAGE))
            return
        if admin.handles(text):
            reply = await admin.answer(text, command["user_id"], deps, team_id=command.get("team_id", ""))
            if deps.schedules is not None and _lists_schedules(text):
                everyone = await deps.permissions.is_admin(command["user_id"])
                shown = await deps.schedules.history(reply, command["user_id"], everyone=everyone)
                await ack(response_type="ephemeral", **shown)
                return
            await ack(text=reply, response_type="ephemeral")
            return
        draft = parse_command(text, deps.policy.default_region)

        async def open_form() -> None:
            # The trigger expires 3 s after the person pressed enter: views.open comes before anything slow.
            context = ModalContext(conversation_id=command.get("channel_id") or None)
            try:
                await modals.open_call_modal(
                    client, deps, trigger_id=command.get("trigger_id", ""), draft=draft, context=context,
                    user_id=command.get("user_id", ""),
                )  # fmt: skip
            except SlackApiError as error:
                await ack(text=modals.open_failed(error), response_type="ephemeral")
                return
            await ack()

        if draft.destination is None:
            if draft.record and not deps.policy.recording_enabled:
                # The form would have no recording box, and the call would go out unrecorded: say so now.
                await ack(text=texts.refusal(Refusal(Why.RECORDING_OFF, field="record")), response_type="ephemeral")
                return
            await open_form()
            return
        origin = Origin(
            team_id=command["team_id"], user_id=command["user_id"], conversation_id=command["channel_id"]
        )  # fmt: skip
        if deps.schedules is not None and (draft.when is not None or draft.retry is not None):
            try:
                said = await deps.schedules.schedule(draft, origin, requester_name=str(command.get("user_name") or ""))
            except Refusal as refusal:
                if not draft.instructions.strip() and _only_about_the_instructions(refusal):
                    await open_form()  # as for a call now: the form asks what the agent should say
                    return
                said = texts.refusal(refusal)
            await ack(text=said, response_type="ephemeral")
            return
        try:
            request = await deps.vetting.vet(draft, origin, requester_name=str(command.get("user_name") or ""))
            # a command a worker runs for a web replica: the call takes its id, so that a worker taking it over from
            # one that died finds the call if it was stored (bot/slack/inbox.py)
            call = await deps.placing.create(request, call_id=context.get(COMMAND_ID))
        except Refusal as refusal:
            if not draft.instructions.strip() and _only_about_the_instructions(refusal):
                await open_form()  # the rest reads well: the form asks what the agent should say
            else:
                await ack(text=texts.refusal(refusal), response_type="ephemeral")
            return
        bind_call(call.id)  # this request's remaining log lines, and the launch task's, carry the call id
        await ack()
        await deps.launches.launch_soon(call, command.get("response_url"))


def _lists_schedules(text: str) -> bool:
    """`/call history [n]` and a bare `/call status` also list the scheduled calls waiting, each with Cancel."""
    words = text.lower().split()
    return words[0] == "history" or words == ["status"]


def _only_about_the_instructions(refusal: Refusal) -> bool:
    """True when every reason for refusing a typed call is about its instructions (the form's field for them)."""
    each = refusal.each if isinstance(refusal, Refusals) else [refusal]
    return all(r.field == "instructions" for r in each)
