"""A virtual clock for paced Slack delivery: sleeping moves time forward at once, so pacing is exact and instant."""

from __future__ import annotations

import asyncio
import time


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


class ScaledClock:
    """Real time, `speed` times faster: `now()` is seconds since it was made, times `speed`; `sleep(s)` sleeps
    s / `speed` real seconds. Unlike VirtualClock, many writers sleeping at once each wait their own time, so rates
    across channels (a workspace-wide limit) come out as in life, only sooner."""

    def __init__(self, speed: float) -> None:
        self._speed = speed
        self._start = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self._start) * self._speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0) / self._speed)
