"""Issue 14: how long a person waits for the phone to ring, `/call` sent → StartScenarios received, with Slack's pace.

A call is dialled only once its message is in Slack, and Slack takes about one message a second per channel (a short
burst above it tolerated), so calls placed together in one channel can wait for each other's messages, and for the
lines of the calls already under way there. Here the bot runs at Slack's pace (SLACK_PACE_S=1) against a fake Slack
that enforces it (a burst, then one a second, 429 beyond), and each started call talks as a scenario does (ringing,
connected, two lines, within 2 s): its thread's lines share the channel with the next calls' messages.

Calls in one channel are measured against the same calls each in a channel of its own (the baseline: no pacing
between them), at 1 (ten calls in turn, each sent once the one before it was dialled) and at 10 and 20 at once
(`launch_rounds` rounds of each, every round in new channels).

On PostgreSQL (issue 14) the same, at 1 and 10, for one `callbot serve` (role `all`) and for a `--role web` with a
`--role worker` beside it (the web replica stores the call and tells the worker, which posts its message and
dials), each against SQLite's figure of this run.
"""

from __future__ import annotations

import asyncio
import time

from bench.load import RawPool, percentile
from bench.procs import Child
from bench.report import Row
from bench.stack import DESTINATION, Config, Stack, http_client

SECTION = "5 /call → StartScenarios"
TARGET_MS = 3000.0  # issue 14: p99 under 3 s for 10 calls at once in one channel
MARKER = r"mk\w+"


Waits = dict[tuple[int, bool], list[float]]  # (calls at once, all in one channel) -> seconds to StartScenarios
PRODUCTION = {"slack_pace_s": 1.0, "slack_updates_per_minute": 40, "shutdown_grace_s": 1}  # stops at once after


async def measure(stack: Stack, config: Config) -> list[Row]:
    assert stack.fakes is not None
    # Slack's pace and chat.update budget as in production, against a fake Slack holding Slack's limits.
    await stack.fakes.ask("configure", talk=True, slack_limits=True)
    try:
        bot = await stack.bot(**PRODUCTION)
        try:
            waits = await _measure(stack, config, bot, "s", config.launch_at_once)
        finally:
            await stack.stop(bot)
        on_postgres = await _on_postgres(stack, config)
        refused = (await stack.fakes.ask("launches", pattern=MARKER))["rate_limited"]
    finally:
        await stack.fakes.ask("configure", talk=False, slack_limits=False)
    return _rows(waits, config, refused) + _postgres_rows(on_postgres, waits, config)


async def _on_postgres(stack: Stack, config: Config) -> dict[str, Waits]:
    """The same at 1 and 10 on PostgreSQL: one `callbot serve`, then a web replica with a worker beside it."""
    server = await stack.postgres("5 /call → StartScenarios on PostgreSQL (role all; web + worker)")
    if server is None:
        return {}
    found: dict[str, Waits] = {}
    bot = await stack.bot(database_url=await server.database(), **PRODUCTION)
    try:
        found["PostgreSQL"] = await _measure(stack, config, bot, "p", (10,))
    finally:
        await stack.stop(bot)
    web, worker = await stack.web_and_worker(await server.database(), **PRODUCTION)
    try:
        found["PostgreSQL, web + worker"] = await _measure(stack, config, web, "w", (10,))
    finally:
        await stack.stop(worker)
        await stack.stop(web)
    return found


async def _measure(stack: Stack, config: Config, bot: Child, variant: str, at_once: tuple[int, ...]) -> Waits:
    """In turn, then `at_once` together, each in one channel and in a channel each; `variant` keeps the markers
    and channels of each bot apart."""
    waits: Waits = {}
    async with http_client() as http:
        await _round(stack, bot, http, f"{variant}warm", 3, at_once=False, one_channel=False)  # imports, auth.test
        for one_channel in (False, True):
            waits[1, one_channel] = await _round(
                stack, bot, http, f"{variant}t{int(one_channel)}", config.launch_in_turn, at_once=False,
                one_channel=one_channel,
            )  # fmt: skip
        for count in at_once:
            for one_channel in (False, True):
                waits[count, one_channel] = []
                for round_ in range(config.launch_rounds):
                    tag = f"{variant}a{count}r{round_}c{int(one_channel)}"
                    waits[count, one_channel] += await _round(
                        stack, bot, http, tag, count, at_once=True, one_channel=one_channel
                    )
    return waits


async def _round(
    stack: Stack, bot: Child, http: RawPool, tag: str, count: int, *, at_once: bool, one_channel: bool
) -> list[float]:
    """Place `count` calls (together, or each once the one before it was dialled), each in its own channel or all
    in one; the seconds from each `/call` sent to its StartScenarios received."""
    assert stack.fakes is not None
    sender = stack.sender(http, bot.url)
    sent: dict[str, float] = {}

    async def place(n: int) -> str:
        marker = f"mk{tag}n{n:03d}"
        channel = f"C0{tag.upper()}" + ("" if one_channel else f"N{n:03d}")
        sent[marker] = time.monotonic()
        response = await sender.command(f"{DESTINATION} bench launch {marker}", channel_id=channel)
        if response.status_code != 200 or response.text:
            raise RuntimeError(f"/call was not placed: {response.status_code} {response.text[:200]}")
        return marker

    if at_once:
        await asyncio.gather(*(place(n) for n in range(count)))
    else:
        for n in range(count):
            marker = await place(n)
            await _started(stack, [marker])
    started = await _started(stack, list(sent))
    return [started[marker] - at for marker, at in sent.items()]


async def _started(stack: Stack, markers: list[str]) -> dict[str, float]:
    """When each call's StartScenarios arrived (time.monotonic(), comparable across processes), once all have."""
    assert stack.fakes is not None
    deadline = time.monotonic() + 120
    while True:
        started = (await stack.fakes.ask("launches", pattern=MARKER))["started"]
        if all(marker in started for marker in markers):
            return {marker: started[marker] for marker in markers}
        if time.monotonic() > deadline:
            raise RuntimeError(f"{sum(m not in started for m in markers)} calls were never dialled")
        await asyncio.sleep(0.02)


def _rows(waits: Waits, config: Config, refused: int) -> list[Row]:
    rows: list[Row] = []
    for (count, one_channel), samples in waits.items():
        if not one_channel:
            continue
        ours, base = [s * 1000 for s in samples], [s * 1000 for s in waits[count, False]]
        how = f"{config.launch_in_turn} calls in turn" if count == 1 else f"{config.launch_rounds}×{count} at once"
        p99_target = f"<{TARGET_MS:,.0f} ms" if count == 10 else ""
        rows += [
            Row(SECTION, f"p50 @{count}, one channel", percentile(ours, 50), percentile(base, 50),
                note=f"{how}; baseline: a channel each"),
            Row(SECTION, f"p99 @{count}, one channel", percentile(ours, 99), percentile(base, 99),
                target=p99_target, met=percentile(ours, 99) < TARGET_MS if p99_target else None),
        ]  # fmt: skip
    slack = Row(SECTION, "Slack's 429s for going too fast", refused, None, unit="", target="0", met=refused == 0,
                note="the fake Slack's per-channel pace and chat.update tier")  # fmt: skip
    return [*rows, slack]


def _postgres_rows(on_postgres: dict[str, Waits], sqlite: Waits, config: Config) -> list[Row]:
    rows: list[Row] = []
    for name, waits in on_postgres.items():
        for (count, one_channel), samples in waits.items():
            ours, base = [s * 1000 for s in samples], [s * 1000 for s in sqlite[count, one_channel]]
            how = f"{config.launch_in_turn} calls in turn" if count == 1 else f"{config.launch_rounds}×{count} at once"
            where = "one channel" if one_channel else "a channel each"
            rows += [
                Row(SECTION, f"{name}: p50 @{count}, {where}", percentile(ours, 50), percentile(base, 50),
                    note=f"{how}; baseline: SQLite"),
                Row(SECTION, f"{name}: p99 @{count}, {where}", percentile(ours, 99), percentile(base, 99)),
            ]  # fmt: skip
    return rows
