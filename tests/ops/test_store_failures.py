"""When the database cannot be written, people get an apology, the operator one clear line, /healthz says 503, and
the scenario is told to retry; a DATABASE_PATH that cannot be opened stops `callbot serve` in one line naming it."""

from __future__ import annotations

import asyncio
import io
import sqlite3
import sys
from pathlib import Path

import httpx
import pytest

from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.slack_requests import SlackSender
from bot.slack import texts
from tests.conftest import DESTINATION, Bot, eventually
from tests.e2e.test_call_flow import place
from tests.ops.test_upload_memory import serve_environment
from tests.test_http_edges import lines, server_log, tracebacks

__all__ = ["server_log"]  # the fixture, imported for these tests


@pytest.mark.slow  # each write the bot tries waits out the store's busy wait (2 s)
@pytest.mark.sqlite_only  # holds SQLite's own write lock
async def test_a_store_that_cannot_write_gives_an_apology_one_line_and_a_503(
    bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant, http: httpx.AsyncClient, server_log: io.StringIO
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    await fake_voximplant.briefed(session)  # the scenario has its brief before it reports anything
    await bot.idle()
    assert (await http.get(f"{bot.url}/healthz")).status_code == 200

    # Another connection (as the callbot CLI or a backup would) holds the write lock past the bot's busy timeout:
    # real SQLite then refuses every write the bot tries, while reads still work, as on a full disk.
    other = sqlite3.connect(bot.settings.database_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        health = await http.get(f"{bot.url}/healthz")
        assert (health.status_code, health.json()) == (503, {"ok": False, "events": "push"})
        response = await slack.command(f"{DESTINATION} hello again")
        assert response.status_code == 200
        assert response.json() == {"response_type": "ephemeral", "text": texts.STORE_FAILED}
        event = await fake_voximplant.send_event(session, "dialing")
        assert event.status_code == 503  # the scenario retries it
    finally:
        other.execute("ROLLBACK")
        other.close()

    assert len(fake_voximplant.sessions) == 1
    assert tracebacks(server_log) == []
    about_the_store = [line for line in lines(server_log) if str(bot.settings.database_path) in line["message"]]
    assert about_the_store and all(line["level"] == "error" for line in about_the_store)
    assert all("database is locked" in line["message"] for line in about_the_store)
    assert any("apology" in line["message"] for line in about_the_store)
    assert (await http.get(f"{bot.url}/healthz")).status_code == 200  # healthy again once it can write
    assert (await fake_voximplant.send_event(session, "dialing", seq=1)).status_code == 200  # the retry is taken


@pytest.mark.slow  # the read after the post waits out the store's busy wait (2 s)
@pytest.mark.sqlite_only  # holds SQLite's own write lock
async def test_a_line_slack_took_is_not_posted_again_when_forgetting_it_failed(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    await fake_voximplant.send_event(session, "connected")
    await bot.idle()
    fake_slack.slow_down("chat.postMessage", 0.5)  # the line is in flight while the lock is taken
    assert (await fake_voximplant.send_event(session, "transcript", {"role": "callee", "text": "only once"})).is_success
    await eventually(lambda: fake_slack.calls_to("chat.postMessage")[-1].params.get("text", "").endswith("only once")
                     or None, timeout=5)  # fmt: skip
    other = sqlite3.connect(bot.settings.database_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the read that forgets the line Slack took now fails (StoreUnavailable)
    try:
        await asyncio.sleep(3)  # past the slow answer and the store's busy wait
    finally:
        other.execute("ROLLBACK")
        other.close()
    fake_slack.slow_down("chat.postMessage", 0)
    await bot.idle()
    said = [c for c in fake_slack.calls_to("chat.postMessage") if "only once" in str(c.params.get("text", ""))]
    assert len(said) == 1  # forgotten by the next read, not posted again
    assert await bot.store.pending_slack(session.call_id) == []


@pytest.mark.slow  # `callbot serve` as a subprocess
@pytest.mark.parametrize("kind", ["no such directory", "a directory", "not a database"])
async def test_a_database_path_that_cannot_be_opened_stops_serve_in_one_line_naming_it(
    tmp_path: Path, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, kind: str
) -> None:
    path = {"no such directory": tmp_path / "missing" / "callbot.db", "a directory": tmp_path,
            "not a database": tmp_path / "notes.txt"}[kind]  # fmt: skip
    if kind == "not a database":
        path.write_text("these are notes, not a database; " * 40)
    environ = serve_environment(tmp_path, fake_slack, fake_voximplant, port=9)
    environ["DATABASE_PATH"] = str(path)
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", cwd=tmp_path, env=environ,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(server.communicate(), timeout=30)
    assert server.returncode == 2
    assert out == b""
    [line] = err.decode().splitlines()
    assert line.startswith(f"callbot cannot open the database at {path}: ")
