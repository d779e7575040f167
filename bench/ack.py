"""Item 1: how fast Slack gets its answer to `/call`, against a bare Bolt app whose listener only acks.

callbot answers as `callbot serve` (role `all`, SQLite: it launches the calls it acks in the same process) and, on
PostgreSQL, as `callbot serve --role web` with a `--role worker` beside it on the same database (issue 14): the web
replica stores each call and tells the worker, which launches it. Each with StartScenarios answering at once and
slowly (`slow_start_s`).
"""

from __future__ import annotations

import asyncio
import time

from bench.load import Run, closed_loop
from bench.postgres import Server
from bench.procs import Child, still_busy, tail
from bench.report import Row
from bench.stack import DESTINATION, Config, Stack, http_client
from bot.sandbox.slack_requests import SlackSender

SECTION = "1 /call ack"
WEB_TARGET = 1.5  # issue 14: the web role's p99 at most 1.5 times bare Bolt's, at every concurrency


async def measure(stack: Stack, config: Config, bot: Child) -> list[Row]:
    assert stack.fakes is not None
    server = await stack.postgres("1 /call ack, --role web beside a --role worker")
    bolt_pbr, bolt_default, (web, worker) = await asyncio.gather(
        stack.baseline("bolt-pbr"), stack.baseline("bolt"), _web_and_worker(stack, server)
    )
    runs: dict[tuple[str, int], Run] = {}
    async with http_client() as http:
        senders = {
            "ours": stack.sender(http, bot.url),
            "bolt-pbr": stack.sender(http, bolt_pbr.url),
            "bolt": stack.sender(http, bolt_default.url),
        }
        if web is not None:
            senders["web"] = stack.sender(http, web.url)
        for name, sender in senders.items():  # warm up: imports, auth.test, SQLite pages, connections
            silent = name in {"ours", "web"}
            started = await _sessions(stack)
            warm = await closed_loop(10, 10 if config.quick else 60, _command(sender, acked_silently=silent))
            if name == "web":
                await _launched(stack, started + len(warm.latencies), worker)
        await bot.ask("idle")
        for concurrency in config.concurrency:
            count = config.ack_requests[concurrency]
            for name in ("bolt-pbr", "bolt", "ours", "ours-slow", "web", "web-slow"):
                sender = senders.get(name.removesuffix("-slow"))
                if sender is None:
                    continue
                slow = name.endswith("-slow")
                if slow:
                    await stack.fakes.ask("configure", answer_delay_s=config.slow_start_s)
                one = _command(sender, acked_silently=name.startswith(("ours", "web")))
                started = await _sessions(stack)
                # a slow Voximplant launches at most 64 calls per 2 s: fewer requests keep the drain after short
                run = runs[name, concurrency] = await closed_loop(concurrency, min(count, 300) if slow else count, one)
                if name.startswith("ours"):
                    await bot.ask("idle")  # every placed call launched before the next run
                elif name.startswith("web"):
                    await _launched(stack, started + len(run.latencies), worker)
                await stack.fakes.ask("configure", answer_delay_s=0)
    # Launches that never ended: each still holds its lease, renewed (see _launched).
    stuck = await still_busy(worker, within_s=5) if worker is not None else 0
    for child in (bolt_pbr, bolt_default, web, worker):
        if child is not None:
            await stack.stop(child)
    return _rows(runs, config, stuck)


async def _web_and_worker(stack: Stack, server: Server | None) -> tuple[Child | None, Child | None]:
    if server is None:
        return None, None
    return await stack.web_and_worker(await server.database())


async def _sessions(stack: Stack) -> int:
    """How many calls the fake Voximplant has started so far."""
    assert stack.fakes is not None
    return int((await stack.fakes.ask("counts"))["sessions"])


async def _launched(stack: Stack, sessions: int, worker: Child | None) -> None:
    """Wait until the worker has launched the calls the web replica stored (the fake Voximplant has started
    `sessions` in all) and sent their Slack writes: the next run starts with nothing left to do.

    Not the worker's `idle`: a launch whose lease renewal outlived its cancellation never ends (docs/benchmarks.md,
    2026-12-01, issue 14), and `idle` would wait for it; the fakes falling quiet says the same otherwise."""
    deadline = time.monotonic() + 120
    while (started := await _sessions(stack)) < sessions:
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the worker did not launch every call the web replica stored: {started} of {sessions} calls started "
                f"in all after 120 s; the worker's log ends:\n{tail(worker.log) if worker else ''}"
            )
        await asyncio.sleep(0.05)
    await stack.settled(quiet_s=0.3)


FAILURES: dict[str, int] = {}  # what the failed acks said, for the report


def _command(sender: SlackSender, *, acked_silently: bool):  # type: ignore[no-untyped-def]
    async def one(worker: int, n: int) -> bool:
        response = await sender.command(f"{DESTINATION} bench call {n}", channel_id=f"C0BENCH{worker:03d}")
        # callbot answers a placed call with an empty body; any text would be a refusal
        ok = response.status_code == 200 and (response.text == "" or not acked_silently)
        if not ok:
            said = f"{response.status_code} {response.text[:120]}"
            FAILURES[said] = FAILURES.get(said, 0) + 1
        return ok

    return one


def _rows(runs: dict[tuple[str, int], Run], config: Config, stuck: int) -> list[Row]:
    rows: list[Row] = []
    top = max(config.concurrency)
    slow = f"StartScenarios {config.slow_start_s:g} s"
    for c in config.concurrency:
        ours, slow_run, pbr, default = runs["ours", c], runs["ours-slow", c], runs["bolt-pbr", c], runs["bolt", c]
        fails = sum(r.failures for r in (ours, slow_run, pbr, default))
        note = f"{len(ours.latencies)} req" + (f", {fails} FAILED" if fails else "")
        detail = "; ".join(f"{n}× {said}" for said, n in FAILURES.items()) if fails else ""
        p99_target = "≤1.5× and <50 ms" if c == top else ""
        p99_met = (ours.ms(99) <= 1.5 * pbr.ms(99) and ours.ms(99) < 50) if c == top else None
        waits_not = slow_run.ms(99) < 1000 * config.slow_start_s / 2
        rows += [
            Row(SECTION, f"p50 @{c}", ours.ms(50), pbr.ms(50), note=note, detail=detail),
            Row(SECTION, f"p99 @{c}", ours.ms(99), pbr.ms(99), target=p99_target, met=p99_met),
            Row(SECTION, f"max @{c}", ours.ms(100), pbr.ms(100)),
            Row(SECTION, f"p99 @{c}, {slow}", slow_run.ms(99), pbr.ms(99), target="ack does not wait", met=waits_not),
            Row(SECTION, f"p99 @{c} vs Bolt default (pbr=False)", ours.ms(99), default.ms(99)),
        ]
    return rows + _web_rows(runs, config, stuck)


def _web_rows(runs: dict[tuple[str, int], Run], config: Config, stuck: int) -> list[Row]:
    """`--role web` (a worker beside it, PostgreSQL) against the same bare Bolt runs, when PostgreSQL was there."""
    rows: list[Row] = []
    for c in config.concurrency:
        if ("web", c) not in runs:
            return []
        web, slow_run, pbr = runs["web", c], runs["web-slow", c], runs["bolt-pbr", c]
        fails = web.failures + slow_run.failures
        note = f"{len(web.latencies)} req; a --role worker beside it, PostgreSQL"
        note += f", {fails} FAILED" if fails else ""
        if stuck and c == config.concurrency[0]:
            note += f"; the worker's launches that never ended: {stuck} STUCK"
        target = f"≤{WEB_TARGET:g}× bare Bolt"
        rows += [
            Row(SECTION, f"--role web, p50 @{c}", web.ms(50), pbr.ms(50), note=note),
            Row(SECTION, f"--role web, p99 @{c}", web.ms(99), pbr.ms(99), target=target,
                met=web.ms(99) <= WEB_TARGET * pbr.ms(99)),
            Row(SECTION, f"--role web, p99 @{c}, StartScenarios {config.slow_start_s:g} s", slow_run.ms(99),
                pbr.ms(99), target=target, met=slow_run.ms(99) <= WEB_TARGET * pbr.ms(99),
                note=f"{len(slow_run.latencies)} req"),
        ]  # fmt: skip
    return rows
