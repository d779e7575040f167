"""The scheduler on a real store (both backends): two replicas' rounds at once launch each due attempt once, and a
number whose zones are never all inside calling hours cannot be scheduled."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.calls.grammar import CallDraft
from bot.calls.hours import Window
from bot.calls.models import AttemptState, Call, CallRequest, Channel, Origin
from bot.calls.moves import Moves
from bot.calls.placing import InFlight, Placing
from bot.calls.policy import CallPolicy
from bot.calls.refusals import Why
from bot.calls.scheduling import Scheduler
from bot.calls.vetting import Vetting
from bot.errors import Refusal
from bot.sandbox.clock import WallClock
from bot.store import Store

START = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)
CALLER_ID = "+14155550123"
ORIGIN = Origin(team_id="T1", user_id="U1", conversation_id="C1")


def scheduler(store: Store, clock: WallClock, launched: list[Call], *, hours: Window | None = None) -> Scheduler:
    policy = CallPolicy(
        default_region="US", allowed_countries=frozenset({"US"}), default_caller_id=CALLER_ID, max_duration_s=600,
        rule_id=1, public_base_url="https://callbot.example.com", calling_hours=hours,
    )  # fmt: skip

    async def reconcile(call: Call) -> bool:
        return False

    placing = Placing(store, None, policy, moves=Moves(store, None, clock=clock), in_flight=InFlight(),
                      reconcile=reconcile, clock=clock)  # fmt: skip

    async def launch(call: Call) -> None:
        launched.append(call)

    vetting = Vetting(store, policy, set_up=True, clock=clock)
    return Scheduler(store, vetting, placing, policy, launch=launch, clock=clock)


async def test_two_replicas_rounds_at_once_launch_each_due_attempt_once(store: Store) -> None:
    await store.add_caller_id(CALLER_ID, label="", channels=frozenset({Channel.PSTN}), added_by="t", at=START)
    clock, launched = WallClock(START), []
    first, second = scheduler(store, clock, launched), scheduler(store, clock, launched)
    scheduled = []
    for n in range(6):
        draft = CallDraft(destination="+14155550100", caller_id=None, instructions=f"call {n}", when=f"in {n + 1}m")
        scheduled.append(await first.schedule(draft, ORIGIN, tz="Europe/Berlin"))
    for attempt in scheduled:  # their Slack messages are posted
        await store.set_schedule_thread(attempt.schedule_id, "C1", f"1700000000.00000{attempt.schedule_id[-1]}")
    clock.advance(timedelta(minutes=10))
    await asyncio.gather(*(replica.round() for replica in (first, second, first, second)))
    assert sorted(call.request.instructions for call in launched) == [f"call {n}" for n in range(6)]
    assert len({call.id for call in launched}) == 6
    for attempt in scheduled:
        latest = await store.latest_attempt(attempt.schedule_id)
        assert latest is not None and latest.state is AttemptState.DIALED and latest.call_id is not None
        call = await store.call(latest.call_id)
        assert call is not None and call.request.origin.thread_ts == latest.slack_ts  # into the schedule's thread


async def test_a_number_never_inside_calling_hours_everywhere_cannot_be_scheduled(store: Store) -> None:
    short = scheduler(store, WallClock(START), [], hours=Window.parse("09:00-10:00"))
    toll_free = CallRequest(destination="+18005550100", caller_id=CALLER_ID, max_duration_s=600, origin=ORIGIN)
    with pytest.raises(Refusal) as caught:
        short.opening(toll_free, START)  # it rings all over North America: no hour there is inside 09:00-10:00
    assert caught.value.why is Why.NEVER_OPEN and caught.value.field == "when"
    planner = scheduler(store, WallClock(START), [], hours=Window.parse("08:00-21:00"))
    new_york = toll_free.model_copy(update={"destination": "+12125550100"})
    assert planner.opening(new_york, START) == START  # 09:00 there
    night = START + timedelta(hours=13)  # 22:00 there
    assert planner.opening(new_york, night) == datetime(2026, 12, 3, 13, 0, tzinfo=UTC)  # 08:00 the next morning


async def test_an_attempt_claimed_by_a_bot_that_stopped_before_launching_it_is_refused_not_dialled(
    store: Store,
) -> None:
    await store.add_caller_id(CALLER_ID, label="", channels=frozenset({Channel.PSTN}), added_by="t", at=START)
    clock, launched = WallClock(START), []
    planner = scheduler(store, clock, launched)
    draft = CallDraft(destination="+14155550100", caller_id=None, instructions="hello", when="in 5m")
    attempt = await planner.schedule(draft, ORIGIN, tz="UTC")
    clock.advance(timedelta(minutes=5))
    assert await store.claim_attempt(attempt, clock())  # the bot that claimed it stopped right there
    clock.advance(timedelta(minutes=1))
    await planner.round()
    latest = await store.latest_attempt(attempt.schedule_id)
    assert latest is not None and latest.state is AttemptState.DIALED  # it may still be on its way: left alone
    clock.advance(timedelta(minutes=2))
    await planner.round()
    latest = await store.latest_attempt(attempt.schedule_id)
    assert latest is not None and (latest.state, latest.detail) == (AttemptState.REFUSED, "schedule_interrupted")
    assert launched == []
