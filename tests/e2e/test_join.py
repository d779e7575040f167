"""The Join button: the requester (or an admin) is dialled onto a live call and bridged with the callee, through the
real scenario in the simulator; anyone else is refused, and a profile number the guard rails refuse is not offered."""

from __future__ import annotations

import shutil
from typing import Any

import httpx
import pytest

from bot.calls.models import CallState
from bot.sandbox.fake_slack import FakeSlack, Message
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.simulator import ScenarioSimulator
from bot.sandbox.slack_requests import SlackSender
from bot.slack.ids import ActionId, BlockId, CallbackId, FieldId
from tests.conftest import Bot, eventually
from tests.e2e.test_call_flow import parent_of, place, thread_texts
from tests.e2e.test_hang_up import call_button, press_button

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="the VoxEngine simulator needs Node.js")
CALLEE = "+14155550177"  # the simulator's callee who answers and stays on the line
ANSWERS = "+1 415 555 0123"  # answers at once, hangs up 5 s (simulated) later
RINGS_OUT = "+1 415 555 0140"  # rings the whole minute


def join_button(parent: Message) -> dict[str, Any] | None:
    return call_button(parent, ActionId.JOIN)


async def press_join(slack: SlackSender, fake_slack: FakeSlack, user_id: str, parent: Message | None = None) -> None:
    response = await press_button(slack, fake_slack, user_id, ActionId.JOIN, parent)
    assert response.status_code == 200


def join_form(fake_slack: FakeSlack) -> dict[str, Any]:
    forms = [view for view in fake_slack.views if view.get("callback_id") == CallbackId.JOIN_MODAL]
    assert len(forms) == 1, fake_slack.views
    return forms[0]


def field(view: dict[str, Any]) -> dict[str, Any]:
    block = next(b for b in view["blocks"] if b.get("block_id") == FieldId.JOIN_TO)
    return block  # type: ignore[no-any-return]


async def submit(slack: SlackSender, view: dict[str, Any], typed: str, user_id: str = "U0ANA") -> httpx.Response:
    values = {FieldId.JOIN_TO: {FieldId.JOIN_TO: {"type": "plain_text_input", "value": typed}}}
    return await slack.view_submission(view, values, user_id=user_id)


async def agent_talking(fake_slack: FakeSlack) -> None:
    await eventually(lambda: any(line.startswith("*Agent:*") for line in thread_texts(fake_slack)), timeout=15)


@needs_node
async def test_join_answered_bridges_the_requester_and_the_agent_leaves(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, simulator: ScenarioSimulator
) -> None:
    fake_slack.add_user("U0ANA", name="ana", phone=ANSWERS)
    session = await place(slack, fake_voximplant, f"{CALLEE} stay on the line")
    await agent_talking(fake_slack)

    await press_join(slack, fake_slack, "U0ANA")
    await eventually(lambda: len(fake_slack.views) == 1)
    form = join_form(fake_slack)
    assert field(form)["element"]["initial_value"] == "+1 415-555-0123"  # the profile's number, international form
    assert field(form)["hint"]["text"].startswith("From your Slack profile.")
    assert (await submit(slack, form, field(form)["element"]["initial_value"])).text == ""  # closes the form

    await eventually(lambda: session.exit_code is not None, timeout=20)
    assert session.exit_code == 0
    dialled = [entry.get("args") for entry in session.api_log if entry.get("api") == "callPSTN"]
    assert len(dialled) == 2 and dialled[1][0] == "+14155550123"  # the requester, from the call's caller ID
    assert dialled[1][1] == dialled[0][1]
    assert "sendMediaBetween" in [entry.get("api") for entry in session.api_log]
    await bot.idle()
    lines = thread_texts(fake_slack)
    calling = lines.index(":telephone_receiver: Calling <@U0ANA> to join the call…")
    joined = lines.index(":telephone_receiver: <@U0ANA> joined the call; the agent left the line.")
    announced = next(i for i, line in enumerate(lines) if "connecting you now with ana" in line)
    assert calling < announced < joined
    assert not any(line.startswith("*Agent:*") for line in lines[joined:]), "the agent left the line"
    call = await bot.store.call(session.call_id)
    # The join moved nothing: the call stayed connected, and the requester hanging up ended it.
    assert call is not None and call.state is CallState.ENDED and call.state_reason == "requester_hangup"
    assert join_button(parent_of(fake_slack)) is None  # gone with the call
    assert fake_slack.responses == []


@needs_node
async def test_join_not_answered_in_30_s_and_the_agent_carries_on(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, simulator: ScenarioSimulator
) -> None:
    fake_slack.add_user("U0ANA", name="ana")  # no phone on the profile: the form asks for one
    session = await place(slack, fake_voximplant, f"{CALLEE} stay on the line")
    await agent_talking(fake_slack)

    await press_join(slack, fake_slack, "U0ANA")
    await eventually(lambda: len(fake_slack.views) == 1)
    form = join_form(fake_slack)
    assert "initial_value" not in field(form)["element"]
    assert field(form)["hint"]["text"].startswith("Your Slack profile has no phone number.")
    assert (await submit(slack, form, RINGS_OUT)).text == ""

    missed = ":hourglass: <@U0ANA> did not answer within 30 s; the agent carries on."
    await eventually(lambda: missed in thread_texts(fake_slack), timeout=20)  # 30 s simulated at 0.1
    call = await bot.store.call(session.call_id)
    assert call is not None and call.state is CallState.CONNECTED  # the call goes on with the agent
    assert session.exit_code is None
    dialled = [entry.get("args") for entry in session.api_log if entry.get("api") == "callPSTN"]
    assert [args[0] for args in dialled] == [CALLEE, "+14155550140"]


async def live_call(slack: SlackSender, fake_voximplant: FakeVoximplant, bot: Bot) -> Any:
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await fake_voximplant.send_event(session, "connected")
    await bot.idle()
    return session


async def test_someone_else_cannot_join_and_the_attempt_is_audited(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await live_call(slack, fake_voximplant, bot)
    await press_join(slack, fake_slack, "U0BOB")
    await eventually(lambda: len(fake_slack.responses) == 1)
    refusal = fake_slack.responses[0]
    assert refusal["response_type"] == "ephemeral" and refusal.get("replace_original") is False
    assert refusal["text"] == "Only <@U0ANA> (who placed this call) or a callbot admin can join it."
    assert fake_slack.views == [] and session.control == []
    entries = [e for e in await bot.store.audit_entries() if e.action == "call.join"]
    assert [(e.actor, e.target, e.detail, e.allowed) for e in entries] == [
        ("U0BOB", session.call_id, "join_not_yours", False)
    ]


async def test_a_premium_or_emergency_profile_number_is_not_offered_and_is_refused_under_the_field(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    fake_slack.add_user("U0ANA", name="ana", phone="+1 900 555 0123")
    session = await live_call(slack, fake_voximplant, bot)
    await press_join(slack, fake_slack, "U0ANA")
    await eventually(lambda: len(fake_slack.views) == 1)
    form = join_form(fake_slack)
    assert "initial_value" not in field(form)["element"]
    hint = field(form)["hint"]["text"]
    assert hint.startswith("The phone number on your Slack profile can't be used:") and "premium-rate" in hint

    for typed, words in (("+1 900 555 0123", "premium-rate"), ("911", "emergency number")):
        body = (await submit(slack, form, typed)).json()
        assert body["response_action"] == "errors", body
        assert words in body["errors"][FieldId.JOIN_TO]
    assert session.control == []  # nothing was dialled


async def test_a_press_after_the_end_and_before_the_answer_get_a_short_answer(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await fake_voximplant.send_event(session, "ringing")
    await bot.idle()
    ringing = parent_of(fake_slack)
    assert join_button(ringing) is None  # nobody to join yet: Join comes with the answer
    message = {"type": "message", "ts": ringing.ts, "text": ringing.text, "blocks": ringing.blocks}
    response = await slack.block_action(
        action_id=ActionId.JOIN, value=session.call_id, block_id=BlockId.CALL_ACTIONS, message=message,
        channel_id=ringing.channel, user_id="U0ANA",
    )  # fmt: skip  # a press made up by hand (or by a client of its own) is refused all the same
    assert response.status_code == 200
    await eventually(lambda: len(fake_slack.responses) == 1)
    assert fake_slack.responses[0]["text"].startswith("Nobody has answered yet.")

    await fake_voximplant.send_event(session, "connected")
    await bot.idle()
    stale = parent_of(fake_slack).blocks
    assert join_button(parent_of(fake_slack)) is not None
    await fake_voximplant.send_event(session, "disconnected", {"duration_s": 4, "reason": "remote_hangup"})
    await bot.idle()
    assert join_button(parent_of(fake_slack)) is None
    parent = parent_of(fake_slack)
    parent.blocks = stale  # what a Slack client that missed the update still shows
    await press_join(slack, fake_slack, "U0ANA", parent)
    await eventually(lambda: len(fake_slack.responses) == 2)
    assert fake_slack.responses[1]["text"] == "This call has already ended; there is nothing to join."
    assert session.control == [] and fake_slack.views == []


async def test_the_join_event_moves_nothing_and_a_repeat_is_absorbed(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await live_call(slack, fake_voximplant, bot)
    busy = {"result": "failed", "by": "U0ANA", "reason": "Busy Here", "code": 486}
    first = await fake_voximplant.send_event(session, "join", busy)
    again = await fake_voximplant.send_event(session, "join", busy, seq=session.next_seq - 1)  # the same seq
    assert first.status_code == again.status_code == 200
    bad = await fake_voximplant.send_event(session, "join", {"result": "maybe"})
    assert bad.status_code == 422
    await fake_voximplant.send_event(session, "join", {"result": "joined", "by": "U0ANA"})
    await bot.idle()
    lines = thread_texts(fake_slack)
    couldnt = ":warning: <@U0ANA> could not be connected: the line was busy (486 Busy Here). The agent carries on."
    assert lines.count(couldnt) == 1
    assert lines[-1] == ":telephone_receiver: <@U0ANA> joined the call; the agent left the line."
    call = await bot.store.call(session.call_id)
    assert call is not None and call.state is CallState.CONNECTED
    assert join_button(parent_of(fake_slack)) is not None


async def test_a_join_the_session_refuses_is_said_in_the_thread(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    fake_slack.add_user("U0ANA", name="ana", phone="+1 415 555 0123")
    session = await live_call(slack, fake_voximplant, bot)
    fake_voximplant.control_answer = {"ok": False, "error": "already joining"}
    await press_join(slack, fake_slack, "U0ANA")
    await eventually(lambda: len(fake_slack.views) == 1)
    form = join_form(fake_slack)
    assert (await submit(slack, form, "maria.app")).text == ""
    refused = (
        ":warning: I couldn't add <@U0ANA> to the call (the call's session said: already joining). The call goes on"
    )
    await eventually(lambda: any(line.startswith(refused) for line in thread_texts(fake_slack)))
    assert [(c["action"], c["to"]) for c in session.control] == [
        ("join", {"channel": "app_user", "destination": "maria.app"})
    ]
    assert session.control[0]["by"] == "U0ANA" and session.control[0]["name"] == "ana"
    assert "secret" in session.control[0]
