"""Clocks for paced Slack delivery in tests and the sandbox: virtual (sleeping moves time forward at once), stepped
(time moves when the test says), scaled (real time, faster)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta


class VirtualClock:
    """`now()` starts at 0 and only moves when someone sleeps; `sleep(s)` advances it to that sleeper's wake time.

    Exact for one writer per channel (what the tests check); with several writers sleeping at once, time jumps to
    the latest wake time, which only ever spaces writes further apart.
    """

    def __init__(self) -> None:
        self._now = 0.0
        self._running = asyncio.Event()
        self._running.set()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        await self._running.wait()
        self._now = max(self._now, self._now + max(seconds, 0.0))
        await asyncio.sleep(0)

    def hold(self) -> None:
        """Stop time: every sleeper waits until `release()` (a test's way to let work pile up meanwhile)."""
        self._running.clear()

    def release(self) -> None:
        self._running.set()


class SteppedClock:
    """Time that moves only when the test moves it: `sleep(s)` waits until `advance()` has brought the clock to its
    wake time. Unlike VirtualClock, many sleepers at once each wake at their own time, and what they send then reaches
    the fakes at that time: a test advances a step, checks what happened, and advances again."""

    def __init__(self) -> None:
        self._now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), wake))
        await wake

    def advance(self, seconds: float) -> None:
        """Move time `seconds` on, and wake every sleeper due by then."""
        self._now += seconds
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, wake = heapq.heappop(self._sleepers)
            if not wake.done():
                wake.set_result(None)


class ScaledClock:
    """Real time, `speed` times faster: `now()` is seconds since it was made, times `speed`; `sleep(s)` sleeps
    s / `speed` real seconds. Unlike VirtualClock, many writers sleeping at once each wait their own time, so rates
    across channels (a workspace-wide limit) come out as in life, only sooner."""

    def __init__(self, speed: float) -> None:
        self._speed = speed
        self._start = time.monotonic()
        self._running = asyncio.Event()
        self._running.set()

    def now(self) -> float:
        return (time.monotonic() - self._start) * self._speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0) / self._speed)
        await self._running.wait()

    def hold(self) -> None:
        """Every sleeper that wakes waits until `release()`, so work piles up as on a machine too busy to send it
        (time goes on meanwhile: what waited goes as the limits allow once released)."""
        self._running.clear()

    def release(self) -> None:
        self._running.set()


class WallClock:
    """The domain's clock (`bot.calls.clock.Clock`) for tests: a UTC time that moves only when the test moves it,
    so a call scheduled `in 20m` rings when the test says twenty minutes have passed, not twenty minutes later."""

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self._now

    def advance(self, by: timedelta) -> None:
        self._now += by
