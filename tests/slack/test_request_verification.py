"""Forged, stale and replayed Slack requests are refused or absorbed; none places a call."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.slack_requests import SlackSender
from tests.conftest import Bot, eventually

BODY = urlencode(
    {"command": "/call", "text": "+14155550100 hi", "team_id": "T0SANDBOX", "user_id": "U0ANA",
     "channel_id": "C0GENERAL", "trigger_id": "1.2.3", "response_url": "http://127.0.0.1:1/x"}
).encode()  # fmt: skip


async def test_forged_signature_is_refused(bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant):
    response = await slack.post(BODY, signature="v0=" + "0" * 64)
    assert response.status_code == 401
    await bot.idle()
    assert fake_voximplant.requests == []


async def test_stale_timestamp_is_refused(bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant):
    response = await slack.post(BODY, timestamp=int(time.time()) - 6 * 60)
    assert response.status_code == 401
    assert fake_voximplant.requests == []


async def test_replayed_request_places_one_call(bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant):
    stamp = int(time.time())
    first = await slack.post(BODY, timestamp=stamp)
    replay = await slack.post(BODY, timestamp=stamp)
    assert first.status_code == 200 and replay.status_code == 200
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    await bot.idle()
    assert len(fake_voximplant.requests) == 1
