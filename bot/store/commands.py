"""Slash commands a web replica answered at once and left to a worker (`--role web`, issue 14).

A row lives from the web replica's answer until a worker is done with it: milliseconds when a worker listens,
longer when none is running. It keeps the command's form fields but never its response_url (which can post as the
bot for 30 minutes) nor Slack's legacy verification token: the response_url travels in the NOTIFY that tells the
workers of the row, and a worker that finds the row on its own answers the person another way.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from bot.store.database import NOTIFY_CHANNEL
from bot.store.errors import StoreUnavailable
from bot.store.guard_rails import GuardRails

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SlashCommand:
    """A slash command waiting for a worker: its form `fields` as Slack sent them (less the response_url), when the
    web replica received it, and `takes`: how many workers took it, this one included (more than 1 when a worker
    died with it)."""

    id: str
    fields: dict[str, str]
    received_at: datetime
    takes: int


class Commands(GuardRails):
    """Store methods about slash commands waiting for a worker; `Store` combines them with the rest."""

    async def queue_command(
        self, command_id: str, fields: dict[str, str], *, signature: str, at: datetime, forget_before: datetime,
        notify: str,
    ) -> bool:  # fmt: skip
        """Keep a signed slash command for the workers and tell them `notify`, unless its signature was seen since
        `forget_before` (a replay: nothing is kept, False). The replay guard is `first_sighting`'s, and on
        PostgreSQL the whole of it is one statement: the web replica's only round trip before its answer."""
        kept = json.dumps(fields)
        if self._db.dialect == "postgresql":
            told = await self._db.single(lambda tx: tx.fetch(
                "WITH seen AS (INSERT INTO seen_slack_requests (signature, seen_at) VALUES (?, ?)"
                " ON CONFLICT (signature) DO UPDATE SET seen_at = excluded.seen_at"
                " WHERE seen_slack_requests.seen_at < ? RETURNING 1),"
                " queued AS (INSERT INTO slack_commands (id, fields, received_at)"
                " SELECT ?, ?, ? FROM seen RETURNING id)"
                " SELECT pg_notify(?, ?) FROM queued",
                signature, at.isoformat(), forget_before.isoformat(), command_id, kept, at.isoformat(),
                NOTIFY_CHANNEL, notify,
            ))  # fmt: skip
            queued = len(told) == 1
        else:  # nobody listens on SQLite: the web role needs PostgreSQL, this serves the store's contract tests
            queued = await self.first_sighting(signature, at=at, forget_before=forget_before)
            if queued:
                await self._change(
                    "INSERT INTO slack_commands (id, fields, received_at) VALUES (?, ?, ?)", command_id, kept,
                    at.isoformat(),
                )  # fmt: skip
            return queued
        try:  # the command is kept and the workers told: the answer must not say otherwise
            await self._forget_sightings(at=at, before=forget_before)
        except StoreUnavailable as error:
            log.warning("could not forget old Slack signatures (next minute, again): %s", error.reason)
        return queued

    async def take_command(self, command_id: str, *, at: datetime, stale_before: datetime) -> SlashCommand | None:
        """Take the command for this worker: None when it is gone (done) or another worker took it since
        `stale_before` (a worker that took it earlier and is still at it is taken to have died)."""
        row = await self._db.single(lambda tx: tx.one(
            "UPDATE slack_commands SET taken_at = ?, takes = takes + 1"
            " WHERE id = ? AND (taken_at IS NULL OR taken_at < ?) RETURNING id, fields, received_at, takes",
            at.isoformat(), command_id, stale_before.isoformat(),
        ))  # fmt: skip
        if row is None:
            return None
        return SlashCommand(row["id"], json.loads(row["fields"]), datetime.fromisoformat(row["received_at"]),
                            row["takes"])  # fmt: skip

    async def claim_command(self, command_id: str, *, at: datetime, takes: int) -> bool:
        """Claim again, at `at`, the command this worker took (its `takes`-th taking); False when another worker
        took it over since, or it is gone."""
        changed = await self._change(
            "UPDATE slack_commands SET taken_at = ? WHERE id = ? AND takes = ?", at.isoformat(), command_id, takes
        )
        return changed == 1

    async def commands_waiting(
        self, *, received_before: datetime, stale_before: datetime, limit: int = 50
    ) -> list[str]:
        """Commands no worker took since `received_before` (its NOTIFY was missed), or whose worker took them
        before `stale_before` and is still not done; oldest first."""
        rows = await self._fetch(
            "SELECT id FROM slack_commands WHERE (taken_at IS NULL AND received_at < ?) OR taken_at < ?"
            " ORDER BY received_at LIMIT ?",
            received_before.isoformat(), stale_before.isoformat(), limit,
        )  # fmt: skip
        return [row["id"] for row in rows]

    async def drop_command(self, command_id: str) -> None:
        """The command was answered (or can never be): forget it."""
        await self._change("DELETE FROM slack_commands WHERE id = ?", command_id)
