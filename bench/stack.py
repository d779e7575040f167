"""The processes a run needs: the fakes, callbot and the baselines, each its own server process."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench import postgres
from bench.load import RawPool
from bench.procs import BOT_TOKEN, SIGNING_SECRET, Child, clean_env, free_port
from bot.sandbox.fake_voximplant import ACCOUNT_ID, API_KEY, RULE_ID
from bot.sandbox.slack_requests import SlackSender

CALLER_ID = "+14155550123"
DESTINATION = "+14155550100"


@dataclass(frozen=True)
class Config:
    """How much load each section applies; `quick` only proves the whole bench runs."""

    quick: bool = False
    concurrency: tuple[int, ...] = (1, 10, 50)
    ack_requests: dict[int, int] = field(default_factory=lambda: {1: 200, 10: 400, 50: 750})
    slow_start_s: float = 2.0
    intake_senders: int = 50
    intake_seconds: float = 6.0
    latency_rounds: int = 8
    latency_interval_s: float = 1.1
    live_calls: int = 1000
    events_per_call: int = 20
    starts: int = 3
    growth_calls: int = 100_000
    query_repeats: int = 1000
    launch_in_turn: int = 10  # section 5 @1: calls placed one after another, each once the one before was dialled
    launch_at_once: tuple[int, ...] = (10, 20)
    launch_rounds: int = 3

    @classmethod
    def quick_mode(cls) -> Config:
        return cls(
            quick=True, ack_requests={1: 5, 10: 20, 50: 50}, slow_start_s=0.2, intake_seconds=0.5, latency_rounds=1,
            latency_interval_s=0.2, live_calls=50, events_per_call=5, starts=1, growth_calls=2_000, query_repeats=20,
            launch_in_turn=3, launch_at_once=(10,), launch_rounds=1, intake_senders=20,
        )  # fmt: skip


class Stack:
    """Owns the child processes, a scratch directory for their SQLite databases, and with `postgres` a throwaway
    PostgreSQL server (when this machine has PostgreSQL), started beside the fakes."""

    def __init__(self, *, postgres: bool = False) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="callbot-bench-")
        self.dir = Path(self._dir.name)
        self.fakes: Child | None = None
        self._children: list[Child] = []
        self._databases = 0
        self._wants_postgres = postgres
        self._postgres: postgres.Server | None = None
        self.skipped: list[str] = []  # parts of sections this machine cannot run, one line each

    async def __aenter__(self) -> Stack:
        fakes = self.start("fakes", clean_env(bench_bot_token=BOT_TOKEN))
        if self._wants_postgres and postgres.missing() is None:
            self.fakes, self._postgres = await asyncio.gather(fakes, postgres.Server().__aenter__())
        else:
            self.fakes = await fakes
        return self

    async def __aexit__(self, *_: object) -> None:
        for child in reversed(self._children):
            await child.stop()
        if self._postgres is not None:
            await self._postgres.__aexit__()
        self._dir.cleanup()

    async def postgres(self, part: str) -> postgres.Server | None:
        """The run's PostgreSQL server (started now if the stack was not asked for one); None when this machine has
        none, and then `part` (of a section) is noted as skipped, saying why."""
        why = postgres.missing() if self._postgres is None else None
        if why is not None:
            self.skipped.append(f"{part}: skipped, {why}")
            return None
        if self._postgres is None:
            self._postgres = await postgres.Server().__aenter__()
        return self._postgres

    async def settled(self, quiet_s: float = 1.0, limit_s: float = 120.0) -> None:
        """Wait until the fakes have received nothing new (no call started, no Slack write) for `quiet_s`."""
        assert self.fakes is not None
        deadline = time.monotonic() + limit_s
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            counts = await self.fakes.ask("counts")
            if counts != last:
                last, since = counts, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return
            await asyncio.sleep(0.05)

    async def start(self, role: str, env: dict[str, str]) -> Child:
        child = await Child.start(role, env)
        self._children.append(child)
        return child

    async def stop(self, child: Child) -> None:
        await child.stop()
        self._children.remove(child)

    def new_database(self) -> Path:
        self._databases += 1
        return self.dir / f"callbot-{self._databases}.db"

    def bot_settings(self, **overrides: object) -> dict[str, object]:
        """Settings (as environment variables) that point callbot at the fakes."""
        assert self.fakes is not None
        return {
            "slack_bot_token": BOT_TOKEN,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": f"{self.fakes.url}/api/",
            "voximplant_account_id": ACCOUNT_ID,
            "voximplant_api_key": API_KEY,
            "voximplant_rule_id": RULE_ID,
            "voximplant_api_url": f"{self.fakes.ready['voximplant_url']}/platform_api/",
            "database_path": self.new_database(),
            # The bench places thousands of calls as one person: the per-person guard rails would refuse them.
            "calls_per_user_per_hour": 0,
            "concurrent_calls_per_user": 0,
            "concurrent_calls_per_workspace": 0,
            "calling_hours": "off",  # the bench runs at any hour
            # Slack not limiting: no per-channel pacing (one channel gets every call's thread here; at Slack's real
            # pace of ~1 write a second, launches would wait minutes for their parent message's turn).
            "slack_pace_s": 0,
            "slack_updates_per_minute": 1_000_000,  # nor chat.update's workspace budget (Tier 3)
            **overrides,
        }

    async def bot(self, **overrides: object) -> Child:
        """callbot served by LocalServer in its own process, with one caller ID allowed."""
        child = await self.start("bot", clean_env(**self.bot_settings(**overrides)))
        await child.ask("allow_caller_id", number=CALLER_ID)
        return child

    async def web_and_worker(self, database_url: str, **overrides: object) -> tuple[Child, Child]:
        """`callbot serve --role web` and `--role worker` on one PostgreSQL database, started together; Voximplant's
        callbacks go to the web replica (as Slack's requests do), on a port chosen for it here."""
        port = free_port()
        web_url = f"http://127.0.0.1:{port}"
        web, worker = await asyncio.gather(
            self.bot(role="web", database_url=database_url, port=port, **overrides),
            self.start("bot", clean_env(**self.bot_settings(
                role="worker", database_url=database_url, public_base_url=web_url, **overrides))),
        )  # fmt: skip
        return web, worker

    async def baseline(self, role: str) -> Child:
        return await self.start(role, clean_env(**self.bot_settings()))

    def sender(self, http: RawPool, url: str) -> SlackSender:
        """The tests' SlackSender (form fields, signature) over the lean client."""
        assert self.fakes is not None
        return SlackSender(http, bot_url=url, signing_secret=SIGNING_SECRET, response_base=self.fakes.url)  # type: ignore[arg-type]


@asynccontextmanager
async def http_client() -> AsyncIterator[RawPool]:
    """The load generator's HTTP: kept-alive raw connections. httpx would cost the client more CPU per request
    than bare Bolt costs the server (measured: about 2 ms against 0.4 ms), and the client would set the pace."""
    pool = RawPool()
    try:
        yield pool
    finally:
        await pool.aclose()
