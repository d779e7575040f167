"""The store's scheduled calls (both backends): an attempt is claimed once, a retry stored once, a cancel once."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.calls.models import AttemptState, CallState, Origin, Outcome, ScheduledAttempt, Transition
from bot.calls.outcomes import judge
from bot.calls.states import describe_failure
from bot.store import Store
from tests.test_store_outcomes import new_call

T0 = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)
ORIGIN = Origin(team_id="T1", user_id="U1", conversation_id="C1")


def attempt(schedule_id: str = "s1", number: int = 1, *, due: datetime = T0, retries: int = 2) -> ScheduledAttempt:
    return ScheduledAttempt(
        schedule_id=schedule_id, attempt=number, due_at=due, state=AttemptState.SCHEDULED, retries=retries,
        retry_every_s=600, origin=ORIGIN, request='{"v": 1}', tz="Europe/Berlin", created_at=T0 - timedelta(hours=1),
        updated_at=T0 - timedelta(hours=1),
    )  # fmt: skip


async def test_an_attempt_is_due_at_its_time_and_claimed_by_one_caller_only(store: Store) -> None:
    first = attempt(due=T0 + timedelta(microseconds=500))
    assert await store.insert_attempt(first)
    assert not await store.insert_attempt(first)  # the same attempt twice: stored once
    assert await store.due_attempts(T0) == []
    [due] = await store.due_attempts(T0 + timedelta(seconds=1))
    assert due == first
    claims = await asyncio.gather(*(store.claim_attempt(due, T0) for _ in range(5)))
    assert claims.count(True) == 1
    assert await store.due_attempts(T0 + timedelta(days=1)) == []
    assert (await store.latest_attempt("s1")).state is AttemptState.DIALED  # type: ignore[union-attr]


async def test_the_thread_and_the_call_are_kept_and_an_ended_call_is_followed_up_once(store: Store) -> None:
    first = attempt()
    await store.insert_attempt(first)
    await store.set_schedule_thread("s1", "C1", "1700000000.000100")
    assert await store.claim_attempt(first, T0)
    await new_call(store, "call1", CallState.RINGING)
    await store.attach_call(first, "call1")
    assert await store.ended_attempts() == []  # its call has not ended
    await store.move("call1", Transition(CallState.FAILED, describe_failure(486, "Busy Here")), T0, judge=judge)
    [ended] = await store.ended_attempts()
    assert (ended.call_id, ended.outcome, ended.slack_ts) == ("call1", Outcome.BUSY, "1700000000.000100")
    retry = replace(ended, attempt=2, due_at=T0 + timedelta(minutes=10), state=AttemptState.SCHEDULED, call_id=None)
    closed = await asyncio.gather(store.finish_attempt(ended, T0, retry), store.finish_attempt(ended, T0, retry))
    assert sorted(closed) == [False, True]
    assert await store.ended_attempts() == []
    latest = await store.latest_attempt("s1")
    assert latest is not None and (latest.attempt, latest.state, latest.slack_ts) == (
        2, AttemptState.SCHEDULED, "1700000000.000100",
    )  # fmt: skip
    assert await store.attempt_of_call("call1") == replace(ended, state=AttemptState.FINISHED, updated_at=T0)


async def test_cancel_refuse_and_move(store: Store) -> None:
    await store.insert_attempt(attempt("s1"))
    await store.insert_attempt(attempt("s2", due=T0 + timedelta(hours=2)))
    await store.insert_attempt(attempt("s3"))
    assert [a.schedule_id for a in await store.pending_attempts()] == ["s1", "s3", "s2"]
    assert await store.cancel_schedule("s1", "U9", T0)
    assert not await store.cancel_schedule("s1", "U9", T0)  # a second press changes nothing
    cancelled = await store.latest_attempt("s1")
    assert cancelled is not None and (cancelled.state, cancelled.detail) == (AttemptState.CANCELLED, "U9")

    moved_to = T0 + timedelta(hours=5)
    s2 = await store.latest_attempt("s2")
    assert s2 is not None and await store.move_attempt(s2, moved_to, T0)
    s2 = await store.latest_attempt("s2")
    assert s2 is not None and (s2.due_at, s2.moved_from) == (moved_to, T0 + timedelta(hours=2))

    s3 = await store.latest_attempt("s3")
    assert s3 is not None and await store.claim_attempt(s3, T0)
    assert not await store.cancel_schedule("s3", "U1", T0)  # dialled already
    assert await store.stop_retries("s3", T0)
    assert await store.refuse_attempt(s3, "caller_id_not_allowed", T0)
    s3 = await store.latest_attempt("s3")
    assert s3 is not None and (s3.state, s3.detail, s3.retries) == (AttemptState.REFUSED, "caller_id_not_allowed", 0)
    assert [a.schedule_id for a in await store.pending_attempts(user_id="U1")] == ["s2"]
    assert await store.pending_attempts(user_id="U2") == []
