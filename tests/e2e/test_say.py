"""Steering a live call: Say… (the requester or an admin has the agent say something) and keys the agent presses.

Through the real scenario where it matters (the text reaching the fake AI client, a phone menu's key press); the
fake Voximplant's own answers where a test needs the session to answer one way (a refusal, a late press).
"""

from __future__ import annotations

import shutil
from typing import Any

import httpx
import pytest

from bot.calls.models import CallState
from bot.sandbox.fake_slack import FakeSlack, Message
from bot.sandbox.fake_voximplant import FakeVoximplant, Session
from bot.sandbox.simulator import ScenarioSimulator
from bot.sandbox.slack_requests import SlackSender
from bot.slack.ids import ActionId, FieldId
from tests.conftest import Bot, eventually
from tests.e2e.test_call_flow import parent_of, place, thread_texts
from tests.e2e.test_hang_up import call_button, press_button, press_hang_up

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="the VoxEngine simulator needs Node.js")
TEXT = "Tell them the review moved to 4 pm & to bring <their badge>."
SHOWN = "Tell them the review moved to 4 pm &amp; to bring &lt;their badge&gt;."  # as Slack mrkdwn must carry it


def say_button(parent: Message) -> dict[str, Any] | None:
    return call_button(parent, ActionId.SAY)


async def press_say(slack: SlackSender, fake_slack: FakeSlack, user_id: str, parent: Message | None = None) -> None:
    response = await press_button(slack, fake_slack, user_id, ActionId.SAY, parent)
    assert response.status_code == 200


async def submit(slack: SlackSender, view: dict[str, Any], text: str, user_id: str = "U0ANA") -> httpx.Response:
    values = {FieldId.SAY_TEXT: {FieldId.SAY_TEXT: {"type": "plain_text_input", "value": text}}}
    return await slack.view_submission(view, values, user_id=user_id)


async def connected_call(bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant) -> Session:
    """A call the fake Voximplant plays (no scenario): answered."""
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await fake_voximplant.send_event(session, "connected")
    await bot.idle()
    return session


async def says(bot: Bot) -> list[tuple[str, str, str, bool]]:
    entries = await bot.store.audit_entries()
    return [(e.actor, e.target, e.detail, e.allowed) for e in entries if e.action == "call.say"]


@needs_node
async def test_say_reaches_the_agent_through_the_real_scenario_and_the_thread_says_so(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, simulator: ScenarioSimulator
) -> None:
    session = await place(slack, fake_voximplant, "+14155550177 stay on the line")  # answers, never hangs up
    await eventually(lambda: say_button(parent_of(fake_slack)) is not None, timeout=15)
    # The scripted conversation over, nobody is speaking: the agent is asked for a response at once.
    await eventually(lambda: "*Callee:* All right, thank you. Goodbye!" in thread_texts(fake_slack), timeout=15)

    await press_say(slack, fake_slack, "U0ANA")
    await eventually(lambda: len(fake_slack.views) == 1)
    view = fake_slack.views[0]
    assert view["callback_id"] == "call_say_modal"
    assert view["blocks"][0]["element"]["max_length"] == 500
    assert (await submit(slack, view, f"  {TEXT}\n")).text == ""  # accepted: the form closes

    line = f":speech_balloon: <@U0ANA> asked the agent to say: {SHOWN}"
    await eventually(lambda: line in thread_texts(fake_slack), timeout=15)
    items = [entry["args"][0]["item"] for entry in session.api_log if entry.get("api") == "conversationItemCreate"]
    assert len(items) == 1 and items[0]["type"] == "message" and items[0]["role"] == "system"
    assert items[0]["content"][0]["text"].endswith(f"\n\n{TEXT}")  # the fake AI client got the words, trimmed
    # The fake agent speaks them at its next response: the thread shows the agent's line after the request.
    await eventually(lambda: f"*Agent:* {SHOWN}" in thread_texts(fake_slack), timeout=15)
    lines = thread_texts(fake_slack)
    assert lines.index(line) < lines.index(f"*Agent:* {SHOWN}")
    [(actor, target, detail, allowed)] = await says(bot)
    assert (actor, target, allowed) == ("U0ANA", session.call_id, True)
    assert detail == f"{len(TEXT)} characters; taken by the agent" and "badge" not in detail  # never the text
    assert fake_slack.responses == [] and fake_slack.ephemeral == []

    await press_hang_up(slack, fake_slack, "U0ANA")
    await eventually(lambda: session.exit_code is not None, timeout=15)
    await bot.idle()
    assert say_button(parent_of(fake_slack)) is None  # gone with Hang up once the call is over


@needs_node
async def test_a_phone_menu_key_press_shows_in_the_thread_and_moves_no_state(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, simulator: ScenarioSimulator
) -> None:
    session = await place(slack, fake_voximplant, "+14155550130 get through to sales")  # a menu: the agent presses 1
    await eventually(lambda: session.exit_code is not None, timeout=15)
    await bot.idle()
    assert session.exit_code == 0
    assert [entry["args"] for entry in session.api_log if entry.get("api") == "sendDigits"] == [["1"]]
    lines = thread_texts(fake_slack)
    assert lines.count(":1234: pressed 1") == 1
    connected = lines.index(":large_green_circle: Connected. The agent is talking.")
    assert connected < lines.index(":1234: pressed 1")
    call = await bot.store.call(session.call_id)
    assert call is not None and call.state is CallState.ENDED and call.state_reason == "remote_hangup"


async def test_keys_events_are_stored_once_and_shown_once_and_bad_keys_are_refused(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await connected_call(bot, slack, fake_voximplant)
    assert (await fake_voximplant.send_event(session, "keys", {"digits": "1*2#"})).status_code == 200
    repeat = await fake_voximplant.send_event(session, "keys", {"digits": "1*2#"}, seq=session.next_seq - 1)
    assert repeat.status_code == 200  # a duplicate seq is absorbed
    for bad in ({"digits": "1a"}, {"digits": ""}, {"digits": "1" * 21}, {}):
        assert (await fake_voximplant.send_event(session, "keys", bad, seq=99)).status_code == 422
    await bot.idle()
    assert thread_texts(fake_slack).count(":1234: pressed `1*2#`") == 1  # a * would start bold text: shown as code
    call = await bot.store.call(session.call_id)
    assert call is not None and call.state is CallState.CONNECTED
    assert say_button(parent_of(fake_slack)) is not None


async def test_someone_else_cannot_press_say_and_the_attempt_is_audited(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await connected_call(bot, slack, fake_voximplant)
    await press_say(slack, fake_slack, "U0BOB")
    await eventually(lambda: len(fake_slack.responses) == 1)
    refusal = fake_slack.responses[0]
    assert refusal["response_type"] == "ephemeral" and refusal.get("replace_original") is False
    assert refusal["text"] == (
        "Only <@U0ANA> (who placed this call) or a callbot admin can have its agent say something."
    )
    assert fake_slack.views == []  # no form opened
    assert await says(bot) == [("U0BOB", session.call_id, "refused: say_not_yours", False)]
    assert session.control == []


async def test_a_say_press_after_the_end_gets_a_short_answer_and_no_form(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await connected_call(bot, slack, fake_voximplant)
    stale = parent_of(fake_slack)  # what another open Slack client still shows
    stale_blocks = list(stale.blocks)
    await fake_voximplant.send_event(session, "disconnected", {"duration_s": 12, "reason": "remote_hangup"})
    await bot.idle()
    assert say_button(parent_of(fake_slack)) is None

    stale.blocks = stale_blocks
    await press_say(slack, fake_slack, "U0ANA", stale)
    await eventually(lambda: len(fake_slack.responses) == 1)
    assert fake_slack.responses[0]["text"] == "This call has ended; there is nobody to say anything to."
    assert fake_slack.responses[0]["response_type"] == "ephemeral"
    assert fake_slack.views == []
    assert session.control == []


async def test_the_form_refuses_empty_or_long_text_and_a_call_that_ended_meanwhile(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await connected_call(bot, slack, fake_voximplant)
    await press_say(slack, fake_slack, "U0ANA")
    await eventually(lambda: len(fake_slack.views) == 1)
    view = fake_slack.views[0]

    empty = (await submit(slack, view, "   ")).json()
    assert empty == {"response_action": "errors", "errors": {"say_text": "Write what the agent should say."}}
    long = (await submit(slack, view, "x" * 501)).json()
    assert long["errors"]["say_text"] == "That is 501 characters; the agent takes at most 500 at a time."
    await fake_voximplant.send_event(session, "disconnected", {"duration_s": 3, "reason": "remote_hangup"})
    await bot.idle()
    over = (await submit(slack, view, "Are you there?")).json()
    assert over["errors"]["say_text"] == "This call has ended; there is nobody to say anything to."
    assert session.control == []
    assert not any(line.startswith(":speech_balloon:") for line in thread_texts(fake_slack))


async def test_a_say_the_session_refuses_reaches_the_presser_alone_and_not_the_thread(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await connected_call(bot, slack, fake_voximplant)
    why = "the call reached a voicemail box: the agent is leaving its message and takes no requests"
    fake_voximplant.control_answer = {"ok": False, "error": why}
    await press_say(slack, fake_slack, "U0ANA")
    await eventually(lambda: len(fake_slack.views) == 1)
    assert (await submit(slack, fake_slack.views[0], "Call back tomorrow")).status_code == 200

    await eventually(lambda: len(fake_slack.ephemeral) == 1)
    told = fake_slack.ephemeral[0]
    assert (told["channel"], told["user"]) == ("C0GENERAL", "U0ANA")
    assert told["text"] == (
        f"The agent didn't get that (the call's session said: {why}). Nothing was said; try again in a moment if the "
        "call goes on."
    )
    assert [c.get("action") for c in session.control] == ["say"]
    assert session.control[0]["text"] == "Call back tomorrow"
    assert session.brief is not None and session.control[0]["secret"] == session.brief["control_secret"]
    await bot.idle()
    assert not any(line.startswith(":speech_balloon:") for line in thread_texts(fake_slack))
    [(_, _, detail, allowed)] = await says(bot)
    assert allowed and detail.startswith("18 characters; not taken: the call's session said: the call reached")


@pytest.fixture
def admins(bot_settings: dict[str, Any]) -> None:
    bot_settings["callbot_admins"] = ["U0BOSS"]


async def test_an_admin_may_say_and_the_button_waits_for_the_answer(
    admins: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await fake_voximplant.send_event(session, "ringing")
    await bot.idle()
    parent = parent_of(fake_slack)
    assert say_button(parent) is None  # not before someone answers; Hang up is there already
    assert any(e.get("action_id") == ActionId.HANG_UP for b in parent.blocks if b["type"] == "actions"
               for e in b["elements"])  # fmt: skip
    await fake_voximplant.send_event(session, "connected")
    await bot.idle()

    await press_say(slack, fake_slack, "U0BOSS")
    await eventually(lambda: len(fake_slack.views) == 1)
    assert (await submit(slack, fake_slack.views[0], "Hello from the team", user_id="U0BOSS")).text == ""
    line = ":speech_balloon: <@U0BOSS> asked the agent to say: Hello from the team"
    await eventually(lambda: line in thread_texts(fake_slack))
    assert [(c["action"], c["text"]) for c in session.control] == [("say", "Hello from the team")]


@pytest.fixture
def pull(bot_settings: dict[str, Any]) -> None:
    bot_settings["public_base_url"] = None  # pull mode: the default without a public URL


@needs_node
async def test_say_and_a_key_press_in_pull_mode_through_the_real_scenario(
    pull: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    simulator: ScenarioSimulator,
) -> None:  # fmt: skip
    menu = await place(slack, fake_voximplant, "+14155550130 get through to sales")  # a menu: the agent presses 1
    await eventually(lambda: menu.exit_code is not None, timeout=15)
    await bot.idle()
    assert thread_texts(fake_slack).count(":1234: pressed 1") == 1
    fake_slack.messages.clear()  # the next call's thread on its own

    held = await place(slack, fake_voximplant, "+14155550177 stay on the line")
    await eventually(lambda: "*Callee:* All right, thank you. Goodbye!" in thread_texts(fake_slack), timeout=15)
    await press_say(slack, fake_slack, "U0ANA")
    await eventually(lambda: len(fake_slack.views) == 1)
    assert (await submit(slack, fake_slack.views[0], "Ask for the sales team")).text == ""
    line = ":speech_balloon: <@U0ANA> asked the agent to say: Ask for the sales team"
    await eventually(lambda: line in thread_texts(fake_slack), timeout=15)
    assert held.custom_data.get("m") == "pull"  # briefed and followed over the access URL, the text too
    items = [e["args"][0]["item"] for e in held.api_log if e.get("api") == "conversationItemCreate"]
    assert [item["content"][0]["text"].split("\n\n")[-1] for item in items] == ["Ask for the sales team"]
    await press_hang_up(slack, fake_slack, "U0ANA")
    await eventually(lambda: held.exit_code is not None, timeout=15)
