"""Random bytes, random form fields and random JSON, signed and unsigned, to every public route: never a 5xx, never a
traceback in the bot's log.

Hypothesis runs in a worker thread with a blocking client, while the bot keeps serving on the test's event loop.
Derandomized, so a run is reproducible; the example counts are modest to keep the suite fast.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.slack_requests import SlackSender
from tests.conftest import DESTINATION, SIGNING_SECRET, Bot
from tests.e2e.test_call_flow import place
from tests.test_http_edges import server_log, tracebacks

__all__ = ["server_log"]  # the fixture, imported for this test
pytestmark = pytest.mark.slow  # some 200 examples, each a real request

FUZZ = settings(
    max_examples=60, derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)  # fmt: skip

VALID_EVENT = b'{"v":1,"seq":5,"event":"dialing","at":"2026-11-25T10:00:00Z","data":{}}'
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
# Shaped like a status event, so the fields' own checks are reached, not only the envelope's.
event_like = st.fixed_dictionaries(
    {"v": st.sampled_from([1, 1, 2, "1", None]), "call_id": st.sampled_from(["0123456789ab", "", "x" * 65]),
     "seq": st.integers(min_value=1, max_value=100) | st.integers(min_value=-(2**70), max_value=2**70) | json_values,
     "event": st.sampled_from(["started", "dialing", "ringing", "connected", "transcript", "failed", "disconnected",
                               "error", "teleported"]),
     "at": st.sampled_from(["2026-11-25T10:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", 1e999, -1]),
     "data": st.dictionaries(st.sampled_from(["role", "text", "code", "reason", "duration_s", "cost", "message",
                                              "recoverable"]), json_values | st.floats(), max_size=4)},
)  # fmt: skip
form_fields = st.dictionaries(
    st.sampled_from(["payload", "command", "text", "user_id", "team_id", "channel_id", "type"]) | st.text(max_size=8),
    st.text(max_size=60) | json_values.map(lambda value: json.dumps(value)),
    max_size=6,
)
event_bodies = event_like.map(lambda value: json.dumps(value).encode())
bodies = st.one_of(
    st.binary(max_size=300),
    form_fields.map(lambda fields: urlencode(fields).encode()),
    json_values.map(lambda value: json.dumps(value).encode()),
    event_bodies,
)
content_types = st.sampled_from(["application/x-www-form-urlencoded", "application/json", "text/plain", ""])
header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=40)


def slack_headers(body: bytes, signed: bool, timestamp: str, content_type: str) -> dict[str, str]:
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp}
    if signed:
        stamp = str(int(time.time()))
        digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
        headers.update({"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"})
    return headers


async def test_random_requests_to_the_public_routes_get_no_5xx_and_log_no_traceback(
    bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant, server_log: io.StringIO
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    brief_token = str(session.custom_data["t"])
    callback_token = (await fake_voximplant.briefed(session))["callback_token"]
    seen: list[tuple[str, Any, int]] = []

    def check(client: httpx.Client, method: str, path: str, **request: Any) -> None:
        # HTTP itself allows no spaces around a header's value; the client refuses to send them.
        request["headers"] = {name: value.strip() for name, value in request["headers"].items()}
        response = client.request(method, f"{bot.url}{path}", **request)
        seen.append((path, request.get("content"), response.status_code))
        assert response.status_code < 500, (path, request, response.status_code, response.text)
        assert tracebacks(server_log) == [], (path, request)

    @FUZZ
    @given(body=bodies, signed=st.booleans(), timestamp=header_text, content_type=content_types)
    def to_slack(body: bytes, signed: bool, timestamp: str, content_type: str) -> None:
        headers = slack_headers(body, signed, timestamp, content_type)
        with httpx.Client(timeout=30) as client:
            encoded = {name: value.encode("latin-1") for name, value in headers.items()}
            check(client, "POST", "/slack/events", content=body, headers=encoded)

    @FUZZ
    @given(body=bodies | event_bodies, token=st.sampled_from(["", "wrong"]) | header_text, signed=st.booleans(),
           real_call=st.booleans())  # fmt: skip
    @example(body=VALID_EVENT, token="", signed=True, real_call=True)  # one that must get through
    @example(body=VALID_EVENT.replace(b'"seq":5', b'"seq":9223372036854775808'), token="", signed=True, real_call=True)
    @example(body=VALID_EVENT.replace(b"{}", b'{"duration_s":1e999}').replace(b"dialing", b"disconnected"),
             token="", signed=True, real_call=True)  # fmt: skip
    def to_events(body: bytes, token: str, signed: bool, real_call: bool) -> None:
        if real_call and body.startswith(b"{"):
            try:
                event = json.loads(body)
            except ValueError:
                event = None
            if isinstance(event, dict):  # about the call placed above (else: no call_id, or a random one)
                body = json.dumps({**event, "call_id": session.call_id}).encode()
        bearer = callback_token if signed else token
        with httpx.Client(timeout=30) as client:
            headers = {"Authorization": f"Bearer {bearer}".encode("latin-1"), "Content-Type": b"application/json"}
            check(client, "POST", "/voximplant/events", content=body, headers=headers)

    @FUZZ
    @given(authorization=header_text, signed=st.booleans())
    def to_brief(authorization: str, signed: bool) -> None:
        value = f"Bearer {brief_token}" if signed else authorization
        with httpx.Client(timeout=30) as client:
            check(client, "GET", "/voximplant/brief", headers={"Authorization": value.encode("latin-1")})

    for run in (to_slack, to_events, to_brief):
        await asyncio.to_thread(run)
    await bot.idle()
    assert tracebacks(server_log) == []
    assert {path for path, _, _ in seen} == {"/slack/events", "/voximplant/events", "/voximplant/brief"}
    assert any(status == 200 for path, _, status in seen if path == "/voximplant/events")  # some got through
