"""Item 3: `callbot serve` as people run it: time to /healthz, resident size idle and with many live calls."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.events import place_calls, send_events
from bench.procs import Child, clean_env, free_port, rss_mb
from bench.report import Row
from bench.stack import CALLER_ID, Config, Stack

SECTION = "3 memory, start"


def callbot_command() -> list[str]:
    """The installed `callbot` script next to this Python, else the same entry point through `-m bot`."""
    script = Path(sys.executable).parent / "callbot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


class Served:
    """One `callbot serve` process on a free port, with settings from its environment only."""

    def __init__(self, stack: Stack) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings = stack.bot_settings(host="127.0.0.1", port=self.port, public_base_url=self.url)
        self.env = clean_env(**settings)
        self.log = stack.dir / f"serve-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def allow_caller_id(self) -> None:
        subprocess.run([*callbot_command(), "callerids", "add", CALLER_ID, "bench"], env=self.env, check=True,
                       capture_output=True, cwd=self.log.parent)  # fmt: skip

    async def start(self) -> float:
        """Start it; seconds from the spawn to /healthz answering 200."""
        started = time.perf_counter()
        with self.log.open("wb") as log:
            self.process = subprocess.Popen([*callbot_command(), "serve"], env=self.env, stdout=log, stderr=log,
                                            cwd=self.log.parent)  # fmt: skip
        async with httpx.AsyncClient(trust_env=False, timeout=1.0) as http:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"callbot serve stopped:\n{self.log.read_text()[-3000:]}")
                try:
                    if (await http.get(f"{self.url}/healthz")).status_code == 200:
                        return time.perf_counter() - started
                except httpx.TransportError:
                    pass
                if time.perf_counter() - started > 60:
                    raise RuntimeError("callbot serve did not answer /healthz within 60 s")
                await asyncio.sleep(0.005)

    async def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            await asyncio.to_thread(self.process.wait, 30)


async def _baseline_start(stack: Stack) -> tuple[float, Child]:
    """The bare stack: a Bolt app served by uvicorn, from spawn to its first HTTP answer."""
    started = time.perf_counter()
    child = await stack.baseline("bolt-pbr")
    async with httpx.AsyncClient(trust_env=False) as http:
        await http.post(f"{child.url}/slack/events", content=b"")
    return time.perf_counter() - started, child


async def measure(stack: Stack, config: Config) -> list[Row]:
    ours_starts, base_starts = [], []
    base_idle = 0.0
    for _ in range(config.starts):
        elapsed, child = await _baseline_start(stack)
        base_starts.append(elapsed)
        await asyncio.sleep(0.5)
        base_idle = child.rss_mb()
        await stack.stop(child)

    served: Served | None = None
    for attempt in range(config.starts):
        served = Served(stack)
        served.allow_caller_id()
        ours_starts.append(await served.start())
        if attempt < config.starts - 1:
            await served.stop()
    assert served is not None and served.process is not None
    try:
        await asyncio.sleep(0.5)
        pid = served.process.pid
        idle = rss_mb(pid)
        live = await _with_live_calls(stack, served, config)
        peak = rss_mb(pid, "VmHWM")
    finally:
        await served.stop()
    start, base_start = statistics.median(ours_starts), statistics.median(base_starts)
    calls = f"{config.live_calls} live calls × {config.events_per_call} events"
    return [
        Row(SECTION, "`callbot serve` → /healthz 200, median", start * 1000, base_start * 1000,
            target="<2,000 ms", met=start < 2.0, note=f"{config.starts} starts, fresh database; baseline: bare Bolt"),
        Row(SECTION, "RSS idle", idle, base_idle, unit="MiB", target="<100 MiB", met=idle < 100,
            note="baseline: bare Bolt app, idle"),
        Row(SECTION, f"RSS with {calls}", live, base_idle, unit="MiB"),
        Row(SECTION, "RSS peak (VmHWM) over the run", peak, None, unit="MiB"),
    ]  # fmt: skip


async def _with_live_calls(stack: Stack, served: Served, config: Config) -> float:
    assert stack.fakes is not None
    await stack.fakes.ask("forget")
    calls = await place_calls(stack, served.url, config.live_calls, channels=50, concurrency=10)
    await stack.settled()
    refused = await send_events(calls, config.events_per_call)
    if refused:
        raise RuntimeError(f"callbot refused {refused} status events")
    await stack.settled()
    await stack.fakes.ask("forget")
    return rss_mb(served.process.pid) if served.process else 0.0
