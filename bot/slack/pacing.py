"""Time for Slack delivery: an injectable clock, per-channel pacing and per-workspace method budgets, both honouring
Retry-After.

Per channel, Slack limits chat.postMessage to about one message a second and tolerates short bursts above it
(docs.slack.dev/apis/web-api/rate-limits, "Posting messages": "1 per second", "Short bursts >1 allowed"; and
"chat.postMessage generally allows posting one message per second per channel"). `Pacer` keeps each channel to
that with a token bucket: `burst` writes at once, refilled one every `pace_s`. A new call's parent message, which
its launch (the phone ringing) waits for, goes ahead of the channel's waiting thread writes and may use the whole
burst; thread replies and parent updates keep `pace_s` after the channel's previous write, as before, so a talkative
call spends at most one write of the burst and leaves the rest for the next calls' parents.

Slack counts a write when it arrives, which is later than the turn by the request's way there, and not by the same
for every write: a burst leaving together is slow to arrive, the next write alone is quick, and would reach Slack
before its bucket had room. So once Slack has answered a write (`answered`), the bucket counts that write, and every
write after it, from the answer at the latest.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable
from enum import IntEnum
from typing import Protocol

# Slack documents short bursts above one a second per channel, but no size. One public measurement saw about 25
# (RamblingCookieMonster/PSSlack#52: "a bucket size of 25 requests and a leak rate of 1 request per second"), and
# Slack warns that past "available limits" burst messages may not be shown. 10 stays well under that and equals
# the default ceiling of calls under way in a workspace (CONCURRENT_CALLS_PER_WORKSPACE): that many calls placed at
# once in one channel all have their message without waiting. SLACK_BURST=1 goes back to strictly one a second.
BURST = 10


class Clock(Protocol):
    """Time as pacing sees it: injectable, so tests run paced deliveries deterministically and fast."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> Awaitable[None]: ...


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class Lane(IntEnum):
    """Which of a channel's waiting writes goes first (the lower)."""

    PARENT = 0  # a new call's parent message: its launch waits for it; it may use the whole burst
    THREAD = 1  # thread replies and parent updates: `pace_s` after the channel's previous write, as before


class _Channel:
    """One channel's bucket and hold, its writes waiting for their turn, and the workers waiting for it to be free."""

    def __init__(self) -> None:
        self.due = 0.0  # the bucket as GCRA keeps it: when the next write would be due at the steady rate
        self.thread_due = 0.0  # the earliest the next thread write may go: `pace_s` after the last write
        self.held_until = 0.0  # a 429's Retry-After
        self.turns = 0  # turns handed out so far: a write's number
        self.waiting: list[tuple[Lane, int, asyncio.Future[int]]] = []  # a heap: lane, then order of arrival
        self.watchers: list[asyncio.Future[int]] = []  # ready(): resolved once no write waits and one could go
        self.pump: asyncio.Task[None] | None = None  # the one task that sleeps until the next turn is due
        self.wake = asyncio.Event()  # something changed: the pump looks again


class Pacer:
    """Per channel: a bucket of `burst` writes refilled one per `pace_s`; parents first and free to use it, thread
    writes `pace_s` after the previous write; a 429 holds the channel for its Retry-After and empties the bucket."""

    def __init__(self, clock: Clock, pace_s: float, *, burst: int = BURST) -> None:
        self._clock = clock
        self._pace_s = pace_s
        self._burst = max(1, burst)
        self._channels: dict[str, _Channel] = {}
        self._arrivals = itertools.count()

    async def turn(self, channel: str, lane: Lane = Lane.THREAD) -> int:
        """Wait for and claim the next write on `channel` for `lane`: parents before thread writes, each in order.
        Returns the write's number, for `answered`."""
        state = self._channel(channel)
        turn: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        heapq.heappush(state.waiting, (lane, next(self._arrivals), turn))
        self._grant(state)
        if not turn.done():
            self._pump(state)
        return await self._wait(state, turn)

    def answered(self, channel: str, number: int) -> None:
        """Slack answered write `number` (or it failed on its way): it reached Slack by now if at all, so the bucket
        counts it, and the writes after it, from now at the latest."""
        state = self._channel(channel)
        state.due = max(state.due, self._clock.now() + (state.turns - number + 1) * self._pace_s)

    async def ready(self, channel: str) -> bool:
        """Wait until `channel` could take a thread write at once and no write waits for it, without claiming it;
        True when that meant waiting."""
        state = self._channel(channel)
        if not self._queued(state) and self._allowed_at(state, Lane.THREAD) <= self._clock.now():
            return False
        watcher: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        state.watchers.append(watcher)
        self._pump(state)
        await self._wait(state, watcher)
        return True

    def hold(self, channel: str, seconds: float) -> None:
        """Slack said 429: nothing goes to `channel` for `seconds`, then one write a pace (the burst is spent)."""
        state = self._channel(channel)
        state.held_until = max(state.held_until, self._clock.now() + seconds)
        state.due = max(state.due, state.held_until + (self._burst - 1) * self._pace_s)
        state.wake.set()

    def waiting(self, channel: str) -> int:
        """How many writes wait for their turn in `channel` now."""
        state = self._channels.get(channel)
        return 0 if state is None else sum(not turn.done() for _, _, turn in state.waiting)

    # -- internals ------------------------------------------------------------------------------------------------

    def _channel(self, channel: str) -> _Channel:
        state = self._channels.get(channel)
        if state is None:
            state = self._channels[channel] = _Channel()
        return state

    def _allowed_at(self, state: _Channel, lane: Lane) -> float:
        at = max(state.due - (self._burst - 1) * self._pace_s, state.held_until)
        return max(at, state.thread_due) if lane is Lane.THREAD else at

    def _take(self, state: _Channel, now: float) -> int:
        state.due = max(state.due, now) + self._pace_s
        state.thread_due = max(state.thread_due, now + self._pace_s)
        state.turns += 1
        return state.turns

    def _queued(self, state: _Channel) -> bool:
        """Whether a write waits for its turn (forgetting those whose writer stopped waiting)."""
        while state.waiting and state.waiting[0][2].done():
            heapq.heappop(state.waiting)
        return bool(state.waiting)

    def _grant(self, state: _Channel) -> None:
        """Hand out every turn due by now, best first; then, if no write waits, wake the workers in ready()."""
        now = self._clock.now()
        while self._queued(state):
            lane, _, turn = state.waiting[0]
            if self._allowed_at(state, lane) > now:
                break
            heapq.heappop(state.waiting)
            turn.set_result(self._take(state, now))
        state.watchers = [watcher for watcher in state.watchers if not watcher.done()]
        if state.watchers and not state.waiting and self._allowed_at(state, Lane.THREAD) <= now:
            for watcher in state.watchers:
                watcher.set_result(0)
            state.watchers = []

    def _next_at(self, state: _Channel) -> float | None:
        """When the pump must look again: the best waiting write's time, or a free channel's for ready(); None when
        nobody waits."""
        if self._queued(state):
            return self._allowed_at(state, state.waiting[0][0])
        if any(not watcher.done() for watcher in state.watchers):
            return self._allowed_at(state, Lane.THREAD)
        return None

    def _pump(self, state: _Channel) -> None:
        state.wake.set()
        if state.pump is None or state.pump.done():
            state.pump = asyncio.create_task(self._run(state), name="slack channel pacing")

    async def _run(self, state: _Channel) -> None:
        """The channel's one sleeper (however many writes wait, a test's clock sees one wake time): it sleeps until
        the next turn is due, or until something changes (a parent arrives, a 429, a writer gives up), and hands the
        turns out."""
        while True:
            self._grant(state)
            at = self._next_at(state)
            if at is None:
                return
            state.wake.clear()
            sleeper = asyncio.ensure_future(self._clock.sleep(at - self._clock.now()))
            woken = asyncio.ensure_future(state.wake.wait())
            try:
                await asyncio.wait({sleeper, woken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                woken.cancel()

    @staticmethod
    async def _wait(state: _Channel, turn: asyncio.Future[int]) -> int:
        try:
            return await turn
        except asyncio.CancelledError:
            state.wake.set()  # the pump may have nothing left to wait for
            raise


class Budget:
    """One Web API method's calls for the whole workspace: at most `per_minute` a minute, evenly spaced after a
    `burst`, and none while a 429's Retry-After holds it (Slack limits a method per workspace, not per channel)."""

    def __init__(self, clock: Clock, per_minute: float, *, burst: int = 1) -> None:
        self._clock = clock
        self._interval = 60.0 / per_minute
        self._burst = max(1, burst)
        self._due = 0.0  # when the next call would be due at the steady rate (GCRA's theoretical arrival time)
        self._held_until = 0.0

    def ready(self) -> bool:
        return self._allowed_at() <= self._clock.now()

    async def take(self) -> None:
        """Wait for and claim the next call's place in the budget."""
        while (wait := self._allowed_at() - self._clock.now()) > 0:
            await self._clock.sleep(wait)
        self._due = max(self._due, self._clock.now()) + self._interval

    def hold(self, seconds: float) -> None:
        self._held_until = max(self._held_until, self._clock.now() + seconds)

    def _allowed_at(self) -> float:
        return max(self._due - (self._burst - 1) * self._interval, self._held_until)
