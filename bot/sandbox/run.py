"""`callbot sandbox`: the real bot against fake Slack, fake Voximplant and the scenario simulator, on this machine.

By default it serves a local web page (the channel and its threads, live; a /call box; the call form; Hang up
buttons) and also prints the channel in the terminal. With `terminal=True`, type `/call …` lines in the terminal
instead; the channel and its threads are printed as the fake Slack receives them.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bot.app import create_app
from bot.calls.models import Channel
from bot.sandbox import fake_openai
from bot.sandbox.fake_openai import FakeOpenAI
from bot.sandbox.fake_slack import MANIFEST, FakeSlack, Message, load_manifest
from bot.sandbox.fake_voximplant import ACCOUNT_ID, API_KEY, RULE_ID, FakeVoximplant
from bot.sandbox.servers import LocalServer, serving
from bot.sandbox.simulator import ScenarioSimulator
from bot.sandbox.slack_requests import SlackSender
from bot.sandbox.web import SandboxPage
from bot.settings import Settings
from bot.slack.delivery import Delivery
from bot.state import state_of
from bot.tasks import Background

SIGNING_SECRET = "sandbox-signing-secret"
BOT_TOKEN = "xoxb-sandbox-token"
CALLER_ID = "+14155550123"
CHANNEL = "C0GENERAL"
OUTCOMES = """Destinations choose what happens (last four digits):
  …0100 or anything else  answered, the agent talks, the callee hangs up after 5 s
  …0186 busy   …0180 unavailable   …0148 no answer   …0187 gives up ringing   …0160 declined
  …0199 network failure   …0144 no such number   …0142 Voximplant balance too low
  …0177 answered and stays on the line   …0167 the Voice AI stumbles twice and carries on
  …0166 the Voice AI connection fails mid-call   …0165 the Voice AI cannot start
  …0150 a voicemail box answers   …0151 answering-machine detection times out   …0152 hangs up during detection
  …0153 answering-machine detection fails   …0140 rings a whole minute (a Join nobody answers)
  …0130 a phone menu: the agent presses 1"""


async def run_sandbox(
    *, port: int = 3000, database: str = "sandbox.db", script: list[str] | None = None, time_scale: float = 1.0,
    terminal: bool = False,
) -> int:  # fmt: skip
    """Run until Ctrl-C (web page) or end of input (terminal). `script` types its lines one after another."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # The fake Slack follows the app's settings as manifest.yml sets them (the Messages tab, for DMs from the bot).
    if MANIFEST.exists():
        fake_slack = FakeSlack(bot_token=BOT_TOKEN, manifest=load_manifest())
    else:
        _say(f"({MANIFEST} is missing: the fake Slack has Slack's default settings, so DMs from callbot are refused)")
        fake_slack = FakeSlack(bot_token=BOT_TOKEN)
    fake_voximplant = FakeVoximplant()
    simulator = ScenarioSimulator(time_scale=time_scale)
    fake_voximplant.runner = simulator
    fake_gpt = FakeOpenAI()  # the summary's written lines, canned: no transcript leaves this machine
    servers = LocalServer(fake_slack.app), LocalServer(fake_voximplant.app), LocalServer(fake_gpt.app)
    async with serving(*servers) as (slack_server, vox_server, openai_server):
        fake_voximplant.url = vox_server.url
        bot_server = LocalServer(port=port if terminal or script is not None else 0)
        settings = Settings(
            _env_file=None,
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=f"{slack_server.url}/api/",
            voximplant_account_id=ACCOUNT_ID,
            voximplant_api_key=API_KEY,
            voximplant_rule_id=RULE_ID,
            voximplant_api_url=f"{vox_server.url}/platform_api/",
            public_base_url=bot_server.url,
            database_path=Path(database),
            openai_api_key=fake_openai.API_KEY,
            openai_base_url=f"{openai_server.url}/v1",
            callbot_admins=["U0ANA"],  # the sandbox's person, so `/call callerid …` and `/call deny …` can be tried
            calling_hours="off",  # the simulated callee is awake at any hour, wherever its number is
        )
        bot_server.app = app = create_app(settings)
        async with bot_server, httpx.AsyncClient(timeout=10) as http:
            await state_of(app).store.add_caller_id(
                CALLER_ID, label="Sandbox line", channels=frozenset(Channel), added_by="sandbox", at=datetime.now(UTC)
            )
            sender = SlackSender(
                http, bot_url=bot_server.url, signing_secret=SIGNING_SECRET, response_base=slack_server.url
            )
            view = TerminalView(fake_slack)
            printer = asyncio.create_task(view.follow())
            if not terminal and script is None:
                page = SandboxPage(fake_slack, sender, channel=CHANNEL, caller_id=CALLER_ID, help_text=OUTCOMES)
                async with LocalServer(page.app, port=port) as page_server:
                    _say(f"callbot sandbox: open {page_server.url} in your browser (Ctrl-C to stop).")
                    _say(f"The bot listens on {bot_server.url}; caller ID {CALLER_ID}.\n{OUTCOMES}")
                    try:
                        await asyncio.Event().wait()  # until Ctrl-C
                    finally:
                        printer.cancel()
                        await simulator.aclose()
                        await fake_voximplant.aclose()
            _say(f"callbot sandbox: the bot listens on {bot_server.url}; caller ID {CALLER_ID}.\n{OUTCOMES}")
            _say("Type a slash command, e.g.  /call +14155550100 say hello   (Ctrl-D to quit)\n")
            lines = iter(script) if script is not None else None
            while True:
                line = next(lines, None) if lines is not None else await _read_line()
                if line is None:
                    break
                line = line.strip()
                if not line:
                    continue
                command, _, text = line.partition(" ")
                if command != "/call":
                    _say("Only /call is known here, e.g.  /call +14155550100 say hello")
                    continue
                forms = len(fake_slack.views)
                response = await sender.command(text, channel_id=CHANNEL)
                if len(fake_slack.views) > forms:
                    _say("(Slack would open the call form here; the terminal cannot show it: type the whole call)")
                if response.text:
                    _say(f"(only you see this) {_ephemeral_text(response)}")
                if lines is not None:  # a script waits for the calls it placed to end
                    await _settle(state_of(app).background, simulator, state_of(app).delivery)
            await _settle(state_of(app).background, simulator, state_of(app).delivery)
            printer.cancel()
            view.show_new()
    await simulator.aclose()
    await fake_voximplant.aclose()
    return 0


async def _settle(background: Background, simulator: ScenarioSimulator, delivery: Delivery) -> None:
    """Wait for the calls under way to end and for the bot to have shown all of it."""
    await background.idle()
    await simulator.wait_all(timeout=120)
    await background.idle()
    await delivery.idle()


class TerminalView:
    """Prints what the fake Slack received: new messages, and parents whose text changed."""

    def __init__(self, fake: FakeSlack) -> None:
        self._fake = fake
        self._seen: dict[tuple[str, str], tuple[str, int]] = {}

    async def follow(self) -> None:
        while True:
            self.show_new()
            await asyncio.sleep(0.1)

    def show_new(self) -> None:
        for message in self._fake.messages:
            key = (message.channel, message.ts)
            state = (message.text, message.edits)
            if self._seen.get(key) == state:
                continue
            edited = key in self._seen
            self._seen[key] = state
            _say(self._render(message, edited=edited))

    def _render(self, message: Message, *, edited: bool) -> str:
        mark = " (updated)" if edited else ""
        if message.thread_ts is None:
            return f"#{message.channel}{mark} {message.text}"
        parent = self._fake.find(message.channel, message.thread_ts)
        about = parent.text.split(":", 1)[0] if parent is not None else "thread"
        return f"    └ [{about}]{mark} {message.text}"


def _ephemeral_text(response: httpx.Response) -> str:
    try:
        return str(response.json().get("text", response.text))
    except ValueError:
        return response.text


async def _read_line() -> str | None:
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    return line or None


def _say(text: str) -> None:
    print(text, flush=True)  # noqa: T201 - the sandbox talks to a person in a terminal
