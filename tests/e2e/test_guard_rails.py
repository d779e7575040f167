"""Guard rails over the harness: emergency and costly numbers, who may call, and the call limits."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import phonenumbers
import pytest

from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.slack_requests import SlackSender
from tests.calls.test_numbers import EMERGENCY
from tests.conftest import Bot, eventually
from tests.e2e.test_call_form import open_form, values

SLACK_TOO_SLOW = "Slack did not tell me in time whether you may call; try again in a moment."


async def refused(slack: SlackSender, text: str, user: str = "U0ANA") -> str:
    response = await slack.command(text, user_id=user)
    assert response.status_code == 200
    body = response.json()
    assert body.get("response_type") == "ephemeral"
    return str(body["text"])


EMERGENCY_WORDS = "is an emergency number. callbot never dials emergency services: call them yourself, now."


def typed_here(region: str, typed: str) -> str:
    """A row of the emergency table as someone at a bot in the US types it: another country's national short number
    gets that country's code (`+44 999`), forms with a country code already stay as they are."""
    if region == "US" or typed.startswith(("+", "00", "011")):
        return typed
    return f"+{phonenumbers.country_code_for_region(region)} {typed}"


# Beyond the phone network: SIP addresses whose user part dials an emergency number, and WhatsApp.
SIP_AND_WHATSAPP = [
    "sip:911@gw.example.com check the line", "911@gw.example.com hi", "sips:+44-999@gw.example.com hi",
    "sip:911;phone-context=+1@example.com hi", "sip:112;phone-context=+49@gw.example.com hi",
    "sip:%39%31%31@example.com hi", "sip:*911@gw.example.com hi", "sip:%2B1%20911@gw.example.com via sip hi",
    "911 via whatsapp hi", "+44 999 via whatsapp hi", "112 via wa hi", "+49 110 via whatsapp for 5m hi",
]  # fmt: skip
FULL_WIDTH_911 = "\uff0b\uff11 \uff19\uff11\uff11"  # +1 911 as East Asian input methods type it


# One bot for every row: each e2e test starts and stops servers, which costs more than the checks.
async def test_every_emergency_form_in_every_country_and_channel_is_refused_as_such(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    texts = [f"{typed_here(region, typed)} please help" for region, typed in EMERGENCY]
    texts += [*SIP_AND_WHATSAPP, f"{FULL_WIDTH_911} help"]
    answers = {text: await refused(slack, text) for text in texts}
    # Named first, whatever else is wrong (no caller ID is allowed for SIP or WhatsApp here).
    assert [(text, answer) for text, answer in answers.items() if EMERGENCY_WORDS not in answer.splitlines()[0]] == []
    assert len(texts) == len(EMERGENCY) + 13 > 85
    await bot.idle()
    assert [r for r in fake_voximplant.requests if r["method"] == "StartScenarios"] == []
    assert fake_slack.messages == []


SAFETY_TABLE = [
    ("1-911 my house is on fire", "1-911 is an emergency number"),
    ("+49 112 hello", "+49 112 is an emergency number"),
    ("011 44 999", "011 44 999 is an emergency number"),
    ("611 hello", "611 is a short code"),
    ("+44 901 234 5678 hi", "premium-rate"),
    ("+49 180 1 2345 hi", "shared-cost"),
    ("sip:+19005550100@gw.example.com hi", "premium-rate"),
]


async def test_emergency_short_and_costly_numbers_never_reach_voximplant(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    answers = {text: await refused(slack, text) for text, _ in SAFETY_TABLE}
    assert [(text, answers[text]) for text, expected in SAFETY_TABLE if expected not in answers[text]] == []
    await bot.idle()
    assert fake_voximplant.requests == [] and fake_slack.messages == []


@pytest.fixture
def only_callers_channel(bot_settings: dict[str, Any], fake_slack: FakeSlack) -> None:
    bot_settings["allowed_callers"] = ["C0CALLERS", "S0SUPPORT"]
    bot_settings["callbot_admins"] = ["U0ADMIN"]
    fake_slack.channel_members["C0CALLERS"] = [f"U0{n:04d}" for n in range(450)] + ["U0ANA"]  # three pages
    fake_slack.usergroups["S0SUPPORT"] = ["U0BEN"]


async def test_someone_outside_the_allowed_channels_and_groups_cannot_call(
    only_callers_channel: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    answer = await refused(slack, "+14155550100 hello", user="U0EVE")
    assert answer == (
        "Only members of <#C0CALLERS> or <!subteam^S0SUPPORT> may place calls with callbot. "
        "If you need to, ask <@U0ADMIN>."
    )
    assert fake_voximplant.requests == []
    pages = fake_slack.calls_to("conversations.members")
    assert len(pages) == 3 and all(p.params["channel"] == "C0CALLERS" for p in pages)


@pytest.mark.parametrize("user", ["U0ANA", "U0BEN", "U0ADMIN"])
async def test_members_of_an_allowed_channel_or_group_and_admins_can_call(
    only_callers_channel: None, bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant, user: str
) -> None:
    assert (await slack.command("+14155550100 hello", user_id=user)).text == ""
    await eventually(lambda: len(fake_voximplant.sessions) == 1)


async def test_when_slack_cannot_say_who_is_in_a_group_nobody_outside_calls(
    only_callers_channel: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    fake_slack.channel_errors["C0CALLERS"] = "channel_not_found"
    del fake_slack.usergroups["S0SUPPORT"]
    answer = await refused(slack, "+14155550100 hello", user="U0ANA")
    assert "I couldn't check whether you may place calls" in answer and "channel_not_found" in answer
    assert fake_voximplant.requests == []


async def test_when_slack_is_slow_the_call_is_refused_in_time_and_the_lookup_carries_on(
    only_callers_channel: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    fake_slack.slow_down("usergroups.users.list", 2.2)  # Ben is in S0SUPPORT only: his answer is the slow one
    started = time.monotonic()
    assert await refused(slack, "+14155550100 hello", user="U0BEN") == SLACK_TOO_SLOW
    assert time.monotonic() - started < 2.0  # well inside Slack's 3 s, so nobody retries a timed-out /call
    assert fake_voximplant.requests == []
    # The lookup went on; the next try (a moment later) gets its answer, and Slack is not asked twice.
    assert (await slack.command("+14155550100 hello", user_id="U0BEN")).text == ""
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    assert len(fake_slack.calls_to("usergroups.users.list")) == 1


async def test_a_rate_limited_slack_refuses_at_once_instead_of_waiting_for_retry_after(
    only_callers_channel: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    fake_slack.fail_next("conversations.members", status=429, retry_after=30)
    started = time.monotonic()
    answer = await refused(slack, "+14155550100 hello", user="U0ANA")
    assert time.monotonic() - started < 2.0
    assert answer == (
        "I couldn't check whether you may place calls (Slack said C0CALLERS: ratelimited). "
        "Try again in a minute; if it keeps happening, tell <@U0ADMIN>."
    )
    assert len(fake_slack.calls_to("conversations.members")) == 1 and fake_voximplant.requests == []


async def test_the_form_is_answered_in_time_too_when_slack_is_slow(
    only_callers_channel: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    view = await open_form(slack, fake_slack)
    fake_slack.slow_down("usergroups.users.list", 3.0)
    started = time.monotonic()
    response = await slack.view_submission(view, values(destination="+14155550100", instructions="hi"),
                                           user_id="U0BEN")  # fmt: skip
    assert time.monotonic() - started < 2.0
    body = response.json()
    assert body["response_action"] == "update" and SLACK_TOO_SLOW in json.dumps(body["view"])
    assert fake_voximplant.requests == []


@pytest.fixture
def one_call_at_once(bot_settings: dict[str, Any]) -> None:
    bot_settings["concurrent_calls_per_user"] = 1


async def test_form_submissions_racing_for_the_last_place_are_each_answered_with_the_limit(
    only_callers_channel: None, one_call_at_once: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack,
    fake_voximplant: FakeVoximplant,
) -> None:  # fmt: skip
    view = await open_form(slack, fake_slack)
    # All four wait on one slow membership lookup, so all are vetted before any is stored: only create() can refuse.
    fake_slack.slow_down("usergroups.users.list", 0.3)
    form = values(destination="+14155550100", instructions="hi")
    responses = await asyncio.gather(*(slack.view_submission(view, form, user_id="U0BEN") for _ in range(4)))
    assert [r.status_code for r in responses] == [200] * 4
    placed = [r for r in responses if r.text == ""]
    refusals = [r.json() for r in responses if r.text != ""]
    assert len(placed) == 1 and len(refusals) == 3
    for body in refusals:
        assert body["response_action"] == "update"
        assert "You have 1 call under way; the limit is 1 at once." in json.dumps(body["view"])
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    assert fake_slack.responses == []  # nobody got the "something went wrong" message instead


@pytest.fixture
def one_call_an_hour(bot_settings: dict[str, Any]) -> None:
    bot_settings["calls_per_user_per_hour"] = 1


async def test_the_rate_limit_refuses_the_next_call_with_when_it_will_be_allowed(
    one_call_an_hour: None, bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant
) -> None:
    assert (await slack.command("+14155550100 hello")).text == ""
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    answer = await refused(slack, "+14155550101 hello again")
    assert answer.startswith("You have placed 1 call in the last hour; the limit is 1 an hour.")
    assert re.search(
        r"You can place the next one in (59|60) minutes \(at <!date\^\d+\^\{time\}\|\d\d:\d\d UTC>\)\.$", answer
    )
    assert len(fake_voximplant.requests) == 1
    assert (await slack.command("+14155550101 hello", user_id="U0BEN")).text == ""  # the limit is per person
