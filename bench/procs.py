"""Servers under test run in their own processes, so the load generator (this process) never shares their CPU."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SIGNING_SECRET = "bench-signing-secret-0123456789"
BOT_TOKEN = "xoxb-bench-bot-token"


def clean_env(**settings: object) -> dict[str, str]:
    """This process's environment without proxies or callbot settings, plus `settings` (NAME=value)."""
    names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names and not k.upper().endswith("_PROXY")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["NO_PROXY"] = "*"
    env.update({name.upper(): str(value) for name, value in settings.items() if value is not None})
    return env


def free_port() -> int:
    """A loopback port nobody listens on now (for a server that must know its port before it starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident size of a process in MiB (`VmHWM` for its peak), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for process {pid}")


class Child:
    """A `python -m bench.serve ROLE` process: its URL, its pid, and a JSON command channel over stdin/stdout."""

    def __init__(self, role: str, process: asyncio.subprocess.Process, ready: dict[str, Any], log: Path) -> None:
        self.role = role
        self.process = process
        self.ready = ready
        self.url: str = ready["url"]
        self.pid: int = ready["pid"]
        self.log = log
        self._lock = asyncio.Lock()

    @classmethod
    async def start(cls, role: str, env: dict[str, str], *, timeout_s: float = 30.0) -> Child:
        log = Path(tempfile.mkstemp(prefix=f"bench-{role}-", suffix=".log")[1])
        with log.open("wb") as errors:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.serve", role, cwd=ROOT, env=env, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=errors, limit=1 << 26,
            )  # fmt: skip
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), timeout_s)
        except TimeoutError:
            line = b""
        if not line:
            process.kill()
            await process.wait()
            raise RuntimeError(f"bench server {role} did not start:\n{tail(log)}")
        return cls(role, process, json.loads(line), log)

    async def ask(self, cmd: str, *, timeout_s: float = 120.0, **args: Any) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        async with self._lock:
            self.process.stdin.write((json.dumps({"cmd": cmd, **args}) + "\n").encode())
            await self.process.stdin.drain()
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout_s)
        if not line:
            raise RuntimeError(f"bench server {self.role} stopped:\n{tail(self.log)}")
        answer = json.loads(line)
        if isinstance(answer, dict) and "error" in answer:
            raise RuntimeError(f"bench server {self.role}: {answer['error']}")
        return answer

    def rss_mb(self, field: str = "VmRSS") -> float:
        return rss_mb(self.pid, field)

    async def stop(self) -> None:
        if self.process.returncode is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self.log.unlink(missing_ok=True)


async def still_busy(bot: Child, *, within_s: float) -> int:
    """Wait until callbot (`bot`) is idle, at most `within_s`; then how many of its tasks were still under way
    (0: idle)."""
    answer = await bot.ask("idle", within_s=within_s)
    return 0 if answer["idle"] else int(answer["background"]) + int(answer["delivering"])


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
