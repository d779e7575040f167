"""chat.update is limited per workspace (Tier 3, about 50 a minute): many live calls share it without a 429 storm.

The fake Slack enforces the tier by its clock (50 in any 60 s, then 429 with Retry-After). Time here is real time
20 times faster (ScaledClock), shared by the bot's pacing and the fake: with many channels writing at once, a
virtual clock that jumps for each sleeper would hide any rate.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.sandbox.clock import ScaledClock
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant, Session
from bot.sandbox.slack_requests import SlackSender
from tests.conftest import Bot, eventually

pytestmark = pytest.mark.slow  # chat.update's per-minute budget, at 20 times real time
CALLS = 60


@pytest.fixture
def slack_clock(fake_slack: FakeSlack) -> ScaledClock:
    clock = ScaledClock(speed=20)
    fake_slack.clock = clock.now
    return clock


@pytest.fixture
def many_calls(bot_settings: dict[str, Any]) -> None:
    bot_settings.update(
        calls_per_user_per_hour=0, concurrent_calls_per_user=0, concurrent_calls_per_workspace=0,
        reconcile_every_s=0.05,  # the watchdog goes round often: it must not spend updates on live calls
        # Under the default 40, with room: updates taken on time can still reach the fake together when a busy test
        # machine stalls the bot (a second of real time is 20 s here).
        slack_updates_per_minute=30,
    )  # fmt: skip


def most_in_a_minute(times: list[float]) -> int:
    return max((sum(1 for t in times if start <= t < start + 60) for start in times), default=0)


async def test_60_live_calls_share_the_chat_update_budget_without_a_429_and_an_ended_call_goes_first(
    many_calls: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    slack_clock: ScaledClock,
) -> None:  # fmt: skip
    sessions: list[Session] = []
    for n in range(CALLS):  # each in its own channel: per-channel pacing does not spread them out
        response = await slack.command(f"+1415555{n:04d} hello", channel_id=f"C0ROOM{n:03d}")
        assert response.status_code == 200 and response.text == ""
        await eventually(lambda n=n: len(fake_voximplant.sessions) == n + 1)
        sessions.append(fake_voximplant.sessions[-1])
    await bot.idle()
    # What waits for Slack's pace or budget waits while the events come in, however slowly a loaded machine stores
    # them: else each update could go before the next event arrived, the ended call's last, none left to pass.
    slack_clock.hold()
    for session in sessions:
        await fake_voximplant.send_event(session, "connected")
    last = sessions[-1]
    await fake_voximplant.send_event(last, "disconnected", {"duration_s": 3, "reason": "remote_hangup"})
    slack_clock.release()

    def shown(state: str) -> int:
        return sum(1 for p in fake_slack.parents() if state in p.text)

    await eventually(lambda: shown("Connected") == CALLS - 1 and shown("ended after") == 1, timeout=60)
    await bot.idle()
    await asyncio.sleep(0.5)  # ten rounds of the watchdog (200 s of Slack time): none updates a live parent
    updates = fake_slack.calls_to("chat.update")
    assert fake_slack.rate_limited == []  # Slack never had to say 429
    assert most_in_a_minute([u.at for u in updates]) <= 50
    assert len(updates) == CALLS  # one per call: its state changed once; no clock ticking
    # The call that ended went ahead of calls still waiting to show "Connected": its final state, no Hang up.
    order = [u.params["channel"] for u in updates]
    ended_at = order.index(last_channel := "C0ROOM059")
    assert "ended after" in updates[ended_at].params["text"] and order.count(last_channel) == 1
    assert ended_at < CALLS - 1
