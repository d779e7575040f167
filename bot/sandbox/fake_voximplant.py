"""A fake Voximplant Management API: checks auth and parameters as Voximplant does, answers its shapes.

Auth: account_id + api_key form fields, or a service account's RS256 JWT (`Authorization: Bearer`), verified with
the account's public key (`add_service_account`). Setup methods (applications, scenarios, rules) keep state, with
the parameter names and result shapes of Voximplant's HTTP API reference.

Point the bot at it with VOXIMPLANT_API_URL=<url>/platform_api/. Each StartScenarios success opens a session:
with a `runner` (the VoxEngine simulator) the real scenario runs; without one, tests play status events themselves.

Here: auth, StartScenarios, the faults and holds tests script, and `reset()` (tests serve one fake for the session).
The other methods are in bot/sandbox/fake_voximplant_management.py; what a session does, in
bot/sandbox/fake_voximplant_sessions.py.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import httpx
import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.sandbox.fake_voximplant_management import (
    MAX_SCENARIO_SCRIPT,
    RULE_ID,
    SANDBOX_MARK,
    SETUP_METHODS,
    ManagementApi,
    _error,
    _now,
    _page,
)
from bot.sandbox.fake_voximplant_sessions import Runner, Session, Sessions

__all__ = ["ACCOUNT_ID", "API_KEY", "MAX_CONCURRENT_START_SCENARIOS", "MAX_CUSTOM_DATA", "MAX_SCENARIO_SCRIPT",
           "RULE_ID", "FakeVoximplant", "Fault", "Runner", "Session"]  # fmt: skip

ACCOUNT_ID = "1000001"
API_KEY = "sandbox-api-key"
# "Maximum size is 200 bytes": VoxEngine.customData() in voxengine.d.ts v28, and the custom-data guide
# (voximplant.com/docs/howtos/calls/custom_data). What StartScenarios answers past it is not documented: the fake
# answers Voximplant's "Invalid arguments" error (code 101), so the bot hears a refusal and dials nothing.
MAX_CUSTOM_DATA = 200
# StartScenarios: "The maximum number of concurrent HTTP-requests is limited to 200. If this number is exceeded, this
# method returns the 429 code error (Too Many Requests)" (voximplant.com/docs/references/httpapi/scenarios
# #startscenarios; the same text in voximplant/apiclient-nodejs src/index.ts). The body of that answer is not
# documented: the fake sends plain text.
MAX_CONCURRENT_START_SCENARIOS = 200


@dataclass
class Fault:
    """One scripted answer to the next StartScenarios: an API error, an HTTP status, or a delay first."""

    code: int | None = None
    msg: str = ""
    status: int = 200
    delay_s: float = 0.0
    start_anyway: bool = False
    until: asyncio.Event | None = None  # with start_anyway: the answer waits for this, the session runs meanwhile


@dataclass(frozen=True)
class _Setup:
    """What the fake was made with, which `reset()` restores."""

    account_id: str
    api_key: str
    rule_ids: frozenset[int]


class FakeVoximplant(Sessions, ManagementApi):
    def __init__(self, *, account_id: str = ACCOUNT_ID, api_key: str = API_KEY, rule_ids: set[int] | None = None):
        self._setup = _Setup(account_id, api_key, frozenset({RULE_ID} if rule_ids is None else rule_ids))
        self.url = ""  # set by whoever serves it, for the access URLs it hands out
        self._requests: set[asyncio.Task[Any]] = set()  # requests being answered (a hold or delay may keep them)
        self._tls = httpx.create_ssl_context()  # loaded once: each reset() makes a new client
        self._resetting = asyncio.Event()  # set while reset() cuts the held ones short
        self.app = Starlette(
            routes=[
                Route("/platform_api/{method}/", self._tracked(self._platform_api), methods=["GET", "POST"]),
                Route("/session/{history_id:int}", self._tracked(self._control), methods=["POST"]),
            ]
        )
        self._fresh()

    def _fresh(self) -> None:
        """Everything a test can set or the fake records, as a new fake has it."""
        self.account_id = self._setup.account_id
        self.api_key = self._setup.api_key
        self.rule_ids = set(self._setup.rule_ids)
        self.requests: list[dict[str, str]] = []
        self.sessions = []
        self.runner = None
        self.caller_ids = []  # GetCallerIDs records, as Voximplant shapes them
        self.phone_numbers = []  # GetPhoneNumbers records
        self.answer_delay_s = 0.0  # every StartScenarios answer waits this long (a slow Voximplant), faults apart
        self.control_answer = {"ok": True}  # what a session's access URL answers (HTTP 200)
        self.brief_refusal = None  # pull mode: what each session answers a brief with, if it refuses
        self.fetch_briefs = True  # without a runner, each session fetches its brief at once, as the scenario does
        self._faults: deque[Fault] = deque()
        self._method_faults: dict[str, deque[tuple[int, str, int]]] = {}
        self.service_accounts: dict[str, tuple[str, str]] = {}  # key_id -> (account_id, public key PEM)
        self.tokens: list[dict[str, Any]] = []  # decoded (header, claims) of every JWT accepted
        self.applications = []
        self.scenarios = []
        self.rules = []
        self.secrets = []  # GetSecrets records, with the application_id they belong to
        # GetCallHistory reads from_date/to_date in the request's `timezone`; without one, in the account's own
        # (the documentation does not say which zone applies then; this one shows why callbot always sends it).
        self.account_timezone = "Etc/GMT"
        self._ids = 0
        self.starting = 0  # StartScenarios requests in flight now
        self.refused_as_too_many = 0  # StartScenarios requests answered 429 for going over the limit
        self.hold_starts: asyncio.Event | None = None  # while set and not yet set(), StartScenarios requests wait
        self._http = httpx.AsyncClient(timeout=5.0, verify=self._tls)

    async def reset(self) -> None:
        """Back to what a new fake is, for the next test: held or delayed answers go out at once (HTTP 503, changing
        nothing) and are waited for, brief fetches under way are cancelled, and a new HTTP client replaces the old
        one, so nothing of one test reaches the next."""
        self._resetting.set()
        try:
            if self._requests:
                await asyncio.wait(set(self._requests))
        finally:
            self._resetting.clear()
        await self._stop_sessions()
        await self._http.aclose()
        self._fresh()

    async def aclose(self) -> None:
        await self._stop_sessions()
        await self._http.aclose()

    # -- what tests use --------------------------------------------------------------------------------------------

    def fail_next(self, code: int | None = None, msg: str = "", *, status: int = 200, delay_s: float = 0.0,
                  start_anyway: bool = False, until: asyncio.Event | None = None) -> None:  # fmt: skip
        """Script the next StartScenarios answer; `start_anyway` starts the session before failing (a lost reply).

        `until` holds that answer until the test sets it, while the session (and its scenario) already runs.
        """
        self._faults.append(
            Fault(code=code, msg=msg, status=status, delay_s=delay_s, start_anyway=start_anyway, until=until)
        )

    def add_caller_id(self, number: str, *, active: bool = True, verified_until: str | None = "2099-12-31") -> None:
        """A caller ID as GetCallerIDs returns it: `number` in E.164, stored as Voximplant writes it (digits)."""
        record: dict[str, Any] = {
            "callerid_id": 100 + len(self.caller_ids), "callerid_number": number.lstrip("+"), "active": active,
        }  # fmt: skip
        if active and verified_until:
            record["verified_until"] = verified_until
        else:
            record.update(code_entering_attempts_left=5, verification_call_attempts_left=5)
        self.caller_ids.append(record)

    def add_phone_number(self, number: str, *, country: str = "US", deactivated: bool = False,
                         canceled: bool = False, can_be_used: bool = True, test: bool = False) -> None:  # fmt: skip
        """A bought number as GetPhoneNumbers returns it (the fields callbot reads, and a few more).

        `test`: a test number, listed only when GetPhoneNumbers is asked with `sandbox=true` or `all` (the record
        itself does not say so, as in Voximplant's AttachedPhoneInfoType).
        """
        self.phone_numbers.append({
            SANDBOX_MARK: test,
            "phone_id": 200 + len(self.phone_numbers), "phone_number": number.lstrip("+"),
            "phone_country_code": country, "phone_price": 1.0, "phone_purchase_date": "2026-01-05 10:00:00",
            "phone_next_renewal": "2026-12-05", "category_name": "GEOGRAPHIC", "auto_charge": True,
            "deactivated": deactivated, "canceled": canceled, "can_be_used": can_be_used, "is_sms_supported": False,
            "is_sms_enabled": False, "emergency_calls_enabled": False, "emergency_calls_to_be_enabled": False,
        })  # fmt: skip

    def add_secret(self, application_id: int, name: str) -> None:
        """A secret in the application's secret storage, as GetSecrets lists it (its value is never listed)."""
        self.secrets.append({
            "secret_id": 40_000 + len(self.secrets), "application_id": application_id, "secret_name": name,
            "description": "", "created": _now(), "modified": _now(),
        })  # fmt: skip

    def fail_method(self, method: str, code: int, msg: str, *, status: int = 200) -> None:
        """Make the next call of `method` answer Voximplant's error JSON with `code` and `msg` (with HTTP `status`)."""
        self._method_faults.setdefault(method, deque()).append((code, msg, status))

    def add_service_account(self, key_id: str, public_key_pem: str, account_id: str | None = None) -> None:
        self.service_accounts[key_id] = (account_id or self.account_id, public_key_pem)

    def writes(self) -> list[str]:
        """The setup methods called that change something, in order."""
        return [
            r["method"] for r in self.requests if r["method"] in SETUP_METHODS and not r["method"].startswith("Get")
        ]

    # -- HTTP ------------------------------------------------------------------------------------------------------

    def _tracked(self, endpoint: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """`endpoint`, its requests kept in `_requests` while they are answered (reset() waits for them)."""

        async def answer(request: Request) -> Response:
            task = asyncio.current_task()
            assert task is not None
            self._requests.add(task)
            try:
                return await endpoint(request)
            finally:
                self._requests.discard(task)

        return answer

    async def _held(self, *, seconds: float = 0.0, until: asyncio.Event | None = None) -> bool:
        """Wait for `until` (when given), then `seconds`; False when reset() came first: the request belongs to a
        test now over, and must change nothing."""
        resetting = asyncio.ensure_future(self._resetting.wait())
        try:
            if until is not None:
                released = asyncio.ensure_future(until.wait())
                await asyncio.wait({released, resetting}, return_when=asyncio.FIRST_COMPLETED)
                released.cancel()
            if seconds > 0 and not resetting.done():
                await asyncio.wait({resetting}, timeout=seconds)
            elif until is None:
                await asyncio.sleep(0)  # as asyncio.sleep(0.0) did: the answer still lets others run first
            return not resetting.done()
        finally:
            resetting.cancel()

    async def _platform_api(self, request: Request) -> Response:
        """Every Management API request; StartScenarios beyond MAX_CONCURRENT_START_SCENARIOS in flight gets 429."""
        if request.path_params["method"] != "StartScenarios":
            return await self._api(request)
        if self.starting >= MAX_CONCURRENT_START_SCENARIOS:
            self.refused_as_too_many += 1
            return PlainTextResponse("Too Many Requests", status_code=429)
        self.starting += 1
        try:
            if self.hold_starts is not None and not await self._held(until=self.hold_starts):
                return _reset_answer()
            return await self._api(request)
        finally:
            self.starting -= 1

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        params = dict(request.query_params)
        params.update(parse_qsl((await request.body()).decode()))
        self.requests.append({**params, "method": method})
        if not self._authorized(params, request.headers.get("authorization", "")):
            return _error(100, "Authorization failed")
        if self._method_faults.get(method):
            code, msg, status = self._method_faults[method].popleft()
            return JSONResponse({"error": {"code": code, "msg": msg}}, status_code=status)
        if method == "GetCallerIDs":
            return _page(self.caller_ids, params)
        if method == "GetPhoneNumbers":
            return self._get_phone_numbers(params)
        if method == "GetSecrets":
            return self._get_secrets(params)
        if method in SETUP_METHODS:
            return JSONResponse(getattr(self, "_" + method)(params))
        if method == "GetCallHistory":
            return self._get_call_history(params)
        if method != "StartScenarios":
            return _error(103, "Unknown command")
        return await self._start_scenarios(params)

    async def _start_scenarios(self, params: dict[str, str]) -> Response:
        fault = self._faults.popleft() if self._faults else None
        if fault is not None and not fault.start_anyway:
            if not await self._held(seconds=fault.delay_s):
                return _reset_answer()
            return _fault(fault)
        try:
            rule_id = int(params.get("rule_id", ""))
        except ValueError:
            return _error(101, "Invalid arguments: rule_id or rule_name is required")
        if rule_id not in self.rule_ids:
            return _error(101, f"Invalid arguments: rule {rule_id} is not found")
        custom = params.get("script_custom_data", "")
        if len(custom.encode()) > MAX_CUSTOM_DATA:
            return _error(101, "Invalid arguments: script_custom_data is too long")
        session = await self._start(rule_id, custom)
        if self.answer_delay_s and not await self._held(seconds=self.answer_delay_s):
            return _reset_answer()
        if fault is not None:  # started, and then the answer is late or lost
            if not await self._held(until=fault.until, seconds=fault.delay_s):
                return _reset_answer()
            if fault.code is not None or fault.status != 200:
                return _fault(fault)
        return JSONResponse(
            {
                "result": 1,
                "media_session_access_url": session.access_url.replace("https://", "http://"),
                "media_session_access_secure_url": session.access_url,
                "call_session_history_id": session.history_id,
            }
        )

    def _authorized(self, params: dict[str, str], authorization: str) -> bool:
        if authorization.startswith("Bearer "):
            return self._valid_token(authorization.removeprefix("Bearer "))
        return params.get("account_id") == self.account_id and params.get("api_key") == self.api_key

    def _valid_token(self, token: str) -> bool:
        """As Voximplant checks a service-account JWT: known kid, RS256 signature, iss = account, short life."""
        try:
            header = jwt.get_unverified_header(token)
            account_id, public_key = self.service_accounts[header["kid"]]
            claims = jwt.decode(
                token, public_key, algorithms=["RS256"], issuer=account_id,
                options={"require": ["iss", "iat", "exp"]}, leeway=0,
            )  # fmt: skip
        except (jwt.PyJWTError, KeyError):
            return False
        if not isinstance(claims["iss"], str) or claims["exp"] - claims["iat"] > 3600:
            return False
        self.tokens.append({"header": header, "claims": claims})
        return account_id == self.account_id


def _fault(fault: Fault) -> Response:
    if fault.status != 200:
        return JSONResponse({"error": "server error"}, status_code=fault.status)
    return _error(fault.code or 1, fault.msg or "Fatal error")


def _reset_answer() -> Response:
    """What a request held across reset() gets: its test is over, and nobody reads it."""
    return PlainTextResponse("the fake was reset", status_code=503)
