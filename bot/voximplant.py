"""Voximplant Management API client (async httpx): StartScenarios and the errors it can give.

Credentials travel in the POST body, never in the URL: httpx puts the URL into its exception texts.
StartScenarios is not idempotent (each success starts a new call), so a request is retried only when it provably
never left this machine, or when Voximplant refused it with HTTP 429 before doing anything.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
from pydantic import BaseModel, ValidationError

from bot.errors import VoximplantError, VoximplantUnreachable

# script_custom_data travels as a form field; Voximplant documents a limit of about 200 KB. We stay far below.
MAX_CUSTOM_DATA_BYTES = 64 * 1024
AUTH_FAILED = 100
INVALID_ARGUMENTS = 101
# Requests in flight at once. Beyond this they wait in our own queue, which costs nothing: httpx's connection pool
# (100 connections by default) rescans every waiting request whenever a connection frees up, and with hundreds
# waiting on a slow Voximplant that scan took most of the event loop (benchmarks: /call acks waited a second).
MAX_IN_FLIGHT = 64


@dataclass(frozen=True, slots=True)
class ApiKeyAuth:
    """account_id + api_key, sent as form fields."""

    account_id: str
    api_key: str

    def form(self) -> dict[str, str]:
        return {"account_id": self.account_id, "api_key": self.api_key}

    def __repr__(self) -> str:
        return f"ApiKeyAuth(account_id={self.account_id!r}, api_key='***')"


class StartScenariosResult(BaseModel):
    media_session_access_url: str
    media_session_access_secure_url: str
    call_session_history_id: int


class _ErrorBody(BaseModel):
    code: int
    msg: str


# -- retry rules: each answers "may this failed attempt be tried again?" ---------------------------------------


def never_sent(error: Exception) -> bool:
    """The request never left: connecting failed or no connection was free. Safe to retry anything."""
    return isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def refused_as_too_many(response: httpx.Response) -> bool:
    """Voximplant answered 429: it refused the request before doing anything."""
    return response.status_code == 429


class VoximplantClient:
    """The Management API methods callbot uses."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        auth: ApiKeyAuth,
        attempts: int = 3,
        backoff_s: float = 0.5,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self._http = http
        self._base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._auth = auth
        self._attempts = attempts
        self._backoff_s = backoff_s
        self.latencies: list[float] = []
        self._in_flight = asyncio.Semaphore(max_in_flight)

    async def start_scenarios(self, *, rule_id: int, custom_data: str) -> StartScenariosResult:
        """Start the rule's scenario with `custom_data`; one new call session per success."""
        if len(custom_data.encode()) > MAX_CUSTOM_DATA_BYTES:
            raise VoximplantError("the call's data is too large to send", code=None)
        body = await self._call("StartScenarios", {"rule_id": str(rule_id), "script_custom_data": custom_data})
        try:
            return StartScenariosResult.model_validate(body)
        except ValidationError:
            raise VoximplantError("StartScenarios answered without the session's URLs", may_have_started=True) from None

    async def _call(self, method: str, params: Mapping[str, str]) -> dict[str, object]:
        data = {**params, **self._auth.form()}
        for attempt in range(1, self._attempts + 1):
            await self._in_flight.acquire()
            started = time.perf_counter()
            try:
                response = await self._http.post(f"{self._base_url}{method}/", data=data)
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
                self.latencies.append(time.perf_counter() - started)
                self._in_flight.release()
            if refused_as_too_many(response) and attempt < self._attempts:
                await asyncio.sleep(_retry_after(response, self._backoff_s * attempt))
                continue
            return _parse(response)
        raise VoximplantUnreachable("Voximplant refused the request as too many at once")  # pragma: no cover


def _parse(response: httpx.Response) -> dict[str, object]:
    if response.status_code == 429:
        raise VoximplantUnreachable("Voximplant is refusing requests as too many at once (HTTP 429)")
    if response.status_code >= 500:
        raise VoximplantError(f"Voximplant had an internal error (HTTP {response.status_code})", may_have_started=True)
    if response.status_code != 200:
        raise VoximplantError(f"Voximplant answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise VoximplantError("Voximplant answered something that is not JSON", may_have_started=True) from None
    if not isinstance(body, dict):
        raise VoximplantError("Voximplant answered something unexpected", may_have_started=True)
    if "error" in body:
        try:
            error = _ErrorBody.model_validate(body["error"])
        except ValidationError:
            raise VoximplantError("Voximplant answered an error without a code") from None
        raise VoximplantError(error.msg, code=error.code)
    return body


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return min(float(response.headers.get("Retry-After", default)), 10.0)
    except ValueError:
        return default
