"""A call's written summary, asked for once and kept with its summary row before the summary is sent.

The summary's outbox row is written when it is sent (`replies.written_summary`); with a `Writer` (OPENAI_API_KEY
set), the worker first asks it for the lines, under the call's lease, and stores the answer, or why there is none,
in the row's body (`write_up`). A Slack write that is retried (429, 5xx, a restart, another replica taking over)
reads the row again and finds the answer there: OpenAI is asked once per call. Only a crash between the answer and
storing it asks again. A call with no transcript asks nothing. The writer bounds its own wait (OPENAI_TIMEOUT_S), so
the summary waits no longer than that; whatever goes wrong, the summary is sent, with a note instead of the lines.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol

from bot.store import OutboxRow, Store
from bot.summaries import Turn, Unavailable, WriteUpFailed

log = logging.getLogger(__name__)


class Writer(Protocol):
    """Writes a call's summary lines from its transcript (bot/summaries/openai_writer.py), or raises WriteUpFailed."""

    async def write_up(self, turns: Sequence[Turn]) -> list[str]: ...


class WriteUps:
    """Fills a summary row's `write_up` (at most once) before the summary is written and sent."""

    def __init__(self, store: Store, writer: Writer | None) -> None:
        self._store = store
        self._writer = writer

    async def ready(self, row: OutboxRow, events: list[tuple[int, str, dict[str, Any]]]) -> OutboxRow:
        """`row` with its `write_up` stored: {"lines": [...]} or {"unavailable": code, "status": …}; unchanged when
        it has one already, when no writer is set, or when the call has no transcript."""
        if self._writer is None or "write_up" in row.body:
            return row
        turns = [Turn(str(data.get("role")), str(data.get("text"))) for _, name, data in events if name == "transcript"]
        if not turns:
            return row
        write_up: dict[str, Any]
        try:
            write_up = {"lines": await self._writer.write_up(turns)}
        except WriteUpFailed as failed:
            log.warning("call %s: no written summary (%s)", row.call_id, failed)
            write_up = {"unavailable": failed.why.value, "status": failed.status}
        except Exception:  # a bug here must not cost the call its summary, which goes without the lines
            log.exception("call %s: writing the summary's lines failed unexpectedly", row.call_id)
            write_up = {"unavailable": Unavailable.FAILED.value, "status": None}
        body = {**row.body, "write_up": write_up}
        await self._store.rewrite_slack(row.id, body)
        return replace(row, body=body)
