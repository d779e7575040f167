"""Moves: a call changes state outside its status events (a launch that fails, a restart, a settlement), and the
observer hears of it."""

from __future__ import annotations

from bot.calls.clock import Clock
from bot.calls.models import Call, Transition
from bot.calls.observer import CallObserver
from bot.calls.outcomes import judge
from bot.store import Store


class Moves:
    """Store a move, then tell the observer; each method answers None when the store made no move."""

    def __init__(self, store: Store, observer: CallObserver | None, *, clock: Clock) -> None:
        self._store = store
        self._observer = observer
        self._clock = clock

    async def move(self, call_id: str, transition: Transition) -> Call | None:
        """Move the call unless it is over already (a terminal state never changes)."""
        return await self._told(await self._store.move(call_id, transition, self._clock(), judge=judge), transition)

    async def move_if_unheard(self, call_id: str, transition: Transition) -> Call | None:
        """Move the call only if its scenario has reported nothing yet: else it is under way, whatever we thought."""
        moved = await self._store.move_if_unheard(call_id, transition, self._clock(), judge=judge)
        return await self._told(moved, transition)

    async def _told(self, moved: Call | None, transition: Transition) -> Call | None:
        if moved is not None and self._observer is not None:
            await self._observer.call_moved(moved, transition)
        return moved
