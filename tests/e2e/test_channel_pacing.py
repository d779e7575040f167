"""Many calls in one channel, over the harness: new calls' messages use Slack's short burst and go ahead of other calls'
thread lines, so their phones ring without waiting a second each; past the burst, and after a 429, the channel is
paced; each call's lines stay in order.

Pacing runs on a stepped clock, shared with the fake Slack: time moves only when a test moves it, so each write's
time is exact however many wait at once. The fake Slack holds chat.postMessage to Slack's per-channel rule (a burst,
then one a second, 429 beyond): `fake_slack.rate_limited == []` says the bot kept to it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.sandbox.clock import SteppedClock
from bot.sandbox.fake_slack import ApiCall, FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.slack_requests import SlackSender
from bot.slack.pacing import BURST
from tests.conftest import Bot, eventually
from tests.e2e.test_call_flow import place

CHANNEL = "C0GENERAL"  # where SlackSender's commands come from


@pytest.fixture
def slack_clock(fake_slack: FakeSlack, bot_settings: dict[str, Any]) -> SteppedClock:
    clock = SteppedClock()
    fake_slack.clock = clock.now
    # Writers still waiting for a second that never comes when the test ends are not waited for at shutdown.
    bot_settings["shutdown_grace_s"] = 1
    return clock


@pytest.fixture
def many_calls(bot_settings: dict[str, Any]) -> None:
    """One person places many calls at once: no per-person or per-workspace limit refuses them."""
    bot_settings.update(calls_per_user_per_hour=0, concurrent_calls_per_user=0, concurrent_calls_per_workspace=0)


async def call_at_once(slack: SlackSender, count: int) -> None:
    """`count` /call requests sent together, each to its own number."""
    answers = await asyncio.gather(*(slack.command(f"+1415555{100 + n:04d} call {n}") for n in range(count)))
    assert all(answer.status_code == 200 and answer.text == "" for answer in answers)


async def dialled(fake_voximplant: FakeVoximplant, count: int) -> None:
    """Wait until Voximplant has started `count` calls."""
    await eventually(lambda: len(fake_voximplant.sessions) == count)


def parent_posts(fake_slack: FakeSlack) -> list[ApiCall]:
    """Every chat.postMessage of a call's message in the channel, those Slack refused included."""
    return [
        c
        for c in fake_slack.calls_to("chat.postMessage")
        if c.params["channel"] == CHANNEL and "thread_ts" not in c.params
    ]


async def test_calls_placed_at_once_in_one_channel_are_dialled_without_waiting_a_second_each(
    many_calls: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    slack_clock: SteppedClock,
) -> None:  # fmt: skip
    # Time stands still: a call whose message waited for the channel's pace would not be dialled.
    await call_at_once(slack, BURST)
    await dialled(fake_voximplant, BURST)
    assert [post.at for post in parent_posts(fake_slack)] == [0.0] * BURST
    assert fake_slack.rate_limited == []


async def test_past_the_burst_new_calls_messages_go_one_a_second(
    many_calls: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    slack_clock: SteppedClock,
) -> None:  # fmt: skip
    await call_at_once(slack, BURST + 3)
    await dialled(fake_voximplant, BURST)
    await eventually(lambda: bot.delivery.waiting(CHANNEL) == 3)  # the other three wait for their turn
    for second in (1, 2, 3):
        slack_clock.advance(1.0)
        await dialled(fake_voximplant, BURST + second)
    assert [post.at for post in parent_posts(fake_slack)] == [0.0] * BURST + [1.0, 2.0, 3.0]
    assert fake_slack.rate_limited == []


async def test_a_429_holds_the_channel_for_its_retry_after_then_it_goes_one_a_second(
    many_calls: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    slack_clock: SteppedClock,
) -> None:  # fmt: skip
    fake_slack.channel_burst = 3  # this Slack allows a smaller burst than the bot assumes
    await call_at_once(slack, 6)
    await dialled(fake_voximplant, 3)
    await eventually(lambda: bot.delivery.waiting(CHANNEL) == 3)  # refused or held back, they wait out Retry-After
    # How many were tried before Slack's first 429 came back depends on how fast each call was stored (one, on
    # PostgreSQL; all three, on SQLite): each of those was refused, the rest held back by the 429 without trying.
    refused = len(fake_slack.rate_limited)
    assert 1 <= refused <= 3 and all(post.at == 0.0 for post in parent_posts(fake_slack))
    for second in (1, 2, 3):
        slack_clock.advance(1.0)
        await dialled(fake_voximplant, 3 + second)
    # The channel is held that second, and then its bucket is empty: the three go one a second, none refused.
    taken = [post for post in parent_posts(fake_slack) if post not in fake_slack.rate_limited]
    assert [post.at for post in taken] == [0.0] * 3 + [1.0, 2.0, 3.0]
    assert len(fake_slack.rate_limited) == refused
    assert len(fake_slack.parents(CHANNEL)) == 6


async def test_a_new_calls_message_goes_ahead_of_another_calls_waiting_line(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, slack_clock: SteppedClock
) -> None:
    first = await place(slack, fake_voximplant, "+14155550100 first")
    slack_clock.advance(1.0)  # a second on: the channel takes the first call's next line at once
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=5)
    await fake_voximplant.send_event(first, "transcript", {"role": "agent", "text": "Hello"})
    await eventually(lambda: bot.delivery.waiting(CHANNEL) == 1)  # the line met the 429 and waits out the hold
    response = await slack.command("+14155550101 second")
    assert response.status_code == 200 and response.text == ""
    await eventually(lambda: bot.delivery.waiting(CHANNEL) == 2)  # the second call's message waits too, asked after it
    slack_clock.advance(5.0)
    await dialled(fake_voximplant, 2)
    slack_clock.advance(1.0)
    await eventually(lambda: len(fake_slack.calls_to("chat.postMessage")) == 4)
    posts = [(c.at, c.params.get("text", "")[:20]) for c in fake_slack.calls_to("chat.postMessage")]
    assert posts == [
        (0.0, "Call to +1 415-555-0"),
        (1.0, "*Agent:* Hello"),  # 429, Retry-After: 5
        (6.0, "Call to +1 415-555-0"),  # the second call's message first, as soon as the hold ends
        (7.0, "*Agent:* Hello"),  # then the line, a second later
    ]
    [first_parent, _] = fake_slack.parents(CHANNEL)
    assert [reply.text for reply in fake_slack.thread(first_parent)] == ["*Agent:* Hello"]
