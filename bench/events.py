"""Item 2: status events accepted by /voximplant/events, against a bare Starlette endpoint; event → Slack write.

bench/replicas.py measures the same intake on PostgreSQL, with one and two replicas, beside this SQLite figure.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from bench import cpu
from bench.load import RawClient, Run, percentile, timed_loop
from bench.postgres import Server
from bench.procs import Child, still_busy
from bench.report import Row
from bench.stack import DESTINATION, Config, Stack, http_client

SECTION = "2 status events"
DRAIN_LIMIT_S = 30.0  # the longest the bench waits for Slack writes to drain after a burst
PROGRESS = ("started", "dialing", "ringing", "connected")


@dataclass
class LiveCall:
    call_id: str
    token: str
    url: str
    seq: int = 0

    def body(self, event: str, data: dict[str, Any] | None = None) -> bytes:
        """The next event of this call, as the scenario sends it (docs/architecture.md, status events)."""
        self.seq += 1
        at = datetime.now(UTC).isoformat()
        return json.dumps({"v": 1, "call_id": self.call_id, "seq": self.seq, "event": event, "at": at,
                           "data": data or {}}).encode()  # fmt: skip

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}


async def place_calls(
    stack: Stack, bot_url: str, count: int, *, channels: int, concurrency: int = 10
) -> list[LiveCall]:
    """Place `count` calls through signed /call requests and return them as the fake Voximplant started them."""
    assert stack.fakes is not None
    before = (await stack.fakes.ask("counts"))["sessions"]
    async with http_client() as http:
        sender = stack.sender(http, bot_url)
        queue = iter(range(count))

        async def worker() -> None:
            for n in queue:
                response = await sender.command(
                    f"{DESTINATION} bench live call {n}", channel_id=f"C0LIVE{n % channels:03d}"
                )
                if response.status_code != 200 or response.text:
                    raise RuntimeError(f"/call was not placed: {response.status_code} {response.text[:200]}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    deadline = time.monotonic() + 120
    while (await stack.fakes.ask("counts"))["sessions"] < before + count:
        if time.monotonic() > deadline:
            raise RuntimeError("StartScenarios was not called for every call placed")
        await asyncio.sleep(0.05)
    sessions = await stack.fakes.ask("sessions", since=before)
    return [LiveCall(s["call_id"], s["token"], s["url"]) for s in sessions]


async def send_events(calls: list[LiveCall], per_call: int, *, senders: int = 50) -> int:
    """Play `per_call` events for each call (progress first, then transcript lines); returns how many were refused."""
    refused = 0
    queue = iter(calls)

    async def sender() -> None:
        nonlocal refused
        client: RawClient | None = None
        for call in queue:
            client = client or RawClient(call.url)
            for n in range(per_call):
                event = PROGRESS[n] if n < len(PROGRESS) else "transcript"
                data = {"role": "agent" if n % 2 else "callee", "text": f"line {n} of the bench call"}
                status, _ = await client.post(call.body(event, data if event == "transcript" else None), call.headers)
                refused += status != 200
        if client is not None:
            await client.close()

    await asyncio.gather(*(sender() for _ in range(senders)))
    return refused


@dataclass
class Intake:
    """One measured intake: the run, and the CPU seconds each process used in its window and until every Slack
    write it caused was sent (`cpu.used` readings, `wall` included)."""

    run: Run
    window: cpu.Reading
    drained: cpu.Reading
    drain_s: float
    stuck: int = 0  # Slack deliveries (and launches) still under way when the bench stopped waiting for them
    statements: int | None = None  # PostgreSQL's statements over the window and the drain (bench/postgres.py)

    def callbot_cpu_ms(self, reading: cpu.Reading | None = None) -> float:
        """callbot's CPU per accepted event, over the window and the drain (ms)."""
        spent = reading or self.drained
        return sum(v for k, v in spent.items() if k.startswith("callbot")) / len(self.run.latencies) * 1000

    def cpu_ms(self) -> float:
        """CPU per accepted event of callbot and its database, over the window and the drain (ms)."""
        return self.callbot_cpu_ms() + self.drained.get("postgres", 0.0) / len(self.run.latencies) * 1000

    def busy(self) -> float:
        """Cores kept busy in the window by all the processes measured."""
        return sum(cpu.cores(self.window).values())

    def shares(self) -> str:
        """Cores each process kept busy in the window, busiest first."""
        busy = sorted(cpu.cores(self.window).items(), key=lambda item: -item[1])
        return ", ".join(f"{name} {value:.2f}" for name, value in busy)


def meter(stack: Stack, bots: list[Child], server: Server | None = None) -> cpu.Meter:
    """CPU of callbot (each replica), its PostgreSQL server, the load generator (this process) and the fakes."""
    assert stack.fakes is not None
    groups: dict[str, Callable[[], float]] = {}
    for n, bot in enumerate(bots, 1):
        groups["callbot" if len(bots) == 1 else f"callbot {n}"] = partial(cpu.cpu_s, bot.pid)
    if server is not None:
        groups["postgres"] = partial(cpu.server_cpu_s, server)
    groups["load generator"] = partial(cpu.cpu_s, os.getpid())
    groups["fakes"] = partial(cpu.cpu_s, stack.fakes.pid)
    return cpu.Meter(groups)


async def measured_intake(
    stack: Stack, bots: list[Child], calls: list[LiveCall], seconds: float, server: Server | None = None
) -> Intake:
    """`_intake` sent to `bots` in turn, with the CPU time of every process over the window and until drained."""
    assert stack.fakes is not None
    readings = meter(stack, bots, server)
    before = readings.read()
    run = await intake(calls, [bot.url for bot in bots], seconds)
    window, ended = readings.read(), time.monotonic()
    stuck = 0
    for _ in range(2 if len(bots) > 1 else 1):  # a replica may have left a call's writes to the other: ask again
        for bot in bots:
            if not stuck:
                stuck = await still_busy(bot, within_s=DRAIN_LIMIT_S)
    drained = readings.read()
    # Until the last write reached Slack, not until the bots were idle: a replica that found a call's lease held
    # keeps a timer to look again (up to 5 s, bot/slack/delivery/handover.py) after its writes were all sent.
    last = (await stack.fakes.ask("last_write"))["at"]
    return Intake(run, cpu.used(before, window), cpu.used(before, drained), max(0.0, (last or ended) - ended), stuck)


async def measure(stack: Stack, config: Config, bot: Child) -> tuple[list[Row], Intake]:
    assert stack.fakes is not None
    starlette = await stack.baseline("starlette")
    calls = await place_calls(stack, bot.url, config.intake_senders, channels=config.intake_senders)
    before = (await stack.fakes.ask("counts"))["slack"].get("chat.update", 0)
    if await send_events(calls, len(PROGRESS), senders=config.intake_senders):
        raise RuntimeError("callbot refused a progress event")
    await bot.ask("idle")
    updates = (await stack.fakes.ask("counts"))["slack"].get("chat.update", 0) - before

    warmup = 0.3 if config.quick else 1.0
    await intake(calls, [bot.url], warmup)
    await intake(calls, [starlette.url], warmup)
    await bot.ask("idle")
    base = await intake(calls, [starlette.url], config.intake_seconds)
    sqlite = await measured_intake(stack, [bot], calls, config.intake_seconds)
    ours, drain_s = sqlite.run, sqlite.drain_s
    await stack.stop(starlette)

    await stack.fakes.ask("forget")
    delays, lost = await _event_to_slack(stack, bot, calls, config)
    fails = ours.failures + base.failures
    rows = [
        Row(SECTION, f"accepted/s, {config.intake_senders} senders", ours.per_second, base.per_second, unit="/s",
            target="≥0.6× bare Starlette", met=ours.per_second >= 0.6 * base.per_second,
            note=f"{len(ours.latencies)} events" + (f", {fails} FAILED" if fails else "")),
        Row(SECTION, f"intake p50 @{config.intake_senders}", ours.ms(50), base.ms(50)),
        Row(SECTION, f"intake p99 @{config.intake_senders}", ours.ms(99), base.ms(99)),
        Row(SECTION, "parent updates (chat.update) per call", updates / len(calls), None, unit="",
            note=f"{len(PROGRESS)} progress events each ({', '.join(PROGRESS)})"),
        Row(SECTION, "Slack writes still queued after the burst", drain_s * 1000, None,
            note="time until every write was sent"),
        Row(SECTION, "CPU per accepted event", sqlite.cpu_ms(), None,
            note="callbot with SQLite in its process, user+sys, until every Slack write was sent"),
        Row(SECTION, "cores busy while accepting", sqlite.busy(), None, unit="cores", note=sqlite.shares()),
        Row(SECTION, "event received → Slack write sent, p50", percentile(delays, 50) * 1000, None,
            note=f"{len(delays)} events, {config.intake_senders} calls paced {config.latency_interval_s:g} s"
            + (f", {lost} LOST" if lost else "")),
        Row(SECTION, "event received → Slack write sent, p99", percentile(delays, 99) * 1000, None),
    ]  # fmt: skip
    return rows, sqlite


async def measure_pull(stack: Stack, config: Config, push: list[Row]) -> list[Row]:
    """Event → Slack write when the bot pulls the events through each session, beside the push figures above."""
    assert stack.fakes is not None
    bot = await stack.bot(voximplant_events="pull")
    try:
        calls = await place_calls(stack, bot.url, config.intake_senders, channels=config.intake_senders)
        items = [{"call_id": c.call_id, "event": event} for c in calls for event in PROGRESS]
        await stack.fakes.ask("queue", items=items)
        await _until_shown(stack, "Connected. The agent is talking.", len(calls))
        await stack.fakes.ask("forget")
        sent: dict[str, float] = {}
        for round_ in range(config.latency_rounds):
            started = time.monotonic()
            items = []
            for index, call in enumerate(calls):
                marker = f"px{index:03d}r{round_:03d}"
                items.append({"call_id": call.call_id, "event": "transcript",
                              "data": {"role": "agent", "text": f"bench line {marker}"}})  # fmt: skip
                sent[marker] = started
            await stack.fakes.ask("queue", items=items)
            await asyncio.sleep(max(0.0, config.latency_interval_s - (time.monotonic() - started)))
        deadline = time.monotonic() + 30
        while True:
            arrived = await stack.fakes.ask("marks", pattern=r"px\d{3}r\d{3}")
            if len(arrived) >= len(sent) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    finally:
        await stack.stop(bot)
    delays = [arrived[m] - t for m, t in sent.items() if m in arrived]
    lost = len(sent) - len(delays)
    push_ms = {row.measure: row.ours for row in push}
    return [
        Row(SECTION, "pull mode: event queued → Slack write sent, p50", percentile(delays, 50) * 1000,
            push_ms.get("event received → Slack write sent, p50"),
            note=f"baseline: push mode; {len(delays)} events, polled every 0.5 s" + (f", {lost} LOST" if lost else "")),
        Row(SECTION, "pull mode: event queued → Slack write sent, p99", percentile(delays, 99) * 1000,
            push_ms.get("event received → Slack write sent, p99"), note="baseline: push mode"),
    ]  # fmt: skip


async def _until_shown(stack: Stack, word: str, count: int) -> None:
    """Wait until `count` Slack writes carrying `word` have arrived (the calls are set up)."""
    assert stack.fakes is not None
    deadline = time.monotonic() + 60
    while (await stack.fakes.ask("containing", text=word))["count"] < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the pulled calls were not all shown ({word})")
        await asyncio.sleep(0.1)


async def intake(calls: list[LiveCall], base_urls: list[str], duration_s: float) -> Run:
    """Every sender posts transcript lines of its own call, as fast as they are accepted; to several replicas, each
    sender sends to them in turn (directly, as a round-robin balancer would, without a balancer's own CPU)."""
    clients = [[RawClient(f"{url}/voximplant/events") for url in base_urls] for _ in calls]

    async def one(worker: int, n: int) -> bool:
        call = calls[worker]
        data = {"role": "agent" if n % 2 else "callee", "text": f"bench transcript line {n}"}
        client = clients[worker][(worker + n) % len(base_urls)]
        status, _ = await client.post(call.body("transcript", data), call.headers)
        return status == 200

    try:
        return await timed_loop(len(calls), duration_s, one)
    finally:
        for sender in clients:
            for client in sender:
                await client.close()


async def _event_to_slack(stack: Stack, bot: Child, calls: list[LiveCall], config: Config) -> tuple[list[float], int]:
    """Each call gets one marked transcript line per round; the time from its send to the fake Slack's receipt."""
    assert stack.fakes is not None
    clients = [RawClient(call.url) for call in calls]
    sent: dict[str, float] = {}

    async def send(index: int, round_: int) -> None:
        call = calls[index]
        marker = f"bx{index:03d}r{round_:03d}"
        body = call.body("transcript", {"role": "agent", "text": f"bench line {marker}"})
        sent[marker] = time.monotonic()
        status, _ = await clients[index].post(body, call.headers)
        if status != 200:
            raise RuntimeError(f"callbot refused a status event: {status}")

    for round_ in range(config.latency_rounds):
        started = time.monotonic()
        await asyncio.gather(*(send(i, round_) for i in range(len(calls))))
        await asyncio.sleep(max(0.0, config.latency_interval_s - (time.monotonic() - started)))
    await bot.ask("idle")
    for client in clients:
        await client.close()
    deadline = time.monotonic() + 30  # a delivery path may still hold lines for pacing
    while True:
        arrived = await stack.fakes.ask("marks", pattern=r"bx\d{3}r\d{3}")
        if len(arrived) >= len(sent) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    delays = [arrived[m] - t for m, t in sent.items() if m in arrived]
    return delays, len(sent) - len(delays)
