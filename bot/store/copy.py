"""A one-shot copy of a SQLite database into another store, PostgreSQL's above all (`callbot migrate --from`)."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from bot.store.database import Database, Row, Tx
from bot.store.errors import StoreUnavailable

# Every table, parents before the rows that refer to them; each copied in the order its rows were written.
TABLES: Sequence[str] = (
    "caller_ids",
    "denied_destinations",
    "calls",
    "call_events",
    "call_transitions",
    "slack_outbox",
    "audit_log",
    "notices",
    "seen_slack_requests",
    "scheduled_calls",
)
# Not copied: `leases`, held by the processes that served the old database, which are stopped for the copy; and
# `slack_commands`, which only web replicas fill, and those serve PostgreSQL alone.
NOT_COPIED = frozenset({"leases", "slack_commands"})
# Columns that number rows: copied as they are, then the target's counter set past the highest.
_NUMBERED = {"slack_outbox": "id", "audit_log": "id"}
BATCH = 1000


class NotEmpty(StoreUnavailable):
    """The target already holds data: a copy goes only into a new, empty database."""


async def copy_database(source: Database, target: Database, *, backend: str) -> dict[str, int]:
    """Copy every row of the SQLite database `source` into `target` (of `backend`, migrated, empty), in one
    transaction on the target: all of it, or nothing. Returns how many rows each table received."""

    async def copy(tx: Tx) -> dict[str, int]:
        for table in TABLES:
            if await tx.scalar(f"SELECT COUNT(*) FROM {table}"):
                raise NotEmpty(target.where, f"it already holds data (table {table}): copy into a new database")
        copied: dict[str, int] = {}
        for table in TABLES:
            copied[table] = 0
            after = 0
            while rows := await source.read(functools.partial(_batch, table=table, after=after)):
                after = rows[-1]["_rowid"]
                columns = [name for name in rows[0].keys() if name != "_rowid"]  # noqa: SIM118 (a Row iterates values)
                await tx.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
                    [[row[name] for name in columns] for row in rows],
                )
                copied[table] += len(rows)
            if backend == "postgresql" and table in _NUMBERED:
                column = _NUMBERED[table]
                await tx.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), COALESCE(MAX({column}), 0) + 1,"
                    f" false) FROM {table}"
                )
        return copied

    return await target.write(copy)


async def _batch(tx: Tx, *, table: str, after: int) -> list[Row]:
    return await tx.fetch(
        f"SELECT rowid AS _rowid, * FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?", after, BATCH
    )
