"""One Slack write on its way: paced per channel, and retried through rate limits, Slack's trouble and a refused token.

Per channel, writes are paced (about one a second as Slack asks, with a short burst for new calls' parent messages,
which go ahead of the channel's thread writes: `bot/slack/pacing.py`) and an HTTP 429 holds the channel for its
`Retry-After`, as does an HTTP 200 `rate_limited` ("posted too many messages"; without a Retry-After, for
the backoff below). 5xx answers and connection errors are retried with capped exponential backoff, for as long
as it takes: the row stays in SQLite, and a restart resumes it. So is a refused token (`invalid_auth`,
`token_revoked`, `missing_scope`, ...): one ERROR line says so, and the writes go out once Slack accepts the token
again, or after a restart with a fixed one. Any other refusal is raised to the caller (`threads.py` decides).

Duplicates: a write whose outcome is unknown (a 5xx, or the connection lost after sending) is sent again, so Slack
may show that reply twice. We prefer a rare repeated line to a lost one; `chat.update` repeats are harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.slack.api_errors import error_code
from bot.slack.delivery.rules import is_auth_refused, is_rate_limited, is_transient, retry_after
from bot.slack.pacing import Budget, Clock, Lane, Pacer

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 60.0
# A new call's parent, while its launch waits for it (SLACK_PARENT_TIMEOUT_S): retried this often through 5xx and
# connection errors, so a short Slack outage costs no more than this beyond its end (Retry-After still holds).
PARENT_RETRY_S = 1.0
# A Web API method of the client, named by attribute (`client.chat_update`) so tests/test_manifest.py sees it.
SlackMethod = Callable[..., Awaitable[AsyncSlackResponse]]


@dataclass(frozen=True, slots=True)
class ParentWait:
    """A launch waiting for its call's parent message: `sending` once it leaves the queue, `posted` with the outcome."""

    posted: asyncio.Future[bool]
    sending: asyncio.Event


class Sender:
    """Sends one Slack call at a time for its caller, paced, retried until Slack takes it or refuses it for good."""

    def __init__(self, pacer: Pacer, clock: Clock, *, backoff_s: float, on_retry: Callable[[str], None]) -> None:
        self._pacer = pacer
        self._clock = clock
        self._backoff_s = backoff_s
        self._on_retry = on_retry  # each retry's reason (ratelimited, server_error, connection, auth), for metrics
        self._token_refused: str | None = None  # Slack's error code while it refuses the bot token

    async def send(
        self, where: str, method: SlackMethod, *, parent: ParentWait | None = None, budget: Budget | None = None,
        lane: Lane = Lane.THREAD, **kwargs: Any,
    ) -> dict[str, Any]:  # fmt: skip
        """One Slack call, paced; retried through 429s, 5xx, connection errors and a refused token; raises the rest.

        `parent`: a launch waits for this message. Its `sending` is set once the message has its first turn in the
        channel (from then on, waiting is Slack's doing), and while the launch waits, failures are retried every
        PARENT_RETRY_S instead of backing off.
        `lane`: `Lane.PARENT` for a new call's parent message, which goes ahead of the channel's thread writes.
        `budget`: the method is limited per workspace (its first place in it was taken already): a 429 holds the
        whole budget, not the channel, and each retry takes a new place.
        """
        failures = 0
        again = False
        while True:
            if again and budget is not None:
                await budget.take()
            again = True
            number = await self._pacer.turn(where, lane)
            if parent is not None:
                parent.sending.set()
            try:
                response = await self._call(where, number, method, kwargs)
            except SlackApiError as error:
                if is_rate_limited(error):
                    if "Retry-After" not in error.response.headers:
                        failures += 1  # an HTTP 200 rate_limited says not for how long: back off
                    hold = retry_after(error, default=self.backoff(max(failures, 1)))
                    if budget is not None:
                        budget.hold(hold)
                    else:
                        self._pacer.hold(where, hold)
                    log.info("Slack asked us to slow down in %s for %ss (%s)", where, hold, error_code(error))
                    self._on_retry("ratelimited")
                    continue
                if is_auth_refused(error):
                    self._hold_for_token(error_code(error))
                    self._on_retry("auth")
                    failures += 1
                    await self._clock.sleep(self.backoff(failures))
                    continue
                if not is_transient(error):
                    raise
                why = f"HTTP {error.response.status_code} {error_code(error)}".rstrip()
                self._on_retry("server_error")
            except (aiohttp.ClientError, TimeoutError) as error:
                why = type(error).__name__
                self._on_retry("connection")
            else:
                self._token_accepted()
                return response.data if isinstance(response.data, dict) else {}
            failures += 1
            delay = self.backoff(failures)
            if parent is not None and not parent.posted.done():
                delay = min(delay, PARENT_RETRY_S)
            log.warning("Slack %s to %s failed (%s); trying again in %.1fs", method.__name__, where, why, delay)
            await self._clock.sleep(delay)

    async def _call(self, where: str, number: int, method: SlackMethod, kwargs: dict[str, Any]) -> AsyncSlackResponse:
        try:
            return await method(**kwargs)
        finally:
            self._pacer.answered(where, number)  # Slack has it by now, if it ever will: its pace counts from here

    def backoff(self, failures: int) -> float:
        """The pause after `failures` failures in a row: doubling, at most MAX_BACKOFF_S (the exponent is capped, so
        a day-long outage's thousandth failure does not overflow a float)."""
        return min(self._backoff_s * 2.0 ** min(failures - 1, 64), MAX_BACKOFF_S)

    @property
    def token_refused(self) -> str | None:
        """Slack's error code while it refuses the bot token (writes are held), else None."""
        return self._token_refused

    def _hold_for_token(self, code: str) -> None:
        # Said once per hold, not per retry: every call's worker meets the same refusal until the token is fixed.
        if self._token_refused is None:
            log.error(
                "Slack refuses callbot's bot token (%s): every Slack write is kept and retried until Slack accepts "
                "it. Check SLACK_BOT_TOKEN (revoked or rotated?) or reinstall the app (a missing scope), then "
                "restart callbot with a valid token; the held writes go out then.",
                code,
            )
        self._token_refused = code

    def _token_accepted(self) -> None:
        if self._token_refused is not None:
            log.info("Slack accepts callbot's bot token again; held writes resume")
            self._token_refused = None
