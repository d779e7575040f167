"""The store's scheduled calls: one row per attempt (table `scheduled_calls`, migration 8).

An attempt moves scheduled → dialed → finished, or ends cancelled or refused; each move is one statement guarded by
the state it leaves, so two replicas (or a replayed button) cannot both make it. `claim_attempt` is the guard
against dialling twice: only the caller that moved the row to `dialed` launches it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.calls.models import AttemptState, Origin, Outcome, ScheduledAttempt, attempt_id
from bot.store.database import Base, Row, Tx

_COLUMNS = (
    "id, schedule_id, attempt, due_at, state, retries, retry_every_s, team_id, user_id, conversation_id, request,"
    " tz, slack_channel, slack_ts, call_id, moved_from, detail, created_at, updated_at"
)
_SELECT = "SELECT s.*, c.outcome AS outcome FROM scheduled_calls s LEFT JOIN calls c ON c.id = s.call_id"


def stamp(at: datetime) -> str:
    """A time as stored: UTC, always with microseconds, so that text order is time order."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


class Schedules(Base):
    """Store methods about scheduled calls; `Store` combines them with the rest."""

    async def insert_attempt(self, attempt: ScheduledAttempt) -> bool:
        """Store a new attempt; False (nothing changed) when the schedule has that attempt already."""
        return await self._write(lambda tx: _insert(tx, attempt))

    async def set_schedule_thread(self, schedule_id: str, channel: str, ts: str) -> None:
        """Where the schedule's Slack message is: every attempt's messages go into its thread."""
        await self._change(
            "UPDATE scheduled_calls SET slack_channel = ?, slack_ts = ? WHERE schedule_id = ?", channel, ts, schedule_id
        )

    async def attempt(self, schedule_id: str, number: int) -> ScheduledAttempt | None:
        row = await self._one(f"{_SELECT} WHERE s.id = ?", attempt_id(schedule_id, number))
        return _attempt(row) if row is not None else None

    async def latest_attempt(self, schedule_id: str) -> ScheduledAttempt | None:
        """The schedule's newest attempt: what it is doing now."""
        row = await self._one(f"{_SELECT} WHERE s.schedule_id = ? ORDER BY s.attempt DESC LIMIT 1", schedule_id)
        return _attempt(row) if row is not None else None

    async def attempt_of_call(self, call_id: str) -> ScheduledAttempt | None:
        row = await self._one(f"{_SELECT} WHERE s.call_id = ?", call_id)
        return _attempt(row) if row is not None else None

    async def due_attempts(self, now: datetime, *, limit: int = 50) -> list[ScheduledAttempt]:
        """Attempts still scheduled whose time has come, the earliest first."""
        rows = await self._fetch(
            f"{_SELECT} WHERE s.state = ? AND s.due_at <= ? ORDER BY s.due_at LIMIT ?",
            AttemptState.SCHEDULED.value, stamp(now), limit,
        )  # fmt: skip
        return [_attempt(row) for row in rows]

    async def pending_attempts(self, *, user_id: str | None = None, limit: int = 20) -> list[ScheduledAttempt]:
        """Attempts waiting for their time (one person's, or everyone's), the soonest first."""
        mine = " AND s.user_id = ?" if user_id is not None else ""
        params: list[object] = [AttemptState.SCHEDULED.value, *([user_id] if user_id is not None else []), limit]
        rows = await self._fetch(f"{_SELECT} WHERE s.state = ?{mine} ORDER BY s.due_at LIMIT ?", *params)
        return [_attempt(row) for row in rows]

    async def claim_attempt(self, attempt: ScheduledAttempt, now: datetime) -> bool:
        """Move a scheduled attempt to `dialed`; True for exactly one caller, the one that may launch it."""
        return await self._move(attempt.id, AttemptState.SCHEDULED, AttemptState.DIALED, now) == 1

    async def attach_call(self, attempt: ScheduledAttempt, call_id: str) -> None:
        await self._change("UPDATE scheduled_calls SET call_id = ? WHERE id = ?", call_id, attempt.id)

    async def refuse_attempt(self, attempt: ScheduledAttempt, detail: str, now: datetime) -> bool:
        """A claimed attempt that vetting refused at its time: `refused`, with why."""
        return await self._move(attempt.id, AttemptState.DIALED, AttemptState.REFUSED, now, detail=detail) == 1

    async def move_attempt(self, attempt: ScheduledAttempt, due_at: datetime, now: datetime) -> bool:
        """A scheduled attempt calling hours move to `due_at`; the time first asked for is kept."""
        changed = await self._change(
            "UPDATE scheduled_calls SET due_at = ?, moved_from = COALESCE(moved_from, ?), updated_at = ?"
            " WHERE id = ? AND state = ?",
            stamp(due_at), stamp(attempt.due_at), stamp(now), attempt.id, AttemptState.SCHEDULED.value,
        )  # fmt: skip
        return changed == 1

    async def ended_attempts(self, *, limit: int = 50) -> list[ScheduledAttempt]:
        """Dialled attempts whose call has ended (it has an outcome): whether to retry is still to decide."""
        rows = await self._fetch(
            f"{_SELECT} WHERE s.state = ? AND c.outcome IS NOT NULL ORDER BY s.updated_at LIMIT ?",
            AttemptState.DIALED.value, limit,
        )  # fmt: skip
        return [_attempt(row) for row in rows]

    async def stranded_attempts(self, before: datetime) -> list[ScheduledAttempt]:
        """Attempts claimed before `before` that never got their call: the bot stopped between claim and launch."""
        rows = await self._fetch(
            f"{_SELECT} WHERE s.state = ? AND s.call_id IS NULL AND s.updated_at < ? ORDER BY s.updated_at",
            AttemptState.DIALED.value, stamp(before),
        )  # fmt: skip
        return [_attempt(row) for row in rows]

    async def finish_attempt(self, attempt: ScheduledAttempt, now: datetime, retry: ScheduledAttempt | None) -> bool:
        """Close a dialled attempt and, in the same transaction, store the retry that follows it (if any). False
        when another caller closed it first (then nothing changed)."""

        async def work(tx: Tx) -> bool:
            closed = await tx.execute(
                "UPDATE scheduled_calls SET state = ?, updated_at = ? WHERE id = ? AND state = ?",
                AttemptState.FINISHED.value, stamp(now), attempt.id, AttemptState.DIALED.value,
            )  # fmt: skip
            if closed != 1:
                return False
            if retry is not None:
                await _insert(tx, retry)
            return True

        return await self._write(work)

    async def cancel_schedule(self, schedule_id: str, by: str, now: datetime) -> bool:
        """Cancel the schedule's waiting attempt; False when none was waiting (dialled, over, or cancelled)."""
        changed = await self._change(
            "UPDATE scheduled_calls SET state = ?, detail = ?, updated_at = ? WHERE schedule_id = ? AND state = ?",
            AttemptState.CANCELLED.value, by, stamp(now), schedule_id, AttemptState.SCHEDULED.value,
        )  # fmt: skip
        return changed >= 1

    async def stop_retries(self, schedule_id: str, now: datetime) -> bool:
        """No retry follows the attempt being dialled now (a Cancel pressed too late to stop it)."""
        changed = await self._change(
            "UPDATE scheduled_calls SET retries = attempt - 1, updated_at = ? WHERE schedule_id = ? AND state = ?"
            " AND retries >= attempt",
            stamp(now), schedule_id, AttemptState.DIALED.value,
        )  # fmt: skip
        return changed >= 1

    async def _move(
        self, row_id: str, before: AttemptState, after: AttemptState, now: datetime, *, detail: str | None = None
    ) -> int:
        if detail is None:
            return await self._change(
                "UPDATE scheduled_calls SET state = ?, updated_at = ? WHERE id = ? AND state = ?",
                after.value, stamp(now), row_id, before.value,
            )  # fmt: skip
        return await self._change(
            "UPDATE scheduled_calls SET state = ?, detail = ?, updated_at = ? WHERE id = ? AND state = ?",
            after.value, detail, stamp(now), row_id, before.value,
        )  # fmt: skip


async def _insert(tx: Tx, attempt: ScheduledAttempt) -> bool:
    origin = attempt.origin
    changed = await tx.execute(
        f"INSERT INTO scheduled_calls ({_COLUMNS}) VALUES ({', '.join('?' * 19)}) ON CONFLICT DO NOTHING",
        attempt.id, attempt.schedule_id, attempt.attempt, stamp(attempt.due_at), attempt.state.value,
        attempt.retries, attempt.retry_every_s, origin.team_id, origin.user_id, origin.conversation_id,
        attempt.request, attempt.tz, attempt.slack_channel, attempt.slack_ts, attempt.call_id,
        stamp(attempt.moved_from) if attempt.moved_from else None, attempt.detail, stamp(attempt.created_at),
        stamp(attempt.updated_at),
    )  # fmt: skip
    return changed == 1


def _attempt(row: Row) -> ScheduledAttempt:
    return ScheduledAttempt(
        schedule_id=row["schedule_id"],
        attempt=int(row["attempt"]),
        due_at=datetime.fromisoformat(row["due_at"]),
        state=AttemptState(row["state"]),
        retries=int(row["retries"]),
        retry_every_s=int(row["retry_every_s"]),
        origin=Origin(team_id=row["team_id"], user_id=row["user_id"], conversation_id=row["conversation_id"]),
        request=row["request"],
        tz=row["tz"],
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
        slack_channel=row["slack_channel"],
        slack_ts=row["slack_ts"],
        call_id=row["call_id"],
        moved_from=datetime.fromisoformat(row["moved_from"]) if row["moved_from"] else None,
        detail=row["detail"],
        outcome=Outcome(row["outcome"]) if row["outcome"] else None,
    )
