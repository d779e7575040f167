"""Roles of `callbot serve`: `all` (the default) does everything; on PostgreSQL, `web` and `worker` share it out.

- `web` verifies Slack's requests and Voximplant's events, answers them and records them. It never waits on
  Voximplant or Slack for a call: a call it stores is launched by a worker, a Slack write it queues is delivered by
  a worker. It tells the workers at once (NOTIFY), and they also look for such work themselves, should a message
  be lost (a worker restarting).
- `worker` runs the slash commands web replicas answered at once (bot/slack/inbox.py), launches calls, delivers
  Slack writes, and runs the watchdog (bot/build.py wires which part runs where).

A launch, wherever it runs, is the same `Placing.launch`; `Launches` is how the Slack listeners ask for one.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Literal, Protocol

from bot.calls.clock import Clock, utc_now
from bot.calls.models import Call, CallState
from bot.calls.placing import Placing
from bot.errors import StoreUnavailable
from bot.leases import Replica
from bot.logs import bound_call
from bot.slack.delivery import Delivery
from bot.slack.inbox import Inbox
from bot.slack.reply_urls import ReplyUrls
from bot.store import Store
from bot.tasks import Background

log = logging.getLogger(__name__)

Role = Literal["all", "web", "worker"]
SCAN_EVERY_S = 1.0  # how often a worker looks for calls to launch that nobody told it of


class Launches(Protocol):
    async def launch_soon(self, call: Call, reply_url: str | None) -> None:
        """Have `call`, stored in `requested` just now, launched: here, or on a worker."""
        ...


class LaunchHere:
    """Launches run in this process, after the request was answered (roles `all` and `worker`)."""

    def __init__(self, placing: Placing, reply_urls: ReplyUrls, background: Background) -> None:
        self._placing = placing
        self._reply_urls = reply_urls
        self._background = background

    async def launch_soon(self, call: Call, reply_url: str | None) -> None:
        launch = self._reply_urls.while_launching(call.id, reply_url, self._placing.launch(call))
        self._background.spawn(launch, key=call.id, name=f"launch call {call.id}")


class HandOff:
    """A web replica's launches: the workers are told; the request's response_url goes with the message, never
    into a table (a worker that misses it finds the call anyway, and tells the requester some other way)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def launch_soon(self, call: Call, reply_url: str | None) -> None:
        try:
            await self._store.notify(f"launch {call.id} {reply_url or ''}".rstrip())
        except StoreUnavailable as error:
            log.warning("could not tell the workers of call %s (they find it by themselves): %s", call.id, error)


class Worker:
    """A worker replica's share: run the slash commands web replicas kept, launch the calls they stored, deliver
    the Slack writes they queued."""

    def __init__(
        self, store: Store, placing: Placing, delivery: Delivery, replica: Replica, reply_urls: ReplyUrls,
        background: Background, *, inbox: Inbox | None = None, launch_within: timedelta, clock: Clock = utc_now,
    ) -> None:  # fmt: skip
        self._store = store
        self._inbox = inbox
        self._placing = placing
        self._delivery = delivery
        self._replica = replica
        self._reply_urls = reply_urls
        self._background = background
        self._launch_within = launch_within  # older unlaunched calls fail instead (Recovery.fail_unplaced)
        self._clock = clock
        self._launching: set[str] = set()
        self._running: set[str] = set()  # slash commands under way here

    async def run(self) -> None:
        await asyncio.gather(self._listen(), self._scan())

    async def _listen(self) -> None:
        async for message in self._store.notifications():
            kind, _, rest = message.partition(" ")
            if kind == "slack":
                self._delivery.kick(rest)
            elif kind == "launch":
                call_id, _, reply_url = rest.partition(" ")
                self._launch_soon(call_id, reply_url or None)
            elif kind == "command":
                command_id, _, reply_url = rest.partition(" ")
                self._run_soon(command_id, reply_url or None)

    async def _scan(self) -> None:
        while True:
            try:
                since = self._clock() - self._launch_within
                for call in await self._store.calls_in_state(CallState.REQUESTED, created_after=since):
                    self._launch_soon(call.id, None)
                for command_id in await self._inbox.waiting() if self._inbox is not None else []:
                    self._run_soon(command_id, None)
            except StoreUnavailable as error:
                log.warning("could not look for calls to launch: %s", error.reason)
            await asyncio.sleep(SCAN_EVERY_S)

    def _launch_soon(self, call_id: str, reply_url: str | None) -> None:
        if call_id not in self._launching:
            self._launching.add(call_id)
            self._background.spawn(self._launch(call_id, reply_url), key=call_id, name=f"launch call {call_id}")

    def _run_soon(self, command_id: str, reply_url: str | None) -> None:
        if self._inbox is not None and command_id not in self._running:
            self._running.add(command_id)
            self._background.spawn(self._run(self._inbox, command_id, reply_url), key=command_id,
                                   name=f"slash command {command_id}")  # fmt: skip

    async def _run(self, inbox: Inbox, command_id: str, reply_url: str | None) -> None:
        try:
            with bound_call(command_id):  # a call the command places takes its id
                await inbox.run(command_id, reply_url)
        finally:
            self._running.discard(command_id)

    async def _launch(self, call_id: str, reply_url: str | None) -> None:
        """Launch the call unless another worker does, or did: its lease, then its state, say."""
        try:
            with bound_call(call_id):
                async with self._replica.holding(f"launch {call_id}") as held:
                    call = await self._store.call(call_id) if held else None
                    if call is not None and call.state is CallState.REQUESTED:
                        await self._reply_urls.while_launching(call_id, reply_url, self._placing.launch(call))
        finally:
            self._launching.discard(call_id)
