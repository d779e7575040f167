"""A throwaway PostgreSQL server for the sections that run callbot on PostgreSQL, started as `./dev test` starts one
(`throwaway_postgres`): initdb into a temporary directory (as the `postgres` user when root: the server refuses to
run as root), a Unix socket there only, no fsync. A fresh database for each measured configuration.

Its processes are known (the postmaster's pid, and its children), so a section can add their CPU time to callbot's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

# As ./dev: durability is not under test, and the bench makes and fills databases in a few seconds.
OPTIONS = "-c listen_addresses= -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
# pg_stat_statements (in Debian's postgresql-NN package) counts the statements callbot sends: round trips per event,
# a figure that, unlike CPU time, does not move with the machine's noise.
COUNTING = "pg_stat_statements"


def binaries() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin holding initdb (Debian), else the directory of an initdb on PATH."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: _version(p.parent.parent.name))
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def missing() -> str | None:
    """Why this machine cannot run a throwaway server (one line), or None when it can."""
    if binaries() is None:
        return "PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin nor on PATH)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root, and there is no `postgres` user to run the server as"
    return None


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


class Server:
    """One throwaway server; `async with Server() as server`, then `await server.database()` for each configuration."""

    def __init__(self) -> None:
        bin_dir = binaries()
        if bin_dir is None:
            raise RuntimeError(missing())
        self._bin = bin_dir
        self._dir = Path(tempfile.mkdtemp(prefix="callbot-bench-postgres-"))
        self._as: list[str] = []
        self._databases = 0
        self.url = f"postgresql://postgres@/postgres?host={self._dir}"

    async def __aenter__(self) -> Server:
        await asyncio.to_thread(self._start)
        return self

    async def __aexit__(self, *_: object) -> None:
        await asyncio.to_thread(self._stop)

    def _start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self._dir, "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        data, log = self._dir / "data", self._dir / "log"
        self._run(str(self._bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        counting = f" -c shared_preload_libraries={COUNTING}" if self.counts_statements else ""
        self._run(str(self._bin / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-s", "start",
                  "-o", f"-k {self._dir} {OPTIONS}{counting}")  # fmt: skip

    @property
    def counts_statements(self) -> bool:
        return (self._bin.parent / "lib" / f"{COUNTING}.so").exists()

    async def statements(self, url: str) -> int | None:
        """How many statements the database at `url` has run since it was made (these counts' own left out); None
        when this PostgreSQL has no pg_stat_statements."""
        if not self.counts_statements:
            return None
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute(f"CREATE EXTENSION IF NOT EXISTS {COUNTING}")
            cursor = await conn.execute(
                f"SELECT COALESCE(SUM(calls), 0) FROM {COUNTING} WHERE query NOT LIKE %s"
                " AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())", (f"%{COUNTING}%",),
            )  # fmt: skip
            row = await cursor.fetchone()
        return int(row[0]) if row is not None else None

    def _stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(self._bin / "pg_ctl"), "-D", str(self._dir / "data"), "-m", "immediate", "-s", "stop")
        shutil.rmtree(self._dir, ignore_errors=True)

    def _run(self, *command: str) -> None:
        done = subprocess.run([*self._as, *command], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise subprocess.CalledProcessError(done.returncode, command, done.stdout, done.stderr)

    async def database(self) -> str:
        """A new, empty database on this server; its URL (callbot migrates it when it opens it)."""
        self._databases += 1
        name = f"callbot_bench_{self._databases}"
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as admin:
            await admin.execute(f'CREATE DATABASE "{name}"')
        return self.url.replace("/postgres?", f"/{name}?")

    def pids(self) -> tuple[int, list[int]]:
        """The postmaster's pid and its children's (backends, checkpointer, WAL writer, autovacuum...) now."""
        postmaster = int((self._dir / "data" / "postmaster.pid").read_text().split()[0])
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    stat = (entry / "stat").read_text()
                    if int(stat.rpartition(")")[2].split()[1]) == postmaster:
                        children.append(int(entry.name))
        return postmaster, children
