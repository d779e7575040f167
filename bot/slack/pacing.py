"""Time for Slack delivery: an injectable clock, per-channel pacing and per-workspace method budgets, both honouring
Retry-After."""

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
