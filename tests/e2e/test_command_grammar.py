"""The full `/call` grammar over HTTP: channels, time limits and Slack's escaped links reach the scenario intact."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.calls.models import Channel
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.slack_requests import SlackSender
from tests.conftest import CALLER_ID, Bot, eventually

OTHER_CALLER_ID = "+14155550124"


@pytest.fixture
async def every_channel(bot: Bot) -> None:
    """A second caller ID, allowed for SIP, app users and WhatsApp."""
    await bot.store.add_caller_id(
        OTHER_CALLER_ID,
        label="Everything else",
        channels=frozenset({Channel.SIP, Channel.USER, Channel.WHATSAPP}),
        added_by="test",
        at=datetime.now(UTC),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "sip:desk@pbx.example.com via sip for 3m check the line",
            {"channel": "sip", "destination": "sip:desk@pbx.example.com", "caller_id": OTHER_CALLER_ID,
             "max_duration_s": 180, "instructions": "check the line"},
        ),
        (
            "<sip:desk@pbx.example.com> check the line",
            {"channel": "sip", "destination": "sip:desk@pbx.example.com", "caller_id": OTHER_CALLER_ID,
             "max_duration_s": 600, "instructions": "check the line"},
        ),
        (
            "alice via user say the build is green",
            {"channel": "user", "destination": "alice", "caller_id": OTHER_CALLER_ID, "max_duration_s": 600,
             "instructions": "say the build is green"},
        ),
        (
            "+1 415 555 0177 via whatsapp from +14155550124 hello",
            {"channel": "whatsapp", "destination": "+14155550177", "caller_id": OTHER_CALLER_ID,
             "max_duration_s": 600, "instructions": "hello"},
        ),
        (
            "<tel:+14155550100|+1 415-555-0100> for 2m tell &lt;Ana&gt; it moved",
            {"channel": "pstn", "destination": "+14155550100", "caller_id": CALLER_ID, "max_duration_s": 120,
             "instructions": "tell <Ana> it moved"},
        ),
    ],
)  # fmt: skip
async def test_grammar_reaches_the_scenario(
    every_channel: None,
    bot: Bot,
    slack: SlackSender,
    fake_voximplant: FakeVoximplant,
    text: str,
    expected: dict[str, Any],
) -> None:
    response = await slack.command(text)
    assert response.status_code == 200 and response.text == "", response.text
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    data = await fake_voximplant.briefed(fake_voximplant.sessions[0])
    assert {key: data[key] for key in expected} == expected


async def test_every_wrong_part_is_said_at_once(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    answer = (await slack.command("911 for 99m hello")).json()
    assert answer["response_type"] == "ephemeral"
    lines = answer["text"].splitlines()
    assert len(lines) == 2
    assert "emergency number" in lines[0] and "at most 10 minutes" in lines[1]
    await bot.idle()
    assert fake_voximplant.requests == [] and fake_slack.messages == []


async def test_a_channel_needs_a_caller_id_allowed_for_it(bot: Bot, slack: SlackSender) -> None:
    answer = (await slack.command("+14155550100 via whatsapp hello")).json()["text"]
    assert "No caller ID is allowed for WhatsApp calls yet" in answer


async def test_an_unknown_channel_is_refused(bot: Bot, slack: SlackSender) -> None:
    answer = (await slack.command("+14155550100 via email hello")).json()["text"]
    assert "`email` is not a way callbot can call" in answer


async def test_a_number_that_reads_two_ways_is_refused_with_both_readings(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    answer = (await slack.command("+49 30 123456 2 Termine absagen")).json()
    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == (
        "I can read `+49 30 123456 2` as more than one number: +49 30 123456 or +49 30 1234562. "
        "Write the number without spaces, e.g. `+4930123456`, so I call the one you mean."
    )
    await bot.idle()
    assert fake_voximplant.requests == [] and fake_slack.messages == []


@pytest.fixture
def germany_too(bot_settings: dict[str, Any]) -> None:
    bot_settings["allowed_countries"] = ["US", "DE"]


async def test_a_number_written_without_spaces_is_called_and_the_digits_after_it_are_instructions(
    germany_too: None, bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant
) -> None:
    response = await slack.command("+4930123456 2 Termine absagen")
    assert response.status_code == 200 and response.text == "", response.text
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    data = await fake_voximplant.briefed(fake_voximplant.sessions[0])
    assert (data["destination"], data["instructions"]) == ("+4930123456", "2 Termine absagen")


SECOND_PHONE_LINE = "+14155550125"


@pytest.fixture
async def two_phone_lines(bot: Bot) -> None:
    """A second caller ID for phone calls: with two, only `from` or the default can say which one to use."""
    await bot.store.add_caller_id(
        SECOND_PHONE_LINE, label="Sales line", channels=frozenset({Channel.PSTN}), added_by="test", at=datetime.now(UTC)
    )


async def test_from_picks_between_two_caller_ids_for_the_same_channel(
    two_phone_lines: None, bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant
) -> None:
    for typed, expected in [("+1 (415) 555-0125", SECOND_PHONE_LINE), ("415-555-0123", CALLER_ID)]:
        before = len(fake_voximplant.sessions)
        response = await slack.command(f"+14155550100 from {typed} hello")
        assert response.status_code == 200 and response.text == "", response.text
        await eventually(lambda n=before + 1: len(fake_voximplant.sessions) == n)
        assert (await fake_voximplant.briefed(fake_voximplant.sessions[-1]))["caller_id"] == expected
    # Without `from` and without a default, two candidates are a question, not a guess.
    answer = (await slack.command("+14155550100 hello")).json()["text"]
    assert "Say which number to call from" in answer


@pytest.fixture
def default_caller_id(bot_settings: dict[str, Any]) -> None:
    bot_settings["default_caller_id"] = "+1 (415) 555-0125"  # as people write it; the allowlist keeps E.164


async def test_the_default_caller_id_is_used_when_the_command_names_none(
    default_caller_id: None, two_phone_lines: None, bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant
) -> None:
    assert bot.settings.default_caller_id == SECOND_PHONE_LINE
    response = await slack.command("+14155550100 hello")
    assert response.status_code == 200 and response.text == "", response.text
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    assert (await fake_voximplant.briefed(fake_voximplant.sessions[0]))["caller_id"] == SECOND_PHONE_LINE
