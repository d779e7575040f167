"""The store's guard rails: caller IDs, the deny list, the audit log, what the call limits count, notices given
once, and the replay guard for signed Slack requests."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.calls.models import LIVE_STATES, AuditEntry, CallerId, Channel, DeniedDestination
from bot.store.calls import state_in
from bot.store.database import Base, Row, Tx

PRUNE_SIGHTINGS_EVERY = timedelta(minutes=1)


class GuardRails(Base):
    """Store methods that the guard rails read and write; `Store` combines them with the rest."""

    _sightings_pruned_at: datetime | None = None  # when first_sighting last deleted the signatures it forgot

    # -- caller IDs --------------------------------------------------------------------------------------------

    async def add_caller_id(
        self, number: str, *, label: str, channels: frozenset[Channel], added_by: str, at: datetime
    ) -> bool:
        """Add `number` to the allowlist, or update its label and channels; True if it was new."""

        async def add(tx: Tx) -> bool:
            existed = await tx.scalar("SELECT COUNT(*) FROM caller_ids WHERE number = ?", number)
            await tx.execute(
                "INSERT INTO caller_ids (number, label, channels, added_by, added_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (number) DO UPDATE SET label = excluded.label, channels = excluded.channels",
                number,
                label,
                _join(channels),
                added_by,
                at.isoformat(),
            )
            return not existed

        return await self._write(add)

    async def remove_caller_id(self, number: str) -> bool:
        return await self._change("DELETE FROM caller_ids WHERE number = ?", number) > 0

    async def caller_id(self, number: str) -> CallerId | None:
        rows = await self._fetch("SELECT * FROM caller_ids WHERE number = ?", number)
        return _caller_id(rows[0]) if rows else None

    async def caller_ids(self) -> list[CallerId]:
        return [_caller_id(row) for row in await self._fetch("SELECT * FROM caller_ids ORDER BY number")]

    # -- deny list and audit log -------------------------------------------------------------------------------

    async def add_denied(self, prefix: str, *, reason: str, added_by: str, at: datetime) -> bool:
        """Deny calls to `prefix` (a whole number or its start, E.164 digits); True if it was new."""

        async def add(tx: Tx) -> bool:
            existed = await tx.scalar("SELECT COUNT(*) FROM denied_destinations WHERE prefix = ?", prefix)
            await tx.execute(
                "INSERT INTO denied_destinations (prefix, reason, added_by, added_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (prefix) DO UPDATE SET reason = excluded.reason",
                prefix,
                reason,
                added_by,
                at.isoformat(),
            )
            return not existed

        return await self._write(add)

    async def remove_denied(self, prefix: str) -> bool:
        return await self._change("DELETE FROM denied_destinations WHERE prefix = ?", prefix) > 0

    async def denied_destinations(self) -> list[DeniedDestination]:
        rows = await self._fetch("SELECT * FROM denied_destinations ORDER BY prefix")
        return [_denied(row) for row in rows]

    async def denial_for(self, e164: str) -> DeniedDestination | None:
        """The longest deny-list entry that `e164` starts with, if any."""
        rows = await self._fetch(
            "SELECT * FROM denied_destinations WHERE SUBSTR(?, 1, LENGTH(prefix)) = prefix"
            " ORDER BY LENGTH(prefix) DESC LIMIT 1",
            e164,
        )
        return _denied(rows[0]) if rows else None

    async def audit(
        self, *, actor: str, action: str, target: str = "", detail: str = "", allowed: bool, at: datetime
    ) -> None:
        """Append one entry to the audit log (the table refuses updates and deletes)."""
        await self._change(
            "INSERT INTO audit_log (at, actor, action, target, detail, allowed) VALUES (?, ?, ?, ?, ?, ?)",
            at.isoformat(), actor, action, target, detail, int(allowed),
        )  # fmt: skip

    async def audit_entries(self, *, limit: int = 100) -> list[AuditEntry]:
        """The latest `limit` entries, oldest first."""
        rows = await self._fetch(
            "SELECT * FROM (SELECT * FROM audit_log ORDER BY id DESC LIMIT ?) AS latest ORDER BY id", limit
        )
        return [_audit_entry(row) for row in rows]

    # -- what the call limits count ------------------------------------------------------------------------------

    async def count_calls(
        self, *, user_id: str | None = None, team_id: str | None = None, live_only: bool = False,
        since: datetime | None = None,
    ) -> int:  # fmt: skip
        """How many calls one person (or one workspace) placed: all, only those under way, or only after `since`."""
        where, params = _call_filter(user_id, team_id, live_only, since)
        return int(await self._scalar(f"SELECT COUNT(*) FROM calls WHERE {where}", *params))

    async def nth_newest_call_time(
        self, n: int, *, user_id: str | None = None, team_id: str | None = None, live_only: bool = False,
        since: datetime | None = None,
    ) -> datetime | None:  # fmt: skip
        """When the n-th newest of those calls (1 = the newest) was placed; None if there are fewer than n."""
        where, params = _call_filter(user_id, team_id, live_only, since)
        value = await self._scalar(
            f"SELECT created_at FROM calls WHERE {where} ORDER BY created_at DESC LIMIT 1 OFFSET ?", *params, n - 1
        )
        return datetime.fromisoformat(value) if value is not None else None

    # -- what the spending caps count -----------------------------------------------------------------------------

    async def spend_since(
        self, since: datetime, *, user_id: str | None = None, team_id: str | None = None
    ) -> tuple[float, int]:
        """What one person's (or one workspace's) calls placed at or after `since` cost, and how many there were."""
        where, params = _call_filter(user_id, team_id, False, None)
        row = await self._one(
            f"SELECT COALESCE(SUM(cost), 0) AS spent, COUNT(*) AS n FROM calls WHERE {where} AND created_at >= ?",
            *params, since.isoformat(),
        )  # fmt: skip
        return (float(row["spent"]), int(row["n"])) if row is not None else (0.0, 0)

    async def spenders(self, team_id: str, *, since: datetime, limit: int) -> list[tuple[str, float, int]]:
        """The people of a workspace whose calls placed since `since` cost most: (user, cost, calls), most first."""
        rows = await self._fetch(
            "SELECT user_id, COALESCE(SUM(cost), 0) AS spent, COUNT(*) AS n FROM calls"
            " WHERE team_id = ? AND created_at >= ? GROUP BY user_id ORDER BY spent DESC, user_id LIMIT ?",
            team_id, since.isoformat(), limit,
        )  # fmt: skip
        return [(str(row["user_id"]), float(row["spent"]), int(row["n"])) for row in rows]

    # -- notices told once, and the Slack request replay guard -------------------------------------------------

    async def first_notice(self, name: str, *, at: datetime) -> bool:
        """Note that the notice `name` was given; True only the first time since it was last cleared."""
        return bool(await self._change("INSERT INTO notices (name, at) VALUES (?, ?) ON CONFLICT DO NOTHING", name,
                                 at.isoformat()))  # fmt: skip

    async def clear_notice(self, name: str) -> None:
        """What the notice `name` was about is over: the next time it happens, it is told again."""
        await self._change("DELETE FROM notices WHERE name = ?", name)

    async def first_sighting(self, signature: str, *, at: datetime, forget_before: datetime) -> bool:
        """Remember a signed Slack request; False if it was seen since `forget_before` (a replay).

        One statement, in autocommit: a signature seen before `forget_before` counts as new (its row is renewed).
        Rows that old are deleted at most once every PRUNE_SIGHTINGS_EVERY, not on every request, which on PostgreSQL
        cost three more round trips before each acknowledgement.
        """
        inserted = await self._change(
            "INSERT INTO seen_slack_requests (signature, seen_at) VALUES (?, ?) ON CONFLICT (signature)"
            " DO UPDATE SET seen_at = excluded.seen_at WHERE seen_slack_requests.seen_at < ?",
            signature, at.isoformat(), forget_before.isoformat(),
        )  # fmt: skip
        await self._forget_sightings(at=at, before=forget_before)
        return inserted == 1

    async def _forget_sightings(self, *, at: datetime, before: datetime) -> None:
        """Delete the signatures seen before `before`, at most once every PRUNE_SIGHTINGS_EVERY."""
        if self._sightings_pruned_at is None or at - self._sightings_pruned_at >= PRUNE_SIGHTINGS_EVERY:
            self._sightings_pruned_at = at
            await self._change("DELETE FROM seen_slack_requests WHERE seen_at < ?", before.isoformat())


def _call_filter(
    user_id: str | None, team_id: str | None, live_only: bool, since: datetime | None
) -> tuple[str, list[object]]:
    """The WHERE clause (and its parameters) for one person's or one workspace's calls."""
    clauses = ["user_id = ?" if user_id is not None else "team_id = ?"]
    params: list[object] = [user_id if user_id is not None else team_id]
    if live_only:
        live, states = state_in(LIVE_STATES)
        clauses.append(live)
        params.extend(states)
    if since is not None:
        clauses.append("created_at > ?")
        params.append(since.isoformat())
    return " AND ".join(clauses), params


def _join(channels: frozenset[Channel]) -> str:
    return ",".join(sorted(channel.value for channel in channels))


def _caller_id(row: Row) -> CallerId:
    return CallerId(
        number=row["number"],
        label=row["label"],
        channels=frozenset(Channel(c) for c in row["channels"].split(",") if c),
        added_by=row["added_by"],
        added_at=datetime.fromisoformat(row["added_at"]),
    )


def _audit_entry(row: Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"], at=datetime.fromisoformat(row["at"]), actor=row["actor"], action=row["action"],
        target=row["target"], detail=row["detail"], allowed=bool(row["allowed"]),
    )  # fmt: skip


def _denied(row: Row) -> DeniedDestination:
    return DeniedDestination(
        prefix=row["prefix"], reason=row["reason"], added_by=row["added_by"],
        added_at=datetime.fromisoformat(row["added_at"]),
    )  # fmt: skip
