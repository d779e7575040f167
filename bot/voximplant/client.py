"""The Management API client (async httpx): StartScenarios, the setup methods, call history, and the session's
access URL (hang up, and pull mode's brief and events).

StartScenarios is not idempotent (each success starts a new call), so a request is retried only when it provably
never left this machine, or when Voximplant refused it with HTTP 429 before doing anything.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import ValidationError

from bot.calls import launch
from bot.errors import VoximplantError, VoximplantUnreachable
from bot.text import shorten
from bot.voximplant.auth import Auth
from bot.voximplant.models import (
    Application,
    CallerIdInfo,
    CallSessionInfo,
    ErrorBody,
    History,
    Page,
    PhoneNumberInfo,
    Rule,
    Scenario,
    SecretInfo,
    StartScenariosResult,
)

# script_custom_data holds at most 200 bytes (see bot/calls/launch.py for the documents that say so).
MAX_CUSTOM_DATA_BYTES = launch.MAX_CUSTOM_DATA_BYTES
PAGE_SIZE = 100  # records per request of the list methods
MAX_SESSION_ERROR = 300  # characters of a scenario's refusal shown in a thread
MAX_API_ERROR = 300  # characters of Voximplant's own error message kept in a VoximplantError
# GetCallHistory reads from_date and to_date "in the selected timezone" (GetCallHistoryRequest, `timezone`; the
# official client's example sends 'Etc/GMT': voximplant/apiclient-nodejs examples/History/getCallHistory_1.js).
HISTORY_TIMEZONE = "Etc/GMT"
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


class VoximplantClient:
    """The Management API methods callbot uses."""

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
        on_fallback: Callable[[], None] | None = None,
    ) -> None:
        self._http = http
        self._base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._auth = auth
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._observe = observe
        self.attempts = 0  # HTTP attempts made, retries included (latencies go to `observe`)
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._on_fallback = on_fallback  # called when a hang-up goes to the plain access URL

    async def start_scenarios(self, *, rule_id: int, custom_data: str) -> StartScenariosResult:
        """Start the rule's scenario with `custom_data`; one new call session per success."""
        if launch.size(custom_data) > MAX_CUSTOM_DATA_BYTES:
            raise VoximplantError(
                f"the call's custom data is {launch.size(custom_data)} bytes; Voximplant takes at most "
                f"{MAX_CUSTOM_DATA_BYTES}",
                code=None,
            )
        body = await self._call("StartScenarios", {"rule_id": str(rule_id), "script_custom_data": custom_data})
        try:
            return StartScenariosResult.model_validate(body)
        except ValidationError:
            raise VoximplantError("StartScenarios answered without the session's URLs", may_have_started=True) from None

    async def get_caller_ids(self) -> list[CallerIdInfo]:
        """Every caller ID on the account (verified or not: see `active` and `verified_until`)."""
        return [CallerIdInfo.model_validate(item) for item in await self._all("GetCallerIDs")]

    async def get_phone_numbers(self) -> list[PhoneNumberInfo]:
        """Every phone number on the account, test numbers marked (see `deactivated`, `canceled`, `can_be_used`).

        GetPhoneNumbers' `sandbox` parameter lists "only the numbers of the sandbox, real numbers, or all numbers"
        ('true', 'false', 'all'; GetPhoneNumbersRequest in voximplant/apiclient-nodejs, and
        voximplant.com/docs/references/voxengine/voximplantapi/getphonenumbersrequest); a row does not say which it
        is, so the real numbers and the test numbers are asked for apart.
        """
        real = await self._all("GetPhoneNumbers", {"sandbox": "false"})
        test = await self._all("GetPhoneNumbers", {"sandbox": "true"})
        return [PhoneNumberInfo.model_validate(item) for item in real] + [
            PhoneNumberInfo.model_validate({**item, "test_number": True}) for item in test
        ]

    async def get_secrets(self, *, application_id: int, secret_name_part: str | None = None) -> list[SecretInfo]:
        """The names of the application's secrets (GetSecrets lists names and ids, never values).

        voximplant.com/docs/guides/voxengine/secrets ("Use the AddSecret, DelSecret, GetSecrets, GetSecretValue, and
        SetSecretInfo methods"); parameters: voximplant.com/docs/references/voxengine/voximplantapi/getsecretsrequest.
        """
        params = {"application_id": str(application_id)}
        if secret_name_part is not None:
            params["secret_name_part"] = secret_name_part
        return [SecretInfo.model_validate(item) for item in await self._all("GetSecrets", params)]

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

    # -- setup: applications, scenarios, rules (each method's parameters as Voximplant documents them) ----------

    async def get_applications(self, *, application_name: str) -> list[Application]:
        """Applications whose name contains `application_name` (Voximplant filters by part of the name)."""
        body = await self._call("GetApplications", {"application_name": application_name})
        return [Application.model_validate(item) for item in _result_list(body)]

    async def add_application(self, *, application_name: str) -> Application:
        body = await self._call("AddApplication", {"application_name": application_name})
        return Application.model_validate(body)

    async def get_scenarios(
        self, *, application_id: int, scenario_name: str | None = None, scenario_id: int | None = None,
        with_script: bool = False,
    ) -> list[Scenario]:  # fmt: skip
        params = {"application_id": str(application_id)}
        if scenario_name is not None:
            params["scenario_name"] = scenario_name
        if scenario_id is not None:
            params["scenario_id"] = str(scenario_id)
        if with_script:
            params["with_script"] = "true"
        body = await self._call("GetScenarios", params)
        return [Scenario.model_validate(item) for item in _result_list(body)]

    async def add_scenario(self, *, application_id: int, scenario_name: str, scenario_script: str) -> int:
        params = {"application_id": str(application_id), "scenario_name": scenario_name,
                  "scenario_script": scenario_script}  # fmt: skip
        return _int_field(await self._call("AddScenario", params), "scenario_id")

    async def set_scenario_info(self, *, scenario_id: int, scenario_script: str) -> None:
        await self._call("SetScenarioInfo", {"scenario_id": str(scenario_id), "scenario_script": scenario_script})

    async def get_rules(self, *, application_id: int, rule_name: str) -> list[Rule]:
        params = {"application_id": str(application_id), "rule_name": rule_name, "with_scenarios": "true"}
        body = await self._call("GetRules", params)
        return [Rule.model_validate(item) for item in _result_list(body)]

    async def add_rule(self, *, application_id: int, rule_name: str, rule_pattern: str, scenario_id: int) -> int:
        params = {"application_id": str(application_id), "rule_name": rule_name, "rule_pattern": rule_pattern,
                  "scenario_id": str(scenario_id)}  # fmt: skip
        return _int_field(await self._call("AddRule", params), "rule_id")

    async def bind_scenario(self, *, application_id: int, rule_id: int, scenario_id: int, bind: bool = True) -> None:
        """Bind the scenario to the rule, or with `bind=False` unbind it ("Whether to bind or unbind (set true or
        false respectively)": BindScenario, voximplant.com/docs/references/httpapi/scenarios#bindscenario)."""
        params = {"application_id": str(application_id), "rule_id": str(rule_id), "scenario_id": str(scenario_id),
                  "bind": "true" if bind else "false"}  # fmt: skip
        await self._call("BindScenario", params)

    async def get_rule(self, *, application_id: int, rule_id: int) -> Rule | None:
        """The rule `rule_id` of the application with its scenarios, or None when the application has no such rule."""
        params = {"application_id": str(application_id), "rule_id": str(rule_id), "with_scenarios": "true"}
        body = await self._call("GetRules", params)
        rules = [Rule.model_validate(item) for item in _result_list(body)]
        return next((rule for rule in rules if rule.rule_id == rule_id), None)

    async def find_session(self, custom_data: str, *, started_at: datetime) -> CallSessionInfo | None:
        """The session StartScenarios began with exactly this `script_custom_data`, or None when history has none.

        For a call whose StartScenarios answer never arrived (no session id): GetCallHistory filters "by the
        custom_data passed to the call sessions" (`call_session_history_custom_data`); whether Voximplant matches it
        whole or in part is not documented, so the answer is checked for the exact string here. The most recent
        match wins.
        """
        params = {**_history_window(started_at), "call_session_history_custom_data": custom_data,
                  "desc_order": "true", "count": "10"}  # fmt: skip
        history = await self._history(params)
        return next((s for s in history.result if s.custom_data == custom_data), None)

    async def _history(self, params: Mapping[str, str]) -> History:
        body = await self._call("GetCallHistory", {**params, "with_calls": "true", "timezone": HISTORY_TIMEZONE})
        try:
            return History.model_validate(body)
        except ValidationError:
            raise VoximplantError("GetCallHistory answered without a result list") from None

    async def get_call_history(self, history_id: int, *, started_at: datetime) -> CallSessionInfo | None:
        """The session `history_id` with its calls, or None when the history does not list it (yet).

        GetCallHistory needs a time window (`from_date`, `to_date`, `YYYY-MM-DD HH:mm:ss` "in the selected
        timezone"); the session began after `started_at`, so the window runs from a little before that to a little
        after now, in UTC, and says so with `timezone=Etc/GMT`.
        """
        params = {**_history_window(started_at), "call_session_history_id": str(history_id), "count": "1"}
        history = await self._history(params)
        return next((s for s in history.result if s.call_session_history_id == history_id), None)

    async def hang_up(self, access_url: str, *, secret: str, plain_url: str | None = None) -> None:
        """Ask the running session to hang up (POST {"action":"hangup","secret":…} to its access URL); repeats are
        harmless. The scenario acts only on its call's control secret, which it had from the brief.

        Voximplant's secure access URL is HTTPS to a bare IP address; where its certificate does not verify for that
        address, the request goes to the plain `media_session_access_url` instead, still carrying the secret, and
        `on_fallback` counts it. Certificate checks stay on: a host name whose certificate fails is not retried.

        An answer `{"ok": false, "error": ...}` from the scenario raises VoximplantError with the scenario's error.
        The access URLs open the session to anyone holding them: they never appear in an error or a log line.
        """
        await self.session_request(access_url, {"action": "hangup", "secret": secret}, plain_url=plain_url)

    async def session_request(
        self, access_url: str, body: dict[str, object], *, plain_url: str | None = None
    ) -> dict[str, object]:
        """POST `body` to a running session (its scenario's AppEvents.HttpRequest) and return the scenario's answer.

        HTTPS first; the plain URL only where the secure one is an IP address whose certificate does not verify
        (see `hang_up`). Transport errors and 5xx are retried: each request here is safe to repeat.
        """
        try:
            return await self._control(access_url, body)
        except _CertificateRefused:
            if plain_url is None:
                raise VoximplantError("the call's session certificate did not verify; no other URL to try") from None
            if self._on_fallback is not None:
                self._on_fallback()
            return await self._control(plain_url, body)

    async def _control(self, url: str, body: dict[str, object]) -> dict[str, object]:
        for attempt in range(1, self._attempts + 1):
            try:
                response = await self._http.post(url, json=body)
            except httpx.TransportError as error:
                if _certificate_refused_for_ip(url, error):
                    raise _CertificateRefused from None
                if attempt < self._attempts:
                    await asyncio.sleep(self._backoff_s * attempt)
                    continue
                raise VoximplantUnreachable(f"could not reach the call's session ({type(error).__name__})") from None
            if response.status_code >= 500 and attempt < self._attempts:
                await asyncio.sleep(self._backoff_s * attempt)
                continue
            if response.status_code != 200:
                raise VoximplantError(f"the call's session answered HTTP {response.status_code}")
            refusal = _session_refusal(response)
            if refusal is not None:
                raise VoximplantError(f"the call's session said: {refusal}")
            return _session_answer(response)
        raise VoximplantUnreachable("the call's session kept failing")  # pragma: no cover - the loop returns

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


class _CertificateRefused(Exception):
    """The secure access URL is an IP address whose certificate did not verify."""


def _certificate_refused_for_ip(url: str, error: Exception) -> bool:
    """True when `error` is a failed certificate check and `url`'s host is an IP address (Voximplant's case)."""
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, ssl.SSLCertVerificationError):
        cause = cause.__cause__ or cause.__context__
    if cause is None:
        return False
    try:
        ipaddress.ip_address(httpx.URL(url).host)
    except ValueError:
        return False
    return True


def _error_body(response: httpx.Response) -> ErrorBody | None:
    """Voximplant's `{"error": {"code", "msg"}}` in any answer, or None when the body is not that."""
    try:
        body = response.json()
        error = ErrorBody.model_validate(body["error"])
    except (ValueError, TypeError, KeyError, ValidationError):
        return None
    return ErrorBody(code=error.code, msg=shorten(error.msg, MAX_API_ERROR))


def _session_answer(response: httpx.Response) -> dict[str, object]:
    """The scenario's JSON answer; `{}` for any other body (VoxEngine may not pass the handler's answer through)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _session_refusal(response: httpx.Response) -> str | None:
    """The scenario's error when it answered `{"ok": false, "error": ...}`; None for any other answer.

    A body that is not the scenario's JSON counts as done: VoxEngine may not pass the handler's answer through, and
    the scenario's `disconnected` event tells the rest.
    """
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("ok") is not False:
        return None
    error = body.get("error")
    return shorten(error, MAX_SESSION_ERROR) if isinstance(error, str) and error.strip() else "no reason given"


def _result_list(body: dict[str, object]) -> list[Any]:
    result = body.get("result")
    if not isinstance(result, list):
        raise VoximplantError("Voximplant answered without the list it was asked for")
    return result


def _int_field(body: dict[str, object], name: str) -> int:
    value = body.get(name)
    if not isinstance(value, int):
        raise VoximplantError(f"Voximplant answered without {name}")
    return value


def _history_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _history_window(started_at: datetime) -> dict[str, str]:
    """A GetCallHistory window around a session that began after `started_at`: from 5 minutes before that to
    5 minutes after now, in UTC (sent with `timezone=Etc/GMT`)."""
    now = datetime.now(started_at.tzinfo)
    return {
        "from_date": _history_time(started_at - timedelta(minutes=5)),
        "to_date": _history_time(now + timedelta(minutes=5)),
    }


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return min(float(response.headers.get("Retry-After", default)), 10.0)
    except ValueError:
        return default
