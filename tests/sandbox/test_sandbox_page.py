"""The sandbox's web page, in headless Chromium: the call form places a call and the thread fills in live;
a button on a message sends a signed `block_actions` payload to the bot, as Slack would."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.sandbox.fake_slack import FakeSlack, Message
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.servers import LocalServer, serving
from bot.sandbox.simulator import ScenarioSimulator
from bot.sandbox.slack_requests import SlackSender
from bot.sandbox.web import SandboxPage
from tests.conftest import CALLER_ID, SIGNING_SECRET, Bot, eventually
from tests.sandbox.chromium import CHROMIUM, Browser

HANG_UP = {"type": "actions", "block_id": "call_actions", "elements": [
    {"type": "button", "action_id": "call_hang_up", "text": {"type": "plain_text", "text": "Hang up"},
     "style": "danger", "value": "c_1"},
]}  # fmt: skip


@pytest.fixture
async def page(bot: Bot, fake_slack: FakeSlack, http: httpx.AsyncClient) -> AsyncIterator[tuple[SandboxPage, str]]:
    sender = SlackSender(http, bot_url=bot.url, signing_secret=SIGNING_SECRET, response_base=fake_slack.url)  # type: ignore[attr-defined]
    sandbox = SandboxPage(fake_slack, sender, channel="C0GENERAL", caller_id=CALLER_ID, help_text="help")
    async with LocalServer(sandbox.app) as server:
        yield sandbox, server.url


@pytest.mark.skipif(CHROMIUM is None or shutil.which("node") is None, reason="needs Chromium and Node.js")
async def test_the_call_form_places_a_call_and_the_thread_fills_in_live(
    page: tuple[SandboxPage, str], fake_voximplant: FakeVoximplant, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    sandbox, url = page
    simulator = ScenarioSimulator(time_scale=0.1)
    fake_voximplant.runner = simulator
    try:
        async with Browser(url, tmp_path / "profile") as browser:
            await _until(browser, "document.getElementById('caller').value === '+14155550123'")
            await browser.evaluate("""
                document.getElementById('destination').value = '+14155550100';
                document.getElementById('instructions').value = 'say hello from the page';
                document.getElementById('place-call').click();
            """)
            await _until(
                browser,
                "[...document.querySelectorAll('.reply')].some(r => r.dataset.text.includes('Talked with a person'))",
                30,
            )
            replies = await browser.evaluate("[...document.querySelectorAll('.reply')].map(r => r.dataset.text)")
            parent = await browser.evaluate("document.querySelector('.message .text').dataset.text")
            shown = await browser.evaluate("[...document.querySelectorAll('.reply')].map(r => r.innerHTML)")
    finally:
        await simulator.aclose()
    typed = "+14155550100 from +14155550123 say hello from the page"
    assert sandbox.sent[0] == {"kind": "slash_command", "text": typed, "status": 200}
    assert replies[0] == ":telephone_receiver: Dialing +1 415-555-0100…"
    assert any(r.startswith("*Agent:*") and "say hello from the page" in r for r in replies)
    assert "ended after" in parent
    assert shown[0] == "📞 Dialing +1 415-555-0100…"  # mrkdwn rendered: emoji, and *bold* as <strong>
    assert any(html.startswith("<strong>Agent:</strong>") for html in shown)


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium")
async def test_a_button_press_on_the_page_reaches_the_bot_signed(
    page: tuple[SandboxPage, str], fake_slack: FakeSlack, tmp_path: Path
) -> None:
    sandbox, url = page
    fake_slack.messages.append(Message(channel="C0GENERAL", ts="1700000001.000100", text="Call to +1 415-555-0100",
                                       blocks=[HANG_UP]))  # fmt: skip
    async with Browser(url, tmp_path / "profile") as browser:
        await _until(browser, "document.querySelector('button[data-action-id=call_hang_up]') !== null")
        assert (
            await browser.evaluate("document.querySelector('button[data-action-id=call_hang_up]').textContent")
            == "Hang up"
        )
        await browser.evaluate("document.querySelector('button[data-action-id=call_hang_up]').click()")
        await eventually(lambda: len(sandbox.sent) == 1)
    # Signed correctly: the bot's verification passed (401 otherwise); this branch has no Hang up listener yet (404).
    assert sandbox.sent[0]["kind"] == "block_actions" and sandbox.sent[0]["status"] in {200, 404}


async def test_a_button_sends_block_actions_exactly_as_slack_does(
    fake_slack: FakeSlack, http: httpx.AsyncClient
) -> None:
    received: list[dict[str, Any]] = []
    verifier = SignatureVerifier(SIGNING_SECRET)

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        headers = request.headers
        assert verifier.is_valid(body, headers["x-slack-request-timestamp"], headers["x-slack-signature"])
        assert headers["content-type"] == "application/x-www-form-urlencoded"
        received.append(json.loads(parse_qs(body.decode())["payload"][0]))
        return Response(status_code=200)

    recorder = Starlette(routes=[Route("/slack/events", slack_events, methods=["POST"])])
    async with serving(LocalServer(recorder), LocalServer(fake_slack.app)) as (bot_stand_in, slack_server):
        sender = SlackSender(
            http, bot_url=bot_stand_in.url, signing_secret=SIGNING_SECRET, response_base=slack_server.url
        )
        sandbox = SandboxPage(fake_slack, sender, channel="C0GENERAL", caller_id=CALLER_ID, help_text="")
        fake_slack.messages.append(Message(channel="C0GENERAL", ts="1700000001.000100", text="Call", blocks=[HANG_UP]))
        async with LocalServer(sandbox.app) as page_server:
            press = {"channel": "C0GENERAL", "ts": "1700000001.000100", "action_id": "call_hang_up",
                     "block_id": "call_actions"}  # fmt: skip
            response = await http.post(f"{page_server.url}/api/action", json=press)
            assert response.status_code == 200
            missing = await http.post(f"{page_server.url}/api/action", json={
                "channel": "C0GENERAL", "ts": "1700000001.000100", "action_id": "nope"})  # fmt: skip
            assert missing.status_code == 404
    [payload] = received
    assert payload["type"] == "block_actions"
    assert payload["container"] == {"type": "message", "message_ts": "1700000001.000100", "channel_id": "C0GENERAL",
                                    "is_ephemeral": False}  # fmt: skip
    assert payload["channel"]["id"] == "C0GENERAL" and payload["user"]["id"] == "U0ANA"
    assert payload["message"]["ts"] == "1700000001.000100" and payload["message"]["blocks"] == [HANG_UP]
    [action] = payload["actions"]
    assert action["action_id"] == "call_hang_up" and action["block_id"] == "call_actions"
    assert action["value"] == "c_1" and action["type"] == "button"
    assert payload["trigger_id"] and payload["response_url"].startswith(f"{slack_server.url}/actions/")


async def test_say_on_the_page_opens_the_bots_form_and_submits_the_text(
    page: tuple[SandboxPage, str], bot: Bot, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    http: httpx.AsyncClient,
) -> None:  # fmt: skip
    sandbox, url = page
    assert (await http.post(f"{url}/api/command", json={"text": "/call +14155550100 hello"})).status_code == 200
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    session = fake_voximplant.sessions[0]
    await fake_voximplant.send_event(session, "connected")
    await bot.idle()
    [parent] = fake_slack.parents("C0GENERAL")
    [say] = [e for b in parent.blocks if b["type"] == "actions" for e in b["elements"] if e["action_id"] == "call_say"]
    actions = next(b["block_id"] for b in parent.blocks if b["type"] == "actions")
    press = {"channel": "C0GENERAL", "ts": parent.ts, "action_id": "call_say", "block_id": actions}
    assert (await http.post(f"{url}/api/action", json={**press, "text": "   "})).status_code == 200
    assert sandbox.ephemeral[-1] == {"text": "Write what the agent should say."}  # the form's field error
    assert (await http.post(f"{url}/api/action", json={**press, "text": "Hello from the page"})).status_code == 200
    await eventually(lambda: [c.get("text") for c in session.control] == ["Hello from the page"])
    assert [s["kind"] for s in sandbox.sent][-4:] == ["block_actions", "view_submission"] * 2
    assert say["text"]["text"] == "Say…" and len(fake_slack.views) == 2


async def _until(browser: Browser, condition: str, timeout: float = 10.0) -> None:
    """Poll a JS condition until it is true; errors (the page still loading) count as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if await browser.evaluate(condition):
                return
        except AssertionError:
            pass
        assert time.monotonic() < deadline, f"never true in the page: {condition}"
        await asyncio.sleep(0.05)
