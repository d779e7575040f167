"""Calls of the store arriving together: on PostgreSQL they share statements (bot/store/batches.py), and each
still gets its own answer, exactly as when it comes alone (both backends)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.calls.models import STATUS_EVENTS, StatusEvent
from bot.calls.outcomes import judge
from bot.store import Store
from tests.test_store import T0, a_call


def said(seq: int, call_id: str, text: str) -> StatusEvent:
    return STATUS_EVENTS.validate_python(
        {"v": 1, "call_id": call_id, "seq": seq, "event": "transcript", "at": T0,
         "data": {"role": "callee", "text": text}}
    )  # fmt: skip


async def calls(store: Store, count: int) -> list[str]:
    ids = [f"call{n}" for n in range(count)]
    for call_id in ids:
        await store.insert_call(a_call(call_id), brief_token_hash=f"brief of {call_id}")
        assert await store.issue_callback_token(call_id, token_hash=f"token of {call_id}")
    return ids


async def test_events_arriving_together_are_each_stored_once_and_answered_for_their_own_call(store: Store) -> None:
    ids = await calls(store, 6)
    stored_before = said(1, ids[1], "first")
    await store.record_event(stored_before, received_at=T0, decide=None, judge=judge, token_hash=f"token of {ids[1]}")

    arriving = [
        (said(1, ids[0], "zero"), f"token of {ids[0]}"),
        (stored_before, f"token of {ids[1]}"),  # a duplicate
        (said(1, ids[2], "forged"), f"token of {ids[3]}"),  # another call's token
        *((said(seq, ids[3], f"three {seq}"), f"token of {ids[3]}") for seq in range(1, 5)),  # four of one call
        (said(1, "no-such-call", "who"), "token of nobody"),
        (said(4, ids[5], "five"), None),  # its origin checked already (pulled through its session)
    ]
    outcomes = await asyncio.gather(*(
        store.record_event(e, received_at=T0, decide=None, judge=judge, token_hash=t) for e, t in arriving
    ))  # fmt: skip

    zero, duplicate, forged, *three, unknown, five = outcomes
    assert zero is not None and zero.call.id == ids[0] and not zero.duplicate and zero.call.last_seq == 1
    assert duplicate is not None and duplicate.call.id == ids[1] and duplicate.duplicate
    assert forged is None and unknown is None
    assert all(o is not None and o.call.id == ids[3] and not o.duplicate for o in three)
    assert [o.call.last_seq for o in three if o is not None] == [1, 2, 3, 4]  # each sees the call as it left it
    assert (await store.call(ids[3])).last_seq == 4  # type: ignore[union-attr]  # each raised it in turn
    assert five is not None and five.call.id == ids[5] and five.call.last_seq == 4
    texts = {call_id: [data["text"] for _, _, data in await store.events(call_id)] for call_id in ids}
    assert texts == {ids[0]: ["zero"], ids[1]: ["first"], ids[2]: [], ids[3]: [f"three {n}" for n in range(1, 5)],
                     ids[4]: [], ids[5]: ["five"]}  # fmt: skip
    assert (await store.call(ids[2])).last_seq == 0  # type: ignore[union-attr]  # the forged event moved nothing


async def test_writes_queued_together_each_keep_their_call_and_note_their_event(store: Store) -> None:
    ids = await calls(store, 5)
    for seq, call_id in enumerate(ids, start=1):
        await store.record_event(said(seq, call_id, "hi"), received_at=T0, decide=None, judge=judge)

    queued = await asyncio.gather(*(
        store.enqueue_slack(call_id, "reply", {"text": f"line of {call_id}"}, at=T0,
                            announces=seq if seq % 2 else None)
        for seq, call_id in enumerate(ids, start=1)
    ))  # fmt: skip
    assert len(set(queued)) == len(ids)
    for seq, (call_id, row_id) in enumerate(zip(ids, queued, strict=True), start=1):
        pending = await store.pending_slack(call_id)
        assert [(row.id, row.body["text"]) for row in pending] == [(row_id, f"line of {call_id}")]
        assert await store.is_announced(call_id, seq) == bool(seq % 2)


async def test_calls_read_together_each_get_their_own_writes_and_drop_only_what_was_sent(store: Store) -> None:
    ids = await calls(store, 4)
    rows = {call_id: [await store.enqueue_slack(call_id, "reply", {"text": f"{call_id} {n}"}, at=T0)
                      for n in range(3)] for call_id in ids}  # fmt: skip

    read = await asyncio.gather(
        store.call_and_pending(ids[0], dropping=rows[ids[0]][:1]),
        store.call_and_pending(ids[1]),
        store.call_and_pending(ids[2], dropping=rows[ids[2]], limit=5),
        store.call_and_pending(ids[3], limit=2),
        store.call_and_pending("no-such-call"),
    )

    shown = [(call.id if call else None, [row.body["text"] for row in pending]) for call, pending in read]
    assert shown == [
        (ids[0], [f"{ids[0]} 1", f"{ids[0]} 2"]),
        (ids[1], [f"{ids[1]} 0", f"{ids[1]} 1", f"{ids[1]} 2"]),
        (ids[2], []),
        (ids[3], [f"{ids[3]} 0", f"{ids[3]} 1"]),
        (None, []),
    ]
    assert [row.body["text"] for row in await store.pending_slack(ids[0])] == [f"{ids[0]} 1", f"{ids[0]} 2"]
    assert await store.pending_slack(ids[2]) == []


async def test_holders_taking_leases_together_get_each_lease_once(store: Store) -> None:
    names = ["slack call0", "slack call1", "watchdog"]
    asking = [(name, f"replica {n}") for name in names for n in range(4)]

    taken = await asyncio.gather(*(
        store.take_lease(name, holder, now=T0, ttl=timedelta(seconds=15)) for name, holder in asking
    ))  # fmt: skip

    holders = {name: [holder for (n, holder), got in zip(asking, taken, strict=True) if got and n == name]
               for name in names}  # fmt: skip
    assert all(len(held) == 1 for held in holders.values()), holders
    for name, [holder] in holders.items():
        assert await store.lease_holder(name, now=T0) == holder
    later = T0 + timedelta(seconds=16)  # lapsed: anyone may take it
    assert await store.take_lease("watchdog", "replica 9", now=later, ttl=timedelta(seconds=15))


async def test_a_write_the_database_refuses_fails_alone_and_the_others_queued_with_it_are_kept(store: Store) -> None:
    ids = await calls(store, 2)

    queued = await asyncio.gather(
        store.enqueue_slack(ids[0], "reply", {"text": "kept"}, at=T0),
        store.enqueue_slack("no-such-call", "reply", {"text": "refused"}, at=T0),  # no call: its foreign key fails
        store.enqueue_slack(ids[1], "reply", {"text": "kept too"}, at=T0),
        return_exceptions=True,
    )

    assert isinstance(queued[1], Exception)
    assert [[row.id for row in await store.pending_slack(call_id)] for call_id in ids] == [[queued[0]], [queued[2]]]


async def test_leases_taken_together_are_each_judged_by_their_own_holders_clock(store: Store) -> None:
    ttl = timedelta(seconds=15)
    for name in ("held", "lapsing"):
        assert await store.take_lease(name, "replica x", now=T0, ttl=ttl)

    taken = await asyncio.gather(
        store.take_lease("held", "replica y", now=T0 + timedelta(seconds=5), ttl=ttl),  # x's is in force still
        store.take_lease("lapsing", "replica z", now=T0 + timedelta(seconds=20), ttl=ttl),  # x's lapsed by then
    )

    assert taken == [False, True]
    assert await store.lease_holder("held", now=T0 + timedelta(seconds=6)) == "replica x"


async def test_slash_commands_kept_together_each_pass_the_replay_guard_on_their_own(store: Store) -> None:
    window = timedelta(minutes=10)
    assert await store.first_sighting("v0=seen", at=T0, forget_before=T0 - window)  # seen 5 minutes before
    now = T0 + timedelta(minutes=5)
    long_ago = T0 - timedelta(hours=1)
    assert await store.first_sighting("v0=old", at=long_ago, forget_before=long_ago - window)  # forgotten since

    kept = await asyncio.gather(*(
        store.queue_command(command_id, {"text": command_id}, signature=signature, at=now, forget_before=now - window,
                            notify=f"run {command_id}")
        for command_id, signature in [("c1", "v0=new"), ("c2", "v0=seen"), ("c3", "v0=new"), ("c4", "v0=old")]
    ))  # fmt: skip

    assert kept == [True, False, False, True]  # c2 and c3: replays, of an earlier request and of c1
    waiting = await store.commands_waiting(received_before=now + timedelta(seconds=5), stale_before=now)
    assert sorted(waiting) == ["c1", "c4"]
