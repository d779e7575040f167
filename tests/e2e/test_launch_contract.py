"""Launch contract v2: custom data within Voximplant's 200 bytes, and the brief the scenario fetches with it."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.calls import launch
from bot.calls.models import CallState
from bot.errors import ConfigError, VoximplantError
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.simulator import SCENARIO
from bot.sandbox.slack_requests import SlackSender
from bot.settings import load_settings
from bot.state import state_of
from bot.voximplant import ApiKeyAuth, VoximplantClient
from tests.conftest import DESTINATION, Bot, eventually, make_settings
from tests.e2e.test_call_flow import place, thread_texts
from tests.e2e.test_hang_up import press_hang_up


async def test_custom_data_is_a_reference_that_fits_and_holds_no_lasting_secret(
    bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} {'a long brief for the agent ' * 100}")
    sent = fake_voximplant.requests[-1]["script_custom_data"]
    assert len(sent.encode()) <= launch.MAX_CUSTOM_DATA_BYTES
    assert set(json.loads(sent)) == {"v", "id", "u", "t"}
    brief = await fake_voximplant.briefed(session)
    assert len(brief["instructions"]) > 2_000  # the instructions travel in the brief, not in custom data
    for secret in (brief["callback_token"], brief["control_secret"]):
        assert secret not in sent
    call = await bot.store.call(session.call_id)
    assert call is not None and call.custom_data == sent  # kept, to find the session in call history by it


async def test_the_brief_token_opens_the_brief_only_until_the_call_reports(
    bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    first = await fake_voximplant.briefed(session)
    # A second fetch (the first answer was lost on the way) works, and its callback token replaces the first.
    again = await fake_voximplant.fetch_brief(session)
    assert again["callback_token"] != first["callback_token"]
    session.brief = again
    stale = await fake_voximplant.send_event(session, "started", token=first["callback_token"])
    assert stale.status_code == 401
    assert (await fake_voximplant.send_event(session, "started")).status_code == 200
    # Once the call has reported, the brief token is spent: whoever reads custom data in call history learns nothing.
    spent = await fake_voximplant.request_brief(session)
    assert spent.status_code == 410 and spent.json() == {"ok": False, "error": "the brief token is spent"}
    assert spent.headers["cache-control"] == "no-store"
    assert "callback_token" not in spent.text and first["control_secret"] not in spent.text


@pytest.mark.parametrize("authorization", ["", "Bearer", "Bearer not-the-token", "Basic abc", "bearer  x"])
async def test_a_wrong_brief_token_learns_nothing(
    bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant, http: httpx.AsyncClient, authorization: str
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    headers = {"Authorization": authorization} if authorization else {}
    response = await http.get(f"{bot.url}/voximplant/brief", headers=headers)
    assert response.status_code == 401 and response.json() == {"ok": False, "error": "bad brief token"}
    assert DESTINATION not in response.text
    # The real scenario's fetch is not disturbed by the stranger's.
    assert (await fake_voximplant.briefed(session))["destination"] == DESTINATION


async def test_a_call_that_failed_at_launch_is_never_dialled_from_its_brief(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    # Voximplant started the session but its answer was lost: the bot fails the call without retrying. The
    # scenario's brief fetch is then refused, so the phone never rings for a call the thread calls failed.
    fake_voximplant.fetch_briefs = False
    fake_voximplant.fail_next(status=502, start_anyway=True)
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    await bot.idle()
    call = await bot.store.call(session.call_id)
    assert call is not None and call.state is CallState.FAILED
    refused = await fake_voximplant.request_brief(session)
    assert refused.status_code == 410 and refused.json()["error"] == "the call is over; do not dial"


async def test_the_brief_token_expires(
    bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_voximplant.fetch_briefs = False
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    await bot.idle()
    calls = state_of(bot.app).calls
    call = await bot.store.call(session.call_id)
    assert call is not None
    policy = calls.policy
    lifetime = policy.show_timeout_s + policy.start_timeout_s + 60.0
    monkeypatch.setattr(calls.placing, "_clock", lambda: call.created_at + timedelta(seconds=lifetime + 1))
    expired = await fake_voximplant.request_brief(session)
    assert expired.status_code == 410


async def test_hang_up_carries_the_control_secret(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    brief = await fake_voximplant.briefed(session)
    for event in ("started", "dialing", "connected"):
        await fake_voximplant.send_event(session, event)
    await bot.idle()
    assert (await press_hang_up(slack, fake_slack, "U0ANA")).status_code == 200
    await eventually(lambda: session.control)
    assert session.control == [{"action": "hangup", "secret": brief["control_secret"]}]
    await bot.idle()
    assert not any("could not hang up" in line.lower() for line in thread_texts(fake_slack))


def test_serve_refuses_a_public_base_url_too_long_for_custom_data(
    tmp_path: Path, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = launch.longest_base_url()
    fits = "https://" + "a" * (room - len("https://"))
    assert launch.custom_data_fits(fits) and not launch.custom_data_fits(fits + "b")
    settings: dict[str, Any] = make_settings(tmp_path, fake_slack, fake_voximplant).model_dump()
    settings.pop("public_base_url")
    load_settings(**settings, public_base_url=fits)
    with pytest.raises(ConfigError) as refused:
        load_settings(**settings, public_base_url=fits + "b")
    [problem] = refused.value.problems
    assert problem.startswith(f"PUBLIC_BASE_URL is {room + 1} bytes long; at most {room} fit")
    assert "200 bytes" in problem


async def test_startscenarios_never_sends_more_than_200_bytes(
    fake_voximplant: FakeVoximplant, http: httpx.AsyncClient
) -> None:
    # The fake refuses what Voximplant would cut; the client refuses it before it leaves.
    client = VoximplantClient(
        http, base_url=f"{fake_voximplant.url}/platform_api/",
        auth=ApiKeyAuth(fake_voximplant.account_id, fake_voximplant.api_key),
    )  # fmt: skip
    with pytest.raises(VoximplantError, match="201 bytes; Voximplant takes at most 200"):
        await client.start_scenarios(rule_id=next(iter(fake_voximplant.rule_ids)), custom_data="x" * 201)
    assert fake_voximplant.requests == []
    raw = await http.post(
        f"{fake_voximplant.url}/platform_api/StartScenarios/",
        data={"account_id": fake_voximplant.account_id, "api_key": fake_voximplant.api_key,
              "rule_id": str(next(iter(fake_voximplant.rule_ids))), "script_custom_data": "é" * 101},
    )  # fmt: skip
    assert raw.json()["error"]["code"] == 101 and fake_voximplant.sessions == []


def test_the_scenario_declares_the_contracts_this_bot_speaks() -> None:
    script = SCENARIO.read_text()
    assert launch.scenario_contract(script) == (launch.CONTRACT_VERSION, launch.EVENTS_VERSION)
    assert launch.scenario_contract("var CALLBOT_CONTRACT = { launch: 1, events: 1 };") == (1, 1)
    assert launch.scenario_contract("// an older version") is None
