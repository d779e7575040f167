"""Scheduled calls through the running app: `/call … at 15:30` / `in 20m`, read in the requester's Slack time zone,
placed at their time (the domain's clock is the test's), vetted again then, cancelled, and kept across a restart."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.calls.models import AttemptState
from bot.sandbox.block_kit import view_problems
from bot.sandbox.clock import VirtualClock, WallClock
from bot.sandbox.fake_slack import FakeSlack, Message
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.servers import LocalServer
from bot.sandbox.slack_requests import SlackSender
from bot.slack.ids import ActionId, BlockId
from bot.state import state_of
from bot.store import Store
from tests.conftest import SIGNING_SECRET, Bot, eventually, make_settings, running_bot, where
from tests.e2e.test_call_form import field, values

START = datetime(2026, 12, 2, 14, 0, 20, tzinfo=UTC)  # Wed 2 Dec 2026: 15:00 in Berlin, 09:00 in New York
ROUND_S = 0.02  # SCHEDULE_EVERY_S in these tests


@pytest.fixture
def wall() -> WallClock:
    return WallClock(START)


@pytest.fixture
def bot_settings(bot_settings: dict[str, Any], fake_slack: FakeSlack) -> dict[str, Any]:
    fake_slack.add_user("U0ANA", name="ana", tz="Europe/Berlin")
    fake_slack.add_user("U0BOB", name="bob", tz="America/New_York")
    bot_settings.update(schedule_every_s=ROUND_S, callbot_admins=["U0ADMIN"])
    return bot_settings


@contextlib.asynccontextmanager
async def started(
    tmp_path: Path, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, bot_settings: dict[str, Any],
    slack_clock: VirtualClock, database: Path | str, wall: WallClock,
) -> AsyncIterator[Bot]:  # fmt: skip
    server = LocalServer()
    overrides = {"public_base_url": server.url, **where(database), **bot_settings}
    settings = make_settings(tmp_path, fake_slack, fake_voximplant, **overrides)
    async with running_bot(settings, server, slack_clock=slack_clock, clock=wall) as running:
        yield running


@pytest.fixture
async def bot(
    tmp_path: Path, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, bot_settings: dict[str, Any],
    slack_clock: VirtualClock, database: Path | str, wall: WallClock,
) -> AsyncIterator[Bot]:  # fmt: skip
    async with started(tmp_path, fake_slack, fake_voximplant, bot_settings, slack_clock, database, wall) as running:
        yield running


async def rounds(count: int = 5) -> None:
    """Let the scheduler run a few rounds (real time: it sleeps SCHEDULE_EVERY_S between them)."""
    import asyncio

    await asyncio.sleep(ROUND_S * count + 0.1)


def schedule_message(fake_slack: FakeSlack) -> Message:
    [parent] = fake_slack.parents("C0GENERAL")
    return parent


def cancel_button(message: Message) -> dict[str, Any] | None:
    for block in message.blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == ActionId.CANCEL_SCHEDULE:
                return element  # type: ignore[no-any-return]
    return None


async def press_cancel(slack: SlackSender, message: Message, user_id: str) -> httpx.Response:
    button = cancel_button(message)
    assert button is not None, message.blocks
    shown = {"type": "message", "ts": message.ts, "text": message.text, "blocks": message.blocks}
    return await slack.block_action(
        action_id=ActionId.CANCEL_SCHEDULE, value=button["value"], block_id=BlockId.SCHEDULE_ACTIONS, message=shown,
        channel_id=message.channel, user_id=user_id,
    )  # fmt: skip


async def test_a_call_at_15_30_berlin_time_is_placed_at_its_time_in_the_same_thread(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, wall: WallClock
) -> None:
    response = await slack.command("+14155550100 at 15:30 remind Ana about the review")
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert body["text"] == "🕒 Scheduled a call to +1 415-555-0100 for 15:30 (your time) · Wed 2 Dec."
    await eventually(lambda: len(fake_slack.parents("C0GENERAL")) == 1)
    message = schedule_message(fake_slack)
    due = int(datetime(2026, 12, 2, 14, 30, tzinfo=UTC).timestamp())
    assert message.text == (
        f"🕒 Scheduled for <!date^{due}^{{time}} (your time) · {{date_short_pretty}}|15:30 CET · Wed 2 Dec>"
    )
    assert cancel_button(message) is not None and "Requested by <@U0ANA> · to +1 415-555-0100" in json.dumps(
        message.blocks, ensure_ascii=False
    )

    wall.advance(timedelta(minutes=29))
    await rounds()
    assert fake_voximplant.requests == []  # 15:29:20: not yet
    wall.advance(timedelta(minutes=1))
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    await bot.idle()
    session = fake_voximplant.sessions[0]
    thread = fake_slack.thread(message)
    assert thread[0].text == "📞 Placing the scheduled call now."
    assert any("Call to +1 415-555-0100" in m.text for m in thread)  # the call's own message, in the same thread
    assert len(fake_slack.parents("C0GENERAL")) == 1
    message = schedule_message(fake_slack)
    assert message.text == "📞 Attempt 1 is being placed: see the thread" and cancel_button(message) is None
    attempt = await bot.store.attempt_of_call(session.call_id)
    assert attempt is not None and attempt.state is AttemptState.DIALED
    call = await bot.store.call(session.call_id)
    assert call is not None and call.created_at == START + timedelta(minutes=30)
    await rounds()
    assert len(fake_voximplant.sessions) == 1  # dialled once, however many rounds run


async def test_in_20m_counts_from_now_and_shows_the_time_in_the_requesters_zone(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, wall: WallClock
) -> None:
    response = await slack.command("+14155550100 in 20m retry 2 every 10m say hello", user_id="U0BOB")
    assert response.json()["text"] == (
        "🕒 Scheduled a call to +1 415-555-0100 for 09:20 (your time) · Wed 2 Dec, retried 2 times every 10 minutes"
        " if busy or unanswered."
    )
    wall.advance(timedelta(minutes=19, seconds=59))
    await rounds()
    assert fake_voximplant.requests == []
    wall.advance(timedelta(seconds=1))
    await eventually(lambda: len(fake_voximplant.sessions) == 1)


async def test_times_that_cannot_be_scheduled_are_refused_with_what_to_do(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    past = await slack.command("+14155550100 at 9:00 say hello")
    assert past.json()["text"] == (
        "`at 9:00` has passed today (it's 15:00 your time). Say `tomorrow at 9:00` or a later time, or `in 20m`."
    )
    impossible = await slack.command("+14155550100 at 25:00 say hello")
    assert impossible.json()["text"] == "`at 25:00` is not a time of day: use 00:00 to 23:59, or 1am to 12pm."
    often = await slack.command("+14155550100 in 1h retry 5 say hello")
    assert often.json()["text"] == "A call can be retried 1 to 3 times, not 5. Say e.g. `retry 2 every 10m`."
    await bot.idle()
    assert fake_slack.messages == [] and await bot.store.pending_attempts() == []


async def test_the_requester_cancels_someone_else_is_refused_and_audited(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, wall: WallClock
) -> None:
    await slack.command("+14155550100 in 20m say hello")
    await eventually(lambda: len(fake_slack.parents("C0GENERAL")) == 1)
    message = schedule_message(fake_slack)

    assert (await press_cancel(slack, message, "U0BOB")).status_code == 200
    await eventually(lambda: len(fake_slack.responses) == 1)
    refusal = fake_slack.responses[0]
    assert refusal["response_type"] == "ephemeral" and refusal["replace_original"] is False
    assert refusal["text"] == "Only <@U0ANA> (who scheduled this call) or a callbot admin can cancel it."

    assert (await press_cancel(slack, message, "U0ANA")).status_code == 200
    assert (await press_cancel(slack, message, "U0ANA")).status_code == 200  # pressed twice: absorbed
    await bot.idle()
    await eventually(lambda: schedule_message(fake_slack).text == "🚫 Scheduled call cancelled by <@U0ANA>")
    assert cancel_button(schedule_message(fake_slack)) is None
    assert [m.text for m in fake_slack.thread(message)] == ["🚫 Cancelled by <@U0ANA>: nothing will be dialled."]
    assert len(fake_slack.responses) == 1
    entries = await bot.store.audit_entries()
    assert sorted((e.actor, e.action, e.allowed) for e in entries) == [
        ("U0ANA", "schedule.cancel", True), ("U0BOB", "schedule.cancel", False),
    ]  # fmt: skip
    wall.advance(timedelta(minutes=30))
    await rounds()
    assert fake_voximplant.requests == []


async def test_history_lists_scheduled_calls_with_a_cancel_button(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack
) -> None:
    await slack.command("+14155550100 tomorrow at 9:00 say hello")
    answer = (await slack.command("history")).json()
    assert answer["response_type"] == "ephemeral"
    rendered = json.dumps(answer["blocks"])
    due = int(datetime(2026, 12, 3, 8, 0, tzinfo=UTC).timestamp())
    assert f"<!date^{due}^" in rendered and ActionId.CANCEL_SCHEDULE in rendered
    assert (await slack.command("history", user_id="U0BOB")).json().get("blocks") is None  # not Bob's
    status = (await slack.command("status")).json()
    assert f"<!date^{due}^" in json.dumps(status["blocks"]) and status["text"].startswith("Say which call")


async def test_a_refusal_at_dial_time_is_posted_in_the_thread(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, wall: WallClock
) -> None:
    await slack.command("+14155550100 in 20m say hello")
    await eventually(lambda: len(fake_slack.parents("C0GENERAL")) == 1)
    button = cancel_button(schedule_message(fake_slack))
    assert button is not None
    assert await bot.store.remove_caller_id("+14155550123")  # removed from the allowlist meanwhile
    wall.advance(timedelta(minutes=20))
    await eventually(lambda: schedule_message(fake_slack).text.startswith("⛔"))
    message = schedule_message(fake_slack)
    assert message.text == "⛔ Scheduled call not placed (attempt 1): see the thread"
    [line] = [m.text for m in fake_slack.thread(message)]
    assert line.startswith("⛔ The scheduled call was not placed: ") and "+1 415-555-0123" in line
    assert fake_voximplant.requests == []
    attempt = await bot.store.latest_attempt(button["value"])
    assert attempt is not None and (attempt.state, attempt.detail) == (AttemptState.REFUSED, "caller_id_not_allowed")


async def test_a_restart_between_scheduling_and_dialling_still_places_the_call(
    tmp_path: Path, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, bot_settings: dict[str, Any],
    slack_clock: VirtualClock, database: Path | str, wall: WallClock, http: httpx.AsyncClient,
) -> None:  # fmt: skip
    fakes = (tmp_path, fake_slack, fake_voximplant, bot_settings, slack_clock, database, wall)
    async with started(*fakes) as first:
        slack = SlackSender(http, bot_url=first.url, signing_secret=SIGNING_SECRET,
                            response_base=fake_slack.url)  # type: ignore[attr-defined]  # fmt: skip
        assert (await slack.command("+14155550100 in 20m say hello")).status_code == 200
        await eventually(lambda: len(fake_slack.parents("C0GENERAL")) == 1)
        await first.idle()
    store = await Store.open(database)
    try:
        [waiting] = await store.pending_attempts()
    finally:
        await store.close()
    wall.advance(timedelta(minutes=20))
    async with started(*fakes) as second:
        await eventually(lambda: len(fake_voximplant.sessions) == 1)
        await second.idle()
        attempt = await state_of(second.app).store.latest_attempt(waiting.schedule_id)
        assert attempt is not None and attempt.state is AttemptState.DIALED
        assert fake_slack.thread(schedule_message(fake_slack))[0].text == "📞 Placing the scheduled call now."


async def test_the_form_schedules_with_its_date_and_time_picker_and_refuses_a_past_time(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, wall: WallClock
) -> None:
    await slack.command("+14155550100 retry 2 every 10m")  # no instructions: the form opens, its retry filled in
    view = fake_slack.views[-1]
    assert view_problems(view) == []
    assert field(view, "when")["element"]["type"] == "datetimepicker"
    assert field(view, "retry")["element"]["initial_value"] == "2 every 10m"
    form = values(destination="+14155550100", instructions="say the build is green")
    picked = int((START + timedelta(minutes=45)).timestamp())
    form["when"] = {"when": {"type": "datetimepicker", "selected_date_time": int(START.timestamp()) - 3600}}
    refused = await slack.view_submission(view, form)
    assert refused.json()["errors"] == {
        "when": "The time you picked has passed (it's 15:00 your time). Pick a later one, or leave it empty."
    }
    form["when"] = {"when": {"type": "datetimepicker", "selected_date_time": picked}}
    form["retry"] = {"retry": {"type": "plain_text_input", "value": "1 every 15m"}}
    placed = await slack.view_submission(view, form)
    assert placed.status_code == 200 and placed.text == ""
    await eventually(lambda: len(fake_slack.ephemeral) == 1)
    assert fake_slack.ephemeral[0]["text"] == (
        "🕒 Scheduled a call to +1 415-555-0100 for 15:45 (your time) · Wed 2 Dec, retried 1 time every 15 minutes"
        " if busy or unanswered."
    )
    wall.advance(timedelta(minutes=45))
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
