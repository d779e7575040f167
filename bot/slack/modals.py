"""The call form: open it (from `/call`, either shortcut) and take its submission.

A submission is checked exactly as `/call` text is (`Vetting.vet`); a refusal comes back as
`response_action: errors` under the field it is about, and a valid one closes the form and places the call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.calls.destinations import parse_channel, parse_duration
from bot.calls.grammar import VOICEMAIL_WORDS, CallDraft
from bot.calls.models import Channel, Origin
from bot.calls.numbers import parse_phone_number
from bot.errors import Refusal, Refusals
from bot.logs import bind_call
from bot.slack import blocks, texts
from bot.slack.api_errors import error_code
from bot.slack.deps import Deps
from bot.slack.ids import CallbackId, FieldId, ModalContext

log = logging.getLogger(__name__)
T = TypeVar("T")
FormContext = TypeVar("FormContext", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Submission:
    """The form's values, read from `view.state.values`."""

    draft: CallDraft
    channel: Channel | None
    conversation_id: str | None


def register(app: AsyncApp, deps: Deps) -> None:
    @app.view(CallbackId.CALL_MODAL)
    async def submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        context = await form_context(ModalContext, view, ack)
        if context is None:
            return
        form = read_submission(view)
        if form.conversation_id is None:
            await ack(response_action="errors", errors={FieldId.CONVERSATION: texts.NO_CONVERSATION})
            return
        same_place = form.conversation_id == context.conversation_id
        origin = Origin(
            team_id=(body.get("team") or {}).get("id") or view.get("team_id", ""),
            user_id=body["user"]["id"],
            conversation_id=form.conversation_id,
            thread_ts=context.thread_ts if same_place else None,
        )
        name = str((body.get("user") or {}).get("name") or (body.get("user") or {}).get("username") or "")
        if deps.schedules is not None and (form.draft.when is not None or form.draft.retry is not None):
            try:
                said = await deps.schedules.schedule(form.draft, origin, channel=form.channel, requester_name=name)
            except Refusal as refusal:
                await ack(**refusal_answer(refusal, view))
                return
            await ack()
            await deps.schedules.view.tell(origin, said)
            return
        try:
            request = await deps.vetting.vet(form.draft, origin, channel=form.channel, requester_name=name)
            call = await deps.placing.create(request)  # refuses too: a limit may fill up since vet()
        except Refusal as refusal:
            await ack(**refusal_answer(refusal, view))
            return
        bind_call(call.id)  # this request's remaining log lines, and the launch task's, carry the call id
        await ack()  # closes the form; the call's message appears in the conversation
        reply_url = _response_url(body, form.conversation_id)
        await deps.launches.launch_soon(call, reply_url)


async def open_call_modal(
    client: AsyncWebClient, deps: Deps, *, trigger_id: str, draft: CallDraft, context: ModalContext, user_id: str = ""
) -> None:
    """views.open the call form, filled in from `draft`. Call it first: the trigger expires after 3 seconds.

    The field to call outside calling hours is shown to callbot admins: those CALLBOT_ADMINS names, and workspace
    admins when WORKSPACE_ADMINS_ARE_ADMINS is on (a Slack lookup, cached, within `Permissions`' deadline of 1.5 s,
    which leaves the trigger time for views.open; when Slack does not say in time the field is left out). `vet`
    checks whoever fills it in.

    Raises slack_sdk's SlackApiError when Slack refuses (an expired trigger, most often).
    """
    policy = deps.policy
    view = blocks.call_modal(
        prefill(draft, default_region=policy.default_region, max_s=policy.max_duration_s),
        await deps.allowlist.caller_ids(),
        context,
        max_minutes=policy.max_duration_s // 60,
        default_region=policy.default_region,
        default_caller_id=policy.default_caller_id,
        after_hours=policy.calling_hours is not None and await deps.permissions.is_admin(user_id),
        recording=policy.recording_enabled,
    )
    await client.views_open(trigger_id=trigger_id, view=view)


def open_failed(error: SlackApiError) -> str:
    """What the person reads when the form did not open: a 429 is not waited out (the trigger would expire), so it
    says when to try again; anything else names Slack's reason."""
    why = error_code(error, "unknown error")
    log.warning("could not open the call form: %s (HTTP %s)", why, error.response.status_code)
    if error.response.status_code == 429:
        try:
            seconds = max(1, round(float(error.response.headers.get("Retry-After", 1))))
        except (TypeError, ValueError):
            seconds = 1
        return texts.MODAL_BUSY.format(seconds=seconds)
    return texts.MODAL_FAILED.format(why=why)


def prefill(draft: CallDraft, *, default_region: str, max_s: int) -> blocks.FormPrefill:
    """The parts of a draft the form can show: each kept only when it reads well, so the form opens cleanly."""
    channel = _quietly(lambda: parse_channel(draft.channel or ""))
    caller_id = None
    if not draft.caller_id_readings:  # words that read as two numbers: the person picks, the form does not guess
        caller_id = _quietly(lambda: parse_phone_number(draft.caller_id or "", default_region, field="caller_id"))
    seconds = _quietly(lambda: parse_duration(draft.duration or "", max_s=max_s))
    return blocks.FormPrefill(
        destination=draft.destination or "",
        channel=channel,
        caller_id=caller_id,
        minutes=seconds // 60 if seconds else None,
        instructions=draft.instructions,
        voicemail=VOICEMAIL_WORDS.get((draft.voicemail or "").lower()),
        record=draft.record,
        retry=draft.retry,
    )


async def form_context(kind: type[FormContext], view: dict[str, Any], ack: AsyncAck) -> FormContext | None:
    """What a submitted form carries in its private_metadata; None, with the form turned into a note that it
    expired, when that cannot be read (a form opened by an older callbot)."""
    try:
        return kind.model_validate_json(view.get("private_metadata") or "{}")
    except ValidationError:
        await ack(response_action="update", view=blocks.refused_view(texts.FORM_EXPIRED))
        return None


def typed_in(view: dict[str, Any], field: FieldId) -> str:
    """What was typed in a form's text input whose block and action ids are both `field` ("" when nothing was)."""
    value = (((view.get("state") or {}).get("values") or {}).get(field) or {}).get(field) or {}
    typed = value.get("value")
    return typed if isinstance(typed, str) else ""


def read_submission(view: dict[str, Any]) -> Submission:
    """The submitted values; a missing or empty input reads as not given."""
    values: dict[str, dict[str, dict[str, Any]]] = (view.get("state") or {}).get("values") or {}

    def state(field: FieldId) -> dict[str, Any]:
        return (values.get(field) or {}).get(field) or {}

    def selected(field: FieldId) -> str | None:
        option = state(field).get("selected_option")
        return str(option["value"]) if isinstance(option, dict) and option.get("value") else None

    channel_value = selected(FieldId.CHANNEL)
    duration = state(FieldId.DURATION).get("value")
    draft = CallDraft(
        destination=(state(FieldId.DESTINATION).get("value") or "").strip() or None,
        caller_id=selected(FieldId.CALLER_ID),
        instructions=(state(FieldId.INSTRUCTIONS).get("value") or "").strip(),
        duration=str(duration) if duration not in (None, "") else None,
        after_hours_reason=(state(FieldId.AFTER_HOURS_REASON).get("value") or "").strip() or None,
        voicemail=selected(FieldId.VOICEMAIL),
        record=any(
            isinstance(o, dict) and o.get("value") == "record"
            for o in state(FieldId.RECORD).get("selected_options") or []
        ),
        when=_moment(state(FieldId.WHEN).get("selected_date_time")),
        retry=(state(FieldId.RETRY).get("value") or "").strip() or None,
    )
    return Submission(
        draft=draft,
        channel=next((c for c in Channel if c.value == channel_value), None),
        conversation_id=_text(state(FieldId.CONVERSATION).get("selected_conversation")),
    )


def refusal_answer(refusal: Refusal, view: dict[str, Any]) -> dict[str, Any]:
    """The ack for a refused submission: each message under its field, or a page saying why when one has no field."""
    present = {block.get("block_id") for block in view.get("blocks", []) if block.get("type") == "input"}
    each = refusal.each if isinstance(refusal, Refusals) else [refusal]
    if all(r.field in present for r in each):
        return {"response_action": "errors", "errors": {r.field: texts.refusal(r) for r in each}}
    return {"response_action": "update", "view": blocks.refused_view(texts.refusal(refusal))}


def _response_url(body: dict[str, Any], conversation_id: str) -> str | None:
    """The response_url Slack sent for the chosen conversation (the select has response_url_enabled), if any."""
    for entry in body.get("response_urls") or []:
        if entry.get("block_id") == FieldId.CONVERSATION and entry.get("channel_id") == conversation_id:
            return str(entry["response_url"]) if entry.get("response_url") else None
    return None


def _moment(value: object) -> str | None:
    """The date-and-time picker's answer (Unix seconds) as bot/calls/when.py reads a moment: `@<seconds>`."""
    return f"@{value}" if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _text(value: object) -> str | None:
    """A submitted id as text; anything else (a number, a list) reads as not given."""
    return value if isinstance(value, str) and value else None


def _quietly(read: Callable[[], T]) -> T | None:
    try:
        return read()
    except Refusal:
        return None
