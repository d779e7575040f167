# ruff: noqa: F811  (the fixtures shared with test_scheduled_calls.py are imported, then named as arguments)
"""Retries and calling hours for scheduled calls, through the real scenario: a busy line is redialled in the same
thread, a call that talked is not, and a time outside the destination's calling hours moves to the next allowed one."""

from __future__ import annotations

import copy
import shutil
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.calls.models import AttemptState, Outcome
from bot.sandbox.clock import WallClock
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.simulator import ScenarioSimulator
from bot.sandbox.slack_requests import SlackSender
from tests.conftest import Bot, eventually
from tests.e2e.test_scheduled_calls import (  # noqa: F401 (fixtures)
    bot,
    bot_settings,
    cancel_button,
    press_cancel,
    rounds,
    schedule_message,
    wall,
)

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="the VoxEngine simulator needs Node.js")


def lines(fake_slack: FakeSlack) -> list[str]:
    return [m.text for m in fake_slack.thread(schedule_message(fake_slack))]


async def ended(bot: Bot, fake_voximplant: FakeVoximplant, count: int) -> None:
    """Wait until `count` sessions ran and the last one's call has its outcome."""
    await eventually(lambda: len(fake_voximplant.sessions) == count, timeout=10)

    async def done() -> bool:
        call = await bot.store.call(fake_voximplant.sessions[-1].call_id)
        return call is not None and call.outcome is not None

    for _ in range(200):
        if await done():
            return
        await rounds(1)
    raise AssertionError("the call never ended")


@needs_node
async def test_a_busy_line_is_retried_in_the_same_thread_until_the_plan_runs_out(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, wall: WallClock,
    simulator: ScenarioSimulator,
) -> None:  # fmt: skip
    await slack.command("+14155550186 in 20m retry 2 every 10m tell Ana the review moved")  # busy (outcomes.js)
    await eventually(lambda: len(fake_slack.parents("C0GENERAL")) == 1)
    wall.advance(timedelta(minutes=20))
    await ended(bot, fake_voximplant, 1)
    await eventually(lambda: any(line.startswith("🔁 The line was busy: retry 1 of 2") for line in lines(fake_slack)))
    await eventually(lambda: schedule_message(fake_slack).text.startswith("🔁 Retry 1 of 2 at <!date^"))
    await rounds()
    assert len(fake_voximplant.sessions) == 1  # not before its time

    wall.advance(timedelta(minutes=10))
    await ended(bot, fake_voximplant, 2)
    await eventually(lambda: any(line.startswith("🔁 The line was busy: retry 2 of 2") for line in lines(fake_slack)))
    wall.advance(timedelta(minutes=10))
    await ended(bot, fake_voximplant, 3)
    await eventually(lambda: "The line was busy, and no retries are left." in lines(fake_slack))
    await bot.idle()
    await eventually(
        lambda: schedule_message(fake_slack).text == "✅ Scheduled call done after 3 attempts: see the thread"
    )
    wall.advance(timedelta(hours=1))
    await rounds()
    assert len(fake_voximplant.sessions) == 3
    assert len(fake_slack.parents("C0GENERAL")) == 1  # every attempt went into the one thread
    said = lines(fake_slack)
    assert said.count("📞 Placing the scheduled call now.") == 1
    assert "🔁 Retry 1 now." in said and "🔁 Retry 2 now." in said
    assert sum("Call to +1 415-555-0186" in line for line in said) == 3  # each attempt's own message
    for session in fake_voximplant.sessions:
        call = await bot.store.call(session.call_id)
        assert call is not None and call.outcome is Outcome.BUSY


@needs_node
async def test_a_call_that_talked_is_not_retried(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, wall: WallClock,
    simulator: ScenarioSimulator,
) -> None:  # fmt: skip
    await slack.command("+14155550100 in 20m retry 2 every 10m say the build is green")  # answers and talks
    await eventually(lambda: len(fake_slack.parents("C0GENERAL")) == 1)
    [waiting] = await bot.store.pending_attempts()
    wall.advance(timedelta(minutes=20))
    await ended(bot, fake_voximplant, 1)
    await eventually(lambda: schedule_message(fake_slack).text.startswith("✅ Scheduled call done after 1 attempt"))
    call = await bot.store.call(fake_voximplant.sessions[0].call_id)
    assert call is not None and call.outcome is Outcome.TALKED
    wall.advance(timedelta(minutes=30))
    await rounds()
    assert len(fake_voximplant.sessions) == 1
    latest = await bot.store.latest_attempt(waiting.schedule_id)
    assert latest is not None and (latest.attempt, latest.state) == (1, AttemptState.FINISHED)
    assert not any(line.startswith("🔁") for line in lines(fake_slack))


@pytest.fixture
def calling_hours(bot_settings: dict[str, Any]) -> None:
    bot_settings["calling_hours"] = "08:00-21:00"


async def test_a_time_outside_calling_hours_moves_to_the_next_allowed_time(
    calling_hours: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    wall: WallClock,
) -> None:  # fmt: skip
    answer = await slack.command("+1 212 555 0100 at 22:00 remind Bob about the invoice", user_id="U0BOB")
    assert answer.json()["text"] == (
        "🕒 Scheduled a call to +1 212-555-0100 for 08:00 (your time) · Thu 3 Dec. 22:00 (your time) · Wed 2 Dec is "
        "outside the calling hours where it rings, so I moved it to the first time inside them."
    )
    await eventually(lambda: len(fake_slack.parents("C0GENERAL")) == 1)
    asked, moved = (int(datetime(2026, 12, d, h, 0, tzinfo=UTC).timestamp()) for d, h in ((3, 3), (3, 13)))
    text = schedule_message(fake_slack).text
    assert text.startswith(f"🕒 Scheduled for <!date^{moved}^") and f"(moved from <!date^{asked}^" in text
    assert "outside the number's calling hours" in text
    wall.advance(timedelta(hours=13))  # 22:00 in New York: when it was asked for
    await rounds()
    assert fake_voximplant.requests == []
    wall.advance(timedelta(hours=10))  # 08:00 the next morning there
    await eventually(lambda: len(fake_voximplant.sessions) == 1)


@needs_node
async def test_a_retry_that_would_ring_after_hours_moves_to_the_morning(
    calling_hours: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    wall: WallClock, simulator: ScenarioSimulator,
) -> None:  # fmt: skip
    await slack.command("+1 212 555 0186 at 20:45 retry 1 every 30m ask about the invoice", user_id="U0BOB")
    await eventually(lambda: len(fake_slack.parents("C0GENERAL")) == 1)
    wall.advance(timedelta(hours=11, minutes=45))  # 20:45 in New York
    await ended(bot, fake_voximplant, 1)
    await eventually(lambda: any(line.startswith("🔁") for line in lines(fake_slack)))
    morning = int(datetime(2026, 12, 3, 13, 0, tzinfo=UTC).timestamp())  # 08:00 in New York
    retry = f"🔁 The line was busy: retry 1 of 1 at <!date^{morning}^"
    await eventually(lambda: any(line.startswith(retry) and "Moved into the number's calling hours" in line
                                 for line in lines(fake_slack)))  # fmt: skip
    wall.advance(timedelta(minutes=30))
    await rounds()
    assert len(fake_voximplant.sessions) == 1  # 21:15 there: not then
    wall.advance(timedelta(hours=10, minutes=45))
    await eventually(lambda: len(fake_voximplant.sessions) == 2, timeout=10)


async def test_a_cancel_after_dialling_started_is_answered_and_stops_the_retries(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, wall: WallClock
) -> None:
    await slack.command("+14155550100 in 20m retry 2 every 10m say hello")
    await eventually(lambda: len(fake_slack.parents("C0GENERAL")) == 1)
    shown = copy.deepcopy(schedule_message(fake_slack))  # as the person still sees it, with its Cancel
    wall.advance(timedelta(minutes=20))
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    assert cancel_button(shown) is not None
    await press_cancel(slack, shown, "U0ANA")
    await eventually(lambda: len(fake_slack.responses) == 1)
    assert fake_slack.responses[0]["text"] == (
        "Attempt 1 is being dialled already: use its Hang up button in the thread to end it. No retry will follow it."
    )
    [waiting] = [a for a in [await bot.store.attempt_of_call(fake_voximplant.sessions[0].call_id)] if a]
    assert waiting.retries == 0
