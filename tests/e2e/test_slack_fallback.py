"""Where the bot cannot post, the call follows the requester into a DM, saying why."""

from __future__ import annotations

from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.slack_requests import SlackSender
from tests.conftest import Bot, eventually


async def test_private_conversation_falls_back_to_dm(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    fake_slack.channel_errors["C0SECRET"] = "channel_not_found"
    response = await slack.command("+14155550100 hi", channel_id="C0SECRET")
    assert response.text == ""
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    parents = fake_slack.parents()
    assert [p.channel for p in parents] == ["D0ANA"]
    note = fake_slack.thread(parents[0])[0].text
    assert "couldn't post in <#C0SECRET> (channel_not_found)" in note
    session = fake_voximplant.sessions[0]
    await fake_voximplant.send_event(session, "ringing")
    await eventually(lambda: len(fake_slack.thread(parents[0])) == 2)
    assert fake_slack.thread(parents[0])[1].text == ":bell: Ringing…"


async def test_nowhere_to_post_means_no_call(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    fake_slack.channel_errors["C0GONE"] = "is_archived"
    fake_slack.channel_errors["U0ANA"] = "cannot_dm_bot"
    await slack.command("+14155550100 hi", channel_id="C0GONE")
    await bot.idle()
    # Tried in the conversation and the DM when placing; the failure's own writes then have nowhere to go, and
    # are dropped without asking Slack again.
    assert [c.params["channel"] for c in fake_slack.calls_to("chat.postMessage")] == ["C0GONE", "U0ANA"]
    assert fake_voximplant.requests == []
