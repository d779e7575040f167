"""The Hang up button: the requester or an admin ends the call through its session; anyone else is refused."""

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
from bot.slack.ids import ActionId, BlockId
from tests.conftest import Bot, eventually
from tests.e2e.test_call_flow import parent_of, place, thread_texts

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="the VoxEngine simulator needs Node.js")


def call_button(parent: Message, action_id: ActionId) -> dict[str, Any] | None:
    """The button `action_id` on a call's message (Hang up, Say…, Join), or None when the message has none."""
    for block in parent.blocks:
        if block.get("type") == "actions":
            for element in block["elements"]:
                if element.get("action_id") == action_id:
                    return element  # type: ignore[no-any-return]
    return None


async def press_button(
    slack: SlackSender, fake_slack: FakeSlack, user_id: str, action_id: ActionId, parent: Message | None = None
) -> httpx.Response:
    """`user_id` presses the button `action_id` on the call's message (the newest one, unless `parent` is given)."""
    parent = parent or parent_of(fake_slack)
    button = call_button(parent, action_id)
    assert button is not None, parent.blocks
    message = {"type": "message", "ts": parent.ts, "text": parent.text, "blocks": parent.blocks}
    return await slack.block_action(
        action_id=action_id, value=button["value"], block_id=BlockId.CALL_ACTIONS, message=message,
        channel_id=parent.channel, user_id=user_id, text=button["text"]["text"],
    )  # fmt: skip


def hang_up_button(parent: Message) -> dict[str, Any] | None:
    return call_button(parent, ActionId.HANG_UP)


async def press_hang_up(slack: SlackSender, fake_slack: FakeSlack, user_id: str) -> httpx.Response:
    return await press_button(slack, fake_slack, user_id, ActionId.HANG_UP)


@needs_node
async def test_requester_hangs_up_a_live_call_through_the_real_scenario(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, simulator: ScenarioSimulator
) -> None:
    session = await place(slack, fake_voximplant, "+14155550177 stay on the line")  # answers, never hangs up
    await eventually(lambda: ":large_green_circle: Connected. The agent is talking." in thread_texts(fake_slack),
                     timeout=15)  # fmt: skip
    await eventually(lambda: hang_up_button(parent_of(fake_slack)) is not None)

    response = await press_hang_up(slack, fake_slack, "U0ANA")
    assert response.status_code == 200

    await eventually(lambda: session.exit_code is not None, timeout=15)
    assert session.exit_code == 0
    assert "hangup" in [entry.get("api") for entry in session.api_log]  # the scenario obeyed the control request
    await bot.idle()
    call = await bot.store.call(session.call_id)
    assert call is not None and call.state is CallState.ENDED and call.state_reason == "hangup_requested"
    lines = thread_texts(fake_slack)
    assert ":octagonal_sign: <@U0ANA> asked to hang up." in lines
    assert (
        lines[-1].startswith(":white_check_mark: *Talked with a person* ·")
        and " turn" in lines[-1]
        and " · cost " in lines[-1]
    )
    parent = parent_of(fake_slack)
    assert hang_up_button(parent) is None  # the button is gone once the call is over
    assert "ended after" in parent.text
    assert fake_slack.responses == []  # nobody was refused


async def test_someone_else_is_refused_and_the_call_goes_on(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await fake_voximplant.send_event(session, "connected")
    await bot.idle()

    response = await press_hang_up(slack, fake_slack, "U0BOB")
    assert response.status_code == 200
    await eventually(lambda: len(fake_slack.responses) == 1)
    refusal = fake_slack.responses[0]
    assert refusal["response_type"] == "ephemeral" and refusal.get("replace_original") is False
    assert refusal["text"] == "Only <@U0ANA> (who placed this call) or a callbot admin can hang it up."
    await bot.idle()
    assert session.control == []
    call = await bot.store.call(session.call_id)
    assert call is not None and call.state is CallState.CONNECTED
    assert hang_up_button(parent_of(fake_slack)) is not None
    [entry] = [e for e in await bot.store.audit_entries() if e.action == "call.hang_up"]  # as for Say… and Join
    assert (entry.actor, entry.target, entry.allowed, entry.detail) == ("U0BOB", session.call_id, False,
                                                                        "hang_up_not_yours")  # fmt: skip


@pytest.fixture
def admins(bot_settings: dict[str, Any]) -> None:
    bot_settings["callbot_admins"] = ["U0BOSS"]


async def test_an_admin_may_hang_up_and_a_stale_button_explains_itself(
    admins: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await fake_voximplant.send_event(session, "connected")
    await bot.idle()
    stale = parent_of(fake_slack).blocks  # what a second open Slack client still shows

    assert (await press_hang_up(slack, fake_slack, "U0BOSS")).status_code == 200
    await eventually(lambda: [c.get("action") for c in session.control] == ["hangup"])
    await fake_voximplant.send_event(session, "disconnected", {"duration_s": 12, "reason": "hangup_requested"})
    await bot.idle()
    assert ":octagonal_sign: <@U0BOSS> asked to hang up." in thread_texts(fake_slack)
    assert hang_up_button(parent_of(fake_slack)) is None

    parent = parent_of(fake_slack)
    parent.blocks = stale
    assert (await press_hang_up(slack, fake_slack, "U0ANA")).status_code == 200
    await eventually(lambda: len(fake_slack.responses) == 1)
    assert fake_slack.responses[0]["text"] == "This call has already ended; there is nothing to hang up."
    assert [c.get("action") for c in session.control] == ["hangup"]


@pytest.fixture
def workspace_admins(bot_settings: dict[str, Any], fake_slack: FakeSlack) -> None:
    bot_settings["workspace_admins_are_admins"] = True
    fake_slack.add_user("U0OWNER", owner=True)
    fake_slack.add_user("U0BOB")


async def test_a_workspace_admin_may_hang_up_when_workspace_admins_are_admins(
    workspace_admins: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await fake_voximplant.send_event(session, "connected")
    await bot.idle()
    assert (await press_hang_up(slack, fake_slack, "U0BOB")).status_code == 200  # a plain member still may not
    await eventually(lambda: len(fake_slack.responses) == 1)
    assert fake_slack.responses[0]["text"].startswith("Only <@U0ANA> (who placed this call) or a callbot admin")
    assert (await press_hang_up(slack, fake_slack, "U0OWNER")).status_code == 200
    await eventually(lambda: [c.get("action") for c in session.control] == ["hangup"])
    assert len(fake_slack.responses) == 1
    assert [c.params["user"] for c in fake_slack.calls_to("users.info")] == ["U0BOB", "U0OWNER"]


async def test_a_hang_up_the_session_refuses_is_said_in_the_thread(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await fake_voximplant.send_event(session, "connected")
    await bot.idle()
    fake_voximplant.control_answer = {"ok": False, "error": "no call in this session"}

    assert (await press_hang_up(slack, fake_slack, "U0ANA")).status_code == 200
    warning = ":warning: I couldn't hang up the call (the call's session said: no call in this session). "
    await eventually(lambda: any(line.startswith(warning) for line in thread_texts(fake_slack)))
    assert [c.get("action") for c in session.control] == ["hangup"]
    await bot.idle()
    # Still under way as far as anyone knows: the call history was asked, and the session has not ended.
    assert any(r["method"] == "GetCallHistory" for r in fake_voximplant.requests)
    call = await bot.store.call(session.call_id)
    assert call is not None and call.state is CallState.CONNECTED
    assert hang_up_button(parent_of(fake_slack)) is not None
