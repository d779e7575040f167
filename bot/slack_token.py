"""The bot token, checked with Slack at start (auth.test), retried until Slack confirms it, while the bot serves.

Bolt would ask auth.test on the first request instead, and take any failure of it (a 429, a 5xx, no answer) as a
lost installation: "Please reinstall this app". Here Bolt's `authorize` answers from this check, and while Slack has
not confirmed the token, Slack requests get an honest answer at once (`before_authorize`), never a reinstall.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import aiohttp
from slack_bolt import BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import texts
from bot.slack.api_errors import error_code
from bot.slack.delivery.rules import AUTH_REFUSED, retry_after
from bot.slack.listeners import answer

log = logging.getLogger(__name__)
FIRST_TRY_S = 2.0  # the start waits this long for Slack's first answer, then serves and keeps asking
ATTEMPT_TIMEOUT_S = 5.0
WAIT_PER_REQUEST_S = 1.0  # a request arriving while the check runs waits this long for it (Slack allows 3 s)
MAX_DELAY_S = 60.0


@dataclass(frozen=True)
class TokenCheckWaits:
    """How long the start, each try and each request wait for Slack, and how the check sleeps between tries (tests
    that keep Slack failing pass shorter waits, and a sleep they release when Slack is back)."""

    first_try_s: float = FIRST_TRY_S
    attempt_s: float = ATTEMPT_TIMEOUT_S
    per_request_s: float = WAIT_PER_REQUEST_S
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


class SlackTokenCheck:
    """auth.test until Slack confirms the bot token; `result` is what Bolt's authorize hands every request."""

    def __init__(self, client: AsyncWebClient, token: str, *, waits: TokenCheckWaits = TokenCheckWaits()) -> None:
        self._client = client
        self._token = token
        self.waits = waits
        self._sleep = waits.sleep
        self.result: AuthorizeResult | None = None
        self.refused: str | None = None  # Slack's error code while it refuses the token itself
        self._confirmed = asyncio.Event()

    async def run(self) -> None:
        """Ask Slack until it confirms the token: backoff from 1 s to a minute, honouring a 429's Retry-After.

        Logs one line when a kind of failure starts (not at every try), and one when Slack confirms.
        """
        delay, last = 1.0, ""
        while True:
            try:
                response = await asyncio.wait_for(self._client.auth_test(), self.waits.attempt_s)
            except SlackApiError as error:
                code = error_code(error, f"HTTP {error.response.status_code}")
                wait = retry_after(error, delay) if error.response.status_code == 429 else delay
                if code in AUTH_REFUSED:
                    self.refused = code
                    if last != code:
                        log.error("Slack refuses SLACK_BOT_TOKEN (%s); /call cannot work until it is fixed", code)
                elif last != code:
                    log.warning("Slack could not confirm the bot token (%s); retrying, /call says so meanwhile", code)
                last = code
            except (aiohttp.ClientError, TimeoutError) as error:
                if last != "unreachable":
                    log.warning(
                        "Slack did not answer auth.test (%s); retrying, /call says so meanwhile", type(error).__name__
                    )
                last, wait = "unreachable", delay
            else:
                self.result = AuthorizeResult.from_auth_test_response(
                    bot_token=self._token, auth_test_response=response
                )
                self.refused = None
                self._confirmed.set()
                log.info(
                    "Slack confirmed the bot token: bot %s in workspace %s", response.get("user"), response.get("team")
                )
                return
            await self._sleep(max(wait, delay))
            delay = min(delay * 2, MAX_DELAY_S)

    async def confirmed(self, within_s: float) -> bool:
        """True once Slack has confirmed the token, waiting at most `within_s` for it."""
        try:
            await asyncio.wait_for(self._confirmed.wait(), within_s)
        except TimeoutError:
            return False
        return True

    def bolt_authorize(self) -> Callable[..., Awaitable[AuthorizeResult]]:
        """Bolt's `authorize`: the confirmed token (the before_authorize hook lets no request through without one).

        Plain functions, not methods: Bolt passes arguments by the names it reads in the signature, `self` included.
        Bolt's annotation promises an AuthorizeResult, but its authorization middleware also takes None (and answers
        the request as unauthorized), which is what we return should a request ever pass without a token.
        """

        async def authorize() -> AuthorizeResult | None:
            return self.result

        return cast(Callable[..., Awaitable[AuthorizeResult]], authorize)

    def bolt_before_authorize(self) -> Callable[..., Awaitable[BoltResponse | None]]:
        """Bolt middleware: a request arriving before Slack confirmed the token gets an honest answer, at once."""

        async def before_authorize(body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> BoltResponse | None:
            if self.result is None and not await self.confirmed(self.waits.per_request_s):
                text = texts.SLACK_TOKEN_REFUSED if self.refused else texts.SLACK_NOT_CONFIRMED
                return answer(body.get("type") if isinstance(body, dict) else None, text)
            await next()
            return None

        return before_authorize
