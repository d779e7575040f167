"""What the store's methods run on: a Database (SQLite or PostgreSQL), and inside one of its transactions, a Tx.

Every method of the store is written once, as work on a Tx: portable SQL with `?` placeholders, run in one
transaction by whichever Database the store opened. Where the two dialects differ, the Tx says how (`lock_row`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeGuard, TypeVar
from urllib.parse import parse_qs, urlsplit

T = TypeVar("T")
NOTIFY_CHANNEL = "callbot"  # of NOTIFY and LISTEN (PostgreSQL): web replicas tell workers of work waiting for them


class Row(Protocol):
    """One row of a result, read by column name (sqlite3.Row, or a dict on PostgreSQL)."""

    def __getitem__(self, key: str, /) -> Any: ...

    def keys(self) -> Any: ...


class Tx(Protocol):
    """One transaction under way. Statements take `?` placeholders on both backends."""

    # Appended to a SELECT whose rows the transaction goes on to change: PostgreSQL locks them (" FOR UPDATE") so
    # that no other transaction changes them in between; SQLite needs nothing, as a write transaction holds the
    # whole database.
    lock_row: str

    async def execute(self, sql: str, *params: object) -> int:
        """Run one statement; returns the rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None: ...

    async def fetch(self, sql: str, *params: object) -> list[Row]: ...

    async def one(self, sql: str, *params: object) -> Row | None: ...

    async def scalar(self, sql: str, *params: object) -> Any:
        """The first column of the first row, or None when there is no row."""
        ...


Work = Callable[[Tx], Coroutine[Any, Any, T]]


class Database(Protocol):
    """A connection to one database, SQLite's or PostgreSQL's, as the store uses it.

    - `write` runs `work` in one write transaction, committed when it returns, rolled back when it raises;
    - `read` runs it for reading only;
    - `single` runs one statement that writes, atomic by itself, without a transaction around it;
    - `exclusive(name)` is held by one holder at a time, across every process that uses the database;
    - a database that cannot be reached or written raises StoreUnavailable, naming `where` (never a password).
    """

    where: str
    dialect: str  # "sqlite" or "postgresql"

    async def write(self, work: Work[T]) -> T: ...

    async def read(self, work: Work[T]) -> T: ...

    async def single(self, work: Work[T]) -> T:
        """Run `work`, one statement that writes, as a transaction of its own (autocommit: one round trip)."""
        ...

    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]: ...

    async def migrate(self) -> int: ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...

    async def notify(self, message: str) -> None:
        """Tell every process listening (`notifications`) `message`, at once; nobody listens on SQLite."""
        ...

    def notifications(self) -> AsyncIterator[str]:
        """Every message `notify` sends from now on, from any process; PostgreSQL only."""
        ...


class Base:
    """What every part of the store shares: its Database, and one-statement reads and writes on it."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def where(self) -> str:
        """The database, for messages: a path, or a PostgreSQL URL without its password."""
        return self._db.where

    async def _write(self, work: Work[T]) -> T:
        return await self._db.write(work)

    async def _change(self, sql: str, *params: object) -> int:
        """One statement that writes (its own transaction); returns the rows it changed."""
        return await self._db.single(lambda tx: tx.execute(sql, *params))

    async def _change_returning(self, sql: str, *params: object) -> Any:
        """One statement that writes and returns a value (`… RETURNING x`), its own transaction; the value."""
        return await self._db.single(lambda tx: tx.scalar(sql, *params))

    async def _fetch(self, sql: str, *params: object) -> list[Row]:
        return await self._db.read(lambda tx: tx.fetch(sql, *params))

    async def _one(self, sql: str, *params: object) -> Row | None:
        return await self._db.read(lambda tx: tx.one(sql, *params))

    async def _scalar(self, sql: str, *params: object) -> Any:
        return await self._db.read(lambda tx: tx.scalar(sql, *params))


def is_postgres_url(location: object) -> TypeGuard[str]:
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def describe(url: str) -> str:
    """A PostgreSQL URL for messages and logs: user, host, port and database, never the password."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ",".join(parse_qs(parts.query).get("host", []))
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "postgresql://(an unreadable DATABASE_URL)"
    user = f"{parts.username}@" if parts.username else ""
    if host.startswith("/"):  # a Unix socket's directory
        return f"postgresql://{user}{parts.path}?host={host}"
    return f"postgresql://{user}{host}{port}{parts.path}"
