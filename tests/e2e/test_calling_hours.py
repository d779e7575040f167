"""Calling hours through the running app: `/call` outside them gets an ephemeral refusal naming the local time and
dials nothing; the form gives a callbot admin a field to call anyway with a reason, which is audited."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.sandbox.block_kit import view_problems
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.slack_requests import SlackSender
from bot.state import state_of
from tests.conftest import Bot, eventually
from tests.e2e.test_call_form import field, opened, values

DESTINATION = "+1 212 555 0100"  # New York


@pytest.fixture
def bot_settings(bot_settings: dict[str, Any]) -> dict[str, Any]:
    """Calling hours that are closed in New York now, whenever the test runs: from two hours on, for one hour."""
    here = datetime.now(UTC).astimezone(ZoneInfo("America/New_York"))
    start, end = here + timedelta(hours=2), here + timedelta(hours=3)
    bot_settings.update(calling_hours=f"{start:%H:%M}-{end:%H:%M}", callbot_admins=["U0ADMIN"])
    return bot_settings


async def test_a_call_outside_calling_hours_is_refused_ephemerally_with_the_local_time(
    bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant, fake_slack: FakeSlack
) -> None:
    response = await slack.command(f"{DESTINATION} remind Ana about the review")
    body = response.json()
    assert response.status_code == 200 and body["response_type"] == "ephemeral"
    assert re.match(r"It's \d\d:\d\d in New York, where \+1 212-555-0100 rings; callbot places calls", body["text"])
    assert "You can call it in 2 h" in body["text"] and "ask a callbot admin" in body["text"]
    await bot.idle()
    assert fake_voximplant.requests == [] and fake_slack.messages == []


async def test_the_form_lets_an_admin_call_anyway_with_a_reason_and_audits_it(
    bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant, fake_slack: FakeSlack
) -> None:
    await slack.command("", user_id="U0ANA")
    assert "after_hours_reason" not in [b.get("block_id") for b in opened(fake_slack)["blocks"]]

    await slack.command("", user_id="U0ADMIN")
    view = fake_slack.views[-1]
    assert view_problems(view) == []
    reason_field = field(view, "after_hours_reason")
    assert reason_field["optional"] is True and reason_field["label"]["text"] == "Outside calling hours"

    form = values(destination=DESTINATION, instructions="the site is down: ask Ana to join the bridge")
    refused = await slack.view_submission(view, form, user_id="U0ADMIN")
    assert "As a callbot admin you can call anyway" in refused.json()["errors"]["destination"]
    assert fake_voximplant.requests == []

    form["after_hours_reason"] = {"after_hours_reason": {"type": "plain_text_input", "value": "production outage"}}
    placed = await slack.view_submission(view, form, user_id="U0ADMIN")
    assert placed.status_code == 200 and placed.text == ""
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    entries = await state_of(bot.app).store.audit_entries()
    assert [(e.actor, e.action, e.target, e.detail, e.allowed) for e in entries] == [
        ("U0ADMIN", "call.after_hours", "+12125550100", "outside calling hours: production outage", True)
    ]


@pytest.fixture
def workspace_admins(bot_settings: dict[str, Any], fake_slack: FakeSlack) -> None:
    bot_settings["workspace_admins_are_admins"] = True
    fake_slack.add_user("U0OWNER", owner=True)
    fake_slack.add_user("U0BOB")


async def test_a_workspace_admin_sees_the_reason_field_when_workspace_admins_are_admins(
    workspace_admins: None, fake_slack: FakeSlack, bot: Bot, slack: SlackSender
) -> None:
    # The refusal tells an admin to give a reason in the form: a workspace admin who counts as one must find the field.
    await slack.command("", user_id="U0OWNER")
    assert field(fake_slack.views[-1], "after_hours_reason")["label"]["text"] == "Outside calling hours"
    await slack.command("", user_id="U0BOB")
    assert "after_hours_reason" not in [b.get("block_id") for b in fake_slack.views[-1]["blocks"]]
