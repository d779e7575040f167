"""Item 2 on PostgreSQL (issue 14): status events accepted per second, and the CPU each costs callbot and its
database, with one `callbot serve` and with two replicas on one PostgreSQL, beside one on SQLite (events.py), in
the same run.

Each configuration gets a fresh database and fresh replicas (role `all`), the same 50 calls placed through the
first replica and their progress events played, a warm-up, then the timed intake of events.py. To two replicas
each sender sends its call's events to both in turn, directly: a round-robin balancer (compose.yaml's nginx) would
do the same, but its own CPU would take a share of the two cores the machine has. A call's events then arrive at
both replicas, and its Slack writes are delivered by one at a time, under the call's lease.

CPU per event is the user + system time of callbot's processes and of every process of the PostgreSQL server (on
SQLite, the database works inside callbot's process), from the start of the window until every Slack write the
events caused was sent, divided by the events accepted: it does not depend on how many cores the machine has.
"""

from __future__ import annotations

import asyncio

from bench.events import DRAIN_LIMIT_S, PROGRESS, SECTION, Intake, intake, measured_intake, place_calls, send_events
from bench.postgres import Server
from bench.procs import still_busy
from bench.report import Row
from bench.stack import Config, Stack

CPU_TARGET = 1.5  # PostgreSQL costs no more than 1.5 times SQLite's CPU per event
SCALE_TARGET = 1.3  # two replicas accept at least 1.3 times one replica's events per second


async def measure(stack: Stack, config: Config, sqlite: Intake) -> list[Row]:
    server = await stack.postgres("2 status events on PostgreSQL, 1 and 2 replicas")
    if server is None:
        return []
    one = await _configuration(stack, config, server, replicas=1)
    two = await _configuration(stack, config, server, replicas=2)
    return _rows(sqlite, one, two)


async def _configuration(stack: Stack, config: Config, server: Server, *, replicas: int) -> Intake:
    url = await server.database()
    bots = list(await asyncio.gather(*(stack.bot(database_url=url) for _ in range(replicas))))
    try:
        calls = await place_calls(stack, bots[0].url, config.intake_senders, channels=config.intake_senders)
        if await send_events(calls, len(PROGRESS), senders=config.intake_senders):
            raise RuntimeError("callbot on PostgreSQL refused a progress event")
        await intake(calls, [bot.url for bot in bots], 0.3 if config.quick else 1.0)  # warm up
        for bot in bots:
            await still_busy(bot, within_s=DRAIN_LIMIT_S)
        before = await server.statements(url)
        measured = await measured_intake(stack, bots, calls, config.intake_seconds, server)
        after = await server.statements(url)
        if before is not None and after is not None:
            measured.statements = after - before
        return measured
    finally:
        for bot in bots:
            await stack.stop(bot)


def _rows(sqlite: Intake, one: Intake, two: Intake) -> list[Row]:
    def note(measured: Intake, baseline: str) -> str:
        fails, stuck = measured.run.failures, measured.stuck
        return (f"{len(measured.run.latencies)} events; baseline: {baseline}" + (f", {fails} FAILED" if fails else "")
                + (f", {stuck} deliveries STUCK" if stuck else ""))  # fmt: skip

    def split(measured: Intake) -> str:
        db = measured.drained.get("postgres", 0.0) / len(measured.run.latencies) * 1000
        return f"callbot {measured.callbot_cpu_ms():.2f} + PostgreSQL {db:.2f} ms; baseline: SQLite, in callbot"

    scale = two.run.per_second / one.run.per_second
    return [
        Row(SECTION, "accepted/s, PostgreSQL, 1 replica", one.run.per_second, sqlite.run.per_second, unit="/s",
            note=note(one, "SQLite, 1 replica")),
        Row(SECTION, "accepted/s, PostgreSQL, 2 replicas", two.run.per_second, one.run.per_second, unit="/s",
            target=f"≥{SCALE_TARGET:g}× 1 replica", met=scale >= SCALE_TARGET,
            note=note(two, "PostgreSQL, 1 replica; each sender to both in turn")),
        Row(SECTION, "CPU per accepted event, PostgreSQL, 1 replica", one.cpu_ms(), sqlite.cpu_ms(),
            target=f"≤{CPU_TARGET:g}× SQLite", met=one.cpu_ms() <= CPU_TARGET * sqlite.cpu_ms(), note=split(one)),
        Row(SECTION, "CPU per accepted event, PostgreSQL, 2 replicas", two.cpu_ms(), sqlite.cpu_ms(),
            target=f"≤{CPU_TARGET:g}× SQLite", met=two.cpu_ms() <= CPU_TARGET * sqlite.cpu_ms(), note=split(two)),
        *_statements(one, two),
        Row(SECTION, "cores busy while accepting, PostgreSQL, 1 replica", one.busy(), sqlite.busy(), unit="cores",
            note=one.shares()),
        Row(SECTION, "cores busy while accepting, PostgreSQL, 2 replicas", two.busy(), sqlite.busy(), unit="cores",
            note=two.shares()),
        Row(SECTION, "Slack writes still queued after the burst, PostgreSQL, 1 replica", one.drain_s * 1000,
            sqlite.drain_s * 1000, note="baseline: SQLite"),
        Row(SECTION, "Slack writes still queued after the burst, PostgreSQL, 2 replicas", two.drain_s * 1000,
            sqlite.drain_s * 1000, note="baseline: SQLite"),
    ]  # fmt: skip


def _statements(one: Intake, two: Intake) -> list[Row]:
    """Statements callbot sent per accepted event (its round trips to PostgreSQL), when the server counts them."""
    if one.statements is None or two.statements is None:
        return []
    per_event = [(measured.statements or 0) / len(measured.run.latencies) for measured in (one, two)]
    note = "pg_stat_statements, over the window and until every Slack write was sent"
    return [
        Row(SECTION, "statements per accepted event, PostgreSQL, 1 replica", per_event[0], unit="", note=note),
        Row(SECTION, "statements per accepted event, PostgreSQL, 2 replicas", per_event[1], per_event[0], unit="",
            note=f"{note}; baseline: 1 replica"),
    ]  # fmt: skip
