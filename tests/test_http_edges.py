"""The public routes under hostile and broken input: bodies capped while streamed, junk refused quietly with a 4xx,
and anything Slack could send answered in words."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from bot.calls.models import CallState, Transition
from bot.calls.outcomes import judge
from bot.logs import JsonFormatter
from bot.routes import MAX_EVENT_BYTES, MAX_SLACK_BYTES
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.slack_requests import SlackSender
from bot.slack import texts
from tests.conftest import DESTINATION, SIGNING_SECRET, Bot, eventually
from tests.e2e.test_call_flow import place, thread_texts
from tests.e2e.test_call_form import open_form, values

JUNK_BODIES = [b"{", b"[]", b"payload=[]", b"payload={", b"payload=%7B", b"\xff\xfe", b"", b"null", b'"x"']


@pytest.fixture
def server_log() -> Iterator[io.StringIO]:
    """Every line the bot's process would log while the test runs (root, and uvicorn's own loggers).

    httpx logs each request at INFO (the test's own client too); `callbot serve` sets it to WARNING, as here.
    """
    stream = io.StringIO()
    httpx_logger = logging.getLogger("httpx")
    httpx_level = httpx_logger.level
    httpx_logger.setLevel(logging.WARNING)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(), logging.getLogger("uvicorn"), logging.getLogger("uvicorn.error")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    yield stream
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)
    httpx_logger.setLevel(httpx_level)


def lines(stream: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def tracebacks(stream: io.StringIO) -> list[dict[str, str]]:
    return [line for line in lines(stream) if "Traceback" in line.get("error", "") + line["message"]]


async def upload(url: str, path: str, *, total: int, headers: dict[str, str] | None = None) -> tuple[int | None, int]:
    """POST `total` bytes in chunks without Content-Length, as a stranger may; stop once the answer comes.

    Returns the answer's status (None when the connection was reset before it could be read) and how many bytes
    had been sent by then.
    """
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    head = f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    writer.write(head.encode() + b"\r\n")
    chunk = b"%x\r\n" % 65536 + b"x" * 65536 + b"\r\n"
    answer = asyncio.create_task(reader.readline())
    sent = 0
    try:
        while sent < total and not answer.done():
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0)
            sent += 65536
        if not answer.done():
            writer.write(b"0\r\n\r\n")
            await writer.drain()
    except ConnectionError:
        pass  # the bot answered and closed the connection: the rest is not read
    try:
        status = await asyncio.wait_for(answer, timeout=30)
    except ConnectionResetError:
        # The bot closed the connection with the upload still arriving, so TCP resets it and the 413 may be lost
        # on the way (nginx's lingering close exists for this; uvicorn has none).
        return None, sent
    finally:
        writer.close()
    return int(status.split()[1]), sent


# -- 1. bodies are capped while they are read ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/slack/events", "/voximplant/events"])
async def test_an_endless_upload_without_length_is_refused_at_the_cap_and_not_read_to_the_end(
    bot: Bot, path: str
) -> None:
    total = 64 * 1024 * 1024
    status, sent = await upload(bot.url, path, total=total)
    assert status in (413, None)
    assert sent < total  # the answer came while most of the body was still unsent: reading stopped at the cap


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_body_a_little_over_the_cap_gets_a_413_on_a_connection_kept_open(
    bot: Bot, http: httpx.AsyncClient, chunked: bool
) -> None:
    body = b"{" + b" " * MAX_EVENT_BYTES + b"}"

    async def chunks() -> AsyncIterator[bytes]:
        yield body

    response = await http.post(f"{bot.url}/voximplant/events", content=chunks() if chunked else body)
    assert response.status_code == 413
    assert response.headers.get("connection") != "close"


async def test_a_declared_length_far_over_the_cap_is_refused_before_reading(bot: Bot) -> None:
    parts = urlsplit(bot.url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 209715200\r\n\r\n")  # and no body
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), timeout=30)
    writer.close()
    assert status.split()[1] == b"413"


async def test_a_signed_slash_command_over_1_mib_is_refused_and_places_no_call(
    bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant
) -> None:
    body = urlencode({"command": "/call", "text": "+14155550100 " + "a" * MAX_SLACK_BYTES}).encode()
    response = await slack.post(body)
    assert response.status_code == 413
    await bot.idle()
    assert fake_voximplant.requests == []


# -- 2. junk gets a 4xx and at most one short log line; Slack's own requests get words -----------------------------


async def test_unsigned_junk_gets_a_4xx_and_no_traceback(
    bot: Bot, http: httpx.AsyncClient, server_log: io.StringIO
) -> None:
    for body in JUNK_BODIES:
        for timestamp in (None, "abc", "", "\uff11\uff12\uff13", "99999999999999999999", str(int(time.time()))):
            headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Signature": "v0=\u00e9"}
            if timestamp is not None:
                headers["X-Slack-Request-Timestamp"] = timestamp
            encoded = {name: value.encode() for name, value in headers.items()}
            response = await http.post(f"{bot.url}/slack/events", content=body, headers=encoded)
            assert 400 <= response.status_code < 500, (body, timestamp, response.status_code)
    assert tracebacks(server_log) == []


async def test_200_junk_requests_write_at_most_one_short_log_line(
    bot: Bot, http: httpx.AsyncClient, server_log: io.StringIO
) -> None:
    for n in range(200):
        body = JUNK_BODIES[n % len(JUNK_BODIES)]
        headers = {"X-Slack-Request-Timestamp": "abc" if n % 2 else str(int(time.time())), "X-Slack-Signature": "x"}
        response = await http.post(f"{bot.url}/slack/events", content=body, headers=headers)
        assert response.status_code == 401
    written = lines(server_log)
    assert len(written) <= 1, written
    assert all(len(json.dumps(line)) < 300 for line in written)


@pytest.mark.parametrize("body", [b"[]", b"payload=[]", b"payload={", b"{", b'{"enterprise": 5}', b"a=%FF"])
async def test_signed_junk_is_a_4xx_without_traceback(
    bot: Bot, slack: SlackSender, server_log: io.StringIO, body: bytes
) -> None:
    assert 400 <= (await slack.post(body)).status_code < 500
    assert tracebacks(server_log) == []


async def test_a_signed_body_that_is_not_utf8_is_refused_without_traceback(
    bot: Bot, http: httpx.AsyncClient, server_log: io.StringIO
) -> None:
    stamp = str(int(time.time()))
    body = b"payload=\xff"
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}
    response = await http.post(f"{bot.url}/slack/events", content=body, headers=headers)
    assert 400 <= response.status_code < 500
    assert tracebacks(server_log) == []


async def test_a_form_whose_conversation_is_a_number_is_answered_in_words(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    view = await open_form(slack, fake_slack)
    submitted = values(destination="+14155550100")
    submitted["conversation"]["conversation"]["selected_conversation"] = 12345  # type: ignore[assignment]
    response = await slack.view_submission(view, submitted)
    assert response.status_code == 200
    assert response.json() == {"response_action": "errors", "errors": {"conversation": texts.NO_CONVERSATION}}
    assert fake_voximplant.requests == []


async def test_a_request_the_bot_cannot_handle_gets_words_and_a_reference_not_a_500(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, server_log: io.StringIO
) -> None:
    view = await open_form(slack, fake_slack)
    submitted = {**view, "state": {"values": values(destination="+14155550100")}}
    payload = {"type": "view_submission", "team": {"id": "T0SANDBOX"}, "view": submitted}
    response = await slack.interaction(payload)  # no `user`: the listener cannot read who asked
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_action"] == "update"
    shown = json.dumps(answer["view"]["blocks"])
    [logged] = [line for line in lines(server_log) if line["message"].startswith("unexpected error")]
    ref = logged["message"].split()[2]
    assert f"reference `{ref}`" in shown


# -- 3. status events: every number bounded, unknown calls read as wrong tokens, no write jams a thread -------------


async def post_event(http: httpx.AsyncClient, bot: Bot, token: str, body: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return await http.post(f"{bot.url}/voximplant/events", content=body.encode(), headers=headers)


def event_json(call_id: str, seq: str, event: str, data: str) -> str:
    """A status event written by hand, so numbers JSON allows but Python would not write (1e999) can be sent."""
    return f'{{"v":1,"call_id":"{call_id}","seq":{seq},"event":"{event}","at":"2026-11-25T10:00:00Z","data":{data}}}'


async def test_numbers_that_do_not_fit_are_refused_and_the_call_still_ends_in_its_thread(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, http: httpx.AsyncClient
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    token = (await fake_voximplant.briefed(session))["callback_token"]
    call_id = session.call_id
    refused = {
        "seq 2^63": event_json(call_id, str(2**63), "dialing", "{}"),
        "seq 2^31": event_json(call_id, str(2**31), "dialing", "{}"),
        "infinite duration": event_json(call_id, "3", "disconnected", '{"duration_s":1e999}'),
        "a year-long duration": event_json(call_id, "3", "disconnected", '{"duration_s":31536000}'),
        "NaN cost": event_json(call_id, "3", "disconnected", '{"duration_s":5,"cost":NaN}'),
        "infinite cost": event_json(call_id, "3", "disconnected", '{"duration_s":5,"cost":1e999}'),
        "negative cost": event_json(call_id, "3", "disconnected", '{"duration_s":5,"cost":-1}'),
        "a code past 32 bits": event_json(call_id, "3", "failed", '{"code":99999999999999999999,"reason":"x"}'),
    }
    for why, body in refused.items():
        response = await post_event(http, bot, token, body)
        assert response.status_code == 422, why
    assert await bot.store.events(call_id) == []

    for seq, event in ((1, "dialing"), (2, "connected")):
        assert (await post_event(http, bot, token, event_json(call_id, str(seq), event, "{}"))).status_code == 200
    ended = event_json(call_id, "3", "disconnected", '{"duration_s":72,"cost":0.042}')
    assert (await post_event(http, bot, token, ended)).status_code == 200
    await bot.idle()
    assert any("Talked with a person* · 1m 12s" in line for line in thread_texts(fake_slack))


async def test_an_unknown_call_and_a_wrong_token_read_the_same(
    bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant, http: httpx.AsyncClient
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    wrong_token = await post_event(http, bot, "not-the-token", event_json(session.call_id, "1", "dialing", "{}"))
    unknown = await post_event(http, bot, "not-the-token", event_json("0123456789ab", "1", "dialing", "{}"))
    assert (unknown.status_code, unknown.json()) == (wrong_token.status_code, wrong_token.json())
    assert unknown.status_code == 401


async def test_a_slack_write_that_can_never_succeed_does_not_hold_back_the_lines_after_it(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, server_log: io.StringIO
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    await fake_voximplant.send_event(session, "dialing")
    await fake_voximplant.send_event(session, "connected")
    await bot.idle()
    # A duration no render can show (older releases took 1e999 from a status event; a call history could hold one):
    # the parent's update and the summary fail in our code on every try.
    ended = await bot.store.settle(
        session.call_id,
        Transition(CallState.ENDED, "remote_hangup"),
        datetime.now(UTC),
        duration_s=float("inf"),
        judge=judge,
    )
    assert ended is not None
    await bot.delivery.update(ended)
    await bot.delivery.summary(ended)
    response = await fake_voximplant.send_event(session, "transcript", {"role": "callee", "text": "thanks, bye"})
    assert response.status_code == 200
    await eventually(lambda: any("thanks, bye" in line for line in thread_texts(fake_slack)), timeout=10)
    await bot.idle()
    assert await bot.store.pending_slack(session.call_id) == []
    dropped = [line for line in lines(server_log) if "failed 3 times unexpectedly" in line["message"]]
    assert len(dropped) == 2  # the update, then the summary


async def test_a_slash_command_mentioning_payload_is_still_a_slash_command(
    bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant
) -> None:
    # Bolt reads any form body containing "payload" as an interactivity request, and finds no payload field.
    await place(slack, fake_voximplant, f"{DESTINATION} tell Ana the payload shipped")
    brief = await fake_voximplant.briefed(fake_voximplant.sessions[0])
    assert brief["instructions"] == "tell Ana the payload shipped"
