"""Pull mode: no public URL; the bot brings each call's brief and fetches its events through the session."""

from __future__ import annotations

import json
import shutil
from typing import Any

import httpx
import pytest

from bot.calls.models import CallState
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.simulator import ScenarioSimulator
from bot.sandbox.slack_requests import SlackSender
from bot.slack.texts import reason as reason_words
from bot.state import state_of
from tests.conftest import DESTINATION, Bot, eventually
from tests.e2e.test_call_flow import place, thread_texts


@pytest.fixture(autouse=True)
def no_public_url(bot_settings: dict[str, Any]) -> None:
    bot_settings["public_base_url"] = None  # pull is the default without one


async def test_a_call_without_a_public_url_is_briefed_and_followed_through_its_session(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, http: httpx.AsyncClient
) -> None:
    assert (await http.get(f"{bot.url}/healthz")).json() == {"ok": True, "events": "pull"}
    session = await place(slack, fake_voximplant, f"{DESTINATION} tell Ana the review moved")
    sent = fake_voximplant.requests[-1]["script_custom_data"]
    assert json.loads(sent) == {"v": 2, "id": session.call_id, "m": "pull"}
    await eventually(lambda: session.brief is not None)
    brief = session.brief
    assert brief is not None and brief["instructions"] == "tell Ana the review moved"
    assert "callback_url" not in brief and "callback_token" not in brief
    assert session.control[0] == {"action": "brief", "brief": brief}

    for event, data in [
        ("started", {}), ("dialing", {}), ("ringing", {}), ("connected", {}),
        ("transcript", {"role": "agent", "text": "Hi Ana, the review moved."}),
        ("transcript", {"role": "callee", "text": "Thanks."}),
        ("disconnected", {"duration_s": 14, "reason": "remote_hangup"}),
    ]:  # fmt: skip
        fake_voximplant.queue_event(session, event, data)

    # The bot confirmed the call's last event (a poll after it), and then stopped polling.
    await eventually(lambda: session.confirmed >= 7, timeout=10)
    await eventually(lambda: state_of(bot.app).poller.following == 0, timeout=10)
    await bot.idle()
    assert thread_texts(fake_slack) == [
        ":telephone_receiver: Dialing +1 415-555-0100…",
        ":bell: Ringing…",
        ":large_green_circle: Connected. The agent is talking.",
        "*Agent:* Hi Ana, the review moved.",
        "*Callee:* Thanks.",
        ":white_check_mark: *Talked with a person* · 14s · 2 turns.",
    ]
    call = await bot.store.call(session.call_id)
    assert call is not None and call.state is CallState.ENDED and call.pull
    # Every poll carried the control secret; the last one confirmed the call's end, and polling stopped there.
    polls = [c for c in session.control if c.get("action") == "events"]
    assert polls and all(c["secret"] == brief["control_secret"] for c in polls)
    assert polls[-1]["after"] == 7 and session.queued == []


async def test_events_queued_while_the_bot_is_down_are_fetched_after_a_restart(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    await eventually(lambda: session.brief is not None)
    fake_voximplant.queue_event(session, "started")
    fake_voximplant.queue_event(session, "connected")
    await eventually(lambda: session.confirmed >= 1)
    poller = state_of(bot.app).poller
    await poller.close()  # the bot stops polling, as at a shutdown
    fake_voximplant.queue_event(session, "transcript", {"role": "agent", "text": "Still there?"})
    fake_voximplant.queue_event(session, "disconnected", {"duration_s": 30, "reason": "remote_hangup"})
    [call] = await bot.store.live_pulled_calls()
    poller.follow(call)  # what the next start does for each live pulled call
    await eventually(lambda: poller.following == 0, timeout=10)
    await bot.idle()
    lines = thread_texts(fake_slack)
    assert lines.count(":large_green_circle: Connected. The agent is talking.") == 1
    assert lines[-2:] == ["*Agent:* Still there?", ":white_check_mark: *Talked with a person* · 30s · 1 turn."]
    assert [seq for seq, _, _ in await bot.store.events(session.call_id)] == [1, 2, 3, 4]


async def test_a_brief_the_session_refuses_fails_the_call_undialled(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    fake_voximplant.brief_refusal = "brief already delivered"
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    await eventually(lambda: any("nothing was dialled" in line for line in thread_texts(fake_slack)))
    await bot.idle()
    call = await bot.store.call(session.call_id)
    assert call is not None and call.state is CallState.FAILED
    assert reason_words(call.state_reason) == (
        "its session could not be handed the call (the call's session said: brief already delivered); "
        "nothing was dialled"
    )
    assert state_of(bot.app).poller.following == 0  # nothing to follow: no poll was ever sent
    assert [c["action"] for c in session.control] == ["brief"]


def test_push_mode_without_a_public_url_is_refused_at_start() -> None:
    from bot.errors import ConfigError
    from bot.settings import load_settings

    with pytest.raises(ConfigError) as refused:
        load_settings(need_slack=False, voximplant_events="push", public_base_url=None, _env_file=None)
    assert any(problem.startswith("VOXIMPLANT_EVENTS=push needs PUBLIC_BASE_URL") for problem in refused.value.problems)


@pytest.mark.skipif(shutil.which("node") is None, reason="the VoxEngine simulator needs Node.js")
async def test_a_whole_call_in_pull_mode_through_the_real_scenario(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, simulator: ScenarioSimulator
) -> None:
    response = await slack.command(f"{DESTINATION} remind Ana about the 3pm review")
    assert response.status_code == 200
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    session = fake_voximplant.sessions[0]
    await eventually(lambda: session.exit_code is not None, timeout=20)
    assert session.exit_code == 0  # the scenario ended its session itself, after the bot confirmed the last event
    await bot.idle()
    lines = thread_texts(fake_slack)
    assert lines[:3] == [
        ":telephone_receiver: Dialing +1 415-555-0100…",
        ":bell: Ringing…",
        ":large_green_circle: Connected. The agent is talking.",
    ]
    assert any(line.startswith("*Agent:*") and "3pm review" in line for line in lines)
    assert lines[-1].startswith(":white_check_mark: *Talked with a person* ·")
    assert state_of(bot.app).poller.following == 0
    events = await bot.store.events(session.call_id)
    assert [seq for seq, _, _ in events] == list(range(1, len(events) + 1))
    api = [entry.get("api") for entry in session.api_log]
    assert "httpRequestAsync" not in api  # the scenario never called out: no public URL was needed
