"""The whole loop with the real scenario: bot → fake Voximplant → VoxEngine simulator → bot → fake Slack."""

from __future__ import annotations

import shutil

import pytest

from bot.calls.models import CallState
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.simulator import ScenarioSimulator
from bot.sandbox.slack_requests import SlackSender
from tests.conftest import Bot, eventually

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="the VoxEngine simulator needs Node.js")


async def run_call(
    text: str, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    simulator: ScenarioSimulator,
) -> tuple[list[str], CallState]:  # fmt: skip
    response = await slack.command(text)
    assert response.status_code == 200 and response.text == ""
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    session = fake_voximplant.sessions[0]
    await eventually(lambda: session.exit_code is not None, timeout=15)
    assert session.exit_code == 0  # the scenario terminated its session itself
    await bot.idle()
    call = await bot.store.call(session.call_id)
    assert call is not None
    parent = fake_slack.parents()[0]
    return [m.text for m in fake_slack.thread(parent)], call.state


async def test_answered_call_through_the_real_scenario(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, simulator: ScenarioSimulator
) -> None:
    thread, state = await run_call(
        "+14155550100 remind Ana about the 3pm review", bot, slack, fake_slack, fake_voximplant, simulator
    )
    assert state is CallState.ENDED
    assert thread[0] == ":telephone_receiver: Dialing +1 415-555-0100…"
    assert thread[1] == ":bell: Ringing…"
    assert ":large_green_circle: Connected. The agent is talking." in thread
    transcript = [line for line in thread if line.startswith(("*Agent:*", "*Callee:*"))]
    assert transcript and any("remind Ana about the 3pm review" in line for line in transcript)
    assert thread[-1].startswith(":white_check_mark: Call ended after")
    api = [entry.get("api") for entry in fake_voximplant.sessions[0].api_log]
    assert api.index("callPSTN") < api.index("createRealtimeAPIClient") < api.index("terminate")


@pytest.mark.parametrize(
    ("destination", "words"),
    [
        ("+14155550186", "the line was busy (486 Busy Here)"),
        ("+14155550180", "nobody answered (480 Temporarily Unavailable)"),
        ("+14155550160", "the call was declined (603 Decline)"),
        ("+14155550199", "the phone network could not carry the call (503 Service Unavailable)"),
    ],
)
async def test_unanswered_calls_through_the_real_scenario(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, simulator: ScenarioSimulator,
    destination: str, words: str,
) -> None:  # fmt: skip
    thread, state = await run_call(f"{destination} hello", bot, slack, fake_slack, fake_voximplant, simulator)
    assert state is CallState.FAILED
    assert thread[-1] == f":x: The call failed: {words}."
    assert not any(line.startswith("*Agent:*") for line in thread)
