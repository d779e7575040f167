"""The store's Slack outbox: every Slack write for a call, kept until Slack accepted it."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.calls.models import Call
from bot.store.batches import Batch, columns
from bot.store.calls import call_from_row
from bot.store.database import Base, Row, Tx


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One Slack write waiting to be delivered: `kind` is parent, update or reply; `body` its details."""

    id: int
    call_id: str
    kind: str
    body: dict[str, Any]


class Outbox(Base):
    """Store methods about the Slack outbox; `Store` combines them with the rest."""

    async def enqueue_slack(
        self, call_id: str, kind: str, body: dict[str, Any], *, at: datetime, rank: int = 1,
        announces: int | None = None,
    ) -> int:  # fmt: skip
        """Keep one Slack write for `call_id`; returns its id. Writes leave in (rank, id) order. `announces`: the
        seq of the event whose only write this is, noted announced with it (`mark_announced`), atomically."""
        if self._db.dialect == "postgresql":  # with the others queued meanwhile, in one statement
            return await self._writes_queued((call_id, rank, kind, json.dumps(body), at.isoformat(), announces))
        insert = "INSERT INTO slack_outbox (call_id, rank, kind, body, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id"
        values = (call_id, rank, kind, json.dumps(body), at.isoformat())
        if announces is None:
            return int(await self._change_returning(insert, *values))

        async def both(tx: Tx) -> int:
            row_id = int(await tx.scalar(insert, *values))
            await tx.execute("UPDATE call_events SET announced = 1 WHERE call_id = ? AND seq = ?", call_id, announces)
            return row_id

        return await self._write(both)

    @functools.cached_property
    def _writes_queued(self) -> Batch[_Queued, int]:
        """Writes queued as `enqueue_slack` queues one, many to a statement (PostgreSQL): each its id."""

        async def queue(writes: list[_Queued]) -> list[int]:
            rows = await self._db.single(lambda tx: tx.fetch(_QUEUE_WRITES, *columns(writes)))
            ids = {row["call_id"]: int(row["id"]) for row in rows}
            return [ids[write[0]] for write in writes]

        return Batch(queue, key=lambda write: write[0])

    async def pending_slack(self, call_id: str, *, limit: int = 500) -> list[OutboxRow]:
        rows = await self._fetch(
            "SELECT id, call_id, kind, body FROM slack_outbox WHERE call_id = ? ORDER BY rank, id LIMIT ?",
            call_id,
            limit,
        )
        return [OutboxRow(row["id"], row["call_id"], row["kind"], json.loads(row["body"])) for row in rows]

    async def call_and_pending(
        self, call_id: str, *, limit: int = 500, dropping: Sequence[int] = ()
    ) -> tuple[Call | None, list[OutboxRow]]:
        """The call and its pending writes, read together (one statement, one snapshot): the call is at least as new
        as every row, since a write is queued only after the change it shows was stored. `dropping`: writes Slack
        accepted, forgotten first (`drop_slack`), in the same statement on PostgreSQL."""
        if self._db.dialect == "postgresql":  # with the others read meanwhile, in one statement
            rows = await self._calls_read((call_id, limit, tuple(dropping)))
        else:
            await self.drop_slack(dropping)
            rows = await self._fetch(
                "SELECT c.*, o.id AS o_id, o.kind AS o_kind, o.body AS o_body FROM calls c"
                " LEFT JOIN slack_outbox o ON o.call_id = c.id WHERE c.id = ? ORDER BY o.rank, o.id LIMIT ?",
                call_id, limit,
            )  # fmt: skip
        if not rows:
            return None, []
        pending = [OutboxRow(r["o_id"], call_id, r["o_kind"], json.loads(r["o_body"])) for r in rows if r["o_id"]]
        return call_from_row(rows[0]), pending

    @functools.cached_property
    def _calls_read(self) -> Batch[tuple[str, int, tuple[int, ...]], list[Row]]:
        """Calls read with their pending writes as `call_and_pending` reads one, many to a statement (PostgreSQL):
        each call's rows, in order (none: no such call)."""

        async def read(asked: list[tuple[str, int, tuple[int, ...]]]) -> list[list[Row]]:
            call_ids, limits = [a[0] for a in asked], [a[1] for a in asked]
            gone = [row_id for _, _, dropping in asked for row_id in dropping]
            rows = await self._db.single(lambda tx: tx.fetch(_READ_CALLS, gone, call_ids, limits, gone))
            by_call: dict[str, list[Row]] = {call_id: [] for call_id in call_ids}
            for row in rows:
                by_call[row["id"]].append(row)
            return [by_call[call_id] for call_id, _, _ in asked]

        return Batch(read, key=lambda asking: asking[0])

    async def let_go_of_writes(self, lease: str, holder: str, call_id: str, *, after: int) -> bool:
        """Release the lease `lease` on the call's writes (if `holder` holds it), and say whether a write newer than
        `after` waits: one another replica queued while the lease was held, leaving it to the holder. One statement
        on PostgreSQL."""
        release = "DELETE FROM leases WHERE name = ? AND holder = ?"
        newer = "SELECT EXISTS (SELECT 1 FROM slack_outbox WHERE call_id = ? AND id > ?) AS newer"

        async def both(tx: Tx) -> bool:
            await tx.execute(release, lease, holder)
            return bool(await tx.scalar(newer, call_id, after))

        if self._db.dialect == "postgresql":
            sql = f"WITH gone AS ({release}) {newer}"
            return bool(await self._db.single(lambda tx: tx.scalar(sql, lease, holder, call_id, after)))
        return await self._write(both)

    async def rewrite_slack(self, row_id: int, body: dict[str, Any]) -> None:
        """Replace a waiting write's body (the summary's written lines, kept before it is sent)."""
        await self._change("UPDATE slack_outbox SET body = ? WHERE id = ?", json.dumps(body), row_id)

    async def calls_with_pending_slack(self) -> list[str]:
        rows = await self._fetch("SELECT call_id, MIN(id) AS first FROM slack_outbox GROUP BY call_id ORDER BY first")
        return [row["call_id"] for row in rows]

    async def drop_slack(self, ids: Sequence[int]) -> None:
        """Forget writes Slack accepted (or that can never be delivered, which the caller logged)."""

        if ids:
            await self._change(_FORGET.format(_marks(ids)), *ids)

    async def parent_posted(
        self, call_id: str, row_id: int | None, *, channel: str, ts: str, note: str | None, at: datetime
    ) -> None:
        """The parent message is in Slack: keep where, forget its write, and queue `note` as the first reply."""

        async def posted(tx: Tx) -> None:
            await tx.execute("UPDATE calls SET slack_channel = ?, slack_ts = ? WHERE id = ?", channel, ts, call_id)
            if row_id is not None:
                await tx.execute("DELETE FROM slack_outbox WHERE id = ?", row_id)
            if note is not None:
                await tx.execute(
                    "INSERT INTO slack_outbox (call_id, rank, kind, body, created_at) VALUES (?, 0, 'reply', ?, ?)",
                    call_id,
                    json.dumps({"text": note}),
                    at.isoformat(),
                )

        await self._write(posted)

    async def slack_outbox_depth(self) -> tuple[int, datetime | None]:
        """How many Slack writes wait in the outbox, and when the oldest of them was queued (None: none wait)."""
        rows = await self._fetch("SELECT COUNT(*) AS waiting, MIN(created_at) AS oldest FROM slack_outbox")
        oldest = rows[0]["oldest"]
        return int(rows[0]["waiting"]), datetime.fromisoformat(oldest) if oldest else None


_Queued = tuple[str, int, str, str, str, int | None]  # call_id, rank, kind, body, created_at, announces
# `enqueue_slack` for writes of distinct calls: each inserted, and the event it announces noted so.
_QUEUE_WRITES = """
WITH i AS (SELECT * FROM unnest(?::text[], ?::int[], ?::text[], ?::text[], ?::text[], ?::int[])
           AS i (call_id, rank, kind, body, created_at, announces)),
queued AS (INSERT INTO slack_outbox (call_id, rank, kind, body, created_at)
           SELECT call_id, rank, kind, body, created_at FROM i RETURNING id, call_id),
noted AS (UPDATE call_events e SET announced = 1 FROM i WHERE e.call_id = i.call_id AND e.seq = i.announces)
SELECT id, call_id FROM queued
"""
# `call_and_pending` for distinct calls: writes Slack took forgotten first (the read's snapshot is from before the
# DELETE: those rows are left out), then each call and its pending writes, in order.
_READ_CALLS = """
WITH gone AS (DELETE FROM slack_outbox WHERE id = ANY(?::bigint[]))
SELECT c.*, o.id AS o_id, o.kind AS o_kind, o.body AS o_body
FROM unnest(?::text[], ?::int[]) WITH ORDINALITY AS i (call_id, most, n) JOIN calls c ON c.id = i.call_id
LEFT JOIN LATERAL (SELECT id, kind, body, rank FROM slack_outbox WHERE call_id = c.id AND id <> ALL(?::bigint[])
                   ORDER BY rank, id LIMIT i.most) o ON true
ORDER BY i.n, o.rank, o.id
"""
_FORGET = "DELETE FROM slack_outbox WHERE id IN ({})"  # writes Slack accepted (`drop_slack`)


def _marks(ids: Sequence[object]) -> str:
    return ", ".join("?" for _ in ids)
