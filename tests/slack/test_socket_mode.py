"""Socket Mode: with SLACK_APP_TOKEN, Slack's requests arrive over the WebSocket; status callbacks stay on HTTP."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.calls.models import CallState
from bot.sandbox.fake_slack import TEAM_ID, FakeSlack
from bot.sandbox.fake_socket_mode import FakeSocketMode
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.simulator import ScenarioSimulator
from bot.settings import load_settings
from tests.conftest import Bot, eventually


@pytest.fixture
async def socket_mode(fake_slack: FakeSlack, bot_settings: dict[str, Any]) -> AsyncIterator[FakeSocketMode]:
    fake = await FakeSocketMode().start()
    fake_slack.socket_mode = fake
    bot_settings.update(slack_app_token=fake_slack.app_token, slack_signing_secret=None)  # no request URL at all
    yield fake
    await fake.stop()


@pytest.fixture
def no_public_url(bot_settings: dict[str, Any]) -> None:
    bot_settings["public_base_url"] = None  # and no VOXIMPLANT_EVENTS: the events are pulled


def command(text: str, serial: int = 1) -> dict[str, str]:
    """The slash command's fields, as Socket Mode carries them (the same as the HTTP form, as JSON)."""
    return {
        "token": "legacy-verification-token-unused", "team_id": TEAM_ID, "team_domain": "sandbox",
        "channel_id": "C0GENERAL", "channel_name": "general", "user_id": "U0ANA", "user_name": "u0ana",
        "command": "/call", "text": text, "api_app_id": "A0CALLBOT", "is_enterprise_install": "false",
        "response_url": f"http://127.0.0.1:9/commands/{TEAM_ID}/{serial}/hook", "trigger_id": f"{serial}.1.trigger",
    }  # fmt: skip


async def test_a_call_placed_over_socket_mode_is_followed_in_its_thread(
    socket_mode: FakeSocketMode, bot: Bot, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    await socket_mode.wait_connected()
    assert [c.token for c in fake_slack.calls_to("apps.connections.open")] == [fake_slack.app_token]
    ack = await socket_mode.slash_command(command("+14155550100 remind Ana"))
    assert set(ack) == {"envelope_id"} or not ack.get("payload")  # acknowledged silently, as over HTTP
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    session = fake_voximplant.sessions[0]
    for event in ("dialing", "ringing", "connected"):
        assert (await fake_voximplant.send_event(session, event)).status_code == 200  # the HTTP route still works
    await fake_voximplant.send_event(session, "disconnected", {"duration_s": 9, "reason": "remote_hangup"})
    await bot.idle()  # background work and the Slack outbox
    [parent] = fake_slack.parents("C0GENERAL")
    texts = [m.text for m in fake_slack.thread(parent)]
    assert texts[0].startswith(":telephone_receiver: Dialing")
    assert texts[-1] == ":white_check_mark: *Talked with a person* · 9s · 0 turns."
    call = await bot.store.call(session.call_id)
    assert call is not None and call.state is CallState.ENDED


async def test_a_refusal_comes_back_in_the_ack(socket_mode: FakeSocketMode, bot: Bot) -> None:
    ack = await socket_mode.slash_command(command("911 hello"))
    assert ack["payload"]["response_type"] == "ephemeral"
    assert "emergency" in ack["payload"]["text"].lower()


async def test_without_a_signing_secret_http_slack_requests_are_refused(
    socket_mode: FakeSocketMode, bot: Bot, http: httpx.AsyncClient
) -> None:
    await socket_mode.wait_connected()
    response = await http.post(f"{bot.url}/slack/events", content=b"command=%2Fcall&text=hi")
    assert response.status_code == 401


def test_socket_mode_needs_no_signing_secret_but_a_real_app_token() -> None:
    settings = load_settings(slack_bot_token="xoxb-1", slack_app_token="xapp-1-A-1-x", _env_file=None)
    assert settings.slack_signing_secret is None
    with pytest.raises(Exception, match="SLACK_APP_TOKEN must be an app-level token"):
        load_settings(slack_bot_token="xoxb-1", slack_app_token="xoxb-2", _env_file=None)


async def test_an_unsigned_http_request_is_refused_not_crashed_on(bot: Bot, http: httpx.AsyncClient) -> None:
    """Without the signature headers at all (HTTP mode): 401, where it used to raise inside the replay guard."""
    response = await http.post(f"{bot.url}/slack/events", content=b"command=%2Fcall&text=hi")
    assert response.status_code == 401


async def test_when_slack_asks_the_app_reconnects_and_keeps_working(
    socket_mode: FakeSocketMode, bot: Bot, fake_slack: FakeSlack
) -> None:
    await socket_mode.wait_connected()
    await socket_mode.ask_to_reconnect()
    await eventually(lambda: socket_mode.connections == 2, timeout=15)
    assert len(fake_slack.calls_to("apps.connections.open")) == 2  # a fresh single-use URL for the new connection
    ack = await socket_mode.slash_command(command("help"))
    assert "/call <destination>" in ack["payload"]["text"]


@pytest.mark.skipif(shutil.which("node") is None, reason="the VoxEngine simulator needs Node.js")
async def test_socket_mode_and_pull_need_no_inbound_connection_at_all(
    socket_mode: FakeSocketMode, no_public_url: None, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    simulator: ScenarioSimulator, bot: Bot,
) -> None:  # fmt: skip
    await socket_mode.wait_connected()
    await socket_mode.slash_command(command("+14155550100 remind Ana about the review"))
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    session = fake_voximplant.sessions[0]
    await eventually(lambda: session.exit_code is not None, timeout=20)
    await bot.idle()
    [parent] = fake_slack.parents("C0GENERAL")
    lines = [line for m in fake_slack.thread(parent) for line in m.text.split("\n")]
    assert lines[0].startswith(":telephone_receiver: Dialing") and lines[-1].startswith(
        ":white_check_mark: *Talked with a person*"
    )
    assert any(line.startswith("*Agent:*") for line in lines)
    # Nothing reached the bot from outside: Slack over the bot's own WebSocket, the call through its session.
    assert "httpRequestAsync" not in [entry.get("api") for entry in session.api_log]
    assert bot.settings.public_base_url is None and bot.settings.events_mode == "pull"
