"""Spending caps: what a person spent today and their workspace this month, against SPEND_PER_PERSON_DAY and
SPEND_PER_WORKSPACE_MONTH.

Days and months are UTC's. A call counts on the day (and in the month) it was placed, for what Voximplant said it
cost (its `disconnected` event, or the call history), in the account's currency; a call still under way counts
nothing yet, so the call that crosses a cap is allowed and the next one is refused. A call is refused when what was
spent has reached the cap: spent ≥ cap refuses, anything under it is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.calls.clock import Clock
from bot.calls.models import Origin
from bot.calls.refusals import Why
from bot.errors import LimitReached
from bot.store import Store

TOP_SPENDERS = 5  # how many people /call spend names
# Costs are sums of floats (0.1 + 0.2 is 0.30000000000000004): compared at a millionth of the currency's unit,
# far below any price Voximplant quotes.
_PLACES = 6


@dataclass(frozen=True, slots=True)
class Caps:
    """In the Voximplant account's currency; 0 means no cap."""

    per_person_day: float = 0.0
    per_workspace_month: float = 0.0


@dataclass(frozen=True, slots=True)
class Spender:
    user_id: str
    spent: float
    calls: int


@dataclass(frozen=True, slots=True)
class SpendReport:
    """A workspace's spending this month (UTC), for `/call spend`."""

    month: datetime  # the first moment of the month, UTC
    resets_at: datetime  # the first moment of the next month
    now: datetime
    spent: float
    calls: int
    top: list[Spender]  # the people who spent most this month, most first
    caps: Caps


def day_start(now: datetime) -> datetime:
    """Midnight UTC at the start of `now`'s UTC day."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: datetime) -> datetime:
    """Midnight UTC on the first of `now`'s UTC month."""
    return day_start(now).replace(day=1)


def next_month(now: datetime) -> datetime:
    """Midnight UTC on the first of the month after `now`'s."""
    return (month_start(now) + timedelta(days=32)).replace(day=1)


class Spending:
    """Refuses a call once a cap is reached, and reports the month's spending."""

    def __init__(self, store: Store, caps: Caps, *, clock: Clock) -> None:
        self._store = store
        self._caps = caps
        self._clock = clock

    async def check(self, origin: Origin) -> None:
        """Raise LimitReached (with when the cap resets) when the person's or the workspace's spending reached a cap.

        Each check is one SUM over an index that holds the cost (calls_spend_by_user, calls_spend_by_team).
        """
        now, caps = self._clock(), self._caps
        if caps.per_person_day:
            today = day_start(now)
            spent = round((await self._store.spend_since(today, user_id=origin.user_id))[0], _PLACES)
            if spent >= caps.per_person_day:
                raise LimitReached(
                    Why.PERSON_SPEND_CAP, retry_at=today + timedelta(days=1), spent=spent, cap=caps.per_person_day,
                    now=now,
                )  # fmt: skip
        if caps.per_workspace_month:
            spent = round((await self._store.spend_since(month_start(now), team_id=origin.team_id))[0], _PLACES)
            if spent >= caps.per_workspace_month:
                raise LimitReached(
                    Why.WORKSPACE_SPEND_CAP, retry_at=next_month(now), spent=spent, cap=caps.per_workspace_month,
                    now=now,
                )  # fmt: skip

    async def report(self, team_id: str) -> SpendReport:
        """This month's spending in the workspace `team_id`: in all, and by the people who spent most."""
        now = self._clock()
        month = month_start(now)
        spent, calls = await self._store.spend_since(month, team_id=team_id)
        top = [
            Spender(user_id, round(amount, _PLACES), count)
            for user_id, amount, count in await self._store.spenders(team_id, since=month, limit=TOP_SPENDERS)
        ]
        return SpendReport(
            month=month, resets_at=next_month(now), now=now, spent=round(spent, _PLACES), calls=calls, top=top,
            caps=self._caps,
        )  # fmt: skip
