"""The database's schema: one set of versioned migrations, each written for SQLite and for PostgreSQL.

Migration N brings a database from version N-1 to N, on either backend; the version reached is kept in
`PRAGMA user_version` (SQLite) or the one-row table `callbot_schema` (PostgreSQL). A released migration never
changes, since databases in use have run it: a change of schema is a new one at the end, in both dialects, and
tests/test_store_contract.py checks that the two give the same tables and columns.

The PostgreSQL schema follows SQLite's column for column, types included (times are ISO 8601 text in UTC, flags
are integers), so that the store's SQL and a copy from one to the other (`callbot migrate --from`) need no
translation. Where SQLite has an implicit `rowid` that the store orders by, the PostgreSQL table has a column of
that name, filled in the order rows are written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    sqlite: str
    postgres: str


_SQLITE: Sequence[str] = (
    """
    CREATE TABLE caller_ids (
        number      TEXT PRIMARY KEY,
        label       TEXT NOT NULL DEFAULT '',
        channels    TEXT NOT NULL DEFAULT 'pstn',
        added_by    TEXT NOT NULL DEFAULT '',
        added_at    TEXT NOT NULL
    );
    CREATE TABLE calls (
        id              TEXT PRIMARY KEY,
        team_id         TEXT NOT NULL,
        user_id         TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        thread_ts       TEXT,
        destination     TEXT NOT NULL,
        caller_id       TEXT NOT NULL,
        channel         TEXT NOT NULL,
        instructions    TEXT NOT NULL,
        max_duration_s  INTEGER NOT NULL,
        state           TEXT NOT NULL,
        state_reason    TEXT NOT NULL DEFAULT '',
        token_hash      TEXT NOT NULL,
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL,
        slack_channel   TEXT,
        slack_ts        TEXT,
        access_url      TEXT,
        history_id      INTEGER,
        connected_at    TEXT,
        duration_s      REAL,
        last_seq        INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX calls_by_user ON calls (user_id, created_at);
    CREATE INDEX calls_by_state ON calls (state);
    CREATE TABLE call_events (
        call_id     TEXT NOT NULL REFERENCES calls (id),
        seq         INTEGER NOT NULL,
        event       TEXT NOT NULL,
        at          TEXT NOT NULL,
        data        TEXT NOT NULL,
        received_at TEXT NOT NULL,
        PRIMARY KEY (call_id, seq)
    );
    CREATE TABLE call_transitions (
        call_id    TEXT NOT NULL REFERENCES calls (id),
        from_state TEXT NOT NULL,
        to_state   TEXT NOT NULL,
        reason     TEXT NOT NULL,
        at         TEXT NOT NULL
    );
    CREATE INDEX call_transitions_by_call ON call_transitions (call_id);
    CREATE TABLE seen_slack_requests (
        signature TEXT PRIMARY KEY,
        seen_at   TEXT NOT NULL
    );
    CREATE INDEX seen_slack_requests_by_time ON seen_slack_requests (seen_at);
    """,
    # Guard rails: the deny list, the append-only audit log, and indexes for the call limits and history.
    """
    CREATE TABLE denied_destinations (
        prefix    TEXT PRIMARY KEY,
        reason    TEXT NOT NULL DEFAULT '',
        added_by  TEXT NOT NULL,
        added_at  TEXT NOT NULL
    );
    CREATE TABLE audit_log (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      TEXT NOT NULL,
        actor   TEXT NOT NULL,
        action  TEXT NOT NULL,
        target  TEXT NOT NULL DEFAULT '',
        detail  TEXT NOT NULL DEFAULT '',
        allowed INTEGER NOT NULL
    );
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE INDEX calls_by_user_state ON calls (user_id, state);
    CREATE INDEX calls_by_team_state ON calls (team_id, state);
    CREATE INDEX calls_by_time ON calls (created_at);
    """,
    """
    CREATE TABLE slack_outbox (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        call_id    TEXT NOT NULL REFERENCES calls (id),
        rank       INTEGER NOT NULL DEFAULT 1,
        kind       TEXT NOT NULL,
        body       TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX slack_outbox_by_call ON slack_outbox (call_id, rank, id);
    ALTER TABLE call_events ADD COLUMN announced INTEGER NOT NULL DEFAULT 0;
    UPDATE call_events SET announced = 1;
    CREATE INDEX call_events_unannounced ON call_events (received_at) WHERE announced = 0;
    """,
    # Launch contract v2: custom data is a reference to the call's brief (see bot/calls/launch.py).
    """
    ALTER TABLE calls ADD COLUMN brief_token_hash TEXT;
    ALTER TABLE calls ADD COLUMN control_secret TEXT;
    ALTER TABLE calls ADD COLUMN custom_data TEXT;
    ALTER TABLE calls ADD COLUMN plain_access_url TEXT;
    ALTER TABLE calls ADD COLUMN pull INTEGER NOT NULL DEFAULT 0;
    CREATE UNIQUE INDEX calls_by_brief_token ON calls (brief_token_hash) WHERE brief_token_hash IS NOT NULL;
    CREATE TABLE notices (
        name TEXT PRIMARY KEY,
        at   TEXT NOT NULL
    );
    """,
    # Leases: work that one replica at a time may do (a call's Slack writes, the watchdog), held until expires_at.
    """
    CREATE TABLE leases (
        name       TEXT PRIMARY KEY,
        holder     TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    """,
    # 6 (issue 15): what the agent does at a voicemail greeting, whether the call is recorded (asked for per call), and
    # the requester's Slack name, which the agent's first words name.
    """
    ALTER TABLE calls ADD COLUMN voicemail TEXT NOT NULL DEFAULT 'leave';
    ALTER TABLE calls ADD COLUMN record INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE calls ADD COLUMN requester_name TEXT NOT NULL DEFAULT '';
    """,
    # 7: how each call ended (bot/calls/outcomes.py) and what it cost, and the indexes the spending caps and
    # /metrics read: one person's or one workspace's calls since a time, with their cost (read from the index alone).
    """
    ALTER TABLE calls ADD COLUMN outcome TEXT;
    ALTER TABLE calls ADD COLUMN cost REAL;
    CREATE INDEX calls_by_outcome ON calls (outcome);
    CREATE INDEX calls_spend_by_user ON calls (user_id, created_at, cost);
    CREATE INDEX calls_spend_by_team ON calls (team_id, created_at, cost);
    """,
    # 8 (issue 16): scheduled and retried calls, one row per attempt (bot/store/schedules.py). The loop that dials
    # them claims a row (scheduled -> dialed) in one statement before launching, so no attempt is dialled twice.
    """
    CREATE TABLE scheduled_calls (
        id              TEXT PRIMARY KEY,
        schedule_id     TEXT NOT NULL,
        attempt         INTEGER NOT NULL,
        due_at          TEXT NOT NULL,
        state           TEXT NOT NULL,
        retries         INTEGER NOT NULL DEFAULT 0,
        retry_every_s   INTEGER NOT NULL DEFAULT 0,
        team_id         TEXT NOT NULL,
        user_id         TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        request         TEXT NOT NULL,
        tz              TEXT NOT NULL DEFAULT 'UTC',
        slack_channel   TEXT,
        slack_ts        TEXT,
        call_id         TEXT REFERENCES calls (id),
        moved_from      TEXT,
        detail          TEXT NOT NULL DEFAULT '',
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL
    );
    CREATE UNIQUE INDEX scheduled_calls_by_schedule ON scheduled_calls (schedule_id, attempt);
    CREATE INDEX scheduled_calls_due ON scheduled_calls (state, due_at);
    CREATE INDEX scheduled_calls_by_call ON scheduled_calls (call_id);
    """,
    # 9 (issue 14): slash commands a web replica answered at once and left to a worker (bot/store/commands.py).
    # A row lives from the answer until a worker is done with it: milliseconds, or until a worker is back. The
    # command's response_url is never kept: it goes to the workers in the NOTIFY that tells them of the row.
    """
    CREATE TABLE slack_commands (
        id          TEXT PRIMARY KEY,
        fields      TEXT NOT NULL,
        received_at TEXT NOT NULL,
        taken_at    TEXT,
        takes       INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX slack_commands_by_time ON slack_commands (received_at);
    """,
)

_POSTGRES: Sequence[str] = (
    """
    CREATE TABLE caller_ids (
        number      TEXT PRIMARY KEY,
        label       TEXT NOT NULL DEFAULT '',
        channels    TEXT NOT NULL DEFAULT 'pstn',
        added_by    TEXT NOT NULL DEFAULT '',
        added_at    TEXT NOT NULL
    );
    CREATE TABLE calls (
        id              TEXT PRIMARY KEY,
        team_id         TEXT NOT NULL,
        user_id         TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        thread_ts       TEXT,
        destination     TEXT NOT NULL,
        caller_id       TEXT NOT NULL,
        channel         TEXT NOT NULL,
        instructions    TEXT NOT NULL,
        max_duration_s  INTEGER NOT NULL,
        state           TEXT NOT NULL,
        state_reason    TEXT NOT NULL DEFAULT '',
        token_hash      TEXT NOT NULL,
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL,
        slack_channel   TEXT,
        slack_ts        TEXT,
        access_url      TEXT,
        history_id      BIGINT,
        connected_at    TEXT,
        duration_s      DOUBLE PRECISION,
        last_seq        INTEGER NOT NULL DEFAULT 0,
        rowid           BIGINT GENERATED BY DEFAULT AS IDENTITY UNIQUE
    );
    CREATE INDEX calls_by_user ON calls (user_id, created_at);
    CREATE INDEX calls_by_state ON calls (state);
    CREATE TABLE call_events (
        call_id     TEXT NOT NULL REFERENCES calls (id),
        seq         INTEGER NOT NULL,
        event       TEXT NOT NULL,
        at          TEXT NOT NULL,
        data        TEXT NOT NULL,
        received_at TEXT NOT NULL,
        PRIMARY KEY (call_id, seq)
    );
    CREATE TABLE call_transitions (
        call_id    TEXT NOT NULL REFERENCES calls (id),
        from_state TEXT NOT NULL,
        to_state   TEXT NOT NULL,
        reason     TEXT NOT NULL,
        at         TEXT NOT NULL,
        rowid      BIGINT GENERATED BY DEFAULT AS IDENTITY UNIQUE
    );
    CREATE INDEX call_transitions_by_call ON call_transitions (call_id);
    CREATE TABLE seen_slack_requests (
        signature TEXT PRIMARY KEY,
        seen_at   TEXT NOT NULL
    );
    CREATE INDEX seen_slack_requests_by_time ON seen_slack_requests (seen_at);
    """,
    """
    CREATE TABLE denied_destinations (
        prefix    TEXT PRIMARY KEY,
        reason    TEXT NOT NULL DEFAULT '',
        added_by  TEXT NOT NULL,
        added_at  TEXT NOT NULL
    );
    CREATE TABLE audit_log (
        id      BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        at      TEXT NOT NULL,
        actor   TEXT NOT NULL,
        action  TEXT NOT NULL,
        target  TEXT NOT NULL DEFAULT '',
        detail  TEXT NOT NULL DEFAULT '',
        allowed INTEGER NOT NULL
    );
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql
        AS $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
    CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
    CREATE INDEX calls_by_user_state ON calls (user_id, state);
    CREATE INDEX calls_by_team_state ON calls (team_id, state);
    CREATE INDEX calls_by_time ON calls (created_at);
    """,
    """
    CREATE TABLE slack_outbox (
        id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        call_id    TEXT NOT NULL REFERENCES calls (id),
        rank       INTEGER NOT NULL DEFAULT 1,
        kind       TEXT NOT NULL,
        body       TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX slack_outbox_by_call ON slack_outbox (call_id, rank, id);
    ALTER TABLE call_events ADD COLUMN announced INTEGER NOT NULL DEFAULT 0;
    UPDATE call_events SET announced = 1;
    CREATE INDEX call_events_unannounced ON call_events (received_at) WHERE announced = 0;
    """,
    _SQLITE[3],  # portable as it stands
    _SQLITE[4],
    _SQLITE[5],
    _SQLITE[6].replace(" REAL;", " DOUBLE PRECISION;"),  # as calls.duration_s
    _SQLITE[7],
    _SQLITE[8],
)

MIGRATIONS: Sequence[Migration] = tuple(Migration(lite, pg) for lite, pg in zip(_SQLITE, _POSTGRES, strict=True))


def apply_sqlite_migrations(db: sqlite3.Connection) -> None:
    """Inside a transaction: run the migrations `db` has not seen, noting each one's number as it goes."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
        for statement in _statements(migration.sqlite):
            db.execute(statement)
        db.execute(f"PRAGMA user_version = {number}")


def _statements(script: str) -> list[str]:
    """Split a migration into statements; a trigger's `BEGIN …; END` stays whole."""
    statements: list[str] = []
    pending = ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending.strip().removesuffix(";").strip())
            pending = ""
    return statements
