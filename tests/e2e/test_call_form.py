"""The call form over HTTP: `/call` and both shortcuts open it, its submissions are checked as `/call` text is."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from bot.calls.models import CallState, Channel
from bot.sandbox.block_kit import view_problems
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.slack_requests import SlackSender
from tests.conftest import CALLER_ID, DESTINATION, Bot, eventually

SIP_CALLER_ID = "+14155550124"
MESSAGE = {
    "type": "message",
    "user": "U0BOB",
    "ts": "1700000100.000200",
    "text": "Please call &lt;Ana&gt; at <tel:+14155550100|+1 415-555-0100> about the invoice",
    "team": "T0SANDBOX",
}


def opened(fake_slack: FakeSlack) -> dict[str, Any]:
    """The view of the one views.open call so far, as the bot sent it."""
    calls = fake_slack.calls_to("views.open")
    assert len(calls) == 1, calls
    view = calls[0].params["view"]
    return json.loads(view) if isinstance(view, str) else view  # type: ignore[no-any-return]


def field(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)  # type: ignore[no-any-return]


def values(
    *,
    destination: str | None = None,
    channel: str | None = None,
    caller_id: str | None = None,
    duration: str | None = None,
    instructions: str | None = "say hello",
    conversation: str | None = "C0GENERAL",
) -> dict[str, dict[str, dict[str, Any]]]:
    """`view.state.values` as Slack sends them on submit (Slack sends no form without its required instructions)."""

    def option(value: str | None) -> dict[str, Any] | None:
        return {"text": {"type": "plain_text", "text": value, "emoji": True}, "value": value} if value else None

    return {
        "destination": {"destination": {"type": "plain_text_input", "value": destination}},
        "channel": {"channel": {"type": "static_select", "selected_option": option(channel)}},
        "caller_id": {"caller_id": {"type": "static_select", "selected_option": option(caller_id)}},
        "duration": {"duration": {"type": "number_input", "value": duration}},
        "instructions": {"instructions": {"type": "plain_text_input", "value": instructions}},
        "conversation": {"conversation": {"type": "conversations_select", "selected_conversation": conversation}},
    }


async def open_form(slack: SlackSender, fake_slack: FakeSlack, text: str = "") -> dict[str, Any]:
    response = await slack.command(text)
    assert response.status_code == 200 and response.text == ""
    assert len(fake_slack.views) == 1
    return fake_slack.views[0]


async def refused(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200
    body = response.json()
    assert body["response_action"] == "errors", body
    return body["errors"]  # type: ignore[no-any-return]


# -- opening ------------------------------------------------------------------------------------------------------


async def test_call_alone_opens_the_form(bot: Bot, slack: SlackSender, fake_slack: FakeSlack) -> None:
    response = await slack.command("")
    assert response.status_code == 200 and response.text == ""
    call = fake_slack.calls_to("views.open")[0]
    assert call.params["trigger_id"].split(".")[0].isdigit()
    view = opened(fake_slack)
    assert view_problems(view) == []
    assert view["type"] == "modal" and view["callback_id"] == "call_modal"
    assert view["title"] == {"type": "plain_text", "text": "Place a call"}
    assert json.loads(view["private_metadata"]) == {"v": 1, "conversation_id": "C0GENERAL"}
    assert [b["block_id"] for b in view["blocks"]] == [
        "destination", "channel", "caller_id", "duration", "instructions", "voicemail", "when", "retry", "conversation",
    ]  # fmt: skip
    assert "initial_value" not in field(view, "destination")["element"]
    caller = field(view, "caller_id")["element"]
    support = {"text": {"type": "plain_text", "text": "Support line · +1 415-555-0123"}, "value": CALLER_ID}
    assert caller["options"] == [support] and caller["initial_option"] == support
    assert [o["value"] for o in field(view, "channel")["element"]["options"]] == ["pstn", "sip", "user", "whatsapp"]
    assert field(view, "duration")["element"]["max_value"] == "10"
    assert field(view, "instructions")["element"]["multiline"] is True
    assert field(view, "conversation")["element"] == {
        "type": "conversations_select", "action_id": "conversation", "initial_conversation": "C0GENERAL",
        "response_url_enabled": True,
    }  # fmt: skip


async def test_partial_command_opens_the_form_filled_in(bot: Bot, slack: SlackSender, fake_slack: FakeSlack) -> None:
    await slack.command("from +14155550123 via whatsapp for 5m remind Ana about the review")
    view = opened(fake_slack)
    assert field(view, "channel")["element"]["initial_option"]["value"] == "whatsapp"
    assert field(view, "caller_id")["element"]["initial_option"]["value"] == CALLER_ID
    assert field(view, "duration")["element"]["initial_value"] == "5"
    assert field(view, "instructions")["element"]["initial_value"] == "remind Ana about the review"


async def test_a_number_without_instructions_opens_the_form_to_say_what_the_agent_should_say(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    response = await slack.command("+1 (415) 555-0100 via phone")
    assert response.status_code == 200 and response.text == ""
    view = opened(fake_slack)
    assert field(view, "destination")["element"]["initial_value"] == "+1 (415) 555-0100"
    assert "initial_value" not in field(view, "instructions")["element"]
    assert not field(view, "instructions").get("optional")  # Slack asks for it before the form can be sent
    await bot.idle()
    assert fake_voximplant.requests == [] and await bot.store.recent_calls() == []


async def test_help_is_a_usage_card(bot: Bot, slack: SlackSender, fake_slack: FakeSlack) -> None:
    response = await slack.command("help")
    body = response.json()
    assert body["response_type"] == "ephemeral"
    rendered = json.dumps(body["blocks"])
    assert "[via phone|sip|user|whatsapp] [for <minutes>m]" in body["text"]
    assert "sip:desk@pbx.example.com via sip" in rendered and "00 44 20 7946 0000" in rendered
    assert fake_slack.calls_to("views.open") == []


@pytest.mark.parametrize(
    ("trigger", "error"),
    [("1.1600000000.abcdef", "expired_trigger_id"), ("not-a-trigger", "invalid_trigger_id")],
)
async def test_a_form_that_cannot_open_is_explained(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, trigger: str, error: str
) -> None:
    response = await slack.command("say hi", trigger_id=trigger)
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert f"I couldn't open the call form ({error})" in body["text"] and "/call +14155550100" in body["text"]
    assert fake_slack.views == []


async def test_a_form_slack_fails_to_open_with_a_non_json_answer_is_explained(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack
) -> None:
    fake_slack.fail_next("views.open", status=502, text="Bad Gateway")  # a proxy's answer, not Slack's JSON
    body = (await slack.command("say hi")).json()
    assert body["response_type"] == "ephemeral"
    assert "I couldn't open the call form (unknown error)" in body["text"]


async def test_a_rate_limited_form_is_not_waited_out_the_person_is_told_when_to_try_again(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack
) -> None:
    # Sleeping 30 s on Retry-After would outlive the 3 s trigger and Slack's 3 s wait for the ack (the sender's
    # timeout is 10 s): the answer comes at once, and views.open is not tried again.
    fake_slack.fail_next("views.open", status=429, retry_after=30)
    body = (await slack.command("say hi")).json()
    assert body["response_type"] == "ephemeral"
    assert body["text"].startswith(
        "Slack asked callbot to slow down, so I couldn't open the call form. Try `/call` again in 30 s"
    )
    assert len(fake_slack.calls_to("views.open")) == 1 and fake_slack.views == []


async def test_a_rate_limited_form_from_a_message_shortcut_is_answered_through_its_response_url(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack
) -> None:
    fake_slack.fail_next("views.open", status=429, retry_after=30)
    assert (await slack.message_action("call_about_message", MESSAGE)).status_code == 200
    await eventually(lambda: len(fake_slack.responses) == 1)
    assert "Try `/call` again in 30 s" in fake_slack.responses[0]["text"]
    assert len(fake_slack.calls_to("views.open")) == 1


async def test_a_trigger_opens_one_form_only(bot: Bot, slack: SlackSender, fake_slack: FakeSlack) -> None:
    trigger = slack.new_trigger_id()
    assert (await slack.command("", trigger_id=trigger)).text == ""
    again = await slack.command("", trigger_id=trigger)
    assert "exchanged_trigger_id" in again.json()["text"]
    assert len(fake_slack.views) == 1


# -- submitting ---------------------------------------------------------------------------------------------------


async def test_valid_submission_closes_the_form_and_places_the_call(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    view = await open_form(slack, fake_slack)
    response = await slack.view_submission(
        view,
        values(destination="(415) 555-0100", caller_id=CALLER_ID, duration="5", instructions="tell Ana it moved"),
    )
    assert response.status_code == 200 and response.text == ""  # an empty ack closes the form
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    data = await fake_voximplant.briefed(fake_voximplant.sessions[0])
    assert (data["destination"], data["caller_id"], data["channel"]) == (DESTINATION, CALLER_ID, "pstn")
    assert data["instructions"] == "tell Ana it moved" and data["max_duration_s"] == 300
    parent = fake_slack.parents("C0GENERAL")[0]
    assert "Call to +1 415-555-0100" in parent.text and "<@U0ANA>" in json.dumps(parent.blocks)


async def test_sip_destination_uses_a_sip_caller_id(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    await bot.store.add_caller_id(
        SIP_CALLER_ID, label="PBX", channels=frozenset({Channel.SIP}), added_by="test", at=datetime.now(UTC)
    )
    view = await open_form(slack, fake_slack)
    assert len(field(view, "caller_id")["element"]["options"]) == 2
    response = await slack.view_submission(
        view, values(destination="sip:desk@pbx.example.com", caller_id=SIP_CALLER_ID, instructions="check the line")
    )
    assert response.text == ""
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    data = await fake_voximplant.briefed(fake_voximplant.sessions[0])
    assert (data["channel"], data["destination"], data["caller_id"]) == (
        "sip",
        "sip:desk@pbx.example.com",
        SIP_CALLER_ID,
    )


@pytest.mark.parametrize(
    ("submitted", "errors"),
    [
        ({"destination": "911"}, {"destination": "emergency number"}),
        ({"destination": "+1 900 555 0100"}, {"destination": "premium-rate"}),
        ({"destination": "sip:desk", "channel": "sip"}, {"destination": "not a SIP address", "caller_id": "for SIP"}),
        ({"destination": "two words", "channel": "user"}, {"destination": "not an app user", "caller_id": "app user"}),
        ({"destination": "911", "duration": "30"}, {"destination": "emergency number", "duration": "at most 10"}),
        ({"destination": "+14155550100", "duration": "30"}, {"duration": "at most 10 minutes"}),
        ({"destination": "+14155550100", "channel": "whatsapp"}, {"caller_id": "for WhatsApp calls"}),
        ({"destination": "+14155550100", "instructions": "x" * 3001}, {"instructions": "3001 characters"}),
        ({"destination": "+14155550100", "instructions": "  "}, {"instructions": "Say what the agent should tell"}),
        ({"destination": "+14155550100", "conversation": None}, {"conversation": "Choose the conversation"}),
    ],
)
async def test_invalid_submission_is_refused_under_its_field(
    bot: Bot,
    slack: SlackSender,
    fake_slack: FakeSlack,
    fake_voximplant: FakeVoximplant,
    submitted: dict[str, Any],
    errors: dict[str, str],
) -> None:
    view = await open_form(slack, fake_slack)
    answer = await refused(await slack.view_submission(view, values(**submitted)))
    assert answer.keys() == errors.keys()
    for block_id, words in errors.items():
        assert words in answer[block_id]
    await bot.idle()
    assert fake_voximplant.requests == [] and fake_slack.messages == []
    assert await bot.store.calls_in_state(CallState.REQUESTED) == []


async def test_missing_destination_is_refused_under_it(bot: Bot, slack: SlackSender, fake_slack: FakeSlack) -> None:
    view = await open_form(slack, fake_slack)
    answer = await refused(await slack.view_submission(view, values(destination=None)))
    assert "Say who to call" in answer["destination"]


async def test_forged_metadata_replaces_the_form_with_an_explanation(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    view = await open_form(slack, fake_slack)
    forged = {**view, "private_metadata": '{"v":1,"conversation_id":"not a channel"}'}
    body = (await slack.view_submission(forged, values(destination=DESTINATION))).json()
    assert body["response_action"] == "update"
    assert "out of date" in json.dumps(body["view"]) and view_problems(body["view"]) == []
    assert fake_voximplant.requests == []


@pytest.fixture
def unconfigured(bot_settings: dict[str, object]) -> None:
    bot_settings.update(voximplant_rule_id=None, voximplant_api_key=None, voximplant_account_id=None)


async def test_refusal_about_no_field_replaces_the_form(
    unconfigured: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack
) -> None:
    view = await open_form(slack, fake_slack)
    body = (await slack.view_submission(view, values(destination=DESTINATION))).json()
    assert body["response_action"] == "update"
    assert body["view"]["title"]["text"] == "Can't place this call"
    assert "Calling is not set up" in json.dumps(body["view"]) and view_problems(body["view"]) == []


# -- shortcuts ----------------------------------------------------------------------------------------------------


async def test_global_shortcut_opens_the_form_for_the_current_conversation(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    response = await slack.shortcut("place_call")
    assert response.status_code == 200 and response.text == ""
    view = opened(fake_slack)
    assert json.loads(view["private_metadata"]) == {"v": 1}
    assert field(view, "conversation")["element"]["default_to_current_conversation"] is True
    submitted = await slack.view_submission(
        fake_slack.views[0], values(destination=DESTINATION, conversation="C0OTHER", instructions="hello")
    )
    assert submitted.text == ""
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    parents = fake_slack.parents("C0OTHER")
    assert len(parents) == 1 and parents[0].thread_ts is None


async def test_message_shortcut_calls_about_the_message_and_replies_to_it(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    response = await slack.message_action("call_about_message", MESSAGE)
    assert response.status_code == 200 and response.text == ""
    view = opened(fake_slack)
    assert view_problems(view) == []
    assert json.loads(view["private_metadata"]) == {"v": 1, "conversation_id": "C0GENERAL", "thread_ts": MESSAGE["ts"]}
    instructions = field(view, "instructions")["element"]["initial_value"]
    assert instructions == "Please call <Ana> at +14155550100 about the invoice"
    await slack.view_submission(fake_slack.views[0], values(destination=DESTINATION, instructions=instructions))
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    assert (await fake_voximplant.briefed(fake_voximplant.sessions[0]))["instructions"] == instructions
    call_message = fake_slack.messages[0]
    assert call_message.channel == "C0GENERAL" and call_message.thread_ts == MESSAGE["ts"]
    assert "Call to +1 415-555-0100" in call_message.text
    # the milestones follow in the same thread, under the message the shortcut was used on
    assert (await fake_voximplant.send_event(fake_voximplant.sessions[0], "dialing")).status_code == 200
    await eventually(lambda: any("Dialing" in m.text for m in fake_slack.messages[1:]))
    assert {m.thread_ts for m in fake_slack.messages} == {MESSAGE["ts"]}


async def test_message_shortcut_inside_a_thread_replies_in_that_thread(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack
) -> None:
    await slack.message_action("call_about_message", {**MESSAGE, "ts": "1700000200.000300", "thread_ts": MESSAGE["ts"]})
    assert json.loads(opened(fake_slack)["private_metadata"])["thread_ts"] == MESSAGE["ts"]


async def test_message_shortcut_posted_elsewhere_starts_its_own_thread(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    await slack.message_action("call_about_message", MESSAGE)
    await slack.view_submission(fake_slack.views[0], values(destination=DESTINATION, conversation="C0OTHER"))
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    assert fake_slack.messages[0].channel == "C0OTHER" and fake_slack.messages[0].thread_ts is None


async def test_message_shortcut_that_cannot_open_the_form_says_so(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack
) -> None:
    fake_slack.now = lambda: time.time() + 60  # every trigger has expired by the time it is used
    response = await slack.message_action("call_about_message", MESSAGE)
    assert response.status_code == 200
    await eventually(lambda: len(fake_slack.responses) == 1)
    assert "I couldn't open the call form (expired_trigger_id)" in fake_slack.responses[0]["text"]
    assert fake_slack.responses[0]["response_type"] == "ephemeral"


async def test_global_shortcut_that_cannot_open_the_form_says_so_in_a_dm(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack
) -> None:
    fake_slack.now = lambda: time.time() + 60
    assert (await slack.shortcut("place_call")).status_code == 200
    await eventually(lambda: len(fake_slack.messages) == 1)
    assert fake_slack.messages[0].channel == "D0ANA"
    assert "I couldn't open the call form (expired_trigger_id)" in fake_slack.messages[0].text
    assert fake_slack.views == []
