"""One request to the Management API: credentials attached, a bound on requests in flight, retried only where safe,
and the answer parsed, or raised as a VoximplantError that keeps Voximplant's code and message.

StartScenarios is not idempotent (each success starts a new call), so a request is retried only when it provably
never left this machine, or when Voximplant refused it with HTTP 429 before doing anything.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

import httpx
from pydantic import ValidationError

from bot.errors import VoximplantError, VoximplantUnreachable
from bot.text import shorten
from bot.voximplant.auth import Auth
from bot.voximplant.models import ErrorBody, Page

PAGE_SIZE = 100  # records per request of the list methods
MAX_API_ERROR = 300  # characters of Voximplant's own error message kept in a VoximplantError
AUTH_FAILED = 100
INVALID_ARGUMENTS = 101
# Requests in flight at once. Beyond this they wait in our own queue, which costs nothing: httpx's connection pool
# (100 connections by default) rescans every waiting request whenever a connection frees up, and with hundreds
# waiting on a slow Voximplant that scan took most of the event loop (benchmarks: /call acks waited a second).
MAX_IN_FLIGHT = 64


# Called after each Management API request: method, seconds taken, and the error kind (None on success).
Observer = Callable[[str, float, str | None], None]


# -- retry rules: each answers "may this failed attempt be tried again?" ---------------------------------------


def never_sent(error: Exception) -> bool:
    """The request never left: connecting failed or no connection was free. Safe to retry anything."""
    return isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def refused_as_too_many(response: httpx.Response) -> bool:
    """Voximplant answered 429: it refused the request before doing anything."""
    return response.status_code == 429


class ManagementApi:
    """Sends Management API requests; the methods callbot uses are built on `_call` and `_all`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        auth: Auth,
        attempts: int = 3,
        backoff_s: float = 0.5,
        observe: Observer | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self._http = http
        self._base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._auth = auth
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._observe = observe
        self.attempts = 0  # HTTP attempts made, retries included (latencies go to `observe`)
        self._in_flight = asyncio.Semaphore(max_in_flight)

    async def _all(self, method: str, params: Mapping[str, str] | None = None) -> list[dict[str, object]]:
        """Every record of a paged list method (`count`/`offset` in, `result`/`total_count` out)."""
        records: list[dict[str, object]] = []
        while True:
            body = await self._call(method, {**(params or {}), "count": str(PAGE_SIZE), "offset": str(len(records))})
            try:
                page = Page.model_validate(body)
            except ValidationError:
                raise VoximplantError(f"{method} answered without a result list") from None
            records.extend(page.result)
            if not page.result or len(records) >= page.total_count:
                return records

    async def _call(self, method: str, params: Mapping[str, str]) -> dict[str, object]:
        started = time.perf_counter()
        try:
            body = await self._attempt(method, params)
        except VoximplantError as error:
            self._report(method, started, "unreachable" if isinstance(error, VoximplantUnreachable) else "error")
            raise
        self._report(method, started, None)
        return body

    def _report(self, method: str, started: float, error: str | None) -> None:
        if self._observe is not None:
            self._observe(method, time.perf_counter() - started, error)

    async def _attempt(self, method: str, params: Mapping[str, str]) -> dict[str, object]:
        data = {**params, **self._auth.form()}
        for attempt in range(1, self._attempts + 1):
            await self._in_flight.acquire()
            try:
                response = await self._http.post(f"{self._base_url}{method}/", data=data, headers=self._auth.headers())
            except httpx.TransportError as error:
                if never_sent(error) and attempt < self._attempts:
                    await asyncio.sleep(self._backoff_s * attempt)
                    continue
                if never_sent(error):
                    raise VoximplantUnreachable(f"could not reach Voximplant ({type(error).__name__})") from None
                raise VoximplantError(
                    f"no answer from Voximplant in time ({type(error).__name__})", may_have_started=True
                ) from None
            finally:
                self.attempts += 1
                self._in_flight.release()
            if refused_as_too_many(response) and attempt < self._attempts:
                await asyncio.sleep(_retry_after(response, self._backoff_s * attempt))
                continue
            return _parse(response)
        raise VoximplantUnreachable("Voximplant refused the request as too many at once")  # pragma: no cover


def _parse(response: httpx.Response) -> dict[str, object]:
    """The JSON body of a 200 answer without `error`; anything else raises, keeping Voximplant's code and message."""
    if response.status_code != 200:
        said = _error_body(response)
        code, what = (said.code, f": {said.msg}") if said is not None else (None, "")
        if response.status_code == 429:
            raise VoximplantUnreachable(
                f"Voximplant is refusing requests as too many at once (HTTP 429){what}", code=code
            )
        if response.status_code >= 500:
            raise VoximplantError(
                f"Voximplant had an internal error (HTTP {response.status_code}){what}", code=code,
                may_have_started=True,
            )  # fmt: skip
        raise VoximplantError(f"Voximplant answered HTTP {response.status_code}{what}", code=code)
    try:
        body = response.json()
    except ValueError:
        raise VoximplantError("Voximplant answered something that is not JSON", may_have_started=True) from None
    if not isinstance(body, dict):
        raise VoximplantError("Voximplant answered something unexpected", may_have_started=True)
    if "error" in body:
        try:
            error = ErrorBody.model_validate(body["error"])
        except ValidationError:
            raise VoximplantError("Voximplant answered an error without a code") from None
        raise VoximplantError(error.msg, code=error.code)
    return body


def _error_body(response: httpx.Response) -> ErrorBody | None:
    """Voximplant's `{"error": {"code", "msg"}}` in any answer, or None when the body is not that."""
    try:
        body = response.json()
        error = ErrorBody.model_validate(body["error"])
    except (ValueError, TypeError, KeyError, ValidationError):
        return None
    return ErrorBody(code=error.code, msg=shorten(error.msg, MAX_API_ERROR))


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return min(float(response.headers.get("Retry-After", default)), 10.0)
    except ValueError:
        return default
