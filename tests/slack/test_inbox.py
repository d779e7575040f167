"""A worker's slash command (bot/slack/inbox.py): claimed again while it runs, however long Slack keeps it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.authorization import AuthorizeResult

from bot.slack.inbox import TAKEN_FOR, Inbox
from bot.store import Store

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
FIELDS = {"command": "/call", "text": "+14155550100 hi", "user_id": "U1", "team_id": "T1", "channel_id": "C1"}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def _authorize(**_: Any) -> AuthorizeResult:  # no auth.test: the command's workspace, as Bolt would find it
    return AuthorizeResult(enterprise_id=None, team_id="T1", bot_token="xoxb-test", bot_user_id="UB", bot_id="B1")


async def test_a_slow_worker_keeps_its_command_and_no_other_worker_takes_it_over(store: Store) -> None:
    bolt = AsyncApp(signing_secret="not used: a worker's command is verified already", authorize=_authorize)
    started, finish = asyncio.Event(), asyncio.Event()
    runs = 0

    @bolt.command("/call")
    async def slow(ack: AsyncAck) -> None:  # Slack answering with 429s, say
        nonlocal runs
        runs += 1
        started.set()
        await finish.wait()
        await ack()

    clock = Clock()
    assert await store.queue_command(
        "cmd1", FIELDS, signature="v0=1", at=T0, forget_before=T0 - timedelta(minutes=10), notify="command cmd1"
    )
    first = Inbox(store, bolt=bolt, clock=clock, keep_every_s=0.01)
    running = asyncio.create_task(first.run("cmd1", None))
    await asyncio.wait_for(started.wait(), 5)

    clock.now = T0 + TAKEN_FOR * 2  # it has run this long: without a claim renewed, it would be taken to have died
    second = Inbox(store, bolt=bolt, clock=clock)
    for _ in range(500):  # the first worker's next claim
        if not await second.waiting():
            break
        await asyncio.sleep(0.01)
    assert await second.waiting() == []  # neither a missed NOTIFY nor a dead worker's
    await second.run("cmd1", None)  # told of it all the same: it is the first worker's
    assert runs == 1

    finish.set()
    await asyncio.wait_for(running, 5)
    assert runs == 1
    assert await store.take_command("cmd1", at=clock.now, stale_before=clock.now) is None  # done, and forgotten
