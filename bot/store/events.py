"""The store's status events: each stored once, applied to its call in the same transaction, then announced."""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple

from bot.calls.models import (
    AnsweredEvent,
    Call,
    CallState,
    Decide,
    EventOutcome,
    Judge,
    Outcome,
    StatusEvent,
    Transition,
    VoicemailEvent,
)
from bot.store.batches import Batch, columns
from bot.store.calls import _END_OF_TIME, call_from_row, evidence, move_call
from bot.store.database import Base, Row, Tx


class Events(Base):
    """Store methods about a call's status events and transitions; `Store` combines them with the rest."""

    async def record_event(
        self, event: StatusEvent, *, received_at: datetime, decide: Decide | None, judge: Judge,
        token_hash: str | None = None,
    ) -> EventOutcome | None:  # fmt: skip
        """Store `event` once and apply the transition `decide` picks, in one transaction; None for an unknown call,
        or when `token_hash` is given and is not the call's stored callback-token hash.

        - `decide` None: the event moves no call, whatever its state (the domain's word, `states.may_move`).
        - A terminal move stores the outcome `judge` names; an `answered` or `voicemail` event stored after the call
          ended asks `judge` again, which may refine it. A cost the event carries is kept, once.
        - `decide` and `judge` run inside the transaction: they must be quick, and they cannot await.
        - The token is checked by the statement that raises the call's `last_seq` and locks its row (a duplicate's
          seq is never above it): a refused event changes nothing, and an unknown call reads exactly as a wrong
          token. The database compares hashes of 256-bit random tokens, so how long it takes tells nothing of a
          token that would pass.
        - An event that moves nothing and carries nothing to settle is one statement on PostgreSQL, without
          BEGIN and COMMIT (two round trips fewer, most of a call's events: its transcript lines).
        """
        checked = "" if token_hash is None else " AND token_hash = ?"
        raise_seq = (
            "UPDATE calls SET last_seq = CASE WHEN last_seq < ? THEN ? ELSE last_seq END"
            f" WHERE id = ?{checked} RETURNING *"
        )
        keys = (event.seq, event.seq, event.call_id, *(() if token_hash is None else (token_hash,)))
        insert = "INSERT INTO call_events (call_id, seq, event, at, data, received_at)"
        stored = (event.seq, event.event, event.at.isoformat(), event.data.model_dump_json(), received_at.isoformat())
        cost = getattr(event.data, "cost", None)
        in_one = self._db.dialect == "postgresql"  # a round trip fewer: the insert rides on the update (a CTE)
        arrival = _Arrival(event.call_id, *stored, token_hash)

        async def store_it(tx: Tx) -> tuple[Call, bool] | None:
            """The event stored (False: stored before) and its call, or None when refused."""
            if in_one:  # the batches' statement, for this one event
                row = await tx.one(_STORE_EVENTS, *columns([arrival]))
                return None if row is None else (call_from_row(row), bool(row["stored"]))
            row = await tx.one(raise_seq, *keys)
            if row is None:
                return None
            inserted = await tx.execute(
                f"{insert} VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (call_id, seq) DO NOTHING", event.call_id, *stored
            )  # fmt: skip
            return call_from_row(row), inserted > 0

        async def record(tx: Tx) -> EventOutcome | None:
            found = await store_it(tx)
            if found is None:
                return None
            call, new = found
            if not new:
                return EventOutcome(call, duplicate=True, transition=None)
            if not call.is_live:
                call = await _after_the_end(tx, call, event, cost, judge)
            transition = decide(call, event) if decide is not None else None
            if transition is None:
                return EventOutcome(call, duplicate=False, transition=None)
            extra: dict[str, Any] = {} if cost is None else {"cost": cost}
            if transition.state is CallState.CONNECTED:
                extra["connected_at"] = received_at.isoformat()
            duration = getattr(event.data, "duration_s", None)
            if duration is not None:
                extra["duration_s"] = duration
            moved = await move_call(tx, event.call_id, transition, received_at, extra, judge=judge, read=call)
            return EventOutcome(moved or call, duplicate=False, transition=transition if moved else None)

        settles = cost is not None or isinstance(event, AnsweredEvent | VoicemailEvent)  # `_after_the_end`
        if in_one and decide is None and not settles:  # with the others arriving meanwhile, in one statement
            row = await self._events_stored(arrival)
            if row is None:
                return None
            return EventOutcome(call_from_row(row), duplicate=not row["stored"], transition=None)
        return await self._write(record)

    @functools.cached_property
    def _events_stored(self) -> Batch[_Arrival, Row | None]:
        """Events that move nothing, stored as `record_event` stores one, many to a statement (PostgreSQL): each
        its call's row (None: refused) with `stored` (False: stored before)."""

        async def store(arrivals: list[_Arrival]) -> list[Row | None]:
            rows = await self._db.single(lambda tx: tx.fetch(_STORE_EVENTS, *columns(arrivals)))
            by_call = {row["id"]: row for row in rows}
            return [by_call.get(a.call_id) for a in arrivals]

        return Batch(store, key=lambda arrival: arrival.call_id)

    async def events(self, call_id: str) -> list[tuple[int, str, dict[str, Any]]]:
        rows = await self._fetch("SELECT seq, event, data FROM call_events WHERE call_id = ? ORDER BY seq", call_id)
        return [(row["seq"], row["event"], json.loads(row["data"])) for row in rows]

    async def transitions(self, call_id: str) -> list[tuple[str, str, str]]:
        rows = await self._fetch(
            "SELECT from_state, to_state, reason FROM call_transitions WHERE call_id = ? ORDER BY rowid", call_id
        )
        return [(row["from_state"], row["to_state"], row["reason"]) for row in rows]

    async def mark_announced(self, call_id: str, seq: int) -> None:
        """The Slack writes event `seq` causes are in the outbox."""
        await self._change("UPDATE call_events SET announced = 1 WHERE call_id = ? AND seq = ?", call_id, seq)

    async def announced_seqs(self, call_id: str) -> set[int]:
        """The seqs of the call's events whose Slack writes are in the outbox (stored, then announced)."""
        rows = await self._fetch("SELECT seq FROM call_events WHERE call_id = ? AND announced = 1", call_id)
        return {row["seq"] for row in rows}

    async def is_announced(self, call_id: str, seq: int) -> bool:
        value = await self._scalar("SELECT announced FROM call_events WHERE call_id = ? AND seq = ?", call_id, seq)
        return bool(value)

    async def unannounced_events(self, *, received_before: datetime | None = None) -> list[dict[str, Any]]:
        """Events stored whose Slack writes were never queued (the bot stopped in between), oldest first; only those
        received before `received_before` when given."""
        rows = await self._fetch(
            "SELECT call_id, seq, event, at, data FROM call_events WHERE announced = 0 AND received_at < ?"
            " ORDER BY received_at, seq",
            (received_before or _END_OF_TIME).isoformat(),
        )
        return [
            {"v": 1, "call_id": r["call_id"], "seq": r["seq"], "event": r["event"], "at": r["at"],
             "data": json.loads(r["data"])}
            for r in rows
        ]  # fmt: skip


class _Arrival(NamedTuple):
    """A status event as `_STORE_EVENTS` takes it."""

    call_id: str
    seq: int
    event: str
    at: str
    data: str
    received_at: str
    token_hash: str | None


# `record_event`'s statement on PostgreSQL, for one event or many of distinct calls: a token, when given, must be
# its call's.
_STORE_EVENTS = """
WITH i AS (SELECT * FROM unnest(?::text[], ?::int[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[])
           AS i (call_id, seq, event, at, data, received_at, token_hash)),
c AS (UPDATE calls SET last_seq = CASE WHEN calls.last_seq < i.seq THEN i.seq ELSE calls.last_seq END FROM i
      WHERE calls.id = i.call_id AND (i.token_hash IS NULL OR calls.token_hash = i.token_hash) RETURNING calls.*),
e AS (INSERT INTO call_events (call_id, seq, event, at, data, received_at)
      SELECT i.call_id, i.seq, i.event, i.at, i.data, i.received_at FROM i JOIN c ON c.id = i.call_id
      ON CONFLICT (call_id, seq) DO NOTHING RETURNING call_id)
SELECT c.*, c.id IN (SELECT call_id FROM e) AS stored FROM c
"""


async def _after_the_end(tx: Tx, call: Call, event: StatusEvent, cost: float | None, judge: Judge) -> Call:
    """An event stored after its call ended: a cost the call has none of yet is kept (the call history settled it
    first), and evidence of a voicemail may refine the outcome (`judge` says how far)."""
    changes: dict[str, Any] = {}
    if cost is not None and call.cost is None:
        changes["cost"] = cost
    if isinstance(event, AnsweredEvent | VoicemailEvent):
        outcome = judge(call, Transition(call.state, call.state_reason), await evidence(tx, call.id))
        if outcome is not call.outcome:
            changes["outcome"] = outcome
    if not changes:
        return call
    assignments = ", ".join(f"{name} = ?" for name in changes)
    values = [value.value if isinstance(value, Outcome) else value for value in changes.values()]
    await tx.execute(f"UPDATE calls SET {assignments} WHERE id = ?", *values, call.id)
    return replace(call, **changes)
