"""The store's calls: storing one, finding it again, and moving it from state to state."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.calls.models import (
    LIVE_STATES,
    STATUS_EVENTS,
    TERMINAL_STATES,
    AnsweredEvent,
    AtVoicemail,
    Call,
    CallRequest,
    CallState,
    Channel,
    Evidence,
    Judge,
    Origin,
    Outcome,
    Transition,
    VoicemailEvent,
)
from bot.store.database import Base, Row, Tx

_END_OF_TIME = datetime.max.replace(tzinfo=UTC)
# Live calls that StartScenarios was asked to start: every live state but `requested`.
_SENT_TO_VOXIMPLANT = LIVE_STATES - {CallState.REQUESTED}


class Calls(Base):
    """Store methods about calls themselves; `Store` combines them with the rest."""

    async def calls_by_state(self) -> dict[str, int]:
        """How many calls are in each state, for /metrics."""
        rows = await self._fetch("SELECT state, COUNT(*) AS n FROM calls GROUP BY state")
        return {str(row["state"]): int(row["n"]) for row in rows}

    async def calls_by_outcome(self) -> dict[str, int]:
        """How many calls ended in each outcome, for /metrics (one scan of the outcome index)."""
        rows = await self._fetch("SELECT outcome, COUNT(*) AS n FROM calls WHERE outcome IS NOT NULL GROUP BY outcome")
        return {str(row["outcome"]): int(row["n"]) for row in rows}

    async def live_calls(self, *, user_id: str | None = None, team_id: str | None = None) -> list[Call]:
        """Calls not yet ended, failed or canceled, of one person or one workspace, oldest first."""
        column, value = ("user_id", user_id) if user_id is not None else ("team_id", team_id)
        live, states = state_in(LIVE_STATES)
        rows = await self._fetch(
            f"SELECT * FROM calls WHERE {column} = ? AND {live} ORDER BY created_at", value, *states
        )
        return [call_from_row(row) for row in rows]

    async def recent_calls(self, *, user_id: str | None = None, limit: int = 10) -> list[Call]:
        """The latest calls, newest first; one person's when `user_id` is given."""
        if user_id is None:
            rows = await self._fetch("SELECT * FROM calls ORDER BY created_at DESC, rowid DESC LIMIT ?", limit)
        else:
            rows = await self._fetch(
                "SELECT * FROM calls WHERE user_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ?", user_id, limit
            )
        return [call_from_row(row) for row in rows]

    async def insert_call(self, call: Call, *, brief_token_hash: str | None = None) -> None:
        """Store a new call (with the hash of its brief token, or none until its launch gives it one)."""
        request, origin = call.request, call.request.origin
        await self._change(
            "INSERT INTO calls (id, team_id, user_id, conversation_id, thread_ts, destination, caller_id,"
            " channel, instructions, max_duration_s, state, state_reason, token_hash, created_at, updated_at,"
            " brief_token_hash, control_secret, voicemail, record, requester_name)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?)",
            call.id, origin.team_id, origin.user_id, origin.conversation_id, origin.thread_ts,
            request.destination, request.caller_id, request.channel.value, request.instructions,
            request.max_duration_s, call.state.value, call.state_reason,
            call.created_at.isoformat(), call.updated_at.isoformat(), brief_token_hash, call.control_secret,
            request.voicemail.value, int(request.record), request.requester_name,
        )  # fmt: skip

    async def call_by_brief_token(self, brief_token_hash: str) -> Call | None:
        rows = await self._fetch("SELECT * FROM calls WHERE brief_token_hash = ?", brief_token_hash)
        return call_from_row(rows[0]) if rows else None

    async def issue_callback_token(self, call_id: str, *, token_hash: str) -> bool:
        """Give the call a new callback token (its hash), while no status event of it was stored; False after."""
        return bool(
            await self._change(
                "UPDATE calls SET token_hash = ? WHERE id = ? AND last_seq = 0"
                " AND NOT EXISTS (SELECT 1 FROM call_events WHERE call_id = calls.id)",
                token_hash, call_id,
            )
        )  # fmt: skip

    async def mark_starting(
        self, call_id: str, transition: Transition, at: datetime, *, custom_data: str, pull: bool = False,
        brief_token_hash: str | None = None,
    ) -> Call | None:  # fmt: skip
        """Move the call to `starting` with the custom data about to be sent (call history is searched by it), how
        its status events come (`pull`: the bot fetches them through the session's access URL), and the hash of the
        brief token in that custom data."""
        fields: dict[str, Any] = {"custom_data": custom_data, "pull": int(pull)}
        if brief_token_hash is not None:
            fields["brief_token_hash"] = brief_token_hash
        return await self._write(lambda tx: move_call(tx, call_id, transition, at, fields))

    async def live_pulled_calls(self) -> list[Call]:
        """Live calls whose status events the bot fetches, that StartScenarios confirmed (their sessions to poll)."""
        sent, states = state_in(_SENT_TO_VOXIMPLANT)
        rows = await self._fetch(f"SELECT * FROM calls WHERE pull = 1 AND access_url IS NOT NULL AND {sent}", *states)
        return [call_from_row(row) for row in rows]

    async def call(self, call_id: str) -> Call | None:
        rows = await self._fetch("SELECT * FROM calls WHERE id = ?", call_id)
        return call_from_row(rows[0]) if rows else None

    async def token_hash(self, call_id: str) -> str | None:
        value = await self._scalar("SELECT token_hash FROM calls WHERE id = ?", call_id)
        return str(value) if value is not None else None

    async def calls_in_state(
        self, state: CallState, *, created_before: datetime | None = None, created_after: datetime | None = None
    ) -> list[Call]:
        """The calls in `state`, oldest first; only those created in the bounds given.

        The query names only the bounds given, and sorts nothing: either would lead SQLite to walk the time index
        over every call instead of the state index over the few in `state` (a thousand times slower with 100,000
        calls, bench section 4); the few found are sorted here.
        """
        where, params = ["state = ?"], [state.value]
        if created_before is not None:
            where.append("created_at < ?")
            params.append(created_before.isoformat())
        if created_after is not None:
            where.append("created_at > ?")
            params.append(created_after.isoformat())
        rows = await self._fetch(f"SELECT * FROM calls WHERE {' AND '.join(where)}", *params)
        return sorted((call_from_row(row) for row in rows), key=lambda call: call.created_at)

    async def set_slack_message(self, call_id: str, *, channel: str, ts: str) -> None:
        await self._change("UPDATE calls SET slack_channel = ?, slack_ts = ? WHERE id = ?", channel, ts, call_id)

    async def set_session(self, call_id: str, *, access_url: str, plain_access_url: str, history_id: int) -> None:
        """Keep what StartScenarios answered: the session's control URLs (HTTPS, HTTP) and its call-history id."""
        await self._change(
            "UPDATE calls SET access_url = ?, plain_access_url = ?, history_id = ? WHERE id = ?",
            access_url, plain_access_url, history_id, call_id,
        )  # fmt: skip

    async def set_history_id(self, call_id: str, history_id: int) -> None:
        """The call-history id of a session found by its custom data (StartScenarios' answer was lost)."""
        await self._change("UPDATE calls SET history_id = ? WHERE id = ? AND history_id IS NULL", history_id, call_id)

    async def move(self, call_id: str, transition: Transition, at: datetime, *, judge: Judge) -> Call | None:
        """Apply `transition` unless the call is already terminal; the call as it is now, or None if unchanged.
        A terminal move stores the outcome `judge` names, in the same transaction."""
        return await self._write(lambda tx: move_call(tx, call_id, transition, at, {}, judge=judge))

    async def settle(
        self, call_id: str, transition: Transition, at: datetime, *, duration_s: float | None, judge: Judge,
        cost: float | None = None,
    ) -> Call | None:  # fmt: skip
        """Apply a terminal `transition` learnt elsewhere (call history), with the duration and cost it reported."""
        fields: dict[str, Any] = {"duration_s": duration_s} if duration_s is not None else {}
        if cost is not None:
            fields["cost"] = cost
        return await self._write(lambda tx: move_call(tx, call_id, transition, at, fields, judge=judge))

    async def stale_calls(self, *, quiet_since: datetime, unconfirmed: bool = False) -> list[Call]:
        """Live calls already sent to Voximplant that have heard nothing (no event, no move) since `quiet_since`.

        `unconfirmed`: instead of those with a call-history id, those StartScenarios never confirmed (none).
        """
        sent, states = state_in(_SENT_TO_VOXIMPLANT)
        rows = await self._fetch(
            f"SELECT * FROM calls WHERE {sent}"
            + (" AND history_id IS NULL" if unconfirmed else " AND history_id IS NOT NULL")
            + " AND COALESCE((SELECT MAX(received_at) FROM call_events WHERE call_id = calls.id), updated_at) < ?",
            *states,
            quiet_since.isoformat(),
        )
        return [call_from_row(row) for row in rows]

    async def move_if_unheard(self, call_id: str, transition: Transition, at: datetime, *, judge: Judge) -> Call | None:
        """Apply `transition` only while the call is still `starting` and no status event of it was stored."""

        async def move(tx: Tx) -> Call | None:
            call = await tx.one("SELECT state FROM calls WHERE id = ?" + tx.lock_row, call_id)
            heard = await tx.scalar("SELECT COUNT(*) FROM call_events WHERE call_id = ?", call_id)
            if call is None or call["state"] != CallState.STARTING.value or heard:
                return None
            return await move_call(tx, call_id, transition, at, {}, judge=judge)

        return await self._write(move)

    async def unheard_starting_calls(self, *, sent_before: datetime) -> list[Call]:
        """Calls still `starting`, sent before `sent_before`, with no call-history id and no status event."""
        rows = await self._fetch(
            "SELECT * FROM calls WHERE state = 'starting' AND history_id IS NULL AND updated_at < ?"
            " AND NOT EXISTS (SELECT 1 FROM call_events WHERE call_id = calls.id)",
            sent_before.isoformat(),
        )
        return [call_from_row(row) for row in rows]


async def move_call(
    tx: Tx, call_id: str, transition: Transition, at: datetime, fields: dict[str, Any], *,
    judge: Judge | None = None, read: Call | None = None,
) -> Call | None:  # fmt: skip
    """Inside a transaction: apply `transition` unless the call is terminal; the call as it is now, or None.

    A terminal move also stores the call's outcome, as `judge` names it from the call's evidence stored by now (a move
    to a live state needs no judge).
    `read`: the call as this transaction already read it, its row locked (it is not read again).
    """
    call = read
    if call is None:
        row = await tx.one("SELECT * FROM calls WHERE id = ?" + tx.lock_row, call_id)
        if row is None:
            return None
        call = call_from_row(row)
    # A terminal call never moves again: the rule is the domain's (Call.is_live, from TERMINAL_STATES), applied here
    # inside the transaction so that no other move can slip in between the check and the change.
    if not call.is_live:
        return None
    columns = {"state": transition.state.value, "state_reason": transition.reason, "updated_at": at.isoformat()}
    columns.update(fields)
    if transition.state in TERMINAL_STATES:
        if judge is None:
            raise ValueError("a terminal move needs the domain's judge to name the call's outcome")
        columns["outcome"] = judge(call, transition, await evidence(tx, call_id)).value
    assignments = ", ".join(f"{name} = ?" for name in columns)
    now = await tx.one(f"UPDATE calls SET {assignments} WHERE id = ? RETURNING *", *columns.values(), call_id)
    await tx.execute(
        "INSERT INTO call_transitions (call_id, from_state, to_state, reason, at) VALUES (?, ?, ?, ?, ?)",
        call_id, call.state.value, transition.state.value, transition.reason, at.isoformat(),
    )  # fmt: skip
    assert now is not None  # the row was read, and locked, above
    return call_from_row(now)


async def evidence(tx: Tx, call_id: str) -> list[Evidence]:
    """Inside a transaction: the call's `answered` and `voicemail` events stored so far, in their order."""
    rows = await tx.fetch(
        "SELECT seq, event, at, data FROM call_events WHERE call_id = ? AND event IN ('answered', 'voicemail')"
        " ORDER BY seq",
        call_id,
    )
    found: list[Evidence] = []
    for row in rows:
        event = STATUS_EVENTS.validate_python(
            {"v": 1, "call_id": call_id, "seq": row["seq"], "event": row["event"], "at": row["at"],
             "data": json.loads(row["data"])}
        )  # fmt: skip
        if isinstance(event, AnsweredEvent | VoicemailEvent):
            found.append(event)
    return found


def state_in(states: frozenset[CallState]) -> tuple[str, list[str]]:
    """`state IN (?, ...)` for a set of the domain's states, and its parameters."""
    values = sorted(state.value for state in states)
    return f"state IN ({', '.join('?' for _ in values)})", values


def call_from_row(row: Row) -> Call:
    origin = Origin(
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
        voicemail=AtVoicemail(row["voicemail"]),
        record=bool(row["record"]),
        requester_name=row["requester_name"],
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
        outcome=Outcome(row["outcome"]) if row["outcome"] else None,
        cost=row["cost"],
    )
