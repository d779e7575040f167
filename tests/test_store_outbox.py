"""The outbox migration on a database that already holds calls and events."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from bot.store import MIGRATIONS, Store


async def test_upgrading_keeps_old_events_as_announced_and_starts_an_empty_outbox(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(path)) as db:  # the schema as the first release left it, with one event
        db.executescript(MIGRATIONS[0].sqlite)
        db.execute("PRAGMA user_version = 1")
        db.execute(
            "INSERT INTO calls (id, team_id, user_id, conversation_id, destination, caller_id, channel, instructions,"
            " max_duration_s, state, token_hash, created_at, updated_at) VALUES ('c1', 'T', 'U', 'C', '+1', '+1',"
            " 'pstn', '', 600, 'ended', 'h', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')"
        )
        db.execute(
            "INSERT INTO call_events (call_id, seq, event, at, data, received_at)"
            " VALUES ('c1', 1, 'connected', '2026-01-01T00:00:00+00:00', '{}', '2026-01-01T00:00:00+00:00')"
        )
        db.commit()
    store = await Store.open(path)
    try:
        assert await store.is_announced("c1", 1)
        assert await store.unannounced_events() == []
        assert await store.calls_with_pending_slack() == []
    finally:
        await store.close()
