"""VoximplantClient against the fake Management API over real HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.errors import VoximplantError, VoximplantUnreachable
from bot.sandbox.fake_voximplant import ACCOUNT_ID, API_KEY, RULE_ID, FakeVoximplant
from bot.sandbox.servers import LocalServer
from bot.voximplant import MAX_CUSTOM_DATA_BYTES, ApiKeyAuth, VoximplantClient


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(1.0, connect=1.0)) as client:
        yield client


def client(http: httpx.AsyncClient, base_url: str, api_key: str = API_KEY) -> VoximplantClient:
    return VoximplantClient(http, base_url=base_url, auth=ApiKeyAuth(ACCOUNT_ID, api_key), backoff_s=0.01)


async def test_start_scenarios_returns_the_session(http: httpx.AsyncClient, fake_voximplant: FakeVoximplant) -> None:
    result = await client(http, f"{fake_voximplant.url}/platform_api/").start_scenarios(
        rule_id=RULE_ID, custom_data='{"v":1}'
    )
    session = fake_voximplant.sessions[0]
    assert result.call_session_history_id == session.history_id
    assert result.media_session_access_secure_url == session.access_url
    sent = fake_voximplant.requests[0]
    assert sent["account_id"] == ACCOUNT_ID and sent["api_key"] == API_KEY  # in the form body, not the URL
    assert sent["script_custom_data"] == '{"v":1}' and sent["rule_id"] == str(RULE_ID)


async def test_api_errors_carry_code_and_message_but_no_secret(
    http: httpx.AsyncClient, fake_voximplant: FakeVoximplant
) -> None:
    with pytest.raises(VoximplantError) as raised:
        await client(http, f"{fake_voximplant.url}/platform_api/", api_key="wrong-key").start_scenarios(
            rule_id=RULE_ID, custom_data="{}"
        )
    assert raised.value.code == 100 and raised.value.message == "Authorization failed"
    assert not raised.value.may_have_started
    assert_no_secret(raised.value, "wrong-key")


def assert_no_secret(error: BaseException, secret: str) -> None:
    """`secret` is nowhere a log line or a traceback shows: the error, its args, and every error chained to it."""
    seen: BaseException | None = error
    while seen is not None:
        assert secret not in str(seen) and secret not in repr(seen), seen
        assert all(secret not in repr(arg) for arg in seen.args), seen.args
        seen = seen.__cause__ or seen.__context__


async def test_429_is_retried_then_succeeds(http: httpx.AsyncClient, fake_voximplant: FakeVoximplant) -> None:
    fake_voximplant.fail_next(status=429)
    result = await client(http, f"{fake_voximplant.url}/platform_api/").start_scenarios(
        rule_id=RULE_ID, custom_data="{}"
    )
    assert len(fake_voximplant.requests) == 2 and len(fake_voximplant.sessions) == 1
    assert result.call_session_history_id == fake_voximplant.sessions[0].history_id


async def test_5xx_is_not_retried_and_may_have_started(
    http: httpx.AsyncClient, fake_voximplant: FakeVoximplant
) -> None:
    fake_voximplant.fail_next(status=503)
    with pytest.raises(VoximplantError) as raised:
        await client(http, f"{fake_voximplant.url}/platform_api/").start_scenarios(rule_id=RULE_ID, custom_data="{}")
    assert raised.value.may_have_started and len(fake_voximplant.requests) == 1


async def test_read_timeout_is_not_retried(http: httpx.AsyncClient, fake_voximplant: FakeVoximplant) -> None:
    fake_voximplant.fail_next(delay_s=1.5, start_anyway=True)
    with pytest.raises(VoximplantError) as raised:
        await client(http, f"{fake_voximplant.url}/platform_api/").start_scenarios(rule_id=RULE_ID, custom_data="{}")
    assert raised.value.may_have_started and not isinstance(raised.value, VoximplantUnreachable)
    assert len(fake_voximplant.requests) == 1
    assert_no_secret(raised.value, API_KEY)  # httpx's own error is chained to ours: it must not carry the form


async def test_connection_refused_is_retried_then_reported_unreachable(http: httpx.AsyncClient) -> None:
    vox = client(http, "http://127.0.0.1:1/platform_api/")
    with pytest.raises(VoximplantUnreachable) as raised:
        await vox.start_scenarios(rule_id=RULE_ID, custom_data="{}")
    assert not raised.value.may_have_started
    assert vox.attempts == 3  # three attempts, none of which reached Voximplant


async def test_oversized_custom_data_is_refused_before_sending(
    http: httpx.AsyncClient, fake_voximplant: FakeVoximplant
) -> None:
    with pytest.raises(VoximplantError):
        await client(http, f"{fake_voximplant.url}/platform_api/").start_scenarios(
            rule_id=RULE_ID, custom_data="x" * (MAX_CUSTOM_DATA_BYTES + 1)
        )
    assert fake_voximplant.requests == []


def test_auth_repr_hides_the_key() -> None:
    assert API_KEY not in repr(ApiKeyAuth(ACCOUNT_ID, API_KEY))


async def test_hang_up_refused_by_the_scenario_is_a_failure(
    http: httpx.AsyncClient, fake_voximplant: FakeVoximplant
) -> None:
    vox = client(http, f"{fake_voximplant.url}/platform_api/")
    started = await vox.start_scenarios(rule_id=RULE_ID, custom_data='{"v":1}')
    access_url = started.media_session_access_secure_url
    fake_voximplant.sessions[0].brief = {"control_secret": "the-call-secret"}  # what the scenario had from its brief
    await vox.hang_up(access_url, secret="the-call-secret")  # {"ok": true}: done
    fake_voximplant.control_answer = {"ok": False, "error": "no call in this session"}
    with pytest.raises(VoximplantError) as raised:
        await vox.hang_up(access_url, secret="the-call-secret")
    assert raised.value.message == "the call's session said: no call in this session"
    assert_no_secret(raised.value, access_url)  # the access URL opens the session to anyone holding it
    assert len(fake_voximplant.sessions[0].control) == 2


async def test_say_is_sent_once_where_hang_up_is_retried(http: httpx.AsyncClient) -> None:
    """A say is not idempotent (the agent would say it twice): a 5xx or a lost answer is not retried, unlike a
    hang-up; only a connection that never opened is tried again."""
    received: list[dict[str, object]] = []

    async def session(request: Request) -> JSONResponse:
        received.append(await request.json())
        return JSONResponse({"ok": False, "error": "busy"}, status_code=503)

    app = Starlette(routes=[Route("/request/{rest:path}", session, methods=["POST"])])
    vox = client(http, "http://127.0.0.1:1/platform_api/")
    async with LocalServer(app) as server:
        url = f"{server.url}/request/abc"
        with pytest.raises(VoximplantError) as said:
            await vox.say(url, text="Hello", secret="the-call-secret")
        assert said.value.message == "the call's session answered HTTP 503"
        assert [r["action"] for r in received] == ["say"]
        assert received[0] == {"action": "say", "text": "Hello", "secret": "the-call-secret"}
        with pytest.raises(VoximplantError):
            await vox.hang_up(url, secret="the-call-secret")
        assert [r["action"] for r in received] == ["say", "hangup", "hangup", "hangup"]
    with pytest.raises(VoximplantUnreachable):  # nothing listens: unreachable, not a refusal
        await vox.say("http://127.0.0.1:1/request/abc", text="Hello", secret="the-call-secret")


# -- call history, caller IDs, errors (issue 11) -------------------------------------------------------------------


async def test_call_history_is_read_in_utc_whatever_the_accounts_time_zone(
    http: httpx.AsyncClient, fake_voximplant: FakeVoximplant
) -> None:
    fake_voximplant.account_timezone = "America/Los_Angeles"  # what applies when a request names no timezone
    vox = client(http, f"{fake_voximplant.url}/platform_api/")
    started = await vox.start_scenarios(rule_id=RULE_ID, custom_data='{"v":2,"id":"c1"}')
    session = fake_voximplant.sessions[0]
    fake_voximplant.end_session(session, duration=12, successful=True)
    found = await vox.get_call_history(started.call_session_history_id, started_at=session.started_at)
    assert found is not None and found.finished and found.calls[0].duration == 12
    [asked] = [r for r in fake_voximplant.requests if r["method"] == "GetCallHistory"]
    assert asked["timezone"] == "Etc/GMT" and asked["with_calls"] == "true"


async def test_find_session_by_its_exact_custom_data(http: httpx.AsyncClient, fake_voximplant: FakeVoximplant) -> None:
    vox = client(http, f"{fake_voximplant.url}/platform_api/")
    first = '{"v":2,"id":"aaaaaaaaaaaa","u":"https://bot.example.com/voximplant/brief","t":"tok1"}'
    second = '{"v":2,"id":"bbbbbbbbbbbb","u":"https://bot.example.com/voximplant/brief","t":"tok2"}'
    await vox.start_scenarios(rule_id=RULE_ID, custom_data=first)
    await vox.start_scenarios(rule_id=RULE_ID, custom_data=second)
    fake_voximplant.end_session(fake_voximplant.sessions[1], duration=3, successful=False)
    since = fake_voximplant.sessions[0].started_at

    found = await vox.find_session(second, started_at=since)
    assert found is not None and found.call_session_history_id == fake_voximplant.sessions[1].history_id
    assert found.custom_data == second and found.finished and found.outgoing is not None
    assert await vox.find_session('{"v":2,"id":"cccccccccccc"}', started_at=since) is None
    asked = [r for r in fake_voximplant.requests if r["method"] == "GetCallHistory"]
    assert [r["call_session_history_custom_data"] for r in asked] == [second, '{"v":2,"id":"cccccccccccc"}']
    assert all(r["with_calls"] == "true" and r["timezone"] == "Etc/GMT" for r in asked)


async def test_an_empty_verified_until_reads_as_no_date(
    http: httpx.AsyncClient, fake_voximplant: FakeVoximplant
) -> None:
    fake_voximplant.caller_ids.append(
        {"callerid_id": 7, "callerid_number": "14155550123", "active": True, "verified_until": ""}
    )
    fake_voximplant.add_caller_id("+14155550124", verified_until="2099-12-31")
    first, second = await client(http, f"{fake_voximplant.url}/platform_api/").get_caller_ids()
    assert first.e164 == "+14155550123" and first.verified_until is None
    assert str(second.verified_until) == "2099-12-31"


@pytest.mark.parametrize(("status", "unreachable"), [(400, False), (403, False), (429, True), (500, False)])
async def test_a_non_200_answer_keeps_voximplants_code_and_message(
    http: httpx.AsyncClient, fake_voximplant: FakeVoximplant, status: int, unreachable: bool
) -> None:
    for _ in range(3):  # a 429 is retried: every attempt gets it
        fake_voximplant.fail_method("GetCallerIDs", 102, "Access denied: the key's role cannot read caller IDs",
                                    status=status)  # fmt: skip
    with pytest.raises(VoximplantError) as raised:
        await client(http, f"{fake_voximplant.url}/platform_api/").get_caller_ids()
    assert raised.value.code == 102
    assert "Access denied: the key's role cannot read caller IDs" in raised.value.message
    assert f"HTTP {status}" in raised.value.message
    assert isinstance(raised.value, VoximplantUnreachable) == unreachable
    assert raised.value.may_have_started == (status >= 500)
    assert_no_secret(raised.value, API_KEY)


async def test_phone_numbers_mark_test_numbers(http: httpx.AsyncClient, fake_voximplant: FakeVoximplant) -> None:
    fake_voximplant.add_phone_number("+14155550130")
    fake_voximplant.add_phone_number("+14155550131", test=True)
    fake_voximplant.add_phone_number("+14155550132", can_be_used=False)
    numbers = {n.e164: n for n in await client(http, f"{fake_voximplant.url}/platform_api/").get_phone_numbers()}
    assert {n: (i.test_number, i.can_be_used) for n, i in numbers.items()} == {
        "+14155550130": (False, True), "+14155550131": (True, True), "+14155550132": (False, False),
    }  # fmt: skip
    asked = [r["sandbox"] for r in fake_voximplant.requests if r["method"] == "GetPhoneNumbers"]
    assert asked == ["false", "true"]


def test_the_models_load_without_httpx_or_the_client() -> None:
    code = "import json, sys, bot.voximplant.models; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    loaded = set(json.loads(done.stdout))
    assert "bot.voximplant.models" in loaded  # the check itself works
    assert not {"httpx", "bot.voximplant.client", "bot.voximplant.api", "bot.voximplant.auth"} & loaded
