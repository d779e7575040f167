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
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.errors import VoximplantError, VoximplantUnreachable

# script_custom_data travels as a form field; Voximplant documents a limit of about 200 KB. We stay far below.
MAX_CUSTOM_DATA_BYTES = 64 * 1024
AUTH_FAILED = 100
INVALID_ARGUMENTS = 101


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


class CallInfo(BaseModel):
    """One call inside a session, as GetCallHistory reports it with `with_calls=true` (CallInfoType)."""

    model_config = ConfigDict(extra="ignore")

    call_id: int
    incoming: bool = False
    successful: bool = False
    duration: float | None = None
    cost: float | None = None
    remote_number: str = ""
    start_time: str | None = None
    end_reason: dict[str, Any] | None = None


class CallSessionInfo(BaseModel):
    """One JS session from GetCallHistory (CallSessionInfoType): over once `finish_reason` is set."""

    model_config = ConfigDict(extra="ignore")

    call_session_history_id: int
    start_date: str | None = None
    duration: float | None = None
    finish_reason: str | None = None
    calls: list[CallInfo] = []

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None

    @property
    def outgoing(self) -> CallInfo | None:
        """The call the scenario placed (the session's first outgoing call)."""
        return next((call for call in self.calls if not call.incoming), None)


class _History(BaseModel):
    result: list[CallSessionInfo]


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
    ) -> None:
        self._http = http
        self._base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._auth = auth
        self._attempts = attempts
        self._backoff_s = backoff_s
        self.latencies: list[float] = []

    async def start_scenarios(self, *, rule_id: int, custom_data: str) -> StartScenariosResult:
        """Start the rule's scenario with `custom_data`; one new call session per success."""
        if len(custom_data.encode()) > MAX_CUSTOM_DATA_BYTES:
            raise VoximplantError("the call's data is too large to send", code=None)
        body = await self._call("StartScenarios", {"rule_id": str(rule_id), "script_custom_data": custom_data})
        try:
            return StartScenariosResult.model_validate(body)
        except ValidationError:
            raise VoximplantError("StartScenarios answered without the session's URLs", may_have_started=True) from None

    async def get_call_history(self, history_id: int, *, started_at: datetime) -> CallSessionInfo | None:
        """The session `history_id` with its calls, or None when the history does not list it (yet).

        GetCallHistory needs a time window (`from_date`, `to_date`, UTC, `YYYY-MM-DD HH:mm:ss`); the session began
        after `started_at`, so the window runs from a little before that to a little after now.
        """
        now = datetime.now(started_at.tzinfo)
        params = {
            "from_date": _history_time(started_at - timedelta(minutes=5)),
            "to_date": _history_time(now + timedelta(minutes=5)),
            "call_session_history_id": str(history_id),
            "with_calls": "true",
            "count": "1",
        }
        body = await self._call("GetCallHistory", params)
        try:
            history = _History.model_validate(body)
        except ValidationError:
            raise VoximplantError("GetCallHistory answered without a result list") from None
        return next((s for s in history.result if s.call_session_history_id == history_id), None)

    async def hang_up(self, access_url: str) -> None:
        """Ask the running session to hang up (POST {"action":"hangup"} to its access URL); repeats are harmless.

        The access URL opens the session to anyone holding it: it never appears in an error or a log line.
        """
        for attempt in range(1, self._attempts + 1):
            try:
                response = await self._http.post(access_url, json={"action": "hangup"})
            except httpx.TransportError as error:
                if attempt < self._attempts:
                    await asyncio.sleep(self._backoff_s * attempt)
                    continue
                raise VoximplantUnreachable(f"could not reach the call's session ({type(error).__name__})") from None
            if response.status_code >= 500 and attempt < self._attempts:
                await asyncio.sleep(self._backoff_s * attempt)
                continue
            if response.status_code != 200:
                raise VoximplantError(f"the call's session answered HTTP {response.status_code}")
            return

    async def _call(self, method: str, params: Mapping[str, str]) -> dict[str, object]:
        data = {**params, **self._auth.form()}
        for attempt in range(1, self._attempts + 1):
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


def _history_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return min(float(response.headers.get("Retry-After", default)), 10.0)
    except ValueError:
        return default
