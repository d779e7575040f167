"""Requests the bot refuses: each answer is ephemeral, says why and what to do, and nothing is dialled."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.slack_requests import SlackSender
from tests.conftest import Bot


async def refusal(slack: SlackSender, text: str) -> str:
    response = await slack.command(text)
    assert response.status_code == 200
    body = response.json()
    assert body.get("response_type", "ephemeral") == "ephemeral"
    return str(body["text"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12ab34 hello", "couldn't read `12ab34`"),
        ("+1 415 555 01 hello", "not a valid phone number"),
        ("911 help", "emergency number"),
        ("+44 999", "emergency number"),
        ("+1 900 555 0100 hi", "premium-rate"),
        ("+442079460000 hi", "Calls to GB are not allowed here (allowed: US)"),
        ("+14155550100 from +14155550999 hi", "+1 415-555-0999 is not an allowed caller ID for phone calls"),
        ("+14155550100 from nowhere hi", "couldn't read `nowhere`"),
    ],
)
async def test_refusals_say_why_and_dial_nothing(
    bot: Bot,
    slack: SlackSender,
    fake_slack: FakeSlack,
    fake_voximplant: FakeVoximplant,
    text: str,
    expected: str,
) -> None:
    answer = await refusal(slack, text)
    assert expected in answer
    await bot.idle()
    assert fake_voximplant.requests == []
    assert fake_slack.messages == []


async def test_help_shows_usage(bot: Bot, slack: SlackSender) -> None:
    answer = await refusal(slack, "help")
    assert "/call <destination>" in answer and "For example" in answer


async def test_unknown_caller_id_lists_the_allowed_ones(bot: Bot, slack: SlackSender) -> None:
    answer = await refusal(slack, "+14155550100 from +14155550999 hi")
    assert "Allowed: +1 415-555-0123 (Support line)." in answer


@pytest.fixture
def unconfigured(bot_settings: dict[str, object]) -> None:
    bot_settings.update(voximplant_rule_id=None, voximplant_api_key=None, voximplant_account_id=None)


async def test_unconfigured_voximplant_is_explained(
    unconfigured: None, bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant
) -> None:
    answer = await refusal(slack, "+14155550100 hi")
    assert "Calling is not set up" in answer and "Voximplant settings" in answer
    assert fake_voximplant.requests == []


async def test_without_from_the_only_caller_id_is_used(
    bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant, tmp_path: Path
) -> None:
    response = await slack.command("+14155550100 hi")
    assert response.text == ""
    from tests.conftest import eventually

    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    assert (await fake_voximplant.briefed(fake_voximplant.sessions[0]))["caller_id"] == "+14155550123"
