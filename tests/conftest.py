"""The harness: fake Slack and fake Voximplant on real ports, the bot on a real port, a signed-request sender."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from bot.app import create_app
from bot.calls.models import Channel
from bot.calls.polling import Cadence
from bot.sandbox.clock import VirtualClock
from bot.sandbox.fake_openai import FakeOpenAI
from bot.sandbox.fake_slack import FakeSlack, load_manifest
from bot.sandbox.fake_voximplant import ACCOUNT_ID, API_KEY, RULE_ID, FakeVoximplant
from bot.sandbox.servers import LocalServer
from bot.sandbox.simulator import ScenarioSimulator
from bot.sandbox.slack_requests import SlackSender
from bot.settings import Settings
from bot.slack.delivery import Delivery
from bot.slack_token import TokenCheckWaits
from bot.state import state_of
from bot.store import Store
from bot.tasks import Background
from tests import postgres

SIGNING_SECRET = "test-signing-secret-0123456789"
BOT_TOKEN = "xoxb-test-bot-token"
CALLER_ID = "+14155550123"
DESTINATION = "+14155550100"
# Pull mode asks sessions ten times as often as in production, as the simulator runs the scenario ten times faster.
POLLING = Cadence(fast_s=0.05, slow_s=0.3, quiet_after_s=1.0, give_up_s=12.0)


# The store's backends: every test that takes `database` (and so `store` and `bot`) runs on each one available.
BACKENDS = ["sqlite", "postgresql"] if postgres.SERVER else ["sqlite"]


def pytest_report_header(config: pytest.Config) -> str:
    return f"PostgreSQL: {postgres.describe_server()}" if postgres.SERVER else postgres.HOW_TO_RUN


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked sqlite_only (they reach into the SQLite file itself) run on SQLite only."""
    chosen, dropped = [], []
    for item in items:
        on_postgres = getattr(item, "callspec", None) and item.callspec.params.get("database") == "postgresql"
        (dropped if on_postgres and item.get_closest_marker("sqlite_only") else chosen).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = chosen


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's real tokens and proxies never reach a test."""
    for name in list(os.environ):
        upper = name.upper()
        if upper in {f.upper() for f in Settings.model_fields} or upper.endswith("_PROXY"):
            monkeypatch.delenv(name)


async def eventually(check: Callable[[], Any], *, timeout: float = 5.0) -> Any:
    """Retry `check` (an assertion, or a function returning a truthy value) until it holds or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result is None or result:
                return result
            error: Exception = AssertionError(f"{check} returned {result!r}")
        except AssertionError as failed:
            error = failed
        if time.monotonic() > deadline:
            raise error
        await asyncio.sleep(0.01)


# The fakes are served once for the whole run (each start and stop of a server costs time, and most tests use
# both); every test gets them as new: `fresh_fakes` resets them at the end of each test.


@pytest.fixture(scope="session")
async def served_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(bot_token=BOT_TOKEN, manifest=load_manifest())  # the app as manifest.yml sets it up
    async with LocalServer(fake.app) as server:
        fake.url = server.url  # type: ignore[attr-defined]
        yield fake


@pytest.fixture(scope="session")
async def served_voximplant() -> AsyncIterator[FakeVoximplant]:
    fake = FakeVoximplant()
    async with LocalServer(fake.app) as server:
        fake.url = server.url
        yield fake
    await fake.aclose()


@pytest.fixture(autouse=True)
async def fresh_fakes(served_slack: FakeSlack, served_voximplant: FakeVoximplant) -> AsyncIterator[None]:
    """At the end of every test, the fakes are reset and any task the test left running is cancelled.

    Set up before the test's other fixtures, and so ended after them all (the bot stopped, the simulator closed).
    reset() answers the requests a test left held and ends the fakes' own work under way; tests share one event
    loop, so what else a test left running is cancelled here, as closing a test's own loop did.
    """
    before = asyncio.all_tasks()
    yield
    await asyncio.gather(served_slack.reset(), served_voximplant.reset())
    left = asyncio.all_tasks() - before - {asyncio.current_task()}
    for task in left:
        task.cancel()
    if left:
        _, stuck = await asyncio.wait(left, timeout=10)
        assert not stuck, f"tasks that ignored their cancellation: {stuck}"


@pytest.fixture
def fake_slack(served_slack: FakeSlack) -> FakeSlack:
    return served_slack


@pytest.fixture
def fake_voximplant(served_voximplant: FakeVoximplant) -> FakeVoximplant:
    return served_voximplant


@pytest.fixture(scope="session")
async def postgres_databases(worker_id: str) -> AsyncIterator[postgres.Databases | None]:
    if not postgres.SERVER:
        yield None
        return
    databases = postgres.Databases(worker_id)
    yield databases
    await databases.close()


@pytest.fixture(params=BACKENDS)
async def database(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_databases: postgres.Databases | None
) -> AsyncIterator[Path | str]:
    """Where a test's store lives: a new SQLite file, or a new PostgreSQL database (a URL)."""
    if request.param == "sqlite":
        yield tmp_path / "callbot.db"
        return
    assert postgres_databases is not None
    url = await postgres_databases.new()
    yield url
    await postgres_databases.drop(url)


@pytest.fixture
async def postgres_url(postgres_databases: postgres.Databases | None) -> AsyncIterator[str]:
    """A new PostgreSQL database, for tests that are about PostgreSQL itself (replicas, the copy from SQLite)."""
    if postgres_databases is None:
        pytest.skip(postgres.HOW_TO_RUN)
    url = await postgres_databases.new()
    yield url
    await postgres_databases.drop(url)


@pytest.fixture
async def store(database: Path | str) -> AsyncIterator[Store]:
    """A fresh store (SQLite on disk, or PostgreSQL), for tests of the store and the domain without a running bot."""
    opened = await Store.open(database)
    yield opened
    await opened.close()


@dataclass
class Bot:
    url: str
    app: Starlette
    settings: Settings

    @property
    def store(self) -> Store:
        return state_of(self.app).store

    @property
    def background(self) -> Background:
        return state_of(self.app).background

    @property
    def delivery(self) -> Delivery:
        return state_of(self.app).delivery

    async def idle(self) -> None:
        """Wait until background work is done and every Slack write queued by it has been delivered."""
        while True:
            await self.background.idle()
            await self.delivery.idle()
            if not self.background._tasks and not self.delivery._workers:
                return


def make_settings(tmp_path: Path, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": f"{fake_slack.url}/api/",  # type: ignore[attr-defined]
        "voximplant_account_id": ACCOUNT_ID,
        "voximplant_api_key": API_KEY,
        "voximplant_rule_id": RULE_ID,
        "voximplant_api_url": f"{fake_voximplant.url}/platform_api/",
        "voximplant_timeout_s": 2.0,
        "public_base_url": "http://127.0.0.1:9",  # replaced by the bot's real URL once it listens
        "database_path": tmp_path / "callbot.db",
        "calling_hours": "off",  # tests run at any hour; tests/calls/test_hours.py sets the clock and the hours
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def bot_settings(tmp_path: Path, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant) -> dict[str, Any]:
    """Overrides a test may change before the bot starts."""
    return {}


@pytest.fixture
def slack_clock(fake_slack: FakeSlack) -> VirtualClock:
    """Slack pacing runs on virtual time, shared with the fake Slack's record of when each call arrived."""
    clock = VirtualClock()
    fake_slack.clock = clock.now
    return clock


@pytest.fixture
def token_waits() -> TokenCheckWaits | None:
    """How the bot waits for Slack to confirm its token (None: as in production); tests keeping Slack down set it."""
    return None


def where(database: Path | str) -> dict[str, Any]:
    """The settings that name `database`: DATABASE_URL for PostgreSQL, DATABASE_PATH for SQLite."""
    return {"database_url": database} if isinstance(database, str) else {"database_path": database}


@contextlib.asynccontextmanager
async def running_bot(settings: Settings, server: LocalServer, **build: Any) -> AsyncIterator[Bot]:
    """The bot for `settings`, served by `server` (bound already), with the test caller ID on its allowlist."""
    server.app = app = create_app(settings, poll_cadence=POLLING, **build)
    async with server:
        await state_of(app).store.add_caller_id(
            CALLER_ID, label="Support line", channels=frozenset({Channel.PSTN}), added_by="test", at=datetime.now(UTC)
        )
        yield Bot(url=server.url, app=app, settings=settings)


@pytest.fixture
async def bot(
    tmp_path: Path, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, bot_settings: dict[str, Any],
    slack_clock: VirtualClock, token_waits: TokenCheckWaits | None, database: Path | str,
) -> AsyncIterator[Bot]:  # fmt: skip
    server = LocalServer()  # bound first: the callback URL names the bot's own port
    overrides = {"public_base_url": server.url, **where(database), **bot_settings}
    settings = make_settings(tmp_path, fake_slack, fake_voximplant, **overrides)
    async with running_bot(settings, server, slack_clock=slack_clock, token_waits=token_waits) as running:
        yield running


@pytest.fixture
async def simulator(fake_voximplant: FakeVoximplant) -> AsyncIterator[ScenarioSimulator]:
    """StartScenarios runs the real scenario under the Node VoxEngine simulator, ten times faster than life.

    Much faster and the scenario's bounded flush before terminate (scaled too) would be shorter than a real loopback
    HTTP round trip, so its last events would be dropped, as they would be in VoxEngine.
    """
    runner = ScenarioSimulator(time_scale=0.1)
    fake_voximplant.runner = runner
    yield runner
    await runner.aclose()


@pytest.fixture(scope="session")
def tls() -> ssl.SSLContext:
    """httpx's default TLS context, loaded once (it takes tens of milliseconds)."""
    return httpx.create_ssl_context()


@pytest.fixture
async def http(tls: ssl.SSLContext) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0, verify=tls) as client:
        yield client


@pytest.fixture
def slack(http: httpx.AsyncClient, bot: Bot, fake_slack: FakeSlack) -> SlackSender:
    return SlackSender(
        http,
        bot_url=bot.url,
        signing_secret=SIGNING_SECRET,
        response_base=fake_slack.url,  # type: ignore[attr-defined]
    )


@pytest.fixture(scope="session")
async def served_openai() -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    async with LocalServer(fake.app) as server:
        fake.url = server.url
        yield fake


@pytest.fixture
async def fake_openai(served_openai: FakeOpenAI) -> AsyncIterator[FakeOpenAI]:
    """The fake OpenAI API (served once for the run), new for each test that takes it."""
    yield served_openai
    await served_openai.reset()
