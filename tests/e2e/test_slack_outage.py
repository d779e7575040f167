"""A short Slack outage does not fail a call that can still be shown in time: its message is retried at short
intervals while the launch waits for it (SLACK_PARENT_TIMEOUT_S), not with a backoff that outlasts the bound.

Time is real time 2.5 times faster (ScaledClock) for the bot's Slack delivery and the fake Slack alike; the parent
bound is real time, so it is given here in real seconds: 14 s of Slack time.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.calls.models import CallState
from bot.sandbox.clock import ScaledClock
from bot.sandbox.fake_slack import FakeSlack, Fault
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.slack_requests import SlackSender
from tests.conftest import Bot, eventually

pytestmark = pytest.mark.slow  # a ten-second outage at 2.5 times real time
SPEED = 2.5  # slow enough that a stalled test machine does not eat the bound's margin


@pytest.fixture
def slack_clock(fake_slack: FakeSlack) -> ScaledClock:
    clock = ScaledClock(speed=SPEED)
    fake_slack.clock = clock.now
    return clock


@pytest.fixture
def parent_bound(bot_settings: dict[str, Any]) -> None:
    bot_settings["slack_parent_timeout_s"] = 14 / SPEED  # 14 s of Slack time: more than the outage, less than 15


async def until(clock: ScaledClock, at: float) -> None:
    while clock.now() < at:
        await asyncio.sleep(0.005)


async def test_a_call_placed_one_second_into_a_ten_second_outage_is_dialled_once_slack_is_back(
    parent_bound: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    slack_clock: ScaledClock,
) -> None:  # fmt: skip
    assert (await slack.command("help")).status_code == 200  # Bolt's auth.test, once, while Slack is up
    start = slack_clock.now()
    fake_slack.outage = Fault(status=500)  # every Web API call answers HTTP 500 until it is cleared
    await until(slack_clock, start + 1)
    response = await slack.command("+14155550100 hello")
    assert response.status_code == 200 and response.text == ""
    await until(slack_clock, start + 10)
    fake_slack.outage = None  # Slack is back, 9 s after the first try
    await eventually(lambda: len(fake_voximplant.sessions) == 1, timeout=10)
    [call] = await bot.store.recent_calls()
    assert call.state is not CallState.FAILED
    posts = fake_slack.calls_to("chat.postMessage")
    assert len(fake_slack.parents()) == 1 and len(posts) >= 8  # tried about every second through the outage
    assert posts[-1].at - start < 12  # shown within about a second of Slack's return (Slack time)
