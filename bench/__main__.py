"""`python -m bench [--quick] [--only SECTION ...] [--json PATH]`: every measurement, then one table.

Each server under test (callbot, a bare Bolt app, a bare Starlette endpoint, the fakes) runs in its own process,
served by uvicorn through LocalServer on loopback; this process only generates load and reads the answers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time
from collections.abc import Sequence

from bench import ack, events, growth, launch, memory, replicas
from bench.report import Row, table
from bench.stack import Config, Stack

SECTIONS = ("ack", "events", "memory", "store", "launch")


async def run(config: Config, sections: Sequence[str]) -> tuple[list[Row], list[str]]:
    """The rows of every section run, and a line for each part this machine could not run (no PostgreSQL)."""
    rows: list[Row] = []
    async with Stack(postgres=bool({"ack", "events", "launch"} & set(sections))) as stack:
        # A fresh bot (and database) for each: the ack section leaves 1,500 calls live that never end, and the
        # watchdog's refresh of their parents would land in the middle of the events section's latencies.
        if "ack" in sections:
            bot = await stack.bot()
            rows += await ack.measure(stack, config, bot)
            await stack.stop(bot)
        if "events" in sections:
            bot = await stack.bot()
            measured, sqlite = await events.measure(stack, config, bot)
            await stack.stop(bot)
            rows += measured
            rows += await replicas.measure(stack, config, sqlite)  # the same intake on PostgreSQL, 1 and 2 replicas
            rows += await events.measure_pull(stack, config, measured)  # the same events pulled through each session
        if "memory" in sections:
            rows += await memory.measure(stack, config)
        if "store" in sections:
            rows += await growth.measure(stack, config)
        if "launch" in sections:
            rows += await launch.measure(stack, config)
    return rows, stack.skipped


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny loads: proves the bench runs, measures nothing")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="sections to run")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    config = Config.quick_mode() if args.quick else Config()
    started = time.perf_counter()
    rows, skipped = asyncio.run(run(config, args.only))
    elapsed = time.perf_counter() - started
    print(table(rows))
    for line in skipped:
        print(line)
    print(f"\n{'quick run' if args.quick else 'run'} of {', '.join(args.only)} took {elapsed:.0f} s on "
          f"{platform.python_implementation()} {platform.python_version()}, {_cpus()} CPUs; "
          "ours = callbot; baseline: section 1 bare Bolt (process_before_response=True) unless said, "
          "2 bare Starlette, 3 bare Bolt, 4 the same query with 1 call stored, 5 the same calls each in a channel of "
          "its own")  # fmt: skip
    if args.json:
        with open(args.json, "w") as out:
            rows_out = [r.as_dict() for r in rows]
            json.dump({"elapsed_s": elapsed, "quick": args.quick, "rows": rows_out, "skipped": skipped}, out, indent=1)
    return 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    sys.exit(main())
