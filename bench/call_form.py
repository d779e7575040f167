"""How fast the grammar parses, and how long `/call` takes to open the form (views.open must beat a 3 s trigger).

    .venv/bin/python -m bench.call_form [--requests 200]

Runs the real app on loopback against the fake Slack and fake Voximplant, as the tests do; prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bot.app import create_app
from bot.calls.grammar import parse_command
from bot.calls.models import Channel
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import ACCOUNT_ID, API_KEY, RULE_ID, FakeVoximplant
from bot.sandbox.servers import LocalServer
from bot.sandbox.slack_requests import SlackSender
from bot.settings import Settings
from bot.state import state_of

TEXTS = [
    "+1 (415) 555-0100 remind Ana the review moved to 3pm",
    "415-555-0100 from +14155550123 for 5m via phone ask about the invoice",
    "<tel:+14155550100|+1 415-555-0100> hello",
    "sip:desk@pbx.example.com via sip check the line",
    "alice via user say the build is green",
    "say hello to Ana, the review moved",
]
SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"


def bench_parser(rounds: int = 2000) -> float:
    """Microseconds per parse_command, over a mix of texts."""
    start = time.perf_counter()
    for _ in range(rounds):
        for text in TEXTS:
            parse_command(text, "US")
    return (time.perf_counter() - start) / (rounds * len(TEXTS)) * 1e6


async def bench_http(requests: int) -> dict[str, list[float]]:
    """Milliseconds per signed request: `/call` opening the form, and a valid form submission."""
    fake_slack, fake_voximplant = FakeSlack(bot_token=TOKEN), FakeVoximplant()
    timings: dict[str, list[float]] = {"/call -> views.open -> ack": [], "view_submission -> ack": []}
    with tempfile.TemporaryDirectory() as directory:
        async with LocalServer(fake_slack.app) as slack_server, LocalServer(fake_voximplant.app) as vox_server:
            fake_voximplant.url = vox_server.url
            bot_server = LocalServer()
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                slack_bot_token=TOKEN, slack_signing_secret=SECRET, slack_api_url=f"{slack_server.url}/api/",
                voximplant_account_id=ACCOUNT_ID, voximplant_api_key=API_KEY, voximplant_rule_id=RULE_ID,
                voximplant_api_url=f"{vox_server.url}/platform_api/", public_base_url=bot_server.url,
                database_path=Path(directory) / "bench.db", calling_hours="off",
            )  # fmt: skip
            bot_server.app = app = create_app(settings)
            async with bot_server, httpx.AsyncClient(timeout=10) as http:
                await state_of(app).store.add_caller_id(
                    "+14155550123", label="Bench", channels=frozenset(Channel), added_by="bench", at=datetime.now(UTC)
                )
                sender = SlackSender(
                    http, bot_url=bot_server.url, signing_secret=SECRET, response_base=slack_server.url
                )
                await sender.command("help")  # Bolt's auth.test and the first connections are not measured
                for n in range(requests):
                    start = time.perf_counter()
                    response = await sender.command("say hello")
                    timings["/call -> views.open -> ack"].append((time.perf_counter() - start) * 1000)
                    if response.text or len(fake_slack.views) != n + 1:
                        raise SystemExit(f"the form did not open: {response.text}")
                view = fake_slack.views[-1]
                state = {
                    "destination": {"destination": {"type": "plain_text_input", "value": "+14155550100"}},
                    "conversation": {
                        "conversation": {"type": "conversations_select", "selected_conversation": "C0GENERAL"}
                    },
                }
                for _ in range(requests):
                    start = time.perf_counter()
                    response = await sender.view_submission(view, state)
                    timings["view_submission -> ack"].append((time.perf_counter() - start) * 1000)
                    if response.text:
                        raise SystemExit(f"the submission was refused: {response.text}")
                await state_of(app).background.idle()
    await fake_voximplant.aclose()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    print(f"parse_command: {bench_parser():.1f} µs per text ({len(TEXTS)} kinds)")
    for name, samples in asyncio.run(bench_http(args.requests)).items():
        samples.sort()
        p95 = samples[int(len(samples) * 0.95) - 1]
        print(
            f"{name}: median {statistics.median(samples):.1f} ms, p95 {p95:.1f} ms, max {samples[-1]:.1f} ms "
            f"over {len(samples)} requests"
        )


if __name__ == "__main__":
    main()
