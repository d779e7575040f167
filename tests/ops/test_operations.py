"""Operations: /healthz, /metrics (Prometheus text), JSON logs with the call id and no secrets, graceful shutdown."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import create_app
from bot.calls.models import CallState, Channel
from bot.logs import JsonFormatter, bind_call, redact
from bot.sandbox.clock import VirtualClock
from bot.sandbox.fake_slack import FakeSlack, Fault
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.servers import LocalServer
from bot.sandbox.slack_requests import SlackSender
from bot.state import state_of
from bot.store import Store
from tests.conftest import CALLER_ID, SIGNING_SECRET, Bot, eventually, make_settings
from tests.e2e.test_call_flow import place
from tests.e2e.test_hang_up import press_hang_up


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse Prometheus text format into {(sample name, sorted labels): value}; it raises on malformed text."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def metrics(http: httpx.AsyncClient, bot: Bot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await http.get(f"{bot.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples(response.text)


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The JSON lines the root logger writes while the test runs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)


async def test_healthz_answers_200_while_the_store_answers_and_503_when_it_does_not(
    bot: Bot, http: httpx.AsyncClient
) -> None:
    response = await http.get(f"{bot.url}/healthz")
    assert response.status_code == 200 and response.json() == {"ok": True, "events": "push"}
    await bot.store.close()
    response = await http.get(f"{bot.url}/healthz")
    assert response.status_code == 503 and response.json() == {"ok": False, "events": "push"}


async def test_metrics_count_requests_calls_by_outcome_and_voximplant_latency(
    bot: Bot, http: httpx.AsyncClient, slack: SlackSender, fake_voximplant: FakeVoximplant
) -> None:
    assert (await slack.command("+14155550100 hello")).status_code == 200
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    await bot.idle()
    session = fake_voximplant.sessions[0]
    for event in ("dialing", "connected"):
        await fake_voximplant.send_event(session, event, {})
    await fake_voximplant.send_event(session, "disconnected", {"duration_s": 3, "reason": "remote_hangup"})
    await bot.idle()

    found = await metrics(http, bot)
    assert found[("callbot_calls", (("state", "ended"),))] == 1
    assert found[("callbot_calls", (("state", "failed"),))] == 0
    assert found[("callbot_http_requests_total", (("route", "/slack/events"), ("status", "200")))] == 1
    assert found[("callbot_http_requests_total", (("route", "/voximplant/events"), ("status", "200")))] == 3
    assert found[("callbot_voximplant_request_seconds_count", (("method", "StartScenarios"),))] == 1
    assert found[("callbot_background_tasks", ())] == 0
    assert not any(name == "callbot_voximplant_errors_total" for name, _ in found)


async def test_metrics_count_voximplant_errors_and_slack_retries(
    bot: Bot, http: httpx.AsyncClient, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=0)
    fake_voximplant.fail_next(101, "Invalid arguments")
    await slack.command("+14155550100 hello")
    await eventually(lambda: len(fake_slack.parents()) == 1)
    await bot.idle()
    found = await metrics(http, bot)
    assert found[("callbot_voximplant_errors_total", (("kind", "error"), ("method", "StartScenarios")))] == 1
    assert found[("callbot_slack_retries_total", (("reason", "ratelimited"),))] == 1
    assert found[("callbot_calls", (("state", "failed"),))] == 1


async def test_metrics_show_the_slack_outbox_depth_and_its_oldest_write_while_slack_fails(
    bot: Bot, http: httpx.AsyncClient, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    slack_clock: VirtualClock,
) -> None:  # fmt: skip
    await slack.command("+14155550100 hello")
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    await bot.idle()
    found = await metrics(http, bot)
    assert found[("callbot_slack_outbox_rows", ())] == 0 and found[("callbot_slack_outbox_oldest_seconds", ())] == 0

    fake_slack.outage = Fault(status=503)  # Slack answers every write with 503 until it recovers
    updates, queued_after = len(fake_slack.calls_to("chat.update")), time.time()
    session = fake_voximplant.sessions[0]
    await fake_voximplant.send_event(session, "connected")  # the parent's update and a milestone reply
    for text in ("Hello!", "Hi."):
        await fake_voximplant.send_event(session, "transcript", {"role": "agent", "text": text})
    await eventually(lambda: len(fake_slack.calls_to("chat.update")) > updates)  # the worker met the outage
    slack_clock.hold()  # and waits out its backoff (virtual time) for as long as the test looks
    found = await metrics(http, bot)
    assert found[("callbot_slack_outbox_rows", ())] == 4
    assert 0 < found[("callbot_slack_outbox_oldest_seconds", ())] <= time.time() - queued_after
    assert found[("callbot_background_tasks", ())] == 0  # Slack writes are not background tasks
    assert found[("callbot_slack_retries_total", (("reason", "server_error"),))] >= 1

    fake_slack.outage = None
    slack_clock.release()
    await bot.idle()
    found = await metrics(http, bot)
    assert found[("callbot_slack_outbox_rows", ())] == 0 and found[("callbot_slack_outbox_oldest_seconds", ())] == 0


async def test_unknown_paths_are_counted_without_their_path(bot: Bot, http: httpx.AsyncClient) -> None:
    await http.get(f"{bot.url}/wp-admin/setup.php?token=abc")
    found = await metrics(http, bot)
    assert found[("callbot_http_requests_total", (("route", "other"), ("status", "404")))] == 1
    assert not any("wp-admin" in str(labels) for _, labels in found)


async def test_log_lines_about_a_call_carry_its_id_and_no_secret(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, json_log: io.StringIO
) -> None:
    fake_voximplant.fail_next(100, "Authorization failed")
    await slack.command("+14155550100 hello")
    await eventually(lambda: len(fake_slack.parents()) == 1)
    await bot.idle()
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    [call] = await bot.store.calls_in_state(CallState.FAILED)
    about = [line for line in lines if "StartScenarios failed" in line["message"]]
    assert about and all(line["call_id"] == call.id for line in about)
    assert all(set(line) >= {"at", "level", "logger", "message"} for line in lines)
    text = json_log.getvalue()
    assert "sandbox-api-key" not in text and "xoxb-" not in text


@pytest.fixture
def quick_watchdog(bot_settings: dict[str, Any]) -> None:
    bot_settings.update(reconcile_after_s=0.3, reconcile_every_s=0.05)


def logged(json_log: io.StringIO, words: str) -> list[dict[str, Any]]:
    return [line for line in map(json.loads, json_log.getvalue().splitlines()) if words in line["message"]]


async def test_a_delivery_worker_the_watchdog_started_logs_with_the_call_id(
    quick_watchdog: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    json_log: io.StringIO,
) -> None:  # fmt: skip
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await fake_voximplant.send_event(session, "connected")
    await bot.idle()
    # From now on only the watchdog (a task about no call) queues writes: it settles the call, gone quiet, from the
    # call history, and the parent update that follows meets a 503.
    fake_slack.fail_next("chat.update", status=503)
    fake_voximplant.end_session(session, duration=7, successful=True)  # its `disconnected` never comes
    await eventually(lambda: logged(json_log, "Slack chat_update to C0GENERAL failed"), timeout=10)
    lines = logged(json_log, "Slack chat_update to C0GENERAL failed")
    # One line for the 503; after a wait past the fake's keep-alive, also one for a connection it had closed.
    assert lines and {line.get("call_id") for line in lines} == {session.call_id}


async def test_the_hang_up_button_and_reconciliation_log_with_the_call_id(
    quick_watchdog: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    json_log: io.StringIO,
) -> None:  # fmt: skip
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await fake_voximplant.send_event(session, "connected")
    await bot.idle()
    assert (await press_hang_up(slack, fake_slack, "U0ANA")).status_code == 200
    await eventually(lambda: [c.get("action") for c in session.control] == ["hangup"])
    fake_voximplant.end_session(session, duration=7, successful=True)  # its `disconnected` never comes
    await eventually(lambda: logged(json_log, "settled from call history"))
    for words in ("asked to hang up", "settled from call history"):
        assert [line.get("call_id") for line in logged(json_log, words)] == [session.call_id], words


def test_the_formatter_adds_the_bound_call_id_and_redacts_secrets() -> None:
    formatter = JsonFormatter()

    async def in_a_task() -> str:
        bind_call("c_0123")
        record = logging.LogRecord("bot.x", logging.WARNING, __file__, 1, "token %s", ("xoxb-1-2-secret",), None)
        return formatter.format(record)

    line = json.loads(asyncio.run(in_a_task()))
    assert line["call_id"] == "c_0123" and line["message"] == "token [redacted]" and line["level"] == "warning"
    outside = logging.LogRecord("bot.x", logging.INFO, __file__, 1, "no call here", (), None)
    assert "call_id" not in json.loads(formatter.format(outside))  # the task's binding did not leak out


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("token xoxb-123-456-abcdef", "xoxb-123-456-abcdef"),
        ("app token xapp-1-A0-123-abc", "xapp-1-A0-123-abc"),
        ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
        ("jwt eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxIn0.c2lnbmF0dXJl", "c2lnbmF0dXJl"),
        ("key sk-proj-abcdefghijkl", "sk-proj-abcdefghijkl"),
        ("-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----", "MIIEvQ"),
        # key=value, as in form bodies and query strings
        ("api_key=sandbox-api-key&account_id=1", "sandbox-api-key"),
        ("callback_token=f00dfeed", "f00dfeed"),
        ("API_KEY=Sandbox-Key-2", "Sandbox-Key-2"),
        # JSON and Python reprs
        ('{"callback_token":"f00dfeed","v":1}', "f00dfeed"),
        ('{"api_key": "sandbox-api-key"}', "sandbox-api-key"),
        ("{'private_key': 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC'}", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"),
        ('{"signing_secret" : "abc\\"def"}', "def"),  # an escaped quote does not end the value
        ("{'client_secret': \"it's-secret\"}", "it's-secret"),
        # Voximplant session access URLs: whoever holds one controls the call
        ("POST https://www-us-12-34.voximplant.com/request/3A4B5C.1700000000.12345 failed", "3A4B5C"),
        ("https://www-de-01-12.voximplant.com:443/request/9F8E7D/hangup", "9F8E7D"),
        ("insecure http://185.164.148.238:12092/request/3A4B5C.17 refused", "3A4B5C"),
        ('{"media_session_access_secure_url": "https://media.example.net/s/3A4B5C"}', "3A4B5C"),
        ("media_session_access_url=http://185.164.148.238:12092/x/3A4B5C", "3A4B5C"),
        # a response_url (slack_sdk's webhook client logs it at DEBUG)
        ("Sending a request - url: https://hooks.slack.com/actions/T0001/1234/AbCdEf123", "AbCdEf123"),
        ("https://hooks.slack.com/commands/T0001/5678/ZyXw987", "ZyXw987"),
        # Socket Mode's WebSocket URL
        ("connecting to wss://wss-primary.slack.com/link/?ticket=9d1a-77f0-4c2e&app_id=A0123", "9d1a-77f0-4c2e"),
    ],
)
def test_redact_removes_every_kind_of_secret(text: str, secret: str) -> None:
    redacted = redact(f"before {text} after")
    assert secret not in redacted, redacted
    assert "[redacted]" in redacted and redacted.startswith("before ") and redacted.endswith(" after")


@pytest.mark.parametrize(
    "text",
    [
        "POST https://api.voximplant.com/platform_api/StartScenarios answered 500",
        '{"call_id": "c_0123", "seq": 3, "event": "transcript"}',
        "Slack chat_update to C0GENERAL failed (HTTP 503 internal_error); trying again in 1.0s",
        "next_token=abc (a cursor, not a credential)",
    ],
)
def test_redact_leaves_what_is_no_secret(text: str) -> None:
    assert redact(text) == text


async def test_shutdown_finishes_work_under_way(
    tmp_path: Path, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    """Stopping the server (what uvicorn does on SIGTERM) waits for background work before closing the store."""
    app = create_app(make_settings(tmp_path, fake_slack, fake_voximplant))
    finished: list[bool] = []
    release = asyncio.Event()

    async def slow_work() -> None:
        await release.wait()
        assert await state_of(app).store.ping()  # the store is still open while work finishes
        finished.append(True)

    server = await LocalServer(app).start()
    state_of(app).background.spawn(slow_work(), name="slow")
    stopping = asyncio.create_task(server.stop())
    await asyncio.sleep(0)  # let the stop begin: the work is still blocked
    assert not stopping.done() and not finished
    release.set()
    await asyncio.wait_for(stopping, timeout=10)
    assert finished == [True]


async def test_shutdown_ends_within_its_grace_and_keeps_the_slack_writes_it_could_not_send(
    tmp_path: Path, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, http: httpx.AsyncClient,
    slack_clock: VirtualClock, json_log: io.StringIO,
) -> None:  # fmt: skip
    grace_s = 2.0
    settings = make_settings(tmp_path, fake_slack, fake_voximplant, shutdown_grace_s=grace_s)
    app = create_app(settings, slack_clock=slack_clock)
    server = await LocalServer(app).start()
    await state_of(app).store.add_caller_id(
        CALLER_ID, label="Support line", channels=frozenset({Channel.PSTN}), added_by="test", at=datetime.now(UTC)
    )
    # Slack fails the call's message with a 503, and the retry waits (virtual time stands still): the launch,
    # which waits for that message, cannot finish either.
    slack_clock.hold()
    fake_slack.fail_next("chat.postMessage", status=503)
    sender = SlackSender(http, bot_url=server.url, signing_secret=SIGNING_SECRET, response_base=fake_slack.url)  # type: ignore[attr-defined]
    assert (await sender.command("+14155550100 hello")).status_code == 200
    await eventually(lambda: fake_slack.calls_to("chat.postMessage"))

    started = time.monotonic()
    await server.stop()
    took = time.monotonic() - started
    assert took < grace_s + 2.5, took  # the grace, plus closing; it used to be 20 s for launches, then 5 for Slack
    messages = [json.loads(line)["message"] for line in json_log.getvalue().splitlines()]
    assert "stopped with 1 background tasks unfinished" in messages
    assert any(m.startswith("stopped with Slack writes pending for 1 calls") for m in messages)
    store = await Store.open(settings.database)
    try:
        assert len(await store.calls_with_pending_slack()) == 1  # the parent waits for the next start
    finally:
        await store.close()
