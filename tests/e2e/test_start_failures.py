"""StartScenarios going wrong: the call fails in words people understand, and is never started twice."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from bot.calls.models import CallState, Outcome
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.simulator import ScenarioSimulator
from bot.sandbox.slack_requests import SlackSender
from tests.conftest import Bot, eventually
from tests.e2e.test_call_flow import parent_of, thread_texts
from tests.e2e.test_hang_up import hang_up_button, press_hang_up


async def failed_thread(bot: Bot, slack: SlackSender, fake_slack: FakeSlack) -> str:
    response = await slack.command("+14155550100 hello")
    assert response.status_code == 200 and response.text == ""
    # The parent shows the outcome: refused before dialling (Voximplant said no), or failed (it may have dialled).
    ended = ("Refused before dialling", "Failed")
    await eventually(lambda: any(word in m.text for m in fake_slack.parents() for word in ended), timeout=10)
    parent = fake_slack.parents()[0]
    await eventually(lambda: len(fake_slack.thread(parent)) == 1)
    replies = fake_slack.thread(parent)
    calls = await bot.store.calls_in_state(CallState.FAILED)
    assert len(calls) == 1
    return replies[0].text


async def test_auth_failure(bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant):
    fake_voximplant.api_key = "rotated"
    text = await failed_thread(bot, slack, fake_slack)
    assert text.startswith(":x: *Refused before dialling*:")  # the outcome, stored with the failure
    assert "refused our credentials; an admin needs to check" in text
    assert "sandbox-api-key" not in text and "rotated" not in text


async def test_unknown_rule(bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant):
    fake_voximplant.rule_ids = {42}
    text = await failed_thread(bot, slack, fake_slack)
    assert text.startswith(":x: *Refused before dialling*: Voximplant refused to start the call")
    assert "is not found" in text and "(error 101)" in text
    [call] = await bot.store.calls_in_state(CallState.FAILED)
    assert call.outcome is Outcome.REFUSED


async def test_server_error_is_not_retried(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
):
    fake_voximplant.fail_next(status=500)
    text = await failed_thread(bot, slack, fake_slack)
    assert "did not confirm the call" in text and "not retried" in text
    assert text.startswith(":x: *Failed*:")  # not "refused before dialling": the phone may have rung
    assert len(fake_voximplant.requests) == 1


@pytest.fixture
def quick_timeout(bot_settings: dict[str, object]) -> None:
    bot_settings["voximplant_timeout_s"] = 0.3


async def test_timeout_is_not_retried_even_when_the_call_started(
    quick_timeout: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
):
    fake_voximplant.fail_next(delay_s=30.0, start_anyway=True)  # the bot gives up after 0.3 s
    text = await failed_thread(bot, slack, fake_slack)
    assert "did not confirm the call" in text and "if the phone rings anyway, the call is real" in text
    assert len(fake_voximplant.requests) == 1
    assert len(fake_voximplant.sessions) == 1


async def test_rate_limited_start_is_retried(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
):
    fake_voximplant.fail_next(status=429)
    response = await slack.command("+14155550100 hello")
    assert response.text == ""
    await eventually(lambda: len(fake_voximplant.sessions) == 1, timeout=5)
    assert len(fake_voximplant.requests) == 2  # refused once with 429 before anything started, then accepted
    await bot.idle()  # the session exists before its answer reaches the bot and is stored
    call = (await bot.store.calls_in_state(CallState.STARTING))[0]
    assert call.history_id == fake_voximplant.sessions[0].history_id


@pytest.fixture
def voximplant_down(bot_settings: dict[str, object]) -> None:
    bot_settings["voximplant_api_url"] = "http://127.0.0.1:1/platform_api/"  # nothing listens on port 1


async def test_unreachable_voximplant_dials_nothing(
    voximplant_down: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack
):
    text = await failed_thread(bot, slack, fake_slack)
    assert "could not be reached" in text and "nothing was dialled" in text


@pytest.fixture
def patient_bot(bot_settings: dict[str, object]) -> None:
    bot_settings["voximplant_timeout_s"] = 60.0  # only the test decides when StartScenarios answers


@pytest.mark.slow  # the call lasts its whole minute, at ten times real time
@pytest.mark.skipif(shutil.which("node") is None, reason="the VoxEngine simulator needs Node.js")
async def test_a_start_that_fails_after_the_call_began_keeps_the_call_live(
    patient_bot: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    simulator: ScenarioSimulator,
) -> None:  # fmt: skip
    answer = asyncio.Event()
    fake_voximplant.fail_next(status=500, start_anyway=True, until=answer)  # the session runs; its answer is lost
    response = await slack.command("+14155550177 for 1m stay on the line")  # answered, on the line until 1 minute
    assert response.status_code == 200 and response.text == ""
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    session = fake_voximplant.sessions[0]
    connected = ":large_green_circle: Connected. The agent is talking."
    await eventually(lambda: connected in thread_texts(fake_slack), timeout=15)

    answer.set()  # only now does StartScenarios answer, with HTTP 500
    note = ":warning: Voximplant did not confirm the call (Voximplant had an internal error (HTTP 500)), but the call"
    await eventually(lambda: any(line.startswith(note) for line in thread_texts(fake_slack)))
    await bot.idle()
    call = await bot.store.call(session.call_id)
    assert call is not None and call.state is CallState.CONNECTED and call.access_url is None
    assert hang_up_button(parent_of(fake_slack)) is not None  # the call goes on: the parent says so
    assert not any(word in parent_of(fake_slack).text for word in ("Failed", "Refused"))
    assert (await press_hang_up(slack, fake_slack, "U0ANA")).status_code == 200
    await eventually(lambda: len(fake_slack.responses) == 1)
    assert fake_slack.responses[0]["text"].startswith("Voximplant never confirmed this call, so I have no way to reach")

    # The call's end is still heard and shown: it is not a failed call whose later events are ignored.
    await eventually(lambda: session.exit_code is not None, timeout=30)
    await bot.idle()
    call = await bot.store.call(session.call_id)
    assert call is not None and call.state is CallState.ENDED and call.state_reason == "max_duration"
    assert "failed" not in [to for _, to, _ in await bot.store.transitions(call.id)]
    assert thread_texts(fake_slack)[-1].startswith(":white_check_mark: *Talked with a person* · 1m 00s ·")
    assert len(fake_voximplant.requests) == 1  # never started twice
