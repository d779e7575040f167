"""Admin commands over the harness: lists change only for admins, every change and refusal is audited."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.calls.models import Channel
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.slack_requests import SlackSender
from tests.conftest import Bot, eventually

ADMIN = "U0ADMIN"
MEMBER = "U0ANA"


@pytest.fixture(autouse=True)
def admins(bot_settings: dict[str, Any]) -> None:
    bot_settings["callbot_admins"] = [ADMIN]


async def say(slack: SlackSender, text: str, user: str = ADMIN) -> str:
    response = await slack.command(text, user_id=user)
    assert response.status_code == 200
    body = response.json()
    assert body.get("response_type") == "ephemeral"
    return str(body["text"])


# What each refused attempt is audited as: the number or prefix as it would have been stored, however it was typed.
ADMIN_ONLY = {
    'callerid add +14155550999 "Sales line"': ("callerid.add", "+14155550999"),
    "callerid add +1 415 555 0999 Sales": ("callerid.add", "+14155550999"),
    "callerid add <tel:+14155550999|+1 415 555 0999> Sales": ("callerid.add", "+14155550999"),
    "callerid remove +14155550123": ("callerid.remove", "+14155550123"),
    "callerid remove 911": ("callerid.remove", "911"),
    "deny add +1900 premium": ("deny.add", "+1900"),
    "deny add +1 900 premium": ("deny.add", "+1900"),
    "deny remove +1900": ("deny.remove", "+1900"),
    "deny list": ("deny.list", ""),
}


async def test_a_non_admin_cannot_change_any_list_and_each_attempt_is_audited(
    bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant
) -> None:
    await bot.store.add_denied("+1900", reason="premium", added_by=ADMIN, at=datetime.now(UTC))
    for text in ADMIN_ONLY:
        assert (await say(slack, text, user=MEMBER)).startswith("Only callbot admins can"), text
    # who to ask is named, as a mention: people cannot see the CALLBOT_ADMINS setting
    assert (
        await say(slack, "deny add +1976", user=MEMBER)
        == "Only callbot admins can change the deny list. Ask <@U0ADMIN>."
    )
    assert [e.number for e in await bot.store.caller_ids()] == ["+14155550123"]
    assert [d.prefix for d in await bot.store.denied_destinations()] == ["+1900"]
    entries = await bot.store.audit_entries()
    assert [(e.action, e.target) for e in entries] == [*ADMIN_ONLY.values(), ("deny.add", "+1976")]
    assert {(e.actor, e.allowed, e.detail) for e in entries} == {(MEMBER, False, "refused: not an admin")}
    assert fake_voximplant.requests == []


async def test_an_admin_adds_lists_and_removes_a_caller_id(bot: Bot, slack: SlackSender) -> None:
    answer = await say(slack, "callerid add +1 (415) 555-0999 “Sales line” channels: pstn, whatsapp")
    assert answer == "Added +1 415-555-0999 (Sales line) for pstn, whatsapp."
    entry = await bot.store.caller_id("+14155550999")
    assert entry is not None and entry.channels == {Channel.PSTN, Channel.WHATSAPP} and entry.added_by == ADMIN
    listing = await say(slack, "callerid list", user=MEMBER)  # everyone may see what they can call from
    assert listing.startswith("*Allowed caller IDs*")
    assert "+1 415-555-0999 (Sales line) · pstn, whatsapp · added by <@U0ADMIN>" in listing
    assert await say(slack, "callerid remove +14155550999") == "Removed +1 415-555-0999 from the allowed caller IDs."
    assert await bot.store.caller_id("+14155550999") is None
    actions = [(e.actor, e.action, e.target, e.allowed) for e in await bot.store.audit_entries()]
    assert actions == [
        (ADMIN, "callerid.add", "+14155550999", True),
        (ADMIN, "callerid.remove", "+14155550999", True),
    ]


async def test_an_admin_adds_a_caller_id_typed_as_slack_escapes_it(bot: Bot, slack: SlackSender) -> None:
    answer = await say(slack, 'callerid add <tel:+14155550999|+1 415 555 0999> "Support &amp; sales"')
    assert answer == "Added +1 415-555-0999 (Support &amp; sales) for pstn."
    entry = await bot.store.caller_id("+14155550999")
    assert entry is not None and entry.label == "Support & sales"
    assert (await say(slack, "deny add <tel:+1900|+1 900> premium")).startswith("Added `+1900`")


async def test_a_bad_channel_name_is_explained(bot: Bot, slack: SlackSender) -> None:
    answer = await say(slack, "callerid add +14155550999 Sales channels: pstn,fax")
    assert "Unknown channel" in answer and "pstn, sip, user or whatsapp" in answer
    assert await bot.store.caller_id("+14155550999") is None


async def test_a_denied_prefix_refuses_calls_before_voximplant(
    bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant, fake_slack: FakeSlack
) -> None:
    assert (await say(slack, "deny add +1 415 555 01 harassment reports")).startswith("Added `+141555501`")
    refused = await say(slack, "+14155550100 hello", user=MEMBER)
    assert "+1 415-555-0100 is on this workspace's deny list (harassment reports)" in refused
    assert fake_voximplant.requests == [] and fake_slack.messages == []
    assert "`+141555501` (harassment reports)" in await say(slack, "deny list")
    assert await say(slack, "deny remove +141555501") == "Removed `+141555501` from the deny list."
    assert (await slack.command("+14155550100 hello", user_id=MEMBER)).text == ""
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    assert [e.action for e in await bot.store.audit_entries()] == ["deny.add", "deny.remove"]


async def test_an_unreadable_prefix_is_refused(bot: Bot, slack: SlackSender) -> None:
    assert "neither a number nor a prefix" in await say(slack, "deny add premium")
    assert await bot.store.denied_destinations() == []


@pytest.fixture
def workspace_admins(bot_settings: dict[str, Any], fake_slack: FakeSlack) -> None:
    bot_settings["workspace_admins_are_admins"] = True
    fake_slack.add_user("U0OWNER", owner=True)
    fake_slack.add_user("U0PLAIN")


async def test_workspace_owners_are_admins_when_the_setting_says_so(
    workspace_admins: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack
) -> None:
    assert (await say(slack, "deny add +1900", user="U0OWNER")).startswith("Added")
    assert await say(slack, "deny add +1976", user="U0PLAIN") == (
        "Only callbot admins can change the deny list. Ask <@U0ADMIN> or a workspace admin."
    )
    assert [c.params["user"] for c in fake_slack.calls_to("users.info")] == ["U0OWNER", "U0PLAIN"]


async def test_when_slack_does_not_say_in_time_who_is_an_admin_the_change_is_refused_and_audited(
    workspace_admins: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack
) -> None:
    fake_slack.slow_down("users.info", 3.0)
    started = time.monotonic()
    answer = await say(slack, "deny add +1900", user="U0OWNER")
    assert time.monotonic() - started < 2.0
    assert answer == "Slack did not tell me in time whether you are a callbot admin; try again in a moment."
    assert await bot.store.denied_destinations() == []
    [entry] = await bot.store.audit_entries()
    assert (entry.actor, entry.action, entry.allowed, entry.detail) == (
        "U0OWNER", "deny.add", False, "refused: Slack did not answer",
    )  # fmt: skip


async def test_workspace_admins_are_not_admins_by_default(bot: Bot, slack: SlackSender, fake_slack: FakeSlack) -> None:
    fake_slack.add_user("U0OWNER", owner=True)
    assert (await say(slack, "deny add +1900", user="U0OWNER")).startswith("Only callbot admins")
    assert fake_slack.calls_to("users.info") == []


async def test_history_and_status(bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant) -> None:
    assert await say(slack, "history", user=MEMBER) == "You have not placed any calls yet."
    assert (await slack.command("+14155550100 hello", user_id=MEMBER)).text == ""
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    call_id = fake_voximplant.sessions[0].call_id
    mine = await say(slack, "history 5", user=MEMBER)
    assert mine.startswith("*Your last 1 calls*") and f"`{call_id}`" in mine and "+1 415-555-0100" in mine
    assert await say(slack, "history", user="U0OTHER") == "You have not placed any calls yet."
    assert f"`{call_id}`" in await say(slack, "history")  # admins see everyone's, with who asked
    assert "<@U0ANA>" in await say(slack, "history")
    status = await say(slack, f"status {call_id}", user=MEMBER)
    assert f"*Call `{call_id}`* to +1 415-555-0100" in status and "from +1 415-555-0123" in status
    assert "I found no call" in await say(slack, f"status {call_id}", user="U0OTHER")
    assert f"*Call `{call_id}`*" in await say(slack, f"status {call_id}")
