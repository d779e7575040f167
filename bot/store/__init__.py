"""callbot's storage: every SQL statement callbot runs lives in this package, behind one class, `Store`.

Two backends run the same methods, each written once as work on a transaction (bot/store/database.py):
- SQLite (stdlib sqlite3, DATABASE_PATH, the default) in WAL mode, one connection on the event loop's thread; each
  transaction runs in one go, with no await inside;
- PostgreSQL (psycopg 3 with a pool, DATABASE_URL=postgresql://…), async end to end, shared by any number of
  replicas.

    database.py     Database and Tx: what the store's methods run on; Base, the one-statement helpers
    sqlite.py       SQLite: the connection, the busy wait, checkpoints on a thread of their own
    postgres.py     Postgres: the pool, row locks and advisory locks for replicas
    batches.py      Batch: group commit, the store calls arriving together sent as one statement (PostgreSQL)
    schema.py       the migrations, in both dialects, and how SQLite applies them
    copy.py         a one-shot copy of one database into another (`callbot migrate --from`)
    calls.py        Calls: store a call, find it, move it from state to state
    events.py       Events: store a status event and apply its transition at once; what is not yet announced
    guard_rails.py  GuardRails: caller IDs, deny list, audit log, what the call limits count, notices, replay guard
    commands.py     Commands: slash commands a web replica answered and left to a worker
    leases.py       Leases: work one replica at a time may do (a call's Slack writes, the watchdog)
    outbox.py       Outbox, OutboxRow: the Slack writes waiting to be delivered
    schedules.py    Schedules: scheduled and retried calls, one row per attempt
    errors.py       StoreUnavailable

The package imports only the standard library, psycopg (PostgreSQL's backend, loaded only for a postgresql:// URL)
and bot.calls.models (tests/test_layers.py checks it).

Both backends keep the same promises, and tests/test_store*.py run against both:
- each method is one transaction, committed when it returns; `record_event` calls `decide` inside it;
- it takes and returns the domain's values (bot.calls.models) and OutboxRow, never rows or types of its own;
- a call in a terminal state (TERMINAL_STATES, the domain's rule) never moves again, even with two replicas moving
  it at once;
- an event (call id, seq) is stored once; `first_sighting` and `first_notice` say True once; the audit log is
  append-only;
- `exclusive(name)` is held by one holder at a time, across every process that uses the database;
- a database that cannot be reached or written raises StoreUnavailable (from `open` too, naming where, never with
  a password).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.store.calls import Calls
from bot.store.commands import Commands, SlashCommand
from bot.store.copy import NotEmpty, copy_database
from bot.store.database import Database, describe, is_postgres_url
from bot.store.errors import StoreUnavailable
from bot.store.events import Events
from bot.store.guard_rails import GuardRails
from bot.store.leases import Leases
from bot.store.outbox import Outbox, OutboxRow
from bot.store.schedules import Schedules
from bot.store.schema import MIGRATIONS
from bot.store.sqlite import SQLite

# The domain's values (CallerId, EventOutcome, ...) are bot.calls.models': import them from there.
__all__ = [
    "MIGRATIONS",
    "NotEmpty",
    "OutboxRow",
    "SlashCommand",
    "Store",
    "StoreUnavailable",
    "describe",
    "is_postgres_url",
]


class Store(Calls, Commands, Events, GuardRails, Leases, Outbox, Schedules):
    """callbot's database, SQLite's or PostgreSQL's: each method one transaction."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)

    @classmethod
    async def open(cls, location: Path | str, *, checkpoint_every_s: float = 1.0, pool_size: int = 10) -> Store:
        """Open the database at `location` (a SQLite file's path, or a postgresql:// URL) and bring its schema up to
        date. Raises StoreUnavailable, naming the database, when it cannot be opened or written."""
        if is_postgres_url(location):
            from bot.store.postgres import Postgres  # psycopg is loaded only for PostgreSQL

            return cls(await Postgres.open(location, pool_size=pool_size))
        return cls(await SQLite.open(location, checkpoint_every_s=checkpoint_every_s))

    @property
    def backend(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self._db.dialect

    async def close(self) -> None:
        await self._db.close()

    async def migrate(self) -> int:
        """Apply the migrations this database has not seen; returns the schema version now in force."""
        return await self._db.migrate()

    async def ping(self) -> bool:
        """True while the database takes a write; StoreUnavailable when it cannot."""
        return await self._db.ping()

    async def notify(self, message: str) -> None:
        """Tell every process listening to this database `message` (PostgreSQL; nobody listens on SQLite)."""
        await self._db.notify(message)

    def notifications(self) -> AsyncIterator[str]:
        """Every message `notify` sends from now on, from any process (PostgreSQL only)."""
        return self._db.notifications()

    async def copy_from(self, source: Store) -> dict[str, int]:
        """Copy every row of the SQLite store `source` into this one, which must be empty: all of it, in one
        transaction, or nothing. Returns how many rows each table received (bot/store/copy.py)."""
        if source.backend != "sqlite":
            raise ValueError("the copy reads a SQLite database")
        return await copy_database(source._db, self._db, backend=self.backend)

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        """Held by one holder at a time, across every process (replica) that uses this database."""
        async with self._db.exclusive(name):
            yield
