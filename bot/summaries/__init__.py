"""A written summary of a call (2 to 4 lines from its transcript), asked of OpenAI when OPENAI_API_KEY is set.

This package knows nothing of Slack or the store: it takes the transcript's turns and returns plain lines, or
raises `WriteUpFailed` with a code saying why (the words people read are in bot/slack/texts/write_ups.py). The
vendor's client is loaded only by `bot/summaries/openai_writer.py`, which `bot/build.py` imports when the key is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.calls.models import CallbotError

__all__ = ["Turn", "Unavailable", "WriteUpFailed"]


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of the transcript, as the scenario reported it."""

    role: str  # "agent" or "callee"
    text: str


class Unavailable(StrEnum):
    """Why a call has no written summary (stored with the summary's outbox row, so a retried write says the same)."""

    TIMEOUT = "timeout"  # no answer within OPENAI_TIMEOUT_S, retries included
    KEY_REFUSED = "key_refused"  # 401: the key is wrong, revoked, or lacks the permission
    RATE_LIMITED = "rate_limited"  # 429, still after the client's retries: requests, tokens or quota
    SERVER_ERROR = "server_error"  # 5xx, still after the client's retries
    REFUSED = "refused"  # any other 4xx: the model's name, the request
    UNREACHABLE = "unreachable"  # no connection
    EMPTY = "empty"  # an answer with no text in it
    FAILED = "failed"  # our own code failed (logged with its trace)


class WriteUpFailed(CallbotError):
    """OpenAI gave no written summary: `why` says what happened, `status` the HTTP status when there was one.

    Never carries OpenAI's message: a 401's names part of the key.
    """

    def __init__(self, why: Unavailable, status: int | None = None) -> None:
        self.why = why
        self.status = status
        super().__init__(f"no written summary: {why}" + (f" (HTTP {status})" if status is not None else ""))
