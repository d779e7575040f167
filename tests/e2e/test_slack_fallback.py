"""Where the bot cannot post, the call follows the requester into a DM, saying why."""

from __future__ import annotations

from bot.calls.models import CallState
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.slack_requests import SlackSender
from bot.slack.texts import reason as reason_words
from tests.conftest import Bot, eventually
from tests.e2e.test_call_form import field, open_form, values


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
    # The person who asked is told, through the command's response_url, only to them.
    assert fake_slack.responses == [
        {
            "text": "I couldn't post the call's thread anywhere (is_archived; in a DM: cannot_dm_bot), so I did not "
            "place the call.",
            "response_type": "ephemeral",
            "replace_original": False,
        }
    ]
    [call] = await bot.store.recent_calls()
    assert call.state is CallState.FAILED and reason_words(call.state_reason) == "its Slack thread could not be posted"


async def test_nowhere_to_post_from_the_form_is_said_through_its_response_url(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    fake_slack.channel_errors["C0GONE"] = "is_archived"
    fake_slack.channel_errors["U0ANA"] = "cannot_dm_bot"
    view = await open_form(slack, fake_slack)
    assert field(view, "conversation")["element"]["response_url_enabled"] is True
    response = await slack.view_submission(view, values(destination="+14155550100", conversation="C0GONE"))
    assert response.status_code == 200 and response.text == ""
    await bot.idle()
    assert fake_voximplant.requests == []
    assert [r["text"] for r in fake_slack.responses] == [
        "I couldn't post the call's thread anywhere (is_archived; in a DM: cannot_dm_bot), so I did not place the call."
    ]
    assert fake_slack.calls_to("chat.postEphemeral") == []  # the response_url reached them: nothing else was tried


async def test_without_a_response_url_the_requester_is_told_where_they_asked(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    # A form submitted without response_urls (a form opened before the select asked for one): chat.postEphemeral
    # in the conversation, which works where a plain message does not (here, blocks Slack refuses).
    view = await open_form(slack, fake_slack)
    fake_slack.fail_next("chat.postMessage", "invalid_blocks")
    where = field(view, "conversation")
    older = {**where, "element": {k: v for k, v in where["element"].items() if k != "response_url_enabled"}}
    submitted = {**view, "blocks": [older if block is where else block for block in view["blocks"]]}
    response = await slack.view_submission(submitted, values(destination="+14155550100"))
    assert response.status_code == 200 and response.text == ""
    await bot.idle()
    assert fake_voximplant.requests == []
    [ephemeral] = fake_slack.ephemeral
    assert ephemeral["channel"] == "C0GENERAL" and ephemeral["user"] == "U0ANA"
    assert (
        ephemeral["text"] == "I couldn't post the call's thread anywhere (invalid_blocks), so I did not place the call."
    )
    assert fake_slack.responses == []


async def test_with_the_messages_tab_off_the_requester_is_told_which_setting_to_turn_on_and_no_call_is_placed(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    # The app as it would be installed without features.app_home in its manifest: Slack's default, no Messages tab.
    fake_slack.manifest = {**fake_slack.manifest, "features": {**fake_slack.manifest["features"], "app_home": {}}}
    fake_slack.channel_errors["C0SECRET"] = "channel_not_found"  # a private channel callbot is not in
    response = await slack.command("+14155550100 hi", channel_id="C0SECRET")
    assert response.status_code == 200 and response.text == ""
    await bot.idle()
    assert [c.params["channel"] for c in fake_slack.calls_to("chat.postMessage")] == ["C0SECRET", "U0ANA"]
    assert fake_slack.messages == []
    assert fake_voximplant.requests == []
    [told] = [r["text"] for r in fake_slack.responses]
    assert told.startswith(
        "I couldn't post the call's thread anywhere (channel_not_found; in a DM: messages_tab_disabled), so I did not "
        "place the call."
    )
    assert "*Messages tab* is off" in told and "features.app_home.messages_tab_enabled: true" in told
    [call] = await bot.store.recent_calls()
    assert call.state is CallState.FAILED


async def test_the_repositorys_manifest_turns_the_messages_tab_on_so_the_dm_fallback_works(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    assert fake_slack.messages_tab_enabled  # the fixture gave the fake Slack manifest.yml
    fake_slack.channel_errors["D0BOBANDANA"] = "channel_not_found"  # a DM between two people
    await slack.command("+14155550100 hi", channel_id="D0BOBANDANA")
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    assert [p.channel for p in fake_slack.parents()] == ["D0ANA"]
