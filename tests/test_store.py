"""The store against real SQLite files: schema, WAL, caller IDs, events stored once, terminal states kept."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.calls.models import (
    Call,
    CallRequest,
    CallState,
    Channel,
    Origin,
    ProgressEvent,
    TranscriptEvent,
    Transition,
)
from bot.calls.outcomes import judge
from bot.calls.states import transition_for
from bot.store import MIGRATIONS, Store, StoreUnavailable
from bot.store import sqlite as sqlite_store
from tests.conftest import eventually

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def a_call(call_id: str = "call1") -> Call:
    request = CallRequest(
        destination="+14155550100", caller_id="+14155550123", instructions="hi", max_duration_s=600,
        origin=Origin(team_id="T1", user_id="U1", conversation_id="C1"),
    )  # fmt: skip
    return Call(id=call_id, request=request, state=CallState.REQUESTED, state_reason="", created_at=T0, updated_at=T0)


def event(seq: int, name: str = "ringing", call_id: str = "call1") -> ProgressEvent:
    return ProgressEvent.model_validate({"v": 1, "call_id": call_id, "seq": seq, "event": name, "at": T0})


def transcript(seq: int, text: str = "hello") -> TranscriptEvent:
    return TranscriptEvent.model_validate(
        {
            "v": 1,
            "call_id": "call1",
            "seq": seq,
            "event": "transcript",
            "at": T0,
            "data": {"role": "callee", "text": text},
        }
    )


async def test_schema_is_versioned_and_wal_is_on(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    store = await Store.open(path)
    await store.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again = await Store.open(path)  # reopening applies nothing twice
    assert await again.migrate() == len(MIGRATIONS)
    await again.close()


async def test_caller_ids_add_update_remove(store: Store) -> None:
    assert await store.add_caller_id("+14155550123", label="Support", channels=frozenset({Channel.PSTN}),
                                     added_by="U1", at=T0)  # fmt: skip
    assert not await store.add_caller_id(
        "+14155550123", label="Support line", channels=frozenset({Channel.PSTN, Channel.WHATSAPP}), added_by="U2",
        at=T0,
    )  # fmt: skip
    entry = await store.caller_id("+14155550123")
    assert entry is not None and entry.label == "Support line"
    assert entry.channels == {Channel.PSTN, Channel.WHATSAPP} and entry.added_by == "U1"
    assert await store.remove_caller_id("+14155550123")
    assert not await store.remove_caller_id("+14155550123")
    assert await store.caller_ids() == []


async def test_an_event_is_stored_once_per_seq(store: Store) -> None:
    await store.insert_call(a_call(), brief_token_hash="h")
    first = await store.record_event(event(1), received_at=T0, decide=transition_for, judge=judge)
    again = await store.record_event(event(1, "connected"), received_at=T0, decide=transition_for, judge=judge)
    assert first is not None and not first.duplicate and first.call.state is CallState.RINGING
    assert again is not None and again.duplicate and again.transition is None
    assert await store.events("call1") == [(1, "ringing", {})]
    call = await store.call("call1")
    assert call is not None and call.state is CallState.RINGING and call.last_seq == 1


async def test_unknown_call_records_nothing(store: Store) -> None:
    assert (
        await store.record_event(event(1, call_id="nope"), received_at=T0, decide=transition_for, judge=judge) is None
    )


@pytest.mark.parametrize("moving", [True, False], ids=["may move (a transaction)", "moves nothing (one statement)"])
async def test_an_event_whose_token_is_wrong_leaves_nothing_behind(store: Store, moving: bool) -> None:
    await store.insert_call(a_call(), brief_token_hash="h")
    await store.issue_callback_token("call1", token_hash="the-hash")
    sent = event(7, "connected") if moving else transcript(7)
    decide = transition_for if moving else None
    forged = await store.record_event(sent, received_at=T0, decide=decide, judge=judge, token_hash="another-hash")
    assert forged is None
    call = await store.call("call1")
    assert call is not None and call.last_seq == 0 and call.state is CallState.REQUESTED  # its seq was not kept
    assert await store.events("call1") == []
    unknown = await store.record_event(
        event(1, call_id="nope"), received_at=T0, decide=decide, judge=judge, token_hash="the-hash"
    )
    assert unknown is None  # an unknown call reads exactly as a wrong token
    admitted = await store.record_event(sent, received_at=T0, decide=decide, judge=judge, token_hash="the-hash")
    assert admitted is not None and admitted.call.last_seq == 7 and not admitted.duplicate
    assert (admitted.transition is not None) is moving
    again = await store.record_event(sent, received_at=T0, decide=decide, judge=judge, token_hash="the-hash")
    assert again is not None and again.duplicate and again.transition is None
    assert [seq for seq, _, _ in await store.events("call1")] == [7]


async def test_terminal_state_never_changes(store: Store) -> None:
    await store.insert_call(a_call(), brief_token_hash="h")
    assert await store.move("call1", Transition(CallState.FAILED, "busy"), T0, judge=judge) is not None
    assert await store.move("call1", Transition(CallState.ENDED, "late"), T0, judge=judge) is None
    outcome = await store.record_event(event(2, "connected"), received_at=T0, decide=transition_for, judge=judge)
    assert outcome is not None and outcome.transition is None
    call = await store.call("call1")
    assert call is not None and call.state is CallState.FAILED and call.state_reason == "busy"
    assert await store.transitions("call1") == [("requested", "failed", "busy")]


async def test_a_failed_transaction_leaves_nothing_behind(store: Store) -> None:
    await store.insert_call(a_call(), brief_token_hash="h")

    def explode(*_: object) -> Transition:
        raise RuntimeError("decision failed")

    with pytest.raises(RuntimeError):
        await store.record_event(event(1), received_at=T0, decide=explode, judge=judge)
    assert await store.events("call1") == []  # rolled back with the failed decision: the scenario will resend
    call = await store.call("call1")
    assert call is not None and call.last_seq == 0


async def test_replay_guard_remembers_then_forgets(store: Store) -> None:
    later = T0 + timedelta(minutes=11)
    assert await store.first_sighting("v0=abc", at=T0, forget_before=T0 - timedelta(minutes=10))
    assert not await store.first_sighting("v0=abc", at=T0, forget_before=T0 - timedelta(minutes=10))
    assert await store.first_sighting("v0=abc", at=later, forget_before=later - timedelta(minutes=10))
    assert not await store.first_sighting("v0=abc", at=later, forget_before=later - timedelta(minutes=10))


async def test_the_replay_guard_deletes_what_it_forgot_at_most_once_a_minute(store: Store) -> None:
    window = timedelta(minutes=5)
    for n in range(3):
        assert await store.first_sighting(f"v0={n}", at=T0, forget_before=T0 - window)
    seen = "SELECT COUNT(*) FROM seen_slack_requests"
    assert await store._scalar(seen) == 3
    later = T0 + window + timedelta(seconds=1)
    assert await store.first_sighting("v0=new", at=later, forget_before=later - window)
    assert await store._scalar(seen) == 1  # the three forgotten rows are gone
    for n in range(3):  # within the minute: remembered, the old rows stay until the next prune
        at = later + timedelta(seconds=n)
        assert await store.first_sighting(f"v0=more{n}", at=at, forget_before=T0 + window)
    assert await store._scalar(seen) == 4
    at = later + timedelta(minutes=1)
    assert await store.first_sighting("v0=last", at=at, forget_before=at - timedelta(seconds=1))
    assert await store._scalar(seen) == 1  # a minute on, pruned again: only this one is left


async def test_the_wal_is_moved_into_the_database_file_by_the_checkpointer(tmp_path: Path) -> None:
    path = tmp_path / "checkpointed.db"
    store = await Store.open(path, checkpoint_every_s=0.05)
    try:
        empty = path.stat().st_size  # the bot's own connection checkpoints only past ~40 MB of WAL
        for n in range(200):
            await store.audit(actor="U0ADMIN", action="deny.add", target=f"+1900{n:04d}", allowed=True, at=T0)
        await eventually(lambda: path.stat().st_size > empty)  # the rows reached the database file itself
        assert len(await store.audit_entries(limit=500)) == 200
    finally:
        await store.close()
    assert not path.with_name(path.name + "-wal").exists() or path.with_name(path.name + "-wal").stat().st_size == 0


async def test_a_closed_store_refuses_work_at_once(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "closed.db")
    await store.close()
    await store.close()  # twice is harmless
    with pytest.raises(RuntimeError, match="closed"):
        await store.ping()


async def test_outbox_depth_counts_waiting_writes_and_names_the_oldest(store: Store) -> None:
    assert await store.slack_outbox_depth() == (0, None)
    await store.insert_call(a_call(), brief_token_hash="h")
    first = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    for minutes in (5, 0, 9):  # queued out of time order: the oldest is the earliest time, not the first row
        await store.enqueue_slack("call1", "reply", {"text": "x"}, at=first + timedelta(minutes=minutes))
    assert await store.slack_outbox_depth() == (3, first)
    [*_, last] = await store.pending_slack("call1")
    await store.drop_slack([row.id for row in await store.pending_slack("call1") if row.id != last.id])
    assert await store.slack_outbox_depth() == (1, first + timedelta(minutes=9))


async def test_a_call_and_its_pending_writes_are_read_together_in_delivery_order(store: Store) -> None:
    assert await store.call_and_pending("call1") == (None, [])
    await store.insert_call(a_call(), brief_token_hash="h")
    call, rows = await store.call_and_pending("call1")
    assert call is not None and (call.id, call.request.instructions, rows) == ("call1", "hi", [])
    for kind, rank in [("reply", 1), ("update", 1), ("parent", 0)]:
        await store.enqueue_slack("call1", kind, {"kind": kind}, at=T0, rank=rank)
    await store.insert_call(a_call("call2"), brief_token_hash="h2")
    await store.enqueue_slack("call2", "reply", {"kind": "another call's"}, at=T0)
    call, rows = await store.call_and_pending("call1")
    assert call is not None and call.id == "call1"
    assert [(row.kind, row.body, row.call_id) for row in rows] == [
        ("parent", {"kind": "parent"}, "call1"), ("reply", {"kind": "reply"}, "call1"),
        ("update", {"kind": "update"}, "call1"),
    ]  # fmt: skip
    assert rows == await store.pending_slack("call1")
    assert [row.kind for row in (await store.call_and_pending("call1", limit=2))[1]] == ["parent", "reply"]


async def test_writes_slack_took_are_forgotten_by_the_read_that_follows(store: Store) -> None:
    await store.insert_call(a_call(), brief_token_hash="h")
    await store.insert_call(a_call("call2"), brief_token_hash="h2")
    for text in ("one", "two", "three"):
        await store.enqueue_slack("call1", "reply", {"text": text}, at=T0)
    theirs = await store.enqueue_slack("call2", "reply", {"text": "another call's"}, at=T0)
    _, [one, two, three] = await store.call_and_pending("call1")
    call, rows = await store.call_and_pending("call1", dropping=[one.id, two.id])
    assert call is not None and rows == [three]  # the read does not show what it forgot
    assert await store.pending_slack("call1") == [three]  # and they are gone for good
    call, rows = await store.call_and_pending("call1", dropping=[three.id, theirs])  # another call's too, by id
    assert call is not None and rows == []
    assert await store.slack_outbox_depth() == (0, None)
    assert await store.call_and_pending("nope", dropping=[one.id]) == (None, [])


async def test_an_events_only_write_is_queued_with_the_event_noted_announced(store: Store) -> None:
    await store.insert_call(a_call(), brief_token_hash="h")
    for seq in (1, 2):
        await store.record_event(event(seq), received_at=T0, decide=transition_for, judge=judge)
    assert await store.announced_seqs("call1") == set()
    row_id = await store.enqueue_slack("call1", "reply", {"text": "line", "seq": 2}, at=T0, announces=2)
    assert await store.announced_seqs("call1") == {2}  # that event only, with its write
    assert [row.id for row in await store.pending_slack("call1")] == [row_id]
    await store.enqueue_slack("call1", "reply", {"text": "another"}, at=T0)
    assert await store.announced_seqs("call1") == {2}


async def test_a_lease_is_held_by_one_holder_until_it_expires_or_is_released(store: Store) -> None:
    minute = timedelta(minutes=1)
    assert await store.take_lease("watchdog", "replica-a", now=T0, ttl=minute)
    assert not await store.take_lease("watchdog", "replica-b", now=T0 + timedelta(seconds=59), ttl=minute)
    assert await store.take_lease("watchdog", "replica-a", now=T0 + timedelta(seconds=30), ttl=minute)  # renewed
    assert not await store.take_lease("watchdog", "replica-b", now=T0 + timedelta(seconds=89), ttl=minute)
    assert await store.lease_holder("watchdog", now=T0 + timedelta(seconds=89)) == "replica-a"
    # replica-a stops renewing (it died): once its lease runs out, another takes it
    assert await store.take_lease("watchdog", "replica-b", now=T0 + timedelta(seconds=90), ttl=minute)
    assert not await store.take_lease("watchdog", "replica-a", now=T0 + timedelta(seconds=91), ttl=minute)
    await store.release_lease("watchdog", "replica-a")  # not its own any more: changes nothing
    assert await store.lease_holder("watchdog", now=T0 + timedelta(seconds=91)) == "replica-b"
    await store.release_lease("watchdog", "replica-b")
    assert await store.lease_holder("watchdog", now=T0 + timedelta(seconds=91)) is None
    assert await store.take_lease("watchdog", "replica-a", now=T0 + timedelta(seconds=92), ttl=minute)
    assert await store.take_lease("slack C1", "replica-b", now=T0 + timedelta(seconds=92), ttl=minute)  # another name


async def test_lease_holders_by_prefix_counts_only_leases_in_force(store: Store) -> None:
    minute = timedelta(minutes=1)
    assert await store.take_lease("replica a", "a", now=T0, ttl=minute)
    assert await store.take_lease("replica b", "b", now=T0 + timedelta(seconds=30), ttl=minute)
    assert await store.take_lease("watchdog", "c", now=T0, ttl=minute)
    assert await store.lease_holders("replica ", now=T0 + timedelta(seconds=40)) == ["a", "b"]
    assert await store.lease_holders("replica ", now=T0 + timedelta(seconds=40), besides="a") == ["b"]
    assert await store.lease_holders("replica ", now=T0 + timedelta(seconds=60)) == ["b"]  # a's ran out
    assert await store.lease_holders("replica%", now=T0) == []  # the prefix is text, not a pattern


async def test_a_write_waits_for_another_processs_lock_on_the_loop_not_in_sqlite(tmp_path: Path) -> None:
    """The CLI holding the write lock: the bot's write waits, yet the event loop goes on serving meanwhile (SQLite
    itself waits 5 ms at a time), and the write lands once the lock is released."""
    path = tmp_path / "shared.db"
    store = await Store.open(path)
    other = sqlite3.connect(path, isolation_level=None)  # as `callbot callerids add` would, in another process
    try:
        other.execute("BEGIN IMMEDIATE")
        write = asyncio.create_task(store.audit(actor="U1", action="deny.add", allowed=True, at=T0))
        turns = 0
        while turns < 20:  # the loop serves other work while the write waits
            await asyncio.sleep(0.005)
            turns += 1
            assert not write.done()
        other.execute("COMMIT")
        await asyncio.wait_for(write, 2)
        assert [entry.action for entry in await store.audit_entries()] == ["deny.add"]
    finally:
        other.close()
        await store.close()


async def test_a_lock_held_past_the_busy_wait_makes_the_store_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "BUSY_WAIT_S", 0.1)
    path = tmp_path / "held.db"
    store = await Store.open(path)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailable, match="database is locked"):
            await store.audit(actor="U1", action="deny.add", allowed=True, at=T0)
        other.execute("ROLLBACK")
        assert await store.ping()
    finally:
        other.close()
        await store.close()


async def test_a_sqlite_transaction_that_awaits_is_refused(tmp_path: Path) -> None:
    """SQLite's transactions run in one go: work that would suspend inside one is a bug, and says so."""
    store = await Store.open(tmp_path / "one-go.db")
    try:

        async def suspends(tx: object) -> None:
            await asyncio.sleep(0)

        with pytest.raises(RuntimeError, match="must run in one go"):
            await store._write(suspends)  # type: ignore[arg-type]
        assert await store.ping()  # rolled back: the store works on
    finally:
        await store.close()


async def test_a_slash_command_is_kept_once_taken_by_one_worker_and_taken_over_when_its_worker_died(
    store: Store,
) -> None:
    window, lease = timedelta(minutes=10), timedelta(seconds=30)
    fields = {"command": "/call", "text": "+14155550100 hi", "user_id": "U1"}
    kept = await store.queue_command("cmd1", fields, signature="v0=1", at=T0, forget_before=T0 - window, notify="x")
    assert kept
    replayed = await store.queue_command("cmd2", fields, signature="v0=1", at=T0, forget_before=T0 - window,
                                         notify="x")  # fmt: skip
    assert not replayed  # the same signature: a replay, nothing kept
    assert await store._scalar("SELECT COUNT(*) FROM slack_commands") == 1
    assert await store.first_sighting("v0=1", at=T0, forget_before=T0 - window) is False  # one replay guard

    taken = await store.take_command("cmd1", at=T0, stale_before=T0 - lease)
    assert taken is not None and (taken.id, taken.fields, taken.received_at, taken.takes) == ("cmd1", fields, T0, 1)
    assert await store.take_command("cmd1", at=T0, stale_before=T0 - lease) is None  # another worker: not twice
    assert await store.commands_waiting(received_before=T0 + lease, stale_before=T0) == []  # being run
    claimed = T0 + lease  # its worker, slow, claims it again: not taken to have died
    assert await store.claim_command("cmd1", at=claimed, takes=1)
    assert await store.commands_waiting(received_before=claimed, stale_before=claimed - timedelta(seconds=1)) == []
    assert await store.take_command("cmd1", at=claimed, stale_before=claimed - timedelta(seconds=1)) is None
    later = claimed + lease + timedelta(seconds=1)
    assert await store.commands_waiting(received_before=later, stale_before=later - lease) == ["cmd1"]
    again = await store.take_command("cmd1", at=later, stale_before=later - lease)
    assert again is not None and again.takes == 2  # its worker died with it: another takes it over
    assert not await store.claim_command("cmd1", at=later, takes=1)  # the first worker's claim is lost
    assert await store.claim_command("cmd1", at=later, takes=2)
    await store.drop_command("cmd1")
    assert await store.take_command("cmd1", at=later + lease * 2, stale_before=later + lease) is None


async def test_a_slash_command_nobody_took_is_waiting_once_its_notify_may_be_lost(store: Store) -> None:
    window = timedelta(minutes=10)
    for n, at in enumerate([T0, T0 + timedelta(seconds=5)]):
        await store.queue_command(f"c{n}", {"text": "hi"}, signature=f"v0={n}", at=at, forget_before=at - window,
                                  notify="x")  # fmt: skip
    waiting = await store.commands_waiting(received_before=T0 + timedelta(seconds=2), stale_before=T0)
    assert waiting == ["c0"]  # c1 is newer: its worker has had no time yet
    assert await store.commands_waiting(received_before=T0 + timedelta(seconds=9), stale_before=T0) == ["c0", "c1"]
