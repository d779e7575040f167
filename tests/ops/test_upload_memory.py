"""`callbot serve` as deployed: a 200 MB upload without Content-Length leaves the bot's memory flat (the issue's bound:
peak RSS within 20 MiB of idle), on both public routes, signed or not."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import ACCOUNT_ID, API_KEY, RULE_ID, FakeVoximplant
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.ops.test_serve_shutdown import free_port
from tests.test_http_edges import upload

pytestmark = pytest.mark.slow  # `callbot serve` as a subprocess, and 200 MB sent to it
MIB = 1024 * 1024


def memory_kib(pid: int, field: str) -> int:
    """A line of /proc/<pid>/status in KiB: VmRSS (now) or VmHWM (the peak since the last reset)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def reset_peak(pid: int) -> None:
    """Start VmHWM afresh from the current RSS (Linux 4.0+: writing 5 to clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def serve_environment(
    tmp_path: Path, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, port: int
) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "VOXIMPLANT_")) and "PROXY" not in k}
    environ.update(
        SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=f"{fake_slack.url}/api/",  # type: ignore[attr-defined]
        VOXIMPLANT_ACCOUNT_ID=ACCOUNT_ID, VOXIMPLANT_API_KEY=API_KEY, VOXIMPLANT_RULE_ID=str(RULE_ID),
        VOXIMPLANT_API_URL=f"{fake_voximplant.url}/platform_api/", PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        DATABASE_PATH=str(tmp_path / "callbot.db"), PORT=str(port), HOST="127.0.0.1", CALLING_HOURS="off",
    )  # fmt: skip
    return environ


@pytest.fixture
async def served(
    tmp_path: Path, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, http: httpx.AsyncClient
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """`callbot serve` in its own process, healthy; yields its URL and the process."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", cwd=tmp_path,
        env=serve_environment(tmp_path, fake_slack, fake_voximplant, port), stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while True:
            try:
                if (await http.get(f"{base}/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.returncode is None and asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
        yield base, server
    finally:
        if server.returncode is None:
            server.terminate()
            await server.wait()


@pytest.mark.parametrize("path", ["/voximplant/events", "/slack/events"])
async def test_a_200_mb_upload_without_length_keeps_the_bot_within_20_mib_of_idle(
    served: tuple[str, asyncio.subprocess.Process], http: httpx.AsyncClient, path: str
) -> None:
    base, server = served
    for _ in range(3):  # warm up: the route's code paths are loaded before idle is measured
        await upload(base, path, total=2 * MIB)
    idle = memory_kib(server.pid, "VmRSS")
    reset_peak(server.pid)
    status, sent = await upload(base, path, total=200 * MIB)
    peak = memory_kib(server.pid, "VmHWM")
    assert status in (413, None)  # None: the connection was reset as the bot closed it, before the 413 was read
    assert sent < 200 * MIB
    assert peak - idle <= 20 * 1024, f"idle {idle} KiB, peak {peak} KiB"
