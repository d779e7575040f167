"""The store on SQLite: one connection on the event loop's thread, each transaction run in one go."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Self, TypeVar

from bot.store.database import Row, Work
from bot.store.errors import StoreUnavailable
from bot.store.schema import MIGRATIONS, apply_sqlite_migrations

T = TypeVar("T")
log = logging.getLogger(__name__)

# How long SQLite itself waits for a lock another process holds (the callbot CLI writing while the bot serves),
# blocking the event loop: a few milliseconds. Past it the store waits on the loop (asyncio.sleep) and tries again,
# for up to BUSY_WAIT_S in all, then raises StoreUnavailable.
BUSY_TIMEOUT_MS = 5
BUSY_WAIT_S = 2.0


class SQLite:
    """The store's one SQLite connection (a Database, see bot/store/database.py).

    One connection, used on the event loop's thread: each transaction runs its statements in one go, without
    awaiting in between, so no two transactions interleave and no lock is needed. SQLite in WAL mode with
    synchronous=NORMAL does not sync to disk on commit, so a transaction costs tens of microseconds; the one step
    that syncs, the checkpoint that moves the WAL into the database file, runs on a thread of its own.
    (Measured: handing each method to a database thread instead halved the status events accepted per second,
    from 1,351/s to 700-800/s at 50 senders: sqlite3 releases the GIL around every statement, and winning it back
    from a busy event loop costs far more than the statement.)

    The store's work is written as coroutines (so that PostgreSQL, which must await, runs the same code); here they
    are driven to the end at once, and one that tries to suspend is a bug, refused (`_now`).
    """

    dialect = "sqlite"

    def __init__(self, db: sqlite3.Connection, checkpointer: _Checkpointer, *, path: str = "") -> None:
        self._db = db
        self._tx = _SQLiteTx(db)
        self.where = path
        self._checkpointer = checkpointer
        self._closed = False
        self._exclusive: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    @classmethod
    async def open(cls, path: Path | str, *, checkpoint_every_s: float = 1.0) -> Self:
        """Open (creating if need be) the database at `path` and bring its schema up to date.

        Raises StoreUnavailable, naming the path, when SQLite cannot open or write it.
        """
        try:
            db = _connect(str(path))
        except sqlite3.Error as error:
            raise StoreUnavailable(str(path), str(error), opening=True) from None
        store = cls(db, _Checkpointer(str(path), every_s=checkpoint_every_s), path=str(path))
        try:
            await store.migrate()
        except (sqlite3.DatabaseError, StoreUnavailable) as error:  # not a database, or it cannot be written
            await store.close()
            reason = error.reason if isinstance(error, StoreUnavailable) else str(error)
            raise StoreUnavailable(str(path), reason, opening=True) from None
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._checkpointer.stop()
        self._db.close()  # the last connection to close moves the WAL into the database file

    async def migrate(self) -> int:
        """Apply the migrations this database has not seen; returns the schema version now in force."""
        db = self._db
        await self._retrying(lambda: _transaction(db, apply_sqlite_migrations))
        return len(MIGRATIONS)

    async def ping(self) -> bool:
        """True while the database takes a write: raises StoreUnavailable when it cannot (a full disk, a lock held
        past the busy wait). The write rewrites the schema version with its own value: one page, no change."""

        def probe(db: sqlite3.Connection) -> bool:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            db.execute(f"PRAGMA user_version = {version}")
            return True

        db = self._db
        return await self._retrying(lambda: _transaction(db, probe))

    async def write(self, work: Work[T]) -> T:
        db, tx = self._db, self._tx
        return await self._retrying(lambda: _transaction(db, lambda _: _now(work(tx))))

    async def read(self, work: Work[T]) -> T:
        tx = self._tx
        return await self._retrying(lambda: _now(work(tx)))

    async def single(self, work: Work[T]) -> T:
        """One statement, in SQLite's autocommit: it takes the write lock for itself alone."""
        return await self.read(work)

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        """Held by one holder at a time: one process serves a SQLite database, so a lock of its own suffices."""
        async with self._exclusive[name]:
            yield

    async def notify(self, message: str) -> None:
        """Nobody listens: one process serves a SQLite database, and it does its own work."""

    def notifications(self) -> AsyncIterator[str]:
        raise NotImplementedError("only PostgreSQL tells other processes: roles need DATABASE_URL")

    async def _retrying(self, attempt: Callable[[], T]) -> T:
        """Run `attempt`; while another process holds the database's lock, wait on the loop and try again."""
        deadline: float | None = None
        pause = 0.002
        while True:
            if self._closed:
                raise RuntimeError("the store is closed")
            try:
                return attempt()
            except sqlite3.OperationalError as error:  # a full disk, a held lock, an unreadable file: not our bug
                if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                    raise StoreUnavailable(self.where, str(error)) from None
                now = time.monotonic()
                deadline = deadline if deadline is not None else now + BUSY_WAIT_S
                if now >= deadline:
                    raise StoreUnavailable(self.where, str(error)) from None
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)


class _SQLiteTx:
    """A Tx on the SQLite connection: every method returns at once (see SQLite)."""

    lock_row = ""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def execute(self, sql: str, *params: object) -> int:
        return self._db.execute(sql, params).rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self._db.executemany(sql, rows)

    async def fetch(self, sql: str, *params: object) -> list[Row]:
        rows: list[Row] = self._db.execute(sql, params).fetchall()
        return rows

    async def one(self, sql: str, *params: object) -> Row | None:
        row: Row | None = self._db.execute(sql, params).fetchone()
        return row

    async def scalar(self, sql: str, *params: object) -> Any:
        rows = self._db.execute(sql, params).fetchall()  # to the end: a `… RETURNING` statement is then complete
        return rows[0][0] if rows else None


def _now(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends to its end, now; refuse one that tries to (a bug in the store)."""
    try:
        work.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    work.close()
    raise RuntimeError("a SQLite store transaction tried to await: its work must run in one go")


class _Checkpointer:
    """Moves the WAL into the database file every `every_s` seconds, on a thread with its own connection.

    A checkpoint syncs the database file to disk, which may take milliseconds: here it never stalls the event loop.
    PASSIVE checkpoints never wait for the bot's own transactions. The bot's connection checkpoints only as a last
    resort (`wal_autocheckpoint`, should this thread ever fall far behind).
    """

    def __init__(self, path: str, *, every_s: float) -> None:
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(path, every_s), name="callbot-checkpoint", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def _serve(self, path: str, every_s: float) -> None:
        db = sqlite3.connect(path, isolation_level=None)
        try:
            while not self._stopping.wait(every_s):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as error:  # the next round tries again; the WAL only grows meanwhile
                    log.warning("WAL checkpoint failed: %s", error)
        finally:
            db.close()


def _connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA wal_autocheckpoint=10000")  # pages (~40 MB): the _Checkpointer thread does it long before
    return db


def _transaction(db: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    db.execute("BEGIN IMMEDIATE")
    try:
        result = work(db)
    except BaseException:
        if db.in_transaction:  # SQLite may have rolled it back itself (a full disk does)
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return result
