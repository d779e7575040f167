"""The store keeps each call's outcome and cost (both backends): set with the terminal move, whichever way it comes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.calls.models import STATUS_EVENTS, Call, CallRequest, CallState, Origin, Outcome, Transition
from bot.calls.outcomes import judge
from bot.calls.reasons import Ending, reason
from bot.calls.states import describe_failure, transition_for
from bot.store import Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def new_call(
    store: Store, call_id: str, state: CallState = CallState.REQUESTED, *, at: datetime = T0, user: str = "U1"
) -> None:
    origin = Origin(team_id="T1", user_id=user, conversation_id="C1")
    request = CallRequest(destination="+14155550100", caller_id="+14155550123", max_duration_s=600, origin=origin)
    await store.insert_call(Call(call_id, request, state, "", created_at=at, updated_at=at))


async def record(store: Store, call_id: str, seq: int, name: str, data: dict[str, Any] | None = None) -> None:
    event = STATUS_EVENTS.validate_python(
        {"v": 1, "call_id": call_id, "seq": seq, "event": name, "at": T0, "data": data or {}}
    )
    assert await store.record_event(event, received_at=T0, decide=transition_for, judge=judge) is not None


async def test_every_way_a_call_ends_stores_its_outcome_with_the_move(store: Store) -> None:
    await new_call(store, "moved")
    moved = await store.move("moved", Transition(CallState.FAILED, reason(Ending.NO_THREAD)), T0, judge=judge)
    assert moved is not None and moved.outcome is Outcome.REFUSED
    await new_call(store, "unheard", CallState.STARTING)
    failed = Transition(CallState.FAILED, reason(Ending.START_UNCONFIRMED, detail="timeout"))
    unheard = await store.move_if_unheard("unheard", failed, T0, judge=judge)
    assert unheard is not None and unheard.outcome is Outcome.FAILED
    await new_call(store, "settled", CallState.RINGING)
    busy = Transition(CallState.FAILED, describe_failure(486, "Busy Here"))
    settled = await store.settle("settled", busy, T0, duration_s=0, cost=0.001, judge=judge)
    assert settled is not None and (settled.outcome, settled.cost) == (Outcome.BUSY, 0.001)
    await new_call(store, "heard", CallState.STARTING)
    for seq, name in enumerate(["dialing", "ringing", "connected"], start=1):
        await record(store, "heard", seq, name)
    live = await store.call("heard")
    assert live is not None and live.outcome is None and live.cost is None  # none while the call lives
    await record(store, "heard", 4, "voicemail", {"left": True, "message_s": 9})
    await record(store, "heard", 5, "disconnected", {"duration_s": 30, "cost": 0.02})
    heard = await store.call("heard")
    assert heard is not None and (heard.outcome, heard.cost) == (Outcome.VOICEMAIL_LEFT, 0.02)
    assert await store.calls_by_outcome() == {"refused": 1, "failed": 1, "busy": 1, "voicemail_left": 1}


async def test_a_cost_heard_after_the_call_history_settled_the_call_without_one_is_kept(store: Store) -> None:
    await new_call(store, "c1", CallState.CONNECTED)
    ended = Transition(CallState.ENDED, "from call history")
    assert await store.settle("c1", ended, T0, duration_s=40, judge=judge) is not None
    await record(store, "c1", 7, "disconnected", {"duration_s": 41, "cost": 0.05})
    await record(store, "c1", 8, "disconnected", {"duration_s": 41, "cost": 9.0})  # the first cost stays
    call = await store.call("c1")
    assert call is not None and call.cost == 0.05 and call.duration_s == 40 and call.outcome is Outcome.TALKED


async def test_what_a_person_and_a_workspace_spent_counts_the_calls_placed_from_the_time_given(store: Store) -> None:
    for n, (minutes, user, cost) in enumerate([(0, "U1", 0.5), (30, "U1", None), (60, "U1", 0.25), (90, "U2", 1.0)]):
        at = T0 + timedelta(minutes=minutes)
        await new_call(store, f"c{n}", at=at, user=user)
        ended = Transition(CallState.ENDED, "remote_hangup")
        assert await store.settle(f"c{n}", ended, at, duration_s=10, cost=cost, judge=judge) is not None
    assert await store.spend_since(T0, user_id="U1") == (0.75, 3)  # a call placed at `since` counts
    assert await store.spend_since(T0 + timedelta(seconds=1), user_id="U1") == (0.25, 2)
    assert await store.spend_since(T0, team_id="T1") == (1.75, 4)
    assert await store.spend_since(T0 + timedelta(days=1), team_id="T1") == (0.0, 0)
    assert await store.spenders("T1", since=T0, limit=5) == [("U2", 1.0, 1), ("U1", 0.75, 3)]
    assert await store.spenders("T1", since=T0, limit=1) == [("U2", 1.0, 1)]
