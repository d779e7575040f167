"""The fake Management API answers GetCallHistory as Voximplant documents it."""

from __future__ import annotations

import httpx

from bot.sandbox.fake_voximplant import ACCOUNT_ID, API_KEY, FakeVoximplant


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
