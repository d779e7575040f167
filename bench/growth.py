"""Item 4: the store's hot queries with one call stored and with a long history, through Store's own methods.

History is grown by copying a template call (and its rows in every table keyed by call_id) with SQL, so the seeding
follows whatever columns the schema has after later migrations. Each hot query is also run once under SQLite's trace
callback, and EXPLAIN QUERY PLAN shows whether it searches an index or scans a table.
"""

from __future__ import annotations

import contextlib
import inspect
import re
import sqlite3
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from bench.report import Row
from bench.stack import CALLER_ID, DESTINATION, Config, Stack
from bot.calls.models import Call, CallRequest, CallState, Channel, Origin, StatusEvent, Transition
from bot.calls.outcomes import judge
from bot.calls.states import transition_for
from bot.store import Store

SECTION = "4 store growth"
_EVENT = TypeAdapter[StatusEvent](StatusEvent)
# Tables that only hold work in flight (an outbox empties as Slack accepts): they do not grow with history.
_SEARCHES = re.compile(r"\s*(SELECT|UPDATE|DELETE)", re.IGNORECASE)  # INSERT ... VALUES searches nothing
_IN_FLIGHT = re.compile(r"outbox|deliver|pending|queue", re.IGNORECASE)


def _call(call_id: str, user: str = "U0ANA") -> Call:
    now = datetime.now(UTC)
    origin = Origin(team_id="T0SANDBOX", user_id=user, conversation_id="C0GENERAL")
    request = CallRequest(destination=DESTINATION, caller_id=CALLER_ID, channel=Channel.PSTN,
                          instructions="bench: say hello", max_duration_s=600, origin=origin)  # fmt: skip
    return Call(id=call_id, request=request, state=CallState.REQUESTED, state_reason="", created_at=now, updated_at=now)


def _event(call_id: str, seq: int, event: str, data: dict[str, Any] | None = None) -> StatusEvent:
    payload = {"v": 1, "call_id": call_id, "seq": seq, "event": event, "at": datetime.now(UTC).isoformat()}
    return _EVENT.validate_python({**payload, "data": data or {}})


async def _play(store: Store, call_id: str, events: list[tuple[str, dict[str, Any] | None]], first_seq: int = 1) -> int:
    for seq, (event, data) in enumerate(events, start=first_seq):
        await store.record_event(
            _event(call_id, seq, event, data), received_at=datetime.now(UTC), decide=transition_for, judge=judge
        )
    return first_seq + len(events)


_LIFE = [("started", None), ("dialing", None), ("ringing", None), ("connected", None),
         ("transcript", {"role": "agent", "text": "Hello, this is a message from the bench."}),
         ("transcript", {"role": "callee", "text": "Thanks, got it."}),
         ("disconnected", {"duration_s": 42, "reason": "remote_hangup"})]  # fmt: skip


class HotQueries:
    """The queries callbot runs per request, named for what they serve; each a call of a Store method."""

    def __init__(self, store: Store, live_id: str) -> None:
        self.store = store
        self.live_id = live_id
        self.seq = 1000
        self.serial = 0

    def queries(self) -> dict[str, Callable[[], Awaitable[object]]]:
        found: dict[str, Callable[[], Awaitable[object]]] = {
            "caller ID lookup (allowlist, per /call)": self.store.caller_ids,
            "call by id": lambda: self.store.call(self.live_id),
            "token hash by call id (per event)": lambda: self.store.token_hash(self.live_id),
            "record one event (per event, write)": self._record,
            "calls left in `requested` (start-up)": lambda: self.store.calls_in_state(CallState.REQUESTED),
            "replay guard (per Slack request, write)": self._sighting,
        }
        pending = _pending_deliveries(self.store)
        if pending is not None:
            found[f"pending deliveries ({pending[0]})"] = pending[1]
        return found

    async def _record(self) -> object:
        self.seq += 1
        event = _event(self.live_id, self.seq, "transcript", {"role": "agent", "text": "bench line"})
        return await self.store.record_event(event, received_at=datetime.now(UTC), decide=transition_for, judge=judge)

    async def _sighting(self) -> object:
        self.serial += 1
        now = datetime.now(UTC)
        return await self.store.first_sighting(f"v0=bench{self.serial:064d}", at=now, forget_before=now)


def _pending_deliveries(store: Store) -> tuple[str, Callable[[], Awaitable[object]]] | None:
    """The outbox's "what is due" method, if this build has one (another branch adds it); None otherwise."""
    for name in sorted(dir(store)):
        if name.startswith("_") or not re.search(r"pending|due|outbox", name):
            continue
        method = getattr(store, name)
        if not inspect.iscoroutinefunction(method):
            continue
        params = [p for p in inspect.signature(method).parameters.values() if p.default is inspect.Parameter.empty]
        if not params:
            return name, method
        if len(params) == 1:
            return name, lambda method=method: method(datetime.now(UTC))
    return None


async def _timings(queries: HotQueries, repeats: int) -> dict[str, float]:
    """Median seconds per query."""
    result: dict[str, float] = {}
    for name, query in queries.queries().items():
        for _ in range(min(20, repeats)):
            await query()
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            await query()
            samples.append(time.perf_counter() - started)
        result[name] = statistics.median(samples)
    return result


async def _plans(store: Store, queries: HotQueries, path: Path) -> dict[str, list[str]]:
    """For each query, the plan lines of every statement it runs; full scans of grown tables marked."""
    plans: dict[str, list[str]] = {}
    db = store._db._db  # type: ignore[attr-defined]  # the SQLite connection itself, for its trace callback
    with contextlib.closing(sqlite3.connect(path)) as probe:
        tables = [row[0] for row in probe.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        calls = probe.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
        grown = {t for t in tables if probe.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] >= calls // 2}
        for name, query in queries.queries().items():
            statements: list[str] = []
            db.set_trace_callback(statements.append)
            try:
                await query()
            finally:
                db.set_trace_callback(None)
            lines: list[str] = []
            for sql in statements:
                if not _SEARCHES.match(sql):
                    continue
                for row in probe.execute("EXPLAIN QUERY PLAN " + sql):
                    detail = str(row[-1])
                    table = detail.split()[1] if detail.startswith(("SCAN", "SEARCH")) else ""
                    if table in grown and detail.startswith("SCAN") and "INDEX" not in detail:
                        detail = "FULL SCAN " + detail.removeprefix("SCAN ")
                    lines.append(detail)
            plans[name] = lines
    return plans


def _grow(path: Path, template: str, calls: int) -> None:
    """Copy the template call `calls` times, with its rows in every table keyed by call_id."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("BEGIN")
        columns = [row[1] for row in db.execute("PRAGMA table_info(calls)")]
        numbered = {
            "id": "printf('h%07d', n)",
            "token_hash": "printf('%064d', n)",
            "brief_token_hash": "printf('b%063d', n)",
            "user_id": "printf('U%05d', n % 500)",
        }
        select = ", ".join(numbered.get(c, c) for c in columns)
        numbers = "WITH RECURSIVE nums(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM nums WHERE n < ?) "
        db.execute(f"{numbers} INSERT INTO calls ({', '.join(columns)}) SELECT {select} FROM nums, calls"
                   " WHERE calls.id = ?", (calls, template))  # fmt: skip
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            cols = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
            if table == "calls" or "call_id" not in cols or _IN_FLIGHT.search(table):
                continue
            select = ", ".join("printf('h%07d', n)" if c == "call_id" else c for c in cols)
            db.execute(f"{numbers} INSERT INTO {table} ({', '.join(cols)}) SELECT {select} FROM nums, {table}"
                       f" WHERE {table}.call_id = ?", (calls, template))  # fmt: skip
        db.execute("COMMIT")
        db.execute("ANALYZE")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # as SQLite's auto-checkpoint keeps it: a small WAL
    finally:
        db.close()


async def measure(stack: Stack, config: Config) -> list[Row]:
    path = stack.new_database()
    store = await Store.open(path)
    await store.add_caller_id(CALLER_ID, label="bench", channels=frozenset({Channel.PSTN}), added_by="bench",
                              at=datetime.now(UTC))  # fmt: skip
    live = _call("live0000001")
    await store.insert_call(live, brief_token_hash="0" * 64)
    await store.move(live.id, Transition(CallState.STARTING, "sent to Voximplant"), datetime.now(UTC), judge=judge)
    await _play(store, live.id, _LIFE[:5])
    queries = HotQueries(store, live.id)
    small = await _timings(queries, config.query_repeats)

    template = _call("template0001", user="U00000")
    await store.insert_call(template, brief_token_hash="1" * 64)
    await store.move(template.id, Transition(CallState.STARTING, "sent to Voximplant"), datetime.now(UTC), judge=judge)
    await _play(store, template.id, _LIFE)
    await store.close()
    started = time.perf_counter()
    _grow(path, template.id, config.growth_calls - 1)
    seeded_s = time.perf_counter() - started

    store = await Store.open(path)
    try:
        queries = HotQueries(store, live.id)
        queries.seq = 10_000
        large = await _timings(queries, config.query_repeats)
        plans = await _plans(store, queries, path)
    finally:
        await store.close()
    rows = []
    for name, base in small.items():
        ours = large[name]
        scans = [line for line in plans.get(name, []) if line.startswith("FULL SCAN")]
        flat = ours <= 1.5 * base + 50e-6 and not scans
        plan = "; ".join(dict.fromkeys(plans.get(name, []))) or "no statement traced"
        rows.append(Row(SECTION, name, ours * 1e6, base * 1e6, unit="µs", target="flat (index)", met=flat,
                        note="a FULL SCAN" if scans else "", detail=f"plan: {plan}"))  # fmt: skip
    if not any("pending deliveries" in name for name in small):
        rows.append(Row(SECTION, "pending deliveries", float("nan"), None, unit="µs",
                        note="this build has no outbox yet; the bench finds its Store method by name"))  # fmt: skip
    rows.append(Row(SECTION, f"history seeded: {config.growth_calls:,} calls", seeded_s * 1000, None,
                    note="copied with SQL; 1 live call measured against it"))  # fmt: skip
    return rows
