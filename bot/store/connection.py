"""The store's connection to SQLite: opening it, one transaction per method, checkpoints on a thread of their own."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Self, TypeVar

from bot.store.errors import StoreUnavailable
from bot.store.schema import MIGRATIONS, apply_migrations

T = TypeVar("T")
log = logging.getLogger(__name__)


class Connection:
    """The store's one SQLite connection, and what every method of the store runs its work through.

    One connection, used on the event loop's thread: each method runs its statements, its transaction included,
    in one go, without awaiting in between, so no two transactions interleave and no lock is needed. SQLite in WAL
    mode with synchronous=NORMAL does not sync to disk on commit, so a method costs tens of microseconds; the one
    step that syncs, the checkpoint that moves the WAL into the database file, runs on a thread of its own.
    (Measured: handing each method to a database thread instead halved the status events accepted per second,
    from 1,351/s to 700-800/s at 50 senders: sqlite3 releases the GIL around every statement, and winning it back
    from a busy event loop costs far more than the statement.)
    """

    def __init__(self, db: sqlite3.Connection, checkpointer: _Checkpointer, *, path: str = "") -> None:
        self._db = db
        self.path = path
        self._checkpointer = checkpointer
        self._closed = False

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
        self._write(apply_migrations)
        return len(MIGRATIONS)

    async def ping(self) -> bool:
        """True while the database takes a write: raises StoreUnavailable when it cannot (a full disk, a lock held
        past the busy timeout). The write rewrites the schema version with its own value: one page, no change."""

        def probe(db: sqlite3.Connection) -> bool:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            db.execute(f"PRAGMA user_version = {version}")
            return True

        return self._write(probe)

    def _run(self, work: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise RuntimeError("the store is closed")
        try:
            return work(*args)
        except sqlite3.OperationalError as error:  # a full disk, a held lock, an unreadable file: not a bug of ours
            raise StoreUnavailable(self.path, str(error)) from None

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` in one write transaction."""
        db = self._db

        def transaction() -> T:
            return _transaction(db, work)

        return self._run(transaction)

    def _change(self, sql: str, *params: object) -> int:
        """One statement that writes (its own transaction); returns the rows it changed."""
        return self._run(_change, self._db, sql, params)

    def _fetch(self, sql: str, *params: object) -> list[sqlite3.Row]:
        return self._run(_fetch, self._db, sql, params)

    def _scalar(self, sql: str, *params: object) -> Any:
        rows = self._fetch(sql, *params)
        return rows[0][0] if rows else None


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
    # Another writer (the callbot CLI) holds the lock for milliseconds; waiting here waits on the event loop.
    db.execute("PRAGMA busy_timeout=2000")
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


def _change(db: sqlite3.Connection, sql: str, params: Sequence[object]) -> int:
    return db.execute(sql, params).rowcount


def _fetch(db: sqlite3.Connection, sql: str, params: Sequence[object]) -> list[sqlite3.Row]:
    return db.execute(sql, params).fetchall()
