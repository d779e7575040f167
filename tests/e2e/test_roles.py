"""`callbot serve --role web` and `--role worker` on one PostgreSQL: the web replica answers and records, never
talking to Voximplant or writing to Slack; the worker launches its calls and fills their threads."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from bot.__main__ import main
from bot.calls.models import CallRequest, Origin
from bot.sandbox.clock import VirtualClock
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.servers import LocalServer
from bot.sandbox.slack_requests import TEAM_ID, SlackSender
from bot.settings import Settings
from bot.slack import texts
from bot.state import state_of
from bot.store import Store
from bot.store.database import NOTIFY_CHANNEL
from tests.conftest import CALLER_ID, DESTINATION, SIGNING_SECRET, Bot, eventually, make_settings, running_bot
from tests.e2e.test_replicas import RoundRobin


@dataclass
class Roles:
    web: Bot
    worker: Bot
    slack: SlackSender  # Slack's requests, to the web replica
    web_to_slack: RoundRobin  # every Slack Web API request the web replica made
    web_to_voximplant: RoundRobin  # every Management API request the web replica made


@pytest.fixture
async def roles(
    tmp_path: Path, postgres_url: str, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    slack_clock: VirtualClock, http: httpx.AsyncClient,
) -> AsyncIterator[Roles]:  # fmt: skip
    """A web replica (Slack's request URL and Voximplant's callbacks point at it) and a worker, on one database.
    The web replica reaches Slack and Voximplant through recording proxies."""
    to_slack, to_voximplant = RoundRobin(http), RoundRobin(http)
    to_slack.replicas = [fake_slack.url]  # type: ignore[attr-defined]
    to_voximplant.replicas = [fake_voximplant.url]
    async with contextlib.AsyncExitStack() as stack:
        slack_proxy = await stack.enter_async_context(LocalServer(to_slack.app))
        voximplant_proxy = await stack.enter_async_context(LocalServer(to_voximplant.app))
        web_server = LocalServer()
        web_settings = make_settings(
            tmp_path, fake_slack, fake_voximplant, role="web", database_url=postgres_url,
            public_base_url=web_server.url, slack_api_url=f"{slack_proxy.url}/api/",
            voximplant_api_url=f"{voximplant_proxy.url}/platform_api/",
        )  # fmt: skip
        web = await stack.enter_async_context(running_bot(web_settings, web_server, slack_clock=slack_clock))
        worker_settings = make_settings(
            tmp_path, fake_slack, fake_voximplant, role="worker", database_url=postgres_url,
            public_base_url=web_server.url,
        )  # fmt: skip
        worker = await stack.enter_async_context(running_bot(worker_settings, LocalServer(), slack_clock=slack_clock))
        await _listening(postgres_url)  # else a command sent at once is found by the scan, without its response_url
        slack = SlackSender(http, bot_url=web.url, signing_secret=SIGNING_SECRET,
                            response_base=fake_slack.url)  # type: ignore[attr-defined]  # fmt: skip
        yield Roles(web, worker, slack, to_slack, to_voximplant)


async def _listening(url: str, within_s: float = 10.0) -> None:
    """Wait until the worker LISTENs on this test's database (its own connection, outside the pool)."""
    deadline = time.monotonic() + within_s
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        while True:
            cursor = await conn.execute(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND query = %s",
                (f"LISTEN {NOTIFY_CHANNEL}",),
            )
            row = await cursor.fetchone()
            if row is not None and row[0] > 0:
                return
            assert time.monotonic() < deadline, "the worker never listened"
            await asyncio.sleep(0.02)


async def commands_left(store: Store, within_s: float = 8.0) -> int:
    """How many slash commands are still kept, once none is (or `within_s` passed)."""
    deadline = time.monotonic() + within_s
    while (left := int(await store._scalar("SELECT COUNT(*) FROM slack_commands"))) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return left


async def keep_unheard(store: Store, command_id: str, text: str, *, at: datetime | None = None,
                       taken_at: datetime | None = None) -> None:  # fmt: skip
    """A `/call` a web replica kept whose NOTIFY no worker heard; `taken_at`: a worker took it then, and died."""
    at = at or datetime.now(UTC)
    fields = {"command": "/call", "text": text, "team_id": TEAM_ID, "user_id": "U0ANA", "channel_id": "C0GENERAL",
              "user_name": "ana", "trigger_id": "1.2.3"}  # fmt: skip
    assert await store.queue_command(command_id, fields, signature=f"v0={command_id}", at=at,
                                     forget_before=at - timedelta(minutes=10), notify="nobody listens")  # fmt: skip
    if taken_at is not None:
        assert await store.take_command(command_id, at=taken_at, stale_before=taken_at) is not None


def thread_lines(fake_slack: FakeSlack) -> list[str]:
    parents = fake_slack.parents()
    return [line for m in fake_slack.thread(parents[0]) for line in m.text.split("\n")] if parents else []


async def test_the_worker_launches_what_the_web_replica_stored_and_fills_its_thread(
    roles: Roles, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    response = await roles.slack.command(f"{DESTINATION} tell Ana the review moved to 3pm")
    assert (response.status_code, response.text) == (200, "")
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    session = fake_voximplant.sessions[0]
    assert session.custom_data["u"].startswith(roles.web.url)  # the scenario reports to the web replica
    await fake_voximplant.briefed(session)
    for event, data in [
        ("dialing", {}), ("ringing", {}), ("connected", {}),
        ("transcript", {"role": "agent", "text": "Hi Ana, the review moved to 3pm."}),
        ("disconnected", {"duration_s": 42}),
    ]:  # fmt: skip
        assert (await fake_voximplant.send_event(session, event, data)).status_code == 200
    await eventually(
        lambda: thread_lines(fake_slack)[-1:] == [":white_check_mark: *Talked with a person* · 42s · 1 turn."]
    )
    assert thread_lines(fake_slack)[:4] == [
        ":telephone_receiver: Dialing +1 415-555-0100…", ":bell: Ringing…",
        ":large_green_circle: Connected. The agent is talking.", "*Agent:* Hi Ana, the review moved to 3pm.",
    ]  # fmt: skip
    await roles.worker.idle()
    # The web replica answered Slack and Voximplant and recorded everything; it never called Voximplant, and of
    # Slack's Web API it asked only who its token is.
    assert roles.web_to_voximplant.paths == []
    assert set(roles.web_to_slack.paths) <= {"/api/auth.test"}, roles.web_to_slack.paths
    assert roles.web.delivery._workers == {}


async def test_a_call_nobody_told_the_worker_of_is_launched_all_the_same(
    roles: Roles, fake_voximplant: FakeVoximplant
) -> None:
    """The web replica's message to the workers can be lost (a worker restarting): workers look for calls too."""
    placing = state_of(roles.web.app).calls.placing
    request = CallRequest(
        destination=DESTINATION, caller_id=CALLER_ID, instructions="hello", max_duration_s=600,
        origin=Origin(team_id=TEAM_ID, user_id="U0ANA", conversation_id="C0GENERAL"),
    )  # fmt: skip
    call = await placing.create(request)  # stored, and nobody told
    await eventually(lambda: len(fake_voximplant.sessions) == 1, timeout=5)
    assert fake_voximplant.sessions[0].call_id == call.id
    assert roles.web_to_voximplant.paths == []


async def test_a_refusal_reaches_the_person_through_the_response_url_and_nothing_is_dialled(
    roles: Roles, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    """The web replica answers at once, empty; the worker vets the command and says why it refused, to the person
    alone, as the acknowledgement would have (bot/slack/inbox.py)."""
    response = await roles.slack.command("+1 900 555 0100 win a prize")
    assert (response.status_code, response.text) == (200, "")
    said = await eventually(lambda: fake_slack.responses and fake_slack.responses[-1], timeout=5)
    assert said["response_type"] == "ephemeral"
    assert "premium" in said["text"].lower(), said["text"]
    await roles.worker.idle()
    assert fake_voximplant.sessions == [] and fake_slack.parents() == []
    assert await commands_left(roles.web.store) == 0  # done with, forgotten
    assert await roles.web.store.count_calls(user_id="U0ANA") == 0


async def test_help_and_the_form_come_from_the_worker(roles: Roles, fake_slack: FakeSlack) -> None:
    assert (await roles.slack.command("help")).text == ""
    card = await eventually(lambda: fake_slack.responses and fake_slack.responses[-1], timeout=5)
    assert "/call +14155550100" in card["text"] + str(card.get("blocks"))
    assert (await roles.slack.command("")).text == ""  # a bare /call: the worker opens the form within 3 s
    await eventually(lambda: len(fake_slack.views) == 1, timeout=5)
    assert set(roles.web_to_slack.paths) <= {"/api/auth.test"}  # the web replica called neither


async def test_a_command_replayed_to_the_web_replica_is_run_once(
    roles: Roles, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    body = (
        "team_id=T0SANDBOX&channel_id=C0GENERAL&user_id=U0ANA&command=%2Fcall&api_app_id=A0CALLBOT"
        f"&text={DESTINATION}+hello&response_url={fake_slack.url}%2Fcommands%2Fx&trigger_id=1.2.3"
    ).encode()
    stamp = int(time.time())
    first, replayed = [await roles.slack.post(body, timestamp=stamp) for _ in range(2)]
    assert (first.status_code, first.text, replayed.status_code, replayed.text) == (200, "", 200, "")
    await eventually(lambda: len(fake_voximplant.sessions) == 1, timeout=5)
    await roles.worker.idle()
    assert len(fake_voximplant.sessions) == 1
    assert fake_voximplant.sessions[0].call_id is not None


async def test_a_command_nobody_told_a_worker_of_is_answered_where_it_was_typed(
    roles: Roles, fake_slack: FakeSlack
) -> None:
    """Its NOTIFY lost (a worker restarting), the command is found by a worker's scan; its response_url went with
    the NOTIFY, so the answer comes by chat.postEphemeral."""
    store = roles.web.store
    await keep_unheard(store, "cmdlost", "+1 900 555 0100 hi")
    told = await eventually(lambda: fake_slack.ephemeral and fake_slack.ephemeral[-1], timeout=8)
    assert (told["channel"], told["user"]) == ("C0GENERAL", "U0ANA") and "premium" in told["text"].lower()
    assert fake_slack.responses == []
    assert await commands_left(store) == 0


async def test_a_command_no_worker_got_to_in_time_dials_nothing_and_says_so(
    roles: Roles, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    store = roles.web.store
    await keep_unheard(store, "cmdlate", f"{DESTINATION} hello", at=datetime.now(UTC) - timedelta(minutes=2))
    told = await eventually(lambda: fake_slack.ephemeral and fake_slack.ephemeral[-1], timeout=8)
    assert "did nothing and dialled nothing" in told["text"] and "Please send it again" in told["text"]
    await roles.worker.idle()
    assert fake_voximplant.sessions == [] and await store.count_calls(user_id="U0ANA") == 0


async def test_a_worker_taking_over_a_command_whose_call_was_stored_places_it_once(
    roles: Roles, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    """A worker died after storing the command's call, before forgetting the command: the next worker finds the
    call by the command's id and leaves it to the launch scan; nothing is placed twice."""
    store = roles.web.store
    died_at = datetime.now(UTC) - timedelta(minutes=1)
    await keep_unheard(store, "cmddied", f"{DESTINATION} hello", taken_at=died_at)  # the worker that died
    request = CallRequest(
        destination=DESTINATION, caller_id=CALLER_ID, instructions="hello", max_duration_s=600,
        origin=Origin(team_id=TEAM_ID, user_id="U0ANA", conversation_id="C0GENERAL"),
    )  # fmt: skip
    await state_of(roles.worker.app).calls.placing.create(request, call_id="cmddied")
    await eventually(lambda: len(fake_voximplant.sessions) == 1, timeout=8)
    assert await commands_left(store) == 0
    await roles.worker.idle()
    assert [s.call_id for s in fake_voximplant.sessions] == ["cmddied"]
    assert await store.count_calls(user_id="U0ANA") == 1
    assert fake_slack.ephemeral == []  # not run again (which would fail to store the call a second time)


async def test_a_command_whose_worker_died_before_storing_a_call_is_not_run_again_and_the_person_is_told(
    roles: Roles, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    """What the worker that died did is not known (a scheduled call, an admin's change): the next one says so and
    runs nothing."""
    store = roles.web.store
    await keep_unheard(
        store, "cmdgone", f"{DESTINATION} at 23:59 hello", taken_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    told = await eventually(lambda: fake_slack.ephemeral and fake_slack.ephemeral[-1], timeout=8)
    assert told["text"] == texts.COMMAND_MAYBE_DONE and told["user"] == "U0ANA"
    assert await commands_left(store) == 0
    await roles.worker.idle()
    assert fake_voximplant.sessions == [] and await store.count_calls(user_id="U0ANA") == 0


async def test_a_command_kept_past_its_response_urls_life_is_dropped_unanswered(
    roles: Roles, fake_slack: FakeSlack
) -> None:
    store = roles.web.store
    then = datetime.now(UTC) - timedelta(minutes=31)  # the web replicas ran half an hour without a worker
    for n, text in enumerate(["help", f"{DESTINATION} hello"]):
        await keep_unheard(store, f"cmdold{n}", text, at=then)
    assert await commands_left(store) == 0
    assert fake_slack.ephemeral == [] and fake_slack.responses == []


async def test_a_command_bolt_has_no_listener_for_is_not_answered_with_silence(
    roles: Roles, fake_slack: FakeSlack
) -> None:
    assert (await roles.slack.command("hello", command="/unknown")).text == ""
    said = await eventually(lambda: fake_slack.responses and fake_slack.responses[-1], timeout=5)
    assert said["text"].startswith("Something went wrong on our side (reference `")


async def test_a_web_replica_that_cannot_keep_a_command_says_so_at_once(
    roles: Roles, fake_voximplant: FakeVoximplant
) -> None:
    await roles.web.store._db._pool.close()  # type: ignore[attr-defined]  # the database gone, for this replica
    response = await roles.slack.command(f"{DESTINATION} hello")
    assert response.status_code == 200
    assert response.json() == {"response_type": "ephemeral", "text": texts.STORE_FAILED}
    await roles.worker.idle()
    assert fake_voximplant.sessions == []


def test_web_and_worker_roles_need_postgresql(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(_env_file=None, role="worker", database_path=tmp_path / "x.db")  # type: ignore[call-arg]
    assert any("--role worker" in line and "DATABASE_URL" in line for line in settings.problems(need_slack=False))


def test_serve_refuses_a_web_role_on_sqlite_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "DATABASE_PATH": str(tmp_path / "x.db"),
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["serve", "--role", "web"]) == 2
    err = capsys.readouterr().err
    assert "--role web shares the work with other replicas through PostgreSQL: set DATABASE_URL" in err
    assert not (tmp_path / "x.db").exists()  # refused before anything was opened
