"""Time for Slack delivery: an injectable clock, and per-channel pacing that honours Retry-After."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Protocol


class Clock(Protocol):
    """Time as pacing sees it: injectable, so tests run paced deliveries deterministically and fast."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> Awaitable[None]: ...


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class Pacer:
    """Keeps writes to one channel `pace_s` apart, and holds a channel for a 429's Retry-After."""

    def __init__(self, clock: Clock, pace_s: float) -> None:
        self._clock = clock
        self._pace_s = pace_s
        self._next: dict[str, float] = {}

    async def ready(self, channel: str) -> None:
        """Wait until `channel` may take a write, without claiming the turn."""
        wait = self._next.get(channel, 0.0) - self._clock.now()
        if wait > 0:
            await self._clock.sleep(wait)

    async def turn(self, channel: str) -> None:
        """Wait for and claim the next turn on `channel`."""
        now = self._clock.now()
        slot = max(now, self._next.get(channel, 0.0))
        self._next[channel] = slot + self._pace_s
        if slot > now:
            await self._clock.sleep(slot - now)

    def hold(self, channel: str, seconds: float) -> None:
        self._next[channel] = max(self._next.get(channel, 0.0), self._clock.now() + seconds)
