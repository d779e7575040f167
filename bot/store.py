"""SQLite storage: every SQL statement callbot runs lives in this module.

WAL journal, one connection; each method is one transaction, run in one go on the event loop's thread.
The schema moves forward by `PRAGMA user_version`; the SQL is kept portable so PostgreSQL stays a small step.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from bot.calls.models import (
    TERMINAL_STATES,
    AuditEntry,
    Call,
    CallerId,
    CallRequest,
    CallState,
    Channel,
    DeniedDestination,
    EventOutcome,
    SlackOrigin,
    StatusEvent,
    Transition,
)
from bot.errors import StoreUnavailable

T = TypeVar("T")
log = logging.getLogger(__name__)

MIGRATIONS: Sequence[str] = (
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
)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One Slack write waiting to be delivered: `kind` is parent, update or reply; `body` its details."""

    id: int
    call_id: str
    kind: str
    body: dict[str, Any]


class Store:
    """callbot's SQLite database.

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
    async def open(cls, path: Path | str, *, checkpoint_every_s: float = 1.0) -> Store:
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

        def apply(db: sqlite3.Connection) -> None:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in _statements(script):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

        self._write(apply)
        return len(MIGRATIONS)

    async def ping(self) -> bool:
        """True while the database takes a write: raises StoreUnavailable when it cannot (a full disk, a lock held
        past the busy timeout). The write rewrites the schema version with its own value: one page, no change."""

        def probe(db: sqlite3.Connection) -> bool:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            db.execute(f"PRAGMA user_version = {version}")
            return True

        return self._write(probe)

    async def calls_by_state(self) -> dict[str, int]:
        """How many calls are in each state, for /metrics."""
        rows = self._fetch("SELECT state, COUNT(*) AS n FROM calls GROUP BY state")
        return {str(row["state"]): int(row["n"]) for row in rows}

    # -- caller IDs --------------------------------------------------------------------------------------------

    async def add_caller_id(
        self, number: str, *, label: str, channels: frozenset[Channel], added_by: str, at: datetime
    ) -> bool:
        """Add `number` to the allowlist, or update its label and channels; True if it was new."""

        def add(db: sqlite3.Connection) -> bool:
            existed = db.execute("SELECT COUNT(*) FROM caller_ids WHERE number = ?", (number,)).fetchone()[0]
            db.execute(
                "INSERT INTO caller_ids (number, label, channels, added_by, added_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (number) DO UPDATE SET label = excluded.label, channels = excluded.channels",
                (number, label, _join(channels), added_by, at.isoformat()),
            )
            return not existed

        return self._write(add)

    async def remove_caller_id(self, number: str) -> bool:
        return self._change("DELETE FROM caller_ids WHERE number = ?", number) > 0

    async def caller_id(self, number: str) -> CallerId | None:
        rows = self._fetch("SELECT * FROM caller_ids WHERE number = ?", number)
        return _caller_id(rows[0]) if rows else None

    async def caller_ids(self) -> list[CallerId]:
        return [_caller_id(row) for row in self._fetch("SELECT * FROM caller_ids ORDER BY number")]

    # -- deny list and audit log -------------------------------------------------------------------------------

    async def add_denied(self, prefix: str, *, reason: str, added_by: str, at: datetime) -> bool:
        """Deny calls to `prefix` (a whole number or its start, E.164 digits); True if it was new."""

        def add(db: sqlite3.Connection) -> bool:
            existed = db.execute("SELECT COUNT(*) FROM denied_destinations WHERE prefix = ?", (prefix,)).fetchone()[0]
            db.execute(
                "INSERT INTO denied_destinations (prefix, reason, added_by, added_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (prefix) DO UPDATE SET reason = excluded.reason",
                (prefix, reason, added_by, at.isoformat()),
            )
            return not existed

        return self._write(add)

    async def remove_denied(self, prefix: str) -> bool:
        return self._change("DELETE FROM denied_destinations WHERE prefix = ?", prefix) > 0

    async def denied_destinations(self) -> list[DeniedDestination]:
        rows = self._fetch("SELECT * FROM denied_destinations ORDER BY prefix")
        return [_denied(row) for row in rows]

    async def denial_for(self, e164: str) -> DeniedDestination | None:
        """The longest deny-list entry that `e164` starts with, if any."""
        rows = self._fetch(
            "SELECT * FROM denied_destinations WHERE SUBSTR(?, 1, LENGTH(prefix)) = prefix"
            " ORDER BY LENGTH(prefix) DESC LIMIT 1",
            e164,
        )
        return _denied(rows[0]) if rows else None

    async def audit(
        self, *, actor: str, action: str, target: str = "", detail: str = "", allowed: bool, at: datetime
    ) -> None:
        """Append one entry to the audit log (the table refuses updates and deletes)."""
        self._change(
            "INSERT INTO audit_log (at, actor, action, target, detail, allowed) VALUES (?, ?, ?, ?, ?, ?)",
            at.isoformat(), actor, action, target, detail, int(allowed),
        )  # fmt: skip

    async def audit_entries(self, *, limit: int = 100) -> list[AuditEntry]:
        """The latest `limit` entries, oldest first."""
        rows = self._fetch("SELECT * FROM (SELECT * FROM audit_log ORDER BY id DESC LIMIT ?) ORDER BY id", limit)
        return [_audit_entry(row) for row in rows]

    # -- what the call limits count ------------------------------------------------------------------------------

    async def count_calls(
        self, *, user_id: str | None = None, team_id: str | None = None, live_only: bool = False,
        since: datetime | None = None,
    ) -> int:  # fmt: skip
        """How many calls one person (or one workspace) placed: all, only those under way, or only after `since`."""
        where, params = _call_filter(user_id, team_id, live_only, since)
        return int(self._scalar(f"SELECT COUNT(*) FROM calls WHERE {where}", *params))

    async def nth_newest_call_time(
        self, n: int, *, user_id: str | None = None, team_id: str | None = None, live_only: bool = False,
        since: datetime | None = None,
    ) -> datetime | None:  # fmt: skip
        """When the n-th newest of those calls (1 = the newest) was placed; None if there are fewer than n."""
        where, params = _call_filter(user_id, team_id, live_only, since)
        value = self._scalar(
            f"SELECT created_at FROM calls WHERE {where} ORDER BY created_at DESC LIMIT 1 OFFSET ?", *params, n - 1
        )
        return datetime.fromisoformat(value) if value is not None else None

    async def live_calls(self, *, user_id: str | None = None, team_id: str | None = None) -> list[Call]:
        """Calls not yet ended, failed or canceled, of one person or one workspace, oldest first."""
        column, value = ("user_id", user_id) if user_id is not None else ("team_id", team_id)
        live = [state.value for state in CallState if state not in TERMINAL_STATES]
        marks = ", ".join("?" for _ in live)
        rows = self._fetch(
            f"SELECT * FROM calls WHERE {column} = ? AND state IN ({marks}) ORDER BY created_at", value, *live
        )
        return [_call(row) for row in rows]

    async def recent_calls(self, *, user_id: str | None = None, limit: int = 10) -> list[Call]:
        """The latest calls, newest first; one person's when `user_id` is given."""
        if user_id is None:
            rows = self._fetch("SELECT * FROM calls ORDER BY created_at DESC, rowid DESC LIMIT ?", limit)
        else:
            rows = self._fetch(
                "SELECT * FROM calls WHERE user_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ?", user_id, limit
            )
        return [_call(row) for row in rows]

    # -- calls -------------------------------------------------------------------------------------------------

    async def insert_call(self, call: Call, *, brief_token_hash: str) -> None:
        """Store a new call with the hash of its brief token; its callback token comes with the brief."""
        request, origin = call.request, call.request.origin
        self._change(
            "INSERT INTO calls (id, team_id, user_id, conversation_id, thread_ts, destination, caller_id,"
            " channel, instructions, max_duration_s, state, state_reason, token_hash, created_at, updated_at,"
            " brief_token_hash, control_secret)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?)",
            call.id, origin.team_id, origin.user_id, origin.conversation_id, origin.thread_ts,
            request.destination, request.caller_id, request.channel.value, request.instructions,
            request.max_duration_s, call.state.value, call.state_reason,
            call.created_at.isoformat(), call.updated_at.isoformat(), brief_token_hash, call.control_secret,
        )  # fmt: skip

    async def call_by_brief_token(self, brief_token_hash: str) -> Call | None:
        rows = self._fetch("SELECT * FROM calls WHERE brief_token_hash = ?", brief_token_hash)
        return _call(rows[0]) if rows else None

    async def issue_callback_token(self, call_id: str, *, token_hash: str) -> bool:
        """Give the call a new callback token (its hash), while no status event of it was stored; False after."""
        return bool(
            self._change(
                "UPDATE calls SET token_hash = ? WHERE id = ? AND last_seq = 0"
                " AND NOT EXISTS (SELECT 1 FROM call_events WHERE call_id = calls.id)",
                token_hash, call_id,
            )
        )  # fmt: skip

    async def mark_starting(
        self, call_id: str, transition: Transition, at: datetime, *, custom_data: str, pull: bool = False
    ) -> Call | None:
        """Move the call to `starting` with the custom data about to be sent (call history is searched by it), and
        how its status events come (`pull`: the bot fetches them through the session's access URL)."""
        fields = {"custom_data": custom_data, "pull": int(pull)}
        return self._write(lambda db: _move(db, call_id, transition, at, fields))

    async def live_pulled_calls(self) -> list[Call]:
        """Live calls whose status events the bot fetches, that StartScenarios confirmed (their sessions to poll)."""
        rows = self._fetch(
            "SELECT * FROM calls WHERE pull = 1 AND access_url IS NOT NULL"
            " AND state IN ('starting', 'dialing', 'ringing', 'connected')"
        )
        return [_call(row) for row in rows]

    async def call(self, call_id: str) -> Call | None:
        rows = self._fetch("SELECT * FROM calls WHERE id = ?", call_id)
        return _call(rows[0]) if rows else None

    async def token_hash(self, call_id: str) -> str | None:
        value = self._scalar("SELECT token_hash FROM calls WHERE id = ?", call_id)
        return str(value) if value is not None else None

    async def calls_in_state(self, state: CallState) -> list[Call]:
        return [_call(row) for row in self._fetch("SELECT * FROM calls WHERE state = ?", state.value)]

    async def set_slack_message(self, call_id: str, *, channel: str, ts: str) -> None:
        self._change("UPDATE calls SET slack_channel = ?, slack_ts = ? WHERE id = ?", channel, ts, call_id)

    async def set_session(self, call_id: str, *, access_url: str, plain_access_url: str, history_id: int) -> None:
        """Keep what StartScenarios answered: the session's control URLs (HTTPS, HTTP) and its call-history id."""
        self._change(
            "UPDATE calls SET access_url = ?, plain_access_url = ?, history_id = ? WHERE id = ?",
            access_url, plain_access_url, history_id, call_id,
        )  # fmt: skip

    async def first_notice(self, name: str, *, at: datetime) -> bool:
        """Note that the notice `name` was given; True only the first time since it was last cleared."""
        return bool(self._change("INSERT INTO notices (name, at) VALUES (?, ?) ON CONFLICT DO NOTHING", name,
                                 at.isoformat()))  # fmt: skip

    async def clear_notice(self, name: str) -> None:
        """What the notice `name` was about is over: the next time it happens, it is told again."""
        self._change("DELETE FROM notices WHERE name = ?", name)

    async def set_history_id(self, call_id: str, history_id: int) -> None:
        """The call-history id of a session found by its custom data (StartScenarios' answer was lost)."""
        self._change("UPDATE calls SET history_id = ? WHERE id = ? AND history_id IS NULL", history_id, call_id)

    async def move(self, call_id: str, transition: Transition, at: datetime) -> Call | None:
        """Apply `transition` unless the call is already terminal; the call as it is now, or None if unchanged."""
        return self._write(lambda db: _move(db, call_id, transition, at, {}))

    async def record_event(
        self, event: StatusEvent, *, received_at: datetime, decide: Callable[[Call, StatusEvent], Transition | None]
    ) -> EventOutcome | None:
        """Store `event` once and apply the transition `decide` picks, in one transaction; None for an unknown call.

        `decide` runs inside the transaction: it must be quick, and it cannot await.
        """

        def record(db: sqlite3.Connection) -> EventOutcome | None:
            row = db.execute("SELECT * FROM calls WHERE id = ?", (event.call_id,)).fetchone()
            if row is None:
                return None
            call = _call(row)
            inserted = db.execute(
                "INSERT INTO call_events (call_id, seq, event, at, data, received_at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (call_id, seq) DO NOTHING",
                (
                    event.call_id, event.seq, event.event, event.at.isoformat(),
                    event.data.model_dump_json(), received_at.isoformat(),
                ),
            ).rowcount  # fmt: skip
            if inserted == 0:
                return EventOutcome(call, duplicate=True, transition=None)
            db.execute("UPDATE calls SET last_seq = MAX(last_seq, ?) WHERE id = ?", (event.seq, event.call_id))
            call = replace(call, last_seq=max(call.last_seq, event.seq))
            transition = decide(call, event)
            if transition is None:
                return EventOutcome(call, duplicate=False, transition=None)
            extra: dict[str, Any] = {}
            if transition.state is CallState.CONNECTED:
                extra["connected_at"] = received_at.isoformat()
            duration = getattr(event.data, "duration_s", None)
            if duration is not None:
                extra["duration_s"] = duration
            moved = _move(db, event.call_id, transition, received_at, extra)
            return EventOutcome(moved or call, duplicate=False, transition=transition if moved else None)

        return self._write(record)

    async def events(self, call_id: str) -> list[tuple[int, str, dict[str, Any]]]:
        rows = self._fetch("SELECT seq, event, data FROM call_events WHERE call_id = ? ORDER BY seq", call_id)
        return [(row["seq"], row["event"], json.loads(row["data"])) for row in rows]

    async def transitions(self, call_id: str) -> list[tuple[str, str, str]]:
        rows = self._fetch(
            "SELECT from_state, to_state, reason FROM call_transitions WHERE call_id = ? ORDER BY rowid", call_id
        )
        return [(row["from_state"], row["to_state"], row["reason"]) for row in rows]

    async def settle(
        self, call_id: str, transition: Transition, at: datetime, *, duration_s: float | None
    ) -> Call | None:
        """Apply a terminal `transition` learnt elsewhere (call history), with the duration it reported."""
        fields: dict[str, Any] = {"duration_s": duration_s} if duration_s is not None else {}
        return self._write(lambda db: _move(db, call_id, transition, at, fields))

    async def stale_calls(self, *, quiet_since: datetime, unconfirmed: bool = False) -> list[Call]:
        """Live calls already sent to Voximplant that have heard nothing (no event, no move) since `quiet_since`.

        `unconfirmed`: instead of those with a call-history id, those StartScenarios never confirmed (none).
        """
        rows = self._fetch(
            "SELECT * FROM calls WHERE state IN ('starting', 'dialing', 'ringing', 'connected')"
            + (" AND history_id IS NULL" if unconfirmed else " AND history_id IS NOT NULL")
            + " AND COALESCE((SELECT MAX(received_at) FROM call_events WHERE call_id = calls.id), updated_at) < ?",
            quiet_since.isoformat(),
        )
        return [_call(row) for row in rows]

    async def mark_announced(self, call_id: str, seq: int) -> None:
        """The Slack writes event `seq` causes are in the outbox."""
        self._change("UPDATE call_events SET announced = 1 WHERE call_id = ? AND seq = ?", call_id, seq)

    async def is_announced(self, call_id: str, seq: int) -> bool:
        value = self._scalar("SELECT announced FROM call_events WHERE call_id = ? AND seq = ?", call_id, seq)
        return bool(value)

    async def unannounced_events(self) -> list[dict[str, Any]]:
        """Events stored whose Slack writes were never queued (the bot stopped in between), oldest first."""
        rows = self._fetch(
            "SELECT call_id, seq, event, at, data FROM call_events WHERE announced = 0 ORDER BY received_at, seq"
        )
        return [
            {"v": 1, "call_id": r["call_id"], "seq": r["seq"], "event": r["event"], "at": r["at"],
             "data": json.loads(r["data"])}
            for r in rows
        ]  # fmt: skip

    async def move_if_unheard(self, call_id: str, transition: Transition, at: datetime) -> Call | None:
        """Apply `transition` only while the call is still `starting` and no status event of it was stored."""

        def move(db: sqlite3.Connection) -> Call | None:
            heard = db.execute(
                "SELECT COUNT(*) FROM calls WHERE id = ?"
                " AND (state != 'starting' OR EXISTS (SELECT 1 FROM call_events WHERE call_id = calls.id))",
                (call_id,),
            ).fetchone()[0]
            return None if heard else _move(db, call_id, transition, at, {})

        return self._write(move)

    async def unheard_starting_calls(self, *, sent_before: datetime) -> list[Call]:
        """Calls still `starting`, sent before `sent_before`, with no call-history id and no status event."""
        rows = self._fetch(
            "SELECT * FROM calls WHERE state = 'starting' AND history_id IS NULL AND updated_at < ?"
            " AND NOT EXISTS (SELECT 1 FROM call_events WHERE call_id = calls.id)",
            sent_before.isoformat(),
        )
        return [_call(row) for row in rows]

    # -- Slack outbox: every write for a call, kept until Slack accepted it -----------------------------------

    async def enqueue_slack(self, call_id: str, kind: str, body: dict[str, Any], *, at: datetime, rank: int = 1) -> int:
        """Keep one Slack write for `call_id`; returns its id. Writes leave in (rank, id) order."""

        def enqueue(db: sqlite3.Connection) -> int:
            cursor = db.execute(
                "INSERT INTO slack_outbox (call_id, rank, kind, body, created_at) VALUES (?, ?, ?, ?, ?)",
                (call_id, rank, kind, json.dumps(body), at.isoformat()),
            )
            return int(cursor.lastrowid or 0)

        return self._write(enqueue)

    async def pending_slack(self, call_id: str, *, limit: int = 500) -> list[OutboxRow]:
        rows = self._fetch(
            "SELECT id, call_id, kind, body FROM slack_outbox WHERE call_id = ? ORDER BY rank, id LIMIT ?",
            call_id,
            limit,
        )
        return [OutboxRow(row["id"], row["call_id"], row["kind"], json.loads(row["body"])) for row in rows]

    async def calls_with_pending_slack(self) -> list[str]:
        rows = self._fetch("SELECT call_id, MIN(id) AS first FROM slack_outbox GROUP BY call_id ORDER BY first")
        return [row["call_id"] for row in rows]

    async def drop_slack(self, ids: Sequence[int]) -> None:
        """Forget writes Slack accepted (or that can never be delivered, which the caller logged)."""

        def drop(db: sqlite3.Connection) -> None:
            db.executemany("DELETE FROM slack_outbox WHERE id = ?", [(i,) for i in ids])

        self._write(drop)

    async def parent_posted(
        self, call_id: str, row_id: int | None, *, channel: str, ts: str, note: str | None, at: datetime
    ) -> None:
        """The parent message is in Slack: keep where, forget its write, and queue `note` as the first reply."""

        def posted(db: sqlite3.Connection) -> None:
            db.execute("UPDATE calls SET slack_channel = ?, slack_ts = ? WHERE id = ?", (channel, ts, call_id))
            if row_id is not None:
                db.execute("DELETE FROM slack_outbox WHERE id = ?", (row_id,))
            if note is not None:
                db.execute(
                    "INSERT INTO slack_outbox (call_id, rank, kind, body, created_at) VALUES (?, 0, 'reply', ?, ?)",
                    (call_id, json.dumps({"text": note}), at.isoformat()),
                )

        self._write(posted)

    async def slack_outbox_depth(self) -> tuple[int, datetime | None]:
        """How many Slack writes wait in the outbox, and when the oldest of them was queued (None: none wait)."""
        rows = self._fetch("SELECT COUNT(*) AS waiting, MIN(created_at) AS oldest FROM slack_outbox")
        oldest = rows[0]["oldest"]
        return int(rows[0]["waiting"]), datetime.fromisoformat(oldest) if oldest else None

    # -- Slack request replay guard ----------------------------------------------------------------------------

    async def first_sighting(self, signature: str, *, at: datetime, forget_before: datetime) -> bool:
        """Remember a signed Slack request; False if it was seen before (a replay). Forgets old ones as it goes."""

        def sight(db: sqlite3.Connection) -> bool:
            db.execute("DELETE FROM seen_slack_requests WHERE seen_at < ?", (forget_before.isoformat(),))
            cursor = db.execute(
                "INSERT INTO seen_slack_requests (signature, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (signature, at.isoformat()),
            )
            return cursor.rowcount == 1

        return self._write(sight)

    # -- internals ---------------------------------------------------------------------------------------------

    def _run(self, work: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise RuntimeError("the store is closed")
        try:
            return work(*args)
        except sqlite3.OperationalError as error:  # a full disk, a held lock, an unreadable file: not a bug of ours
            raise StoreUnavailable(self.path, str(error)) from None

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` in one write transaction."""
        return self._run(_transaction, self._db, work)

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


def _move(
    db: sqlite3.Connection, call_id: str, transition: Transition, at: datetime, fields: dict[str, Any]
) -> Call | None:
    """Inside a transaction: apply `transition` unless the call is terminal; the call as it is now, or None."""
    row = db.execute("SELECT * FROM calls WHERE id = ?", (call_id,)).fetchone()
    if row is None:
        return None
    call = _call(row)
    if not call.is_live:
        return None
    columns = {"state": transition.state.value, "state_reason": transition.reason, "updated_at": at.isoformat()}
    columns.update(fields)
    assignments = ", ".join(f"{name} = ?" for name in columns)
    moved = db.execute(f"UPDATE calls SET {assignments} WHERE id = ? RETURNING *", (*columns.values(), call_id))
    now = moved.fetchone()
    db.execute(
        "INSERT INTO call_transitions (call_id, from_state, to_state, reason, at) VALUES (?, ?, ?, ?, ?)",
        (call_id, call.state.value, transition.state.value, transition.reason, at.isoformat()),
    )
    return _call(now)


def _call_filter(
    user_id: str | None, team_id: str | None, live_only: bool, since: datetime | None
) -> tuple[str, list[object]]:
    """The WHERE clause (and its parameters) for one person's or one workspace's calls."""
    clauses, params = (["user_id = ?"], [user_id]) if user_id is not None else (["team_id = ?"], [team_id])
    if live_only:
        live = [state.value for state in CallState if state not in TERMINAL_STATES]
        clauses.append(f"state IN ({', '.join('?' for _ in live)})")
        params.extend(live)
    if since is not None:
        clauses.append("created_at > ?")
        params.append(since.isoformat())
    return " AND ".join(clauses), params


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


def _join(channels: frozenset[Channel]) -> str:
    return ",".join(sorted(channel.value for channel in channels))


def _caller_id(row: sqlite3.Row) -> CallerId:
    return CallerId(
        number=row["number"],
        label=row["label"],
        channels=frozenset(Channel(c) for c in row["channels"].split(",") if c),
        added_by=row["added_by"],
        added_at=datetime.fromisoformat(row["added_at"]),
    )


def _audit_entry(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"], at=datetime.fromisoformat(row["at"]), actor=row["actor"], action=row["action"],
        target=row["target"], detail=row["detail"], allowed=bool(row["allowed"]),
    )  # fmt: skip


def _denied(row: sqlite3.Row) -> DeniedDestination:
    return DeniedDestination(
        prefix=row["prefix"], reason=row["reason"], added_by=row["added_by"],
        added_at=datetime.fromisoformat(row["added_at"]),
    )  # fmt: skip


def _call(row: sqlite3.Row) -> Call:
    origin = SlackOrigin(
        team_id=row["team_id"],
        user_id=row["user_id"],
        conversation_id=row["conversation_id"],
        thread_ts=row["thread_ts"],
    )
    request = CallRequest(
        destination=row["destination"],
        caller_id=row["caller_id"],
        channel=Channel(row["channel"]),
        instructions=row["instructions"],
        max_duration_s=row["max_duration_s"],
        origin=origin,
    )
    return Call(
        id=row["id"],
        request=request,
        state=CallState(row["state"]),
        state_reason=row["state_reason"],
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
        slack_channel=row["slack_channel"],
        slack_ts=row["slack_ts"],
        access_url=row["access_url"],
        plain_access_url=row["plain_access_url"],
        history_id=row["history_id"],
        connected_at=datetime.fromisoformat(row["connected_at"]) if row["connected_at"] else None,
        duration_s=row["duration_s"],
        last_seq=row["last_seq"],
        control_secret=row["control_secret"],
        custom_data=row["custom_data"],
        pull=bool(row["pull"]),
    )
