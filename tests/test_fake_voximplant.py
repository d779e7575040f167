"""The fake Management API answers GetCallHistory as Voximplant documents it."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from bot.errors import VoximplantError, VoximplantUnreachable
from bot.sandbox.fake_voximplant import (
    ACCOUNT_ID,
    API_KEY,
    MAX_CONCURRENT_START_SCENARIOS,
    MAX_SCENARIO_SCRIPT,
    RULE_ID,
    FakeVoximplant,
)
from bot.voximplant import ApiKeyAuth, VoximplantClient
from tests.conftest import eventually


async def test_get_call_history_needs_its_time_window(fake_voximplant: FakeVoximplant) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{fake_voximplant.url}/platform_api/GetCallHistory/",
            data={"account_id": ACCOUNT_ID, "api_key": API_KEY, "call_session_history_id": "1", "with_calls": "true"},
        )
    assert answer.status_code == 200
    assert answer.json()["error"]["code"] == 101


async def test_get_call_history_lists_a_finished_session_with_its_calls(fake_voximplant: FakeVoximplant) -> None:
    async with httpx.AsyncClient() as http:
        base = {"account_id": ACCOUNT_ID, "api_key": API_KEY}
        started = await http.post(
            f"{fake_voximplant.url}/platform_api/StartScenarios/",
            data={**base, "rule_id": "3000001", "script_custom_data": '{"call_id": "c1", "destination": "+1415"}'},
        )
        history_id = started.json()["call_session_history_id"]
        fake_voximplant.end_session(fake_voximplant.sessions[0], duration=30, successful=True, cost=0.01)
        answer = await http.post(
            f"{fake_voximplant.url}/platform_api/GetCallHistory/",
            data={**base, "from_date": "2000-01-01 00:00:00", "to_date": "2100-01-01 00:00:00",
                  "call_session_history_id": str(history_id), "with_calls": "true"},
        )  # fmt: skip
    body = answer.json()
    assert body["total_count"] == 1 and body["timezone"] == "Etc/GMT"
    [session] = body["result"]
    assert session["call_session_history_id"] == history_id and session["finish_reason"] == "Normal termination"
    [call] = session["calls"]
    assert call["successful"] is True and call["duration"] == 30 and call["cost"] == 0.01 and call["incoming"] is False


# -- documented limits, each shown biting ------------------------------------------------------------------------


async def test_start_scenarios_beyond_200_concurrent_requests_is_answered_429(fake_voximplant: FakeVoximplant) -> None:
    """voximplant.com/docs/references/httpapi/scenarios#startscenarios: at most 200 concurrent requests, then 429."""
    fake_voximplant.hold_starts = asyncio.Event()
    form = {"account_id": ACCOUNT_ID, "api_key": API_KEY, "rule_id": str(RULE_ID), "script_custom_data": "{}"}
    url = f"{fake_voximplant.url}/platform_api/StartScenarios/"
    async with httpx.AsyncClient(
        timeout=30, limits=httpx.Limits(max_connections=MAX_CONCURRENT_START_SCENARIOS + 1)
    ) as http:
        held = [asyncio.create_task(http.post(url, data=form)) for _ in range(MAX_CONCURRENT_START_SCENARIOS)]
        await eventually(lambda: fake_voximplant.starting == MAX_CONCURRENT_START_SCENARIOS, timeout=20)
        over = await http.post(url, data=form)
        assert over.status_code == 429 and fake_voximplant.refused_as_too_many == 1

        vox = VoximplantClient(
            http, base_url=f"{fake_voximplant.url}/platform_api/", auth=ApiKeyAuth(ACCOUNT_ID, API_KEY), backoff_s=0.01
        )
        with pytest.raises(VoximplantUnreachable) as raised:  # retried, refused each time, nothing started
            await vox.start_scenarios(rule_id=RULE_ID, custom_data="{}")
        assert "HTTP 429" in raised.value.message and not raised.value.may_have_started
        assert vox.attempts == 3 and fake_voximplant.refused_as_too_many == 4

        fake_voximplant.hold_starts.set()
        answers = await asyncio.gather(*held)
    assert [a.status_code for a in answers] == [200] * MAX_CONCURRENT_START_SCENARIOS
    assert len(fake_voximplant.sessions) == MAX_CONCURRENT_START_SCENARIOS and fake_voximplant.starting == 0


@pytest.mark.parametrize("method", ["AddScenario", "SetScenarioInfo"])
async def test_a_scenario_of_128_kb_or_more_is_refused(fake_voximplant: FakeVoximplant, method: str) -> None:
    """voximplant.com/docs/references/httpapi/scenarios: scenario_script "must be less than 128 KB"."""
    async with httpx.AsyncClient(timeout=10) as http:
        vox = VoximplantClient(
            http, base_url=f"{fake_voximplant.url}/platform_api/", auth=ApiKeyAuth(ACCOUNT_ID, API_KEY)
        )
        app = await vox.add_application(application_name="callbot")
        just_under = "/" * (MAX_SCENARIO_SCRIPT - 3) + "é"  # 128 Ki - 1 bytes of UTF-8: accepted
        scenario_id = await vox.add_scenario(
            application_id=app.application_id, scenario_name="outbound_call", scenario_script=just_under
        )
        too_big = just_under + "/"  # one byte more
        with pytest.raises(VoximplantError) as raised:
            if method == "AddScenario":
                await vox.add_scenario(
                    application_id=app.application_id, scenario_name="other", scenario_script=too_big
                )
            else:
                await vox.set_scenario_info(scenario_id=scenario_id, scenario_script=too_big)
    assert raised.value.code == 101 and "less than 128 KB" in raised.value.message
    assert [s["scenario_script"] for s in fake_voximplant.scenarios] == [just_under]


async def test_get_call_history_reads_its_dates_in_the_timezone_asked_or_the_accounts(
    fake_voximplant: FakeVoximplant,
) -> None:
    fake_voximplant.account_timezone = "Asia/Tokyo"  # UTC+9, no daylight saving
    base = {"account_id": ACCOUNT_ID, "api_key": API_KEY}
    async with httpx.AsyncClient() as http:
        await http.post(
            f"{fake_voximplant.url}/platform_api/StartScenarios/",
            data={**base, "rule_id": str(RULE_ID), "script_custom_data": '{"v":2,"id":"c1"}'},
        )
        started = fake_voximplant.sessions[0].started_at
        since = started.replace(microsecond=0)
        window = {
            "from_date": f"{since:%Y-%m-%d %H:%M:%S}",
            "to_date": f"{since + timedelta(minutes=1):%Y-%m-%d %H:%M:%S}",
        }

        async def history(**extra: str) -> dict[str, Any]:
            answer = await http.post(
                f"{fake_voximplant.url}/platform_api/GetCallHistory/", data={**base, **window, **extra}
            )
            return answer.json()  # type: ignore[no-any-return]

        in_utc = await history(timezone="Etc/GMT")
        in_account_zone = await history()  # the same clock times, read 9 hours earlier
        by_custom_data = await history(timezone="Etc/GMT", call_session_history_custom_data='{"v":2,"id":"c1"}')
        by_other_data = await history(timezone="Etc/GMT", call_session_history_custom_data='{"v":2,"id":"c2"}')
    assert in_utc["timezone"] == "Etc/GMT" and in_utc["total_count"] == 1
    assert in_account_zone["timezone"] == "Asia/Tokyo" and in_account_zone["result"] == []
    assert [s["custom_data"] for s in by_custom_data["result"]] == ['{"v":2,"id":"c1"}']
    assert by_other_data["result"] == []


# -- reset(): tests share one served fake ---------------------------------------------------------------------------

# How the fake is served, which reset() keeps.
SERVING = {"app", "url", "_setup", "_requests", "_resetting", "_tls", "_http"}


def state(fake: FakeVoximplant) -> dict[str, object]:
    return {name: value for name, value in vars(fake).items() if name not in SERVING}


async def test_reset_gives_back_a_new_fake_and_ends_what_a_test_left_under_way(
    fake_voximplant: FakeVoximplant,
) -> None:
    new = state(FakeVoximplant())  # as the served one was made
    assert state(fake_voximplant) == new
    waiting: list[asyncio.StreamWriter] = []
    silent = await asyncio.start_server(lambda _, writer: waiting.append(writer), "127.0.0.1", 0)  # never answers
    brief_url = f"http://127.0.0.1:{silent.sockets[0].getsockname()[1]}/brief"
    form = {"account_id": ACCOUNT_ID, "api_key": API_KEY, "rule_id": str(RULE_ID)}
    url = f"{fake_voximplant.url}/platform_api/StartScenarios/"
    async with httpx.AsyncClient(timeout=30) as http, silent:
        # A session whose brief fetch hangs, a StartScenarios answer held, another held by hold_starts, and what a
        # test can set: faults, setup records, an account's settings.
        custom_data = json.dumps({"v": 2, "id": "c1", "u": brief_url, "t": "token"})
        started = await http.post(url, data={**form, "script_custom_data": custom_data})
        assert started.status_code == 200
        [session] = fake_voximplant.sessions
        fake_voximplant.fail_next(start_anyway=True, until=asyncio.Event())
        held_answer = asyncio.create_task(http.post(url, data={**form, "script_custom_data": "{}"}))
        await eventually(lambda: len(fake_voximplant.sessions) == 2)
        fake_voximplant.hold_starts = asyncio.Event()
        held_start = asyncio.create_task(http.post(url, data={**form, "script_custom_data": "{}"}))
        await eventually(lambda: fake_voximplant.starting == 2)
        fake_voximplant.fail_next(code=103)
        fake_voximplant.fail_method("GetCallerIDs", 100, "Authorization failed")
        fake_voximplant.add_caller_id("+14155550123")
        fake_voximplant.rule_ids.add(42)
        fake_voximplant.account_timezone = "Asia/Tokyo"
        fake_voximplant.control_answer = {"ok": False}
        fake_voximplant.answer_delay_s = 3600
        assert state(fake_voximplant) != new

        await fake_voximplant.reset()
        answers = await asyncio.gather(held_answer, held_start)
        for writer in waiting:
            writer.close()
    assert [a.status_code for a in answers] == [503, 503]
    assert session.briefing is not None and session.briefing.cancelled()
    assert state(fake_voximplant) == new  # and the held requests changed nothing on their way out
