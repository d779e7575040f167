"""The store on PostgreSQL (DATABASE_URL=postgresql://…): psycopg 3, async end to end, with a connection pool.

psycopg 3 rather than asyncpg: it speaks libpq's connection strings and URLs exactly as psql and every PostgreSQL
tool does (`?host=/run/postgresql`, `sslmode`, `options=-c search_path=…`, a service file), its pool
(psycopg_pool) checks and replaces broken connections itself, and its `%s` parameters take the store's portable
`?` SQL with a one-character translation. asyncpg decodes large results faster; the store's statements touch a
few rows each, where the two measure alike.

Several replicas may share one database: every transaction that reads a call and then changes it locks the row
(`Tx.lock_row`), migrations take a lock of their own, and `exclusive(name)` is an advisory lock held by one
connection of one process at a time.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Self, TypeVar, cast

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from bot.store.database import NOTIFY_CHANNEL, Row, Work, describe
from bot.store.errors import StoreUnavailable
from bot.store.schema import MIGRATIONS

T = TypeVar("T")
log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5
CHANNEL = NOTIFY_CHANNEL
LISTEN_AGAIN_S = 1.0


class Postgres:
    """A pool of connections to one PostgreSQL database (a Database, see bot/store/database.py)."""

    dialect = "postgresql"

    def __init__(self, pool: AsyncConnectionPool[Any], *, where: str, url: str = "") -> None:
        self._pool = pool
        self.where = where
        self._url = url  # for the connection that listens (`notifications`)
        # One waiter per process for each advisory lock: the others wait here, holding no connection of the pool.
        self._exclusive: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    @classmethod
    async def open(cls, url: str, *, pool_size: int = 10) -> Self:
        """Connect, bring the schema up to date and open the pool. StoreUnavailable names the database when not."""
        where = describe(url)
        try:  # one connection first: its error says why (refused, no such database, a password), the pool's not
            first = await psycopg.AsyncConnection.connect(url, connect_timeout=CONNECT_TIMEOUT_S)
        except psycopg.Error as error:
            raise StoreUnavailable(where, _reason(error), opening=True) from None
        await first.close()
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            url,
            min_size=min(2, pool_size),
            max_size=pool_size,
            kwargs={"autocommit": True, "row_factory": dict_row},
            open=False,
            name="callbot",
            timeout=CONNECT_TIMEOUT_S,
        )
        await pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        store = cls(pool, where=where, url=url)
        try:
            await store.migrate()
        except StoreUnavailable as error:
            await store.close()
            raise StoreUnavailable(where, error.reason, opening=True) from None
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        if not self._pool.closed:
            await self._pool.close()

    async def migrate(self) -> int:
        """Apply the migrations this database has not seen; returns the schema version now in force.

        Replicas starting together take turns: the first applies them, the others find them applied.
        """

        async def apply(tx: _PostgresTx) -> int:
            await tx.execute("SELECT pg_advisory_xact_lock(hashtext('callbot migrate ' || current_schema()))")
            await tx.execute("CREATE TABLE IF NOT EXISTS callbot_schema (version INTEGER NOT NULL)")
            version: int | None = await tx.scalar("SELECT version FROM callbot_schema")
            if version is None:
                await tx.execute("INSERT INTO callbot_schema (version) VALUES (0)")
                version = 0
            if version > len(MIGRATIONS):
                raise StoreUnavailable(self.where, f"its schema (version {version}) is newer than this callbot's")
            for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
                await tx.script(migration.postgres)
                await tx.execute("UPDATE callbot_schema SET version = ?", number)
            return len(MIGRATIONS)

        return await self._run(apply, write=True)

    async def ping(self) -> bool:
        """True while the database takes writes: raises StoreUnavailable when it cannot be reached, or is a
        read-only standby."""
        if await self._run(lambda tx: tx.scalar("SELECT pg_is_in_recovery()"), write=False):
            raise StoreUnavailable(self.where, "it is a standby, which takes no writes")
        return True

    async def write(self, work: Work[T]) -> T:
        return await self._run(work, write=True)

    async def read(self, work: Work[T]) -> T:
        return await self._run(work, write=False)

    async def single(self, work: Work[T]) -> T:
        """One statement on an autocommit connection: its own transaction, without BEGIN and COMMIT round trips."""
        return await self._run(work, write=False)

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        """Held by one holder at a time across every replica: a transaction-scoped advisory lock, keyed by the
        schema too, so that databases sharing a server (tests' schemas) never wait on each other."""
        async with self._exclusive[name]:
            try:
                async with self._pool.connection() as conn, conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ' ' || %s))", (name,))
                    yield
            except (psycopg.OperationalError, PoolTimeout) as error:
                raise StoreUnavailable(self.where, _reason(error)) from None

    async def notify(self, message: str) -> None:
        """NOTIFY on the channel CHANNEL: every process listening hears it once this returns (PostgreSQL keeps
        no message for a process not listening then: listeners also look for work themselves)."""
        await self._run(lambda tx: tx.execute("SELECT pg_notify(?, ?)", CHANNEL, message), write=False)

    async def notifications(self) -> AsyncIterator[str]:
        """LISTEN on a connection of its own, outside the pool; connects again (after a pause) when it is lost."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    async for note in conn.notifies():
                        yield note.payload
            except psycopg.OperationalError as error:
                log.warning("stopped listening to %s (%s); listening again in %s s", self.where, _reason(error),
                            LISTEN_AGAIN_S)  # fmt: skip
                await asyncio.sleep(LISTEN_AGAIN_S)

    async def _run(self, work: Callable[[_PostgresTx], Awaitable[T]], *, write: bool) -> T:
        try:
            async with self._pool.connection() as conn:
                tx = _PostgresTx(conn)
                if not write:
                    return await work(tx)
                async with conn.transaction():
                    return await work(tx)
        except (psycopg.OperationalError, PoolTimeout) as error:  # the server is gone, refuses, or is full
            raise StoreUnavailable(self.where, _reason(error)) from None


class _PostgresTx:
    """A Tx on one pooled connection."""

    lock_row = " FOR UPDATE"

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn

    async def execute(self, sql: str, *params: object) -> int:
        cursor = await self._conn.execute(_postgres_sql(sql), params)
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        async with self._conn.cursor() as cursor:
            await cursor.executemany(_postgres_sql(sql), rows)

    async def fetch(self, sql: str, *params: object) -> list[Row]:
        cursor = await self._conn.execute(_postgres_sql(sql), params)
        rows: list[Row] = await cursor.fetchall()
        return rows

    async def one(self, sql: str, *params: object) -> Row | None:
        cursor = await self._conn.execute(_postgres_sql(sql), params)
        row: Row | None = await cursor.fetchone()
        return row

    async def scalar(self, sql: str, *params: object) -> Any:
        row = await self.one(sql, *params)
        return next(iter(cast(dict[str, Any], row).values())) if row is not None else None

    async def script(self, sql: str) -> None:
        """Several statements with no parameters, sent as one (a migration)."""
        await self._conn.execute(sql.encode())


@functools.lru_cache(maxsize=512)
def _postgres_sql(sql: str) -> bytes:
    """The store's portable SQL (`?` placeholders) in psycopg's (`%s`, a literal `%` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s").encode()


def _reason(error: BaseException) -> str:
    """What went wrong, in one line: psycopg's messages never hold the password."""
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
