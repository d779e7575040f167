"""The whole loop with the real scenario: bot → fake Voximplant → VoxEngine simulator → bot → fake Slack."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.calls.models import CallState, Channel
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.simulator import SCENARIO, ScenarioSimulator
from bot.sandbox.slack_requests import SlackSender
from tests.conftest import Bot, eventually

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="the VoxEngine simulator needs Node.js")


@pytest.fixture(params=["push", "pull"])
def events_mode(request: pytest.FixtureRequest, bot_settings: dict[str, Any]) -> str:
    """Each call flow runs in both modes: Voximplant calling the bot back, and the bot asking each session."""
    if request.param == "pull":
        bot_settings["public_base_url"] = None  # no public URL: the events are pulled
    return str(request.param)


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
    events_mode: str,
    bot: Bot,
    slack: SlackSender,
    fake_slack: FakeSlack,
    fake_voximplant: FakeVoximplant,
    simulator: ScenarioSimulator,
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
    assert thread[-1].startswith(":white_check_mark: *Talked with a person* ·")
    api = [entry.get("api") for entry in fake_voximplant.sessions[0].api_log]
    assert api.index("callPSTN") < api.index("createRealtimeAPIClient") < api.index("terminate")


@pytest.mark.parametrize(
    ("text", "api", "args"),
    [
        # PSTN calls carry their answering-machine detector (issue 15).
        ("+14155550100 hello", "callPSTN", ["+14155550100", "+14155550123", {"amd": "[amd amd-1]"}]),
        ("sip:desk@pbx.example.com hello", "callSIP", ["sip:desk@pbx.example.com", {"callerid": "+14155550123"}]),
        ("alice via user hello", "callUser", [{"username": "alice", "callerid": "+14155550123"}]),
        (
            "+14155550100 via whatsapp hello",
            "callWhatsappUser",
            [{"number": "+14155550100", "callerid": "+14155550123"}],
        ),
    ],
    ids=["pstn", "sip", "user", "whatsapp"],
)
async def test_every_channel_through_the_v2_launch(
    events_mode: str, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    simulator: ScenarioSimulator,
    text: str, api: str, args: list[object],
) -> None:  # fmt: skip
    # The caller ID may place every kind of call; the scenario learns the destination only from the brief.
    await bot.store.add_caller_id("+14155550123", label="Everything", channels=frozenset(Channel), added_by="test",
                                  at=datetime.now(UTC))  # fmt: skip
    thread, state = await run_call(text, bot, slack, fake_slack, fake_voximplant, simulator)
    assert state is CallState.ENDED, thread
    session = fake_voximplant.sessions[0]
    assert len(session.raw_custom_data.encode()) <= 200 and "hello" not in session.raw_custom_data
    [placed] = [entry for entry in session.api_log if entry.get("api") == api]
    assert placed["args"] == args
    assert thread[-1].startswith(":white_check_mark: *Talked with a person* ·")


async def test_recoverable_voice_ai_errors_are_warnings_and_the_call_goes_on(
    events_mode: str,
    bot: Bot,
    slack: SlackSender,
    fake_slack: FakeSlack,
    fake_voximplant: FakeVoximplant,
    simulator: ScenarioSimulator,
) -> None:
    # OpenAI's Realtime `error` event: "most errors are recoverable and the session will stay open".
    thread, state = await run_call("+14155550167 hello", bot, slack, fake_slack, fake_voximplant, simulator)
    assert state is CallState.ENDED
    lines = [line for message in thread for line in message.split("\n")]
    warnings = [line for line in lines if line.startswith(":warning: The agent hit a problem and carries on: ")]
    assert len(warnings) == 2, lines
    assert lines[-1].startswith(":white_check_mark: *Talked with a person* ·")
    assert any(line.startswith("*Agent:*") for line in lines)


@pytest.mark.parametrize(
    ("destination", "words"),
    [
        ("+14155550186", ":no_entry: *Busy*: the line was busy (486 Busy Here)"),
        (
            "+14155550180",
            ":no_mobile_phones: *Unavailable*: the person was unavailable (the phone may be off or out of reach) "
            "(480 Temporarily Unavailable)",
        ),
        ("+14155550148", ":no_bell: *Not answered*: nobody answered (408 Request Timeout)"),
        (
            "+14155550142",
            ":x: *Failed*: the Voximplant account's balance is too low to place calls (a callbot admin needs to top "
            "it up) "
            "(402 Payment Required)",
        ),
        ("+14155550160", ":no_entry_sign: *Declined*: the call was declined (603 Decline)"),
        ("+14155550199", ":x: *Failed*: the phone network could not carry the call (503 Service Unavailable)"),
    ],
)
async def test_unanswered_calls_through_the_real_scenario(
    events_mode: str, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    simulator: ScenarioSimulator,
    destination: str, words: str,
) -> None:  # fmt: skip
    thread, state = await run_call(f"{destination} hello", bot, slack, fake_slack, fake_voximplant, simulator)
    assert state is CallState.FAILED
    assert thread[-1] == f"{words}."  # the outcome first, then why
    assert not any(line.startswith("*Agent:*") for line in thread)


async def test_a_scenario_that_refuses_the_call_data_ends_the_call(
    tmp_path: Path, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    # The scenario uploaded to Voximplant is older than the bot: it knows no WhatsApp, so it refuses the call data.
    source = SCENARIO.read_text().replace('var CHANNELS = ["pstn", "sip", "user", "whatsapp"];',
                                          'var CHANNELS = ["pstn", "sip", "user"];')  # fmt: skip
    assert 'var CHANNELS = ["pstn", "sip", "user"];' in source
    (tmp_path / "outbound_call.js").write_text(source)
    await bot.store.add_caller_id(
        "+14155550124", label="WhatsApp", channels=frozenset({Channel.WHATSAPP}), added_by="test", at=datetime.now(UTC)
    )
    runner = ScenarioSimulator(time_scale=0.1, scenario=tmp_path / "outbound_call.js")
    fake_voximplant.runner = runner
    try:
        thread, state = await run_call(
            "+14155550100 via whatsapp hello", bot, slack, fake_slack, fake_voximplant, runner
        )
    finally:
        await runner.aclose()
    assert state is CallState.FAILED
    why = "bad brief: channel 'whatsapp' is not one of pstn, sip, user"
    assert thread == [f":x: *Refused before dialling*: the call was never placed ({why})."]
    session = fake_voximplant.sessions[0]
    events = await bot.store.events(session.call_id)
    assert [name for _, name, _ in events] == ["error", "failed"]  # the scenario's own terminal event came too
    assert events[1][2] == {"code": 0, "reason": why}
    assert not any(entry.get("api", "").startswith("call") for entry in session.api_log)  # nothing was dialled
    assert "Hang up" not in str(fake_slack.parents()[0].blocks)
