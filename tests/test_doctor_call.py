"""`callbot doctor --call`: one real call through the launch contract, each step ✔ or ✘, against the fakes."""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.calls.models import CallState, Channel
from bot.doctor_call import Waits, place_test_call
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.simulator import ScenarioSimulator
from bot.settings import Settings
from bot.store import Store
from tests.conftest import CALLER_ID, make_settings

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="the VoxEngine simulator needs Node.js")
QUICK = Waits(brief_s=3.0, events_s=3.0, answer_s=15.0, talk_s=0.5, end_s=10.0)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def settings(tmp_path: Path, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant) -> Settings:
    port = free_port()
    settings = make_settings(tmp_path, fake_slack, fake_voximplant, public_base_url=f"http://127.0.0.1:{port}",
                             port=port)  # fmt: skip
    store = await Store.open(settings.database)
    await store.add_caller_id(CALLER_ID, label="", channels=frozenset({Channel.PSTN}), added_by="cli",
                              at=datetime.now(UTC))  # fmt: skip
    await store.close()
    return settings


@pytest.fixture
async def simulator(fake_voximplant: FakeVoximplant) -> AsyncIterator[ScenarioSimulator]:
    runner = ScenarioSimulator(time_scale=0.2)
    fake_voximplant.runner = runner
    yield runner
    await runner.aclose()


async def calls_in(settings: Settings) -> list[tuple[str, str]]:
    store = await Store.open(settings.database)
    try:
        return [(call.state.value, call.request.origin.user_id) for call in await store.recent_calls(limit=5)]
    finally:
        await store.close()


@needs_node
async def test_a_call_that_works_reports_every_step(
    settings: Settings, fake_voximplant: FakeVoximplant, simulator: ScenarioSimulator
) -> None:
    results = await place_test_call(settings, "+14155550177", waits=QUICK)  # answers and stays on the line
    lines = [result.line() for result in results]
    assert all(result.ok for result in results), lines
    assert len(lines) == 5
    assert lines[0].startswith("✔ StartScenarios started session ") and "+1 415-555-0177" in lines[0]
    assert "bytes of custom data" in lines[0]
    assert lines[1] == f"✔ the scenario read its custom data and fetched its brief from {settings.base_url}"
    assert lines[2] == f"✔ status events reach {settings.base_url}/voximplant/events"
    assert lines[4] == "✔ Hang up worked over the session's secure access URL; the call ended (hangup_requested)"
    [session] = fake_voximplant.sessions
    assert "hangup" in [entry.get("api") for entry in session.api_log]
    assert await calls_in(settings) == [(CallState.ENDED.value, "callbot-doctor")]  # recorded like any call


async def test_an_emergency_number_is_refused_and_nothing_is_started(
    settings: Settings, fake_voximplant: FakeVoximplant
) -> None:
    [result] = await place_test_call(settings, "911", waits=QUICK)
    assert not result.ok and result.line().startswith("✘ the test call was refused: ")
    assert "emergency" in result.text.lower()
    assert fake_voximplant.sessions == []


@needs_node
async def test_a_call_nobody_takes_says_why_and_tries_no_hang_up(
    settings: Settings, fake_voximplant: FakeVoximplant, simulator: ScenarioSimulator
) -> None:
    results = await place_test_call(settings, "+14155550186", waits=QUICK)  # busy
    assert [result.ok for result in results] == [True, True, True, False]
    assert results[-1].text.startswith("the call did not connect: the line was busy (486 Busy Here)")
    assert results[-1].text.endswith("Hang up was not tried")


async def test_a_scenario_that_never_fetches_its_brief_points_at_public_base_url(
    settings: Settings, fake_voximplant: FakeVoximplant
) -> None:
    fake_voximplant.fetch_briefs = False  # Voximplant cannot reach the bot: no brief, no call, however long it waits
    results = await place_test_call(settings, "+14155550100", waits=replace(QUICK, brief_s=0.3))
    assert [result.ok for result in results] == [True, False]
    assert results[1].text.startswith(
        f"the scenario never fetched its brief from {settings.base_url}/voximplant/brief within 0.3 s: Voximplant "
        "must reach PUBLIC_BASE_URL"
    )


async def test_a_running_bot_on_the_port_is_named(settings: Settings, fake_voximplant: FakeVoximplant) -> None:
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        taken.bind((settings.host, settings.port))
        taken.listen()
        [result] = await asyncio.wait_for(place_test_call(settings, "+14155550100", waits=QUICK), 10)
    assert not result.ok and f"{settings.host}:{settings.port} is taken" in result.text
    assert "stop callbot serve" in result.text
    assert fake_voximplant.sessions == []


@needs_node
async def test_in_pull_mode_the_doctor_serves_nothing_and_asks_the_session(
    settings: Settings, fake_voximplant: FakeVoximplant, simulator: ScenarioSimulator
) -> None:
    pulled = settings.model_copy(update={"public_base_url": None, "voximplant_events": "pull"})
    with socket.socket() as taken:  # the bot may even be running: the doctor binds no port in pull mode
        taken.bind((pulled.host, pulled.port))
        taken.listen()
        results = await place_test_call(pulled, "+14155550177", waits=QUICK)
    lines = [result.line() for result in results]
    assert all(result.ok for result in results), lines
    assert (
        lines[1] == "✔ the session took its brief over its access URL (pull mode: the scenario's answers reach the bot)"
    )
    assert lines[2] == "✔ status events come back from the session when the bot asks (pull mode)"
    assert lines[-1].startswith("✔ Hang up worked")
    [session] = fake_voximplant.sessions
    assert "httpRequestAsync" not in [entry.get("api") for entry in session.api_log]
