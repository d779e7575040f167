"""`callbot serve` as deployed: SIGTERM while a call is being placed lets that work finish before the process exits."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest

from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import ACCOUNT_ID, API_KEY, RULE_ID, FakeVoximplant
from bot.sandbox.slack_requests import SlackSender
from bot.store import Store
from tests.conftest import BOT_TOKEN, CALLER_ID, SIGNING_SECRET, eventually

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # `callbot serve` as a subprocess


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_sigterm_finishes_the_call_being_placed(
    tmp_path: Path, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, http: httpx.AsyncClient
) -> None:
    port, database = free_port(), tmp_path / "callbot.db"
    base = f"http://127.0.0.1:{port}"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "VOXIMPLANT_")) and "PROXY" not in k}
    environ.update(
        SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=f"{fake_slack.url}/api/",  # type: ignore[attr-defined]
        VOXIMPLANT_ACCOUNT_ID=ACCOUNT_ID, VOXIMPLANT_API_KEY=API_KEY, VOXIMPLANT_RULE_ID=str(RULE_ID),
        VOXIMPLANT_API_URL=f"{fake_voximplant.url}/platform_api/", PUBLIC_BASE_URL=base, DATABASE_PATH=str(database),
        PORT=str(port), HOST="127.0.0.1", CALLING_HOURS="off",
    )  # fmt: skip
    add = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "callerids", "add", CALLER_ID, cwd=tmp_path, env=environ,
        stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert await add.wait() == 0
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", cwd=tmp_path, env=environ, stderr=asyncio.subprocess.PIPE
    )
    try:

        async def healthy() -> bool:
            try:
                return (await http.get(f"{base}/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        deadline = asyncio.get_running_loop().time() + 20
        while not await healthy():
            assert server.returncode is None and asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)

        fake_voximplant.fail_next(delay_s=1.5, start_anyway=True)  # StartScenarios answers slowly, then succeeds
        sender = SlackSender(http, bot_url=base, signing_secret=SIGNING_SECRET, response_base=fake_slack.url)  # type: ignore[attr-defined]
        assert (await sender.command("+14155550100 hello")).status_code == 200
        await eventually(lambda: len(fake_voximplant.sessions) == 1)  # the launch is under way, its answer pending
        server.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught, so the exit status still says SIGTERM.
        assert await asyncio.wait_for(server.wait(), timeout=30) == -signal.SIGTERM
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
    assert server.stderr is not None
    log = [json.loads(line) for line in (await server.stderr.read()).decode().splitlines() if line.startswith("{")]
    assert not any("unfinished" in line["message"] for line in log)

    store = await Store.open(database)
    try:
        [call] = [c for c in [await store.call(fake_voximplant.sessions[0].call_id)] if c is not None]
    finally:
        await store.close()
    assert call.history_id == fake_voximplant.sessions[0].history_id  # the launch finished and was stored
    assert len(fake_slack.parents()) == 1
