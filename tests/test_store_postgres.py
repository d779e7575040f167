"""PostgreSQL's store beyond the shared contract: its schema matches SQLite's, several processes share it safely,
the copy from SQLite keeps every row, and its URL's password never reaches a message."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.__main__ import main
from bot.calls.models import STATUS_EVENTS, CallState, Channel, StatusEvent, Transition
from bot.calls.outcomes import judge
from bot.calls.states import transition_for
from bot.store import MIGRATIONS, Store, StoreUnavailable, describe
from bot.store.copy import NOT_COPIED, TABLES
from tests.test_store import T0, a_call, event


def hung_up(seq: int, call_id: str) -> StatusEvent:
    return STATUS_EVENTS.validate_python(
        {"v": 1, "call_id": call_id, "seq": seq, "event": "disconnected", "at": T0, "data": {"duration_s": 12.5}}
    )


def progress(seq: int, name: str, call_id: str) -> StatusEvent:
    return hung_up(seq, call_id) if name == "disconnected" else event(seq, name, call_id=call_id)


async def columns_on_postgres(url: str) -> dict[str, set[str]]:
    async with await psycopg.AsyncConnection.connect(url) as db:
        cursor = await db.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        )
        found: dict[str, set[str]] = {}
        for table, column in await cursor.fetchall():
            found.setdefault(table, set()).add(column)
        return found


def columns_on_sqlite(path: Path) -> dict[str, set[str]]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: {r[1] for r in db.execute(f"PRAGMA table_info({t})")} for t in tables if t != "sqlite_sequence"}


async def test_both_dialects_of_the_migrations_give_the_same_tables_and_columns(
    tmp_path: Path, postgres_url: str
) -> None:
    lite = await Store.open(tmp_path / "callbot.db")
    await lite.close()
    pg = await Store.open(postgres_url)
    await pg.close()
    on_sqlite = columns_on_sqlite(tmp_path / "callbot.db")
    on_postgres = await columns_on_postgres(postgres_url)
    assert on_postgres.pop("callbot_schema") == {"version"}  # PostgreSQL's place for PRAGMA user_version
    # SQLite's implicit rowid, which the store orders by, is a column on PostgreSQL
    for table in ("calls", "call_transitions"):
        on_postgres[table].discard("rowid")
    assert on_postgres == on_sqlite
    assert set(on_sqlite) == {*TABLES, *NOT_COPIED}  # the copy knows every table


async def test_replicas_opening_at_once_migrate_once(postgres_url: str) -> None:
    stores = await asyncio.gather(*(Store.open(postgres_url) for _ in range(4)))
    try:
        assert [await store.migrate() for store in stores] == [len(MIGRATIONS)] * 4
        await stores[0].add_caller_id("+14155550123", label="", channels=frozenset({Channel.PSTN}), added_by="U",
                                      at=T0)  # fmt: skip
        assert [len(await store.caller_ids()) for store in stores] == [1, 1, 1, 1]
    finally:
        for store in stores:
            await store.close()


async def test_exclusive_holds_across_processes_sharing_the_database(postgres_url: str) -> None:
    first, second = await Store.open(postgres_url), await Store.open(postgres_url)
    try:
        entered = asyncio.Event()
        release = asyncio.Event()

        async def hold() -> None:
            async with first.exclusive("admit T1"):
                entered.set()
                await release.wait()

        holder = asyncio.create_task(hold())
        await entered.wait()
        waiter = asyncio.create_task(_enter(second, "admit T1"))
        other = asyncio.create_task(_enter(second, "admit T2"))  # another name is free
        await asyncio.wait_for(other, 5)
        await asyncio.sleep(0.2)  # time for the waiter to get in, were the lock not held
        assert not waiter.done()
        release.set()
        await asyncio.wait_for(asyncio.gather(holder, waiter), 5)
    finally:
        await first.close()
        await second.close()


async def _enter(store: Store, name: str) -> None:
    async with store.exclusive(name):
        pass


async def test_two_replicas_moving_one_call_at_once_never_move_it_past_the_end(postgres_url: str) -> None:
    """Each reads the call and moves it in one transaction with the row locked: after `ended`, nothing moves it."""
    first, second = await Store.open(postgres_url), await Store.open(postgres_url)
    try:
        for n in range(20):
            call_id = f"call{n}"
            await first.insert_call(a_call(call_id), brief_token_hash=f"h{n}")
            await first.move(call_id, Transition(CallState.STARTING, "sent"), T0, judge=judge)
            # the later event may carry the lower seq (a retried request): both orders, half the time each
            ended = hung_up(2 if n % 2 else 1, call_id)
            connected = event(1 if n % 2 else 2, "connected", call_id=call_id)
            outcomes = await asyncio.gather(
                first.record_event(ended, received_at=T0 + timedelta(seconds=1), decide=transition_for, judge=judge),
                second.record_event(
                    connected, received_at=T0 + timedelta(seconds=1), decide=transition_for, judge=judge
                ),
            )
            assert all(outcome is not None and not outcome.duplicate for outcome in outcomes)
            moves = [to for _, to, _ in await first.transitions(call_id)]
            assert moves[0] == "starting"
            assert "ended" in moves and moves[-1] == "ended"  # whichever came first, `ended` is last
            call = await second.call(call_id)
            assert call is not None and call.state is CallState.ENDED and call.last_seq == 2
    finally:
        await first.close()
        await second.close()


async def test_the_password_in_database_url_is_never_in_a_message(postgres_url: str) -> None:
    wrong = postgres_url.replace("postgresql://postgres@", "postgresql://nobody:s3cret-pw@")
    with pytest.raises(StoreUnavailable) as refused:
        await Store.open(wrong)
    assert "s3cret-pw" not in str(refused.value)
    assert "nobody@" in str(refused.value)
    assert describe("postgresql://u:s3cret-pw@db.example:5432/callbot?sslmode=require") == (
        "postgresql://u@db.example:5432/callbot"
    )


# -- the copy from SQLite ---------------------------------------------------------------------------------------


async def populated_sqlite(path: Path) -> None:
    """A database as months of use leave it: calls in every state, events, transitions, Slack writes waiting,
    caller IDs, deny entries, audit lines, a notice, a remembered Slack request."""
    store = await Store.open(path)
    try:
        await store.add_caller_id("+14155550123", label="Support line", channels=frozenset({Channel.PSTN}),
                                  added_by="U1", at=T0)  # fmt: skip
        await store.add_caller_id("+442071838750", label="London", channels=frozenset({Channel.PSTN, Channel.WHATSAPP}),
                                  added_by="U2", at=T0)  # fmt: skip
        await store.add_denied("+1900", reason="premium", added_by="U1", at=T0)
        for n in range(30):
            call_id = f"call{n:02d}"
            await store.insert_call(a_call(call_id), brief_token_hash=f"hash{n}")
            await store.move(call_id, Transition(CallState.STARTING, "sent"), T0 + timedelta(seconds=n), judge=judge)
            for seq, name in enumerate(["dialing", "ringing", "connected", "disconnected"][: n % 5], start=1):
                await store.record_event(
                    progress(seq, name, call_id), received_at=T0, decide=transition_for, judge=judge
                )
            await store.enqueue_slack(call_id, "reply", {"text": f"line {n} 100% ✓"}, at=T0)
            await store.audit(actor="U1", action="call", target=call_id, detail="", allowed=n % 7 != 0, at=T0)
        await store.drop_slack([1, 2, 3])  # ids with gaps, as delivered writes leave them
        await store.first_notice("balance low", at=T0)
        await store.first_sighting("v0=abc", at=T0, forget_before=T0 - timedelta(minutes=5))
    finally:
        await store.close()


async def rows_of(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, rowid columns left out, in a stable order."""
    found = {}
    for table in TABLES:
        rows = await store._fetch(f"SELECT * FROM {table}")
        found[table] = sorted(tuple(v for k, v in dict(row).items() if k != "rowid") for row in rows)
    return found


@pytest.mark.slow  # the CLI, twice
async def test_callbot_migrate_from_sqlite_copies_every_row(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "old.db"
    await populated_sqlite(source)
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    assert await asyncio.to_thread(main, ["migrate", "--from", f"sqlite:///{source}"]) == 0
    out = capsys.readouterr().out
    assert "calls: 30 rows" in out and "audit_log: 30 rows" in out and "slack_outbox: 27 rows" in out

    old, new = await Store.open(source), await Store.open(postgres_url)
    try:
        assert await rows_of(new) == await rows_of(old)
        assert await new.transitions("call04") == await old.transitions("call04")  # order kept
        assert await new.recent_calls(limit=30) == await old.recent_calls(limit=30)
        # counters go on past the copied rows
        await new.audit(actor="U9", action="after", allowed=True, at=T0)
        assert [entry.id for entry in await new.audit_entries(limit=2)] == [30, 31]
        assert await new.enqueue_slack("call01", "reply", {"text": "next"}, at=T0) == 31
    finally:
        await old.close()
        await new.close()

    # Once there is data, a second copy is refused, and nothing changes
    assert await asyncio.to_thread(main, ["migrate", "--from", f"sqlite:///{source}"]) == 2
    assert "already holds data" in capsys.readouterr().err
    new = await Store.open(postgres_url)
    try:
        assert len(await new.audit_entries(limit=100)) == 31
    finally:
        await new.close()
