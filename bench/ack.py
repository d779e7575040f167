"""Item 1: how fast Slack gets its answer to `/call`, against a bare Bolt app whose listener only acks."""

from __future__ import annotations

from bench.load import Run, closed_loop
from bench.procs import Child
from bench.report import Row
from bench.stack import DESTINATION, Config, Stack, http_client
from bot.sandbox.slack_requests import SlackSender

SECTION = "1 /call ack"


async def measure(stack: Stack, config: Config, bot: Child) -> list[Row]:
    assert stack.fakes is not None
    bolt_pbr = await stack.baseline("bolt-pbr")
    bolt_default = await stack.baseline("bolt")
    runs: dict[tuple[str, int], Run] = {}
    async with http_client() as http:
        senders = {
            "ours": stack.sender(http, bot.url),
            "bolt-pbr": stack.sender(http, bolt_pbr.url),
            "bolt": stack.sender(http, bolt_default.url),
        }
        for name, sender in senders.items():  # warm up: imports, auth.test, SQLite pages, connections
            await closed_loop(10, 10 if config.quick else 60, _command(sender, acked_silently=name == "ours"))
        await bot.ask("idle")
        for concurrency in config.concurrency:
            count = config.ack_requests[concurrency]
            for name in ("bolt-pbr", "bolt", "ours", "ours-slow"):
                sender = senders[name.removesuffix("-slow")]
                slow = name == "ours-slow"
                if slow:
                    await stack.fakes.ask("configure", answer_delay_s=config.slow_start_s)
                one = _command(sender, acked_silently=name.startswith("ours"))
                # a slow Voximplant launches at most 64 calls per 2 s: fewer requests keep the drain after short
                runs[name, concurrency] = await closed_loop(concurrency, min(count, 300) if slow else count, one)
                if name.startswith("ours"):
                    await bot.ask("idle")  # every placed call launched before the next run
                    await stack.fakes.ask("configure", answer_delay_s=0)
    await stack.stop(bolt_pbr)
    await stack.stop(bolt_default)
    return _rows(runs, config)


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


def _rows(runs: dict[tuple[str, int], Run], config: Config) -> list[Row]:
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
    return rows
