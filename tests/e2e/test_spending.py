"""Spending caps over the harness: a call's cost from its `disconnected` event, `/call` and the form refused once the
cap is reached, and `/call spend` for admins only."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.slack_requests import SlackSender
from tests.conftest import DESTINATION, Bot
from tests.e2e.test_call_flow import place
from tests.e2e.test_call_form import open_form, values
from tests.e2e.test_guard_rails import refused

RESETS = r"It resets at 00:00 UTC, in (\d+ minutes?|\d+ h \d\d min)\.$"


@pytest.fixture
def capped(bot_settings: dict[str, Any]) -> None:
    bot_settings.update(spend_per_person_day=0.05, spend_per_workspace_month=1.0, callbot_admins=["U0ADMIN"])


async def call_costing(slack: SlackSender, fake_voximplant: FakeVoximplant, bot: Bot, cost: float) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    await fake_voximplant.send_event(session, "connected")
    await fake_voximplant.send_event(session, "disconnected", {"duration_s": 20, "cost": cost})
    await bot.idle()
    call = await bot.store.call(session.call_id)
    assert call is not None and call.cost == cost  # kept from the disconnected event


async def test_a_person_at_the_daily_cap_is_refused_in_the_command_and_the_form(
    capped: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    await call_costing(slack, fake_voximplant, bot, 0.04)
    await call_costing(slack, fake_voximplant, bot, 0.01)  # 0.04 spent is under 0.05: allowed; now 0.05
    answer = await refused(slack, f"{DESTINATION} once more")
    assert answer.startswith(
        "You have spent 0.05 on calls today (UTC); the cap is 0.05 a day per person (in your Voximplant account's "
        "currency)."
    )
    assert re.search(RESETS, answer), answer
    sessions = len(fake_voximplant.sessions)
    view = await open_form(slack, fake_slack)
    response = await slack.view_submission(view, values(destination=DESTINATION, instructions="hi"))
    body = response.json()
    assert body["response_action"] == "update"  # a limit is no field's fault: the form says why on a page
    assert "You have spent 0.05 on calls today (UTC)" in json.dumps(body["view"])
    assert len(fake_voximplant.sessions) == sessions  # nothing was dialled
    assert (await slack.command(f"{DESTINATION} hello", user_id="U0BEN")).text == ""  # the cap is per person


async def test_admins_see_the_month_s_spending_and_others_are_told_they_cannot(
    capped: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    await call_costing(slack, fake_voximplant, bot, 0.0312)
    answer = (await slack.command("spend", user_id="U0ADMIN")).json()
    assert answer["response_type"] == "ephemeral"
    lines = answer["text"].split("\n")
    assert re.fullmatch(r"\*Spending in \w+ \d{4}\* \(UTC\), in your Voximplant account's currency", lines[0])
    assert lines[1].startswith("This workspace: 0.0312 on 1 call · the cap is 1.00 a month; the month resets on 1 ")
    assert lines[2:] == [
        "Each person: at most 0.05 a day (UTC days).",
        "*Who spent most this month*",
        "• <@U0ANA> 0.0312 on 1 call",
    ]
    denied = (await slack.command("spend")).json()["text"]
    assert denied.startswith("Only callbot admins can see what calls cost.")
    entries = await bot.store.audit_entries()
    assert (entries[-1].actor, entries[-1].action, entries[-1].allowed) == ("U0ANA", "spend", False)
    assert "`/call spend`" in json.dumps((await slack.command("help")).json())  # listed among the admin commands
