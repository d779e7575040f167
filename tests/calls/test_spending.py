"""The spending caps, with a real store (SQLite and PostgreSQL) and an injected clock: refused exactly at the cap,
allowed just under it, and the reset time shown; per person per UTC day, per workspace per UTC month."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from bot.calls.models import Call, CallRequest, CallState, Origin, Transition
from bot.calls.outcomes import judge
from bot.calls.permissions import Limits, Permissions
from bot.calls.refusals import Why
from bot.calls.spending import Caps, Spender, Spending, month_start, next_month
from bot.errors import LimitReached
from bot.slack.texts import refusal as words
from bot.slack.texts.admin import spend as spend_words
from bot.store import Store

ANA = Origin(team_id="T1", user_id="U0ANA", conversation_id="C1")
BEN = Origin(team_id="T1", user_id="U0BEN", conversation_id="C1")
ELSEWHERE = Origin(team_id="T2", user_id="U0ANA", conversation_id="C9")  # the same person id, another workspace
NOW = datetime(2026, 3, 17, 20, 40, tzinfo=UTC)  # 3 h 20 min before midnight UTC
CURRENCY = "(in your Voximplant account's currency)"
_ids = itertools.count()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def spent(store: Store, origin: Origin, cost: float | None, *, at: datetime) -> None:
    """A call placed at `at` that ended, costing `cost` (None: Voximplant said nothing of its cost)."""
    call_id = f"call{next(_ids)}"
    request = CallRequest(destination="+14155550100", caller_id="+14155550123", max_duration_s=600, origin=origin)
    await store.insert_call(Call(call_id, request, CallState.REQUESTED, "", created_at=at, updated_at=at))
    ended = Transition(CallState.ENDED, "remote_hangup")
    assert await store.settle(call_id, ended, at + timedelta(minutes=2), duration_s=60, cost=cost, judge=judge)


def permissions(store: Store, clock: Clock, *, day: float = 0.0, month: float = 0.0) -> Permissions:
    limits = Limits(spend_per_person_day=day, spend_per_workspace_month=month)
    return Permissions(store, None, limits=limits, clock=clock)


async def refusal(check: Permissions, origin: Origin) -> LimitReached:
    with pytest.raises(LimitReached) as refused:
        await check.check_limits(origin)
    return refused.value


async def test_a_person_is_refused_once_today_s_spending_reaches_the_cap_and_not_a_cent_before(store: Store) -> None:
    clock = Clock(NOW)
    check = permissions(store, clock, day=1.0)
    await spent(store, ANA, 0.5, at=NOW - timedelta(hours=20))  # 00:40 today
    await spent(store, ANA, 0.49, at=NOW - timedelta(hours=1))
    await spent(store, ANA, None, at=NOW - timedelta(minutes=30))  # no cost reported: counts nothing
    await spent(store, ANA, 5.0, at=NOW - timedelta(hours=20, minutes=41))  # 23:59 yesterday: another day
    await check.check_limits(ANA)  # 0.99 of 1.00: allowed
    await spent(store, ANA, 0.01, at=NOW - timedelta(minutes=5))
    refused = await refusal(check, ANA)  # 1.00 of 1.00: refused
    assert refused.why is Why.PERSON_SPEND_CAP and refused.facts["spent"] == 1.0
    assert refused.retry_at == datetime(2026, 3, 18, tzinfo=UTC)
    assert words(refused) == (
        f"You have spent 1.00 on calls today (UTC); the cap is 1.00 a day per person {CURRENCY}. "
        "It resets at 00:00 UTC, in 3 h 20 min."
    )
    await check.check_limits(BEN)  # the cap is each person's
    clock.now = datetime(2026, 3, 18, 0, 0, tzinfo=UTC)  # midnight UTC: a new day
    await check.check_limits(ANA)


async def test_sums_of_costs_that_float_arithmetic_leaves_a_hair_off_the_cap_count_as_the_cap(store: Store) -> None:
    check = permissions(store, Clock(NOW), day=0.3)
    await spent(store, ANA, 0.1, at=NOW - timedelta(hours=2))
    await check.check_limits(ANA)
    await spent(store, ANA, 0.2, at=NOW - timedelta(hours=1))  # 0.1 + 0.2 is 0.30000000000000004 in floats
    assert (await refusal(check, ANA)).facts["spent"] == 0.3
    under = permissions(store, Clock(NOW), day=0.300001)
    await under.check_limits(ANA)  # a millionth under the cap is under it


async def test_a_workspace_is_refused_once_this_month_s_spending_reaches_its_cap(store: Store) -> None:
    clock = Clock(NOW)
    check = permissions(store, clock, month=10.0)
    await spent(store, ANA, 4.0, at=datetime(2026, 3, 1, 0, 0, tzinfo=UTC))  # the month's first moment
    await spent(store, BEN, 5.5, at=datetime(2026, 3, 9, 12, 0, tzinfo=UTC))
    await spent(store, BEN, 50.0, at=datetime(2026, 2, 28, 23, 59, tzinfo=UTC))  # last month
    await spent(store, ELSEWHERE, 9.0, at=NOW - timedelta(hours=1))  # another workspace
    await check.check_limits(ANA)  # 9.50 of 10.00
    await spent(store, BEN, 0.5, at=NOW - timedelta(hours=1))
    refused = await refusal(check, ANA)  # 10.00 of 10.00, for anyone in the workspace
    assert refused.why is Why.WORKSPACE_SPEND_CAP and refused.retry_at == datetime(2026, 4, 1, tzinfo=UTC)
    assert words(refused) == (
        f"This workspace has spent 10.00 on calls this month (UTC); the cap is 10.00 a month {CURRENCY}. "
        "It resets on 1 April at 00:00 UTC, in 15 days."
    )
    await check.check_limits(ELSEWHERE)  # 9.00 of its own 10.00: each workspace counts its own calls
    clock.now = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
    await check.check_limits(ANA)


async def test_no_cap_refuses_nothing(store: Store) -> None:
    await spent(store, ANA, 99_999.0, at=NOW - timedelta(hours=1))
    await permissions(store, Clock(NOW)).check_limits(ANA)


async def test_the_month_s_report_names_the_spending_the_top_spenders_and_the_caps(store: Store) -> None:
    await spent(store, ANA, 0.0312, at=NOW - timedelta(days=3))
    await spent(store, BEN, 1.25, at=NOW - timedelta(days=1))
    await spent(store, BEN, 1.0, at=NOW - timedelta(hours=1))
    await spent(store, BEN, 7.0, at=datetime(2026, 2, 20, tzinfo=UTC))  # last month
    spending = Spending(store, Caps(per_person_day=2.0, per_workspace_month=100.0), clock=Clock(NOW))
    report = await spending.report("T1")
    assert (report.spent, report.calls) == (2.2812, 3)
    assert report.top == [Spender("U0BEN", 2.25, 2), Spender("U0ANA", 0.0312, 1)]
    assert (report.month, report.resets_at) == (month_start(NOW), next_month(NOW))
    assert spend_words(report) == (
        "*Spending in March 2026* (UTC), in your Voximplant account's currency\n"
        "This workspace: 2.2812 on 3 calls · the cap is 100.00 a month; the month resets on 1 April at 00:00 UTC, "
        "in 15 days.\n"
        "Each person: at most 2.00 a day (UTC days).\n"
        "*Who spent most this month*\n"
        "• <@U0BEN> 2.25 on 2 calls\n"
        "• <@U0ANA> 0.0312 on 1 call"
    )


def test_months_reset_on_the_first_whatever_their_length() -> None:
    assert next_month(datetime(2026, 1, 31, 23, 59, tzinfo=UTC)) == datetime(2026, 2, 1, tzinfo=UTC)
    assert next_month(datetime(2026, 2, 28, 12, 0, tzinfo=UTC)) == datetime(2026, 3, 1, tzinfo=UTC)
    assert next_month(datetime(2026, 12, 15, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)
