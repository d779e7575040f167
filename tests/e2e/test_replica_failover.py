"""Two real `callbot serve` replicas on one PostgreSQL: one killed with SIGKILL mid-call, with Slack writes in flight.
The other finishes the call's thread, nothing lost or doubled, and takes the watchdog over."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.calls.models import Channel
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.servers import LocalServer
from bot.store import Store
from tests.conftest import CALLER_ID, eventually
from tests.e2e.test_replicas import RoundRobin
from tests.e2e.test_restart import PENDING_LINES, BotProcess, free_port, place_and_hold, serve_env

LEASE_S = 1.5  # a dead replica's work waits this long before the other takes it (15 s in production)


@pytest.fixture
async def processes(
    tmp_path: Path, postgres_url: str, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    http: httpx.AsyncClient,
) -> AsyncIterator[tuple[list[BotProcess], RoundRobin]]:  # fmt: skip
    """Two `callbot serve` processes on one database, Voximplant reaching them through a round-robin balancer."""
    store = await Store.open(postgres_url)
    await store.add_caller_id(
        CALLER_ID, label="Support line", channels=frozenset({Channel.PSTN}), added_by="test", at=datetime.now(UTC)
    )
    await store.close()
    balancer = RoundRobin(http)
    async with LocalServer(balancer.app) as front:
        replicas = []
        for name in ("a", "b"):
            env = serve_env(
                tmp_path, fake_slack, fake_voximplant, port=free_port(), DATABASE_URL=postgres_url,
                PUBLIC_BASE_URL=front.url, LEASE_S=str(LEASE_S), RECONCILE_EVERY_S="0.5", SHUTDOWN_GRACE_S="2",
            )  # fmt: skip
            replicas.append(BotProcess(env, tmp_path / f"bot-{name}.log"))
        balancer.replicas = [replica.url for replica in replicas]
        try:
            yield replicas, balancer
        finally:
            for replica in replicas:
                if replica.process is not None and replica.process.poll() is None:
                    replica.process.terminate()
                    replica.process.wait(timeout=10)


@pytest.mark.slow  # two `callbot serve` subprocesses, one killed
async def test_a_replica_killed_mid_call_leaves_the_other_to_finish_its_thread_and_watch(
    processes: tuple[list[BotProcess], RoundRobin], postgres_url: str, fake_slack: FakeSlack,
    fake_voximplant: FakeVoximplant, http: httpx.AsyncClient,
) -> None:  # fmt: skip
    (doomed, survivor), balancer = processes
    doomed.start()
    await doomed.ready(http)
    survivor.start()
    await survivor.ready(http)
    store = await Store.open(postgres_url)
    try:
        await until(lambda: watchdog_held_by(store, doomed))  # it started first

        # Slack holds the channel for an hour at the call's first reply: the replica delivering the call's writes
        # keeps them, and its lease, while it waits. Until it dies, the balancer sends every event to it.
        balancer.replicas = [doomed.url]
        session, parent = await place_and_hold(http, doomed.url, fake_slack, fake_voximplant)
        holder = await store.lease_holder(f"slack {session.call_id}", now=datetime.now(UTC))
        assert holder is not None and f":{pid(doomed)}:" in holder

        doomed.kill()
        balancer.replicas = [doomed.url, survivor.url]  # the dead one refuses connections: it is skipped
        expected = PENDING_LINES

        def lines() -> list[str]:
            return [line for m in fake_slack.thread(parent) for line in m.text.split("\n")]

        await eventually(lambda: lines() == expected, timeout=15)  # the survivor took the writes over
        response = await fake_voximplant.send_event(session, "disconnected", {"duration_s": 61})
        assert response.status_code == 200  # whichever replica the balancer picked, the survivor answered
        await eventually(
            lambda: lines()[-1:] == [":white_check_mark: *Talked with a person* · 1m 01s · 3 turns."], timeout=15
        )
        assert lines()[:-1] == expected  # nothing doubled
        assert len(fake_slack.parents()) == 1
        await until(lambda: watchdog_held_by(store, survivor))
        await until(lambda: outbox_empty(store))  # the parent's last update too: nothing left behind
    finally:
        await store.close()


def pid(replica: BotProcess) -> int:
    assert replica.process is not None
    return replica.process.pid


async def until(check: Callable[[], Awaitable[bool]], *, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"{check} never held"
        await asyncio.sleep(0.05)


async def outbox_empty(store: Store) -> bool:
    return await store.slack_outbox_depth() == (0, None)


async def watchdog_held_by(store: Store, replica: BotProcess) -> bool:
    holder = await store.lease_holder("watchdog", now=datetime.now(UTC))
    return holder is not None and f":{pid(replica)}:" in holder
