"""PostgreSQL for the tests: a new database for each test, cloned from one migrated for the run.

CALLBOT_TEST_POSTGRES names a server the tests may create databases on (`./dev test` starts a throwaway one when
the machine has PostgreSQL installed). Without it, only the SQLite half of the suite runs, and the run's header
says how to run the rest.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg

SERVER = os.environ.get("CALLBOT_TEST_POSTGRES", "")
HOW_TO_RUN = (
    "PostgreSQL: not found, so the suite runs on SQLite only; to run it on PostgreSQL too, install PostgreSQL "
    "(apt-get install postgresql) and run ./dev test, or set CALLBOT_TEST_POSTGRES=postgresql://… to a server"
)


def describe_server() -> str:
    from bot.store import describe

    return describe(SERVER)


def database_url(name: str) -> str:
    """SERVER's URL, naming the database `name`."""
    parts = urlsplit(SERVER)
    return urlunsplit(parts._replace(path=f"/{name}"))


class Databases:
    """Creates each test's database from a template migrated once per test process (a pytest-xdist worker)."""

    def __init__(self, worker: str) -> None:
        self._template = f"callbot_template_{worker}_{uuid.uuid4().hex[:8]}"
        self._ready = False

    async def new(self) -> str:
        if not self._ready:
            await self._make_template()
        name = f"callbot_test_{uuid.uuid4().hex[:12]}"
        async with await psycopg.AsyncConnection.connect(SERVER, autocommit=True) as admin:
            # FILE_COPY: for a database this small, a copy of its files is about 3 times faster than WAL_LOG
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}" STRATEGY FILE_COPY')
        return database_url(name)

    async def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        async with await psycopg.AsyncConnection.connect(SERVER, autocommit=True) as admin:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def close(self) -> None:
        if self._ready:
            await self.drop(database_url(self._template))

    async def _make_template(self) -> None:
        from bot.store import Store

        async with await psycopg.AsyncConnection.connect(SERVER, autocommit=True) as admin:
            await admin.execute(f'CREATE DATABASE "{self._template}"')
        store = await Store.open(database_url(self._template))  # migrated by the store itself, as in production
        await store.close()
        self._ready = True
