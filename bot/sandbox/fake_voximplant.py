"""A fake Voximplant Management API: checks auth and parameters as Voximplant does, answers its shapes.

Auth: account_id + api_key form fields, or a service account's RS256 JWT (`Authorization: Bearer`), verified with
the account's public key (`add_service_account`). Setup methods (applications, scenarios, rules) keep state, with
the parameter names and result shapes of Voximplant's HTTP API reference.

Point the bot at it with VOXIMPLANT_API_URL=<url>/platform_api/. Each StartScenarios success opens a session:
with a `runner` (the VoxEngine simulator) the real scenario runs; without one, tests play status events themselves.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

ACCOUNT_ID = "1000001"
API_KEY = "sandbox-api-key"
RULE_ID = 3000001
# "Maximum size is 200 bytes": VoxEngine.customData() in voxengine.d.ts v28, and the custom-data guide
# (voximplant.com/docs/howtos/calls/custom_data). What StartScenarios answers past it is not documented: the fake
# answers Voximplant's "Invalid arguments" error (code 101), so the bot hears a refusal and dials nothing.
MAX_CUSTOM_DATA = 200
# AddScenario and SetScenarioInfo: scenario_script "The length must be less than 128 KB", sent form-encoded in UTF-8
# (voximplant.com/docs/references/httpapi/scenarios#addscenario and #setscenarioinfo). VoxEngine's own limit, "scenario
# size is limited to 256*1024 Unicode chars" (voximplant.com/docs/guides/voxengine/limits), is looser: a script
# under 128 KB of UTF-8 has fewer than 128 Ki characters, so the upload limit is the one that bites first.
MAX_SCENARIO_SCRIPT = 128 * 1024
# StartScenarios: "The maximum number of concurrent HTTP-requests is limited to 200. If this number is exceeded, this
# method returns the 429 code error (Too Many Requests)" (voximplant.com/docs/references/httpapi/scenarios
# #startscenarios; the same text in voximplant/apiclient-nodejs src/index.ts). The body of that answer is not
# documented: the fake sends plain text.
MAX_CONCURRENT_START_SCENARIOS = 200
ACCOUNT_NAME = "sandbox"
SANDBOX_MARK = "_sandbox"  # the fake's own note on a GetPhoneNumbers record: a test number (never sent)
READ_METHODS = {"GetApplications", "GetScenarios", "GetRules"}
SETUP_METHODS = {"GetApplications", "AddApplication", "GetScenarios", "AddScenario", "SetScenarioInfo", "GetRules",
                 "AddRule", "BindScenario"}  # fmt: skip


@dataclass
class Session:
    """One started scenario session: what it was given, and the control requests it received."""

    history_id: int
    rule_id: int
    custom_data: dict[str, Any]
    access_url: str
    raw_custom_data: str = ""
    brief: dict[str, Any] | None = None  # what the bot answered to the brief request (launch contract v2)
    briefing: asyncio.Task[dict[str, Any]] | None = None  # the brief request under way, without a runner
    control: list[dict[str, Any]] = field(default_factory=list)
    queued: list[dict[str, Any]] = field(default_factory=list)  # pull mode: events waiting for the bot to fetch them
    confirmed: int = 0  # pull mode: the highest seq the bot has said it received
    terminal_seq: int | None = None  # pull mode: the seq of the session's failed or disconnected event
    next_seq: int = 1
    api_log: list[dict[str, Any]] = field(default_factory=list)  # what the simulated scenario called, in order
    exit_code: int | None = None  # the simulator's, once it ended
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    history: dict[str, Any] | None = None  # what GetCallHistory reports once the session ended (see end_session)

    @property
    def call_id(self) -> str:
        return str(self.custom_data.get("id"))

    @property
    def pulled(self) -> bool:
        """Pull mode: the bot brings the brief and fetches the events through the access URL."""
        return self.custom_data.get("m") == "pull"


@dataclass
class Fault:
    """One scripted answer to the next StartScenarios: an API error, an HTTP status, or a delay first."""

    code: int | None = None
    msg: str = ""
    status: int = 200
    delay_s: float = 0.0
    start_anyway: bool = False
    until: asyncio.Event | None = None  # with start_anyway: the answer waits for this, the session runs meanwhile


Runner = Callable[[Session], Awaitable[str | None]]


class FakeVoximplant:
    def __init__(self, *, account_id: str = ACCOUNT_ID, api_key: str = API_KEY, rule_ids: set[int] | None = None):
        self.account_id = account_id
        self.api_key = api_key
        self.rule_ids = rule_ids if rule_ids is not None else {RULE_ID}
        self.requests: list[dict[str, str]] = []
        self.sessions: list[Session] = []
        self.runner: Runner | None = None
        self.caller_ids: list[dict[str, Any]] = []  # GetCallerIDs records, as Voximplant shapes them
        self.phone_numbers: list[dict[str, Any]] = []  # GetPhoneNumbers records
        self.answer_delay_s = 0.0  # every StartScenarios answer waits this long (a slow Voximplant), faults apart
        self.control_answer: dict[str, Any] = {"ok": True}  # what a session's access URL answers (HTTP 200)
        self.url = ""  # set by whoever serves it, for the access URLs it hands out
        self.brief_refusal: str | None = None  # pull mode: what each session answers a brief with, if it refuses
        self.fetch_briefs = True  # without a runner, each session fetches its brief at once, as the scenario does
        self._faults: deque[Fault] = deque()
        self._method_faults: dict[str, deque[tuple[int, str, int]]] = {}
        self.service_accounts: dict[str, tuple[str, str]] = {}  # key_id -> (account_id, public key PEM)
        self.tokens: list[dict[str, Any]] = []  # decoded (header, claims) of every JWT accepted
        self.applications: list[dict[str, Any]] = []
        self.scenarios: list[dict[str, Any]] = []
        self.rules: list[dict[str, Any]] = []
        self.secrets: list[dict[str, Any]] = []  # GetSecrets records, with the application_id they belong to
        # GetCallHistory reads from_date/to_date in the request's `timezone`; without one, in the account's own
        # (the documentation does not say which zone applies then; this one shows why callbot always sends it).
        self.account_timezone = "Etc/GMT"
        self._ids = 0
        self.starting = 0  # StartScenarios requests in flight now
        self.refused_as_too_many = 0  # StartScenarios requests answered 429 for going over the limit
        self.hold_starts: asyncio.Event | None = None  # while set and not yet set(), StartScenarios requests wait
        self._http = httpx.AsyncClient(timeout=5.0)
        self.app = Starlette(
            routes=[
                Route("/platform_api/{method}/", self._platform_api, methods=["GET", "POST"]),
                Route("/session/{history_id:int}", self._control, methods=["POST"]),
            ]
        )

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

    def session_for(self, call_id: str) -> Session:
        return next(s for s in self.sessions if s.call_id == call_id)

    def end_session(
        self, session: Session, *, duration: float, successful: bool, cost: float | None = None,
        end_reason: dict[str, Any] | None = None, finish_reason: str = "Normal termination",
    ) -> None:  # fmt: skip
        """Record the session as over in call history (what Voximplant keeps whether or not callbacks arrived)."""
        call: dict[str, Any] = {
            "call_id": session.history_id * 10 + 1, "incoming": False, "successful": successful,
            "duration": duration, "local_number": (session.brief or {}).get("caller_id", ""),
            "remote_number": (session.brief or {}).get("destination", ""), "remote_number_type": "pstn",
            "start_time": _history_time(session.started_at), "media_server_address": "127.0.0.1",
            "transaction_id": session.history_id * 10 + 2,
        }  # fmt: skip
        if cost is not None:
            call["cost"] = cost
        if end_reason is not None:
            call["end_reason"] = end_reason
        session.history = {"duration": duration + 1, "finish_reason": finish_reason, "calls": [call]}

    async def send_event(
        self, session: Session, event: str, data: dict[str, Any] | None = None, *, seq: int | None = None,
        token: str | None = None,
    ) -> httpx.Response:  # fmt: skip
        """POST one status event to the bot as the scenario does; seq counts up unless given."""
        if seq is None:
            seq, session.next_seq = session.next_seq, session.next_seq + 1
        body = {
            "v": 1, "call_id": session.call_id, "seq": seq, "event": event,
            "at": datetime.now(UTC).isoformat(), "data": data or {},
        }  # fmt: skip
        brief = await self.briefed(session)
        bearer = token if token is not None else brief["callback_token"]
        return await self._http.post(brief["callback_url"], json=body, headers={"Authorization": f"Bearer {bearer}"})

    def queue_event(self, session: Session, event: str, data: dict[str, Any] | None = None) -> int:
        """Pull mode: queue one status event for the bot to fetch, as the scenario does; returns its seq."""
        seq, session.next_seq = session.next_seq, session.next_seq + 1
        session.queued.append({
            "v": 1, "call_id": session.call_id, "seq": seq, "event": event, "at": datetime.now(UTC).isoformat(),
            "data": data or {},
        })  # fmt: skip
        if event in TERMINAL_EVENTS and session.terminal_seq is None:
            session.terminal_seq = seq
        return seq

    async def briefed(self, session: Session) -> dict[str, Any]:
        """The session's brief, as the scenario fetches it at its start (launch contract v2); fetched once."""
        if session.brief is None:
            if session.briefing is None:
                session.briefing = asyncio.create_task(self.fetch_brief(session))
            session.brief = await session.briefing
        return session.brief

    async def fetch_brief(self, session: Session, *, token: str | None = None) -> dict[str, Any]:
        """GET the brief as the scenario does: custom data's `u`, `Authorization: Bearer <t>`; raises on a refusal."""
        response = await self.request_brief(session, token=token)
        response.raise_for_status()
        brief: dict[str, Any] = response.json()
        return brief

    async def request_brief(self, session: Session, *, token: str | None = None) -> httpx.Response:
        bearer = token if token is not None else session.custom_data.get("t", "")
        return await self._http.get(str(session.custom_data.get("u")), headers={"Authorization": f"Bearer {bearer}"})

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- HTTP ------------------------------------------------------------------------------------------------------

    async def _platform_api(self, request: Request) -> Response:
        """Every Management API request; StartScenarios beyond MAX_CONCURRENT_START_SCENARIOS in flight gets 429."""
        if request.path_params["method"] != "StartScenarios":
            return await self._api(request)
        if self.starting >= MAX_CONCURRENT_START_SCENARIOS:
            self.refused_as_too_many += 1
            return PlainTextResponse("Too Many Requests", status_code=429)
        self.starting += 1
        try:
            if self.hold_starts is not None:
                await self.hold_starts.wait()
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
        fault = self._faults.popleft() if self._faults else None
        if fault is not None and not fault.start_anyway:
            await asyncio.sleep(fault.delay_s)
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
        if self.answer_delay_s:
            await asyncio.sleep(self.answer_delay_s)
        if fault is not None:  # started, and then the answer is late or lost
            if fault.until is not None:
                await fault.until.wait()
            await asyncio.sleep(fault.delay_s)
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

    # -- setup methods (voximplant.com/docs/references/httpapi: applications, scenarios, rules) ------------------

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def _application(self, params: dict[str, str]) -> dict[str, Any] | None:
        if "application_id" in params:
            return next((a for a in self.applications if str(a["application_id"]) == params["application_id"]), None)
        name = params.get("application_name")
        return next((a for a in self.applications if a["application_name"].split(".")[0] == name), None)

    def _GetApplications(self, params: dict[str, str]) -> dict[str, Any]:  # Voximplant method names, as called
        part = params.get("application_name", "")
        found = [dict(a) for a in self.applications if part in a["application_name"]]
        return {"result": found, "total_count": len(found), "count": len(found)}

    def _AddApplication(self, params: dict[str, str]) -> dict[str, Any]:
        name = params.get("application_name", "")
        if not re.fullmatch(r"[a-z][a-z0-9-]{1,64}", name):
            return {"error": {"code": 101, "msg": "Invalid arguments: application_name"}}
        if self._application({"application_name": name}) is not None:
            return {"error": {"code": 113, "msg": "The application name is already taken"}}
        app = {"application_id": 10_000 + self._next_id(),
               "application_name": f"{name}.{ACCOUNT_NAME}.n1.voximplant.com", "modified": _now(),
               "secure_record_storage": False}  # fmt: skip
        self.applications.append(app)
        return {"result": 1, "application_id": app["application_id"], "application_name": app["application_name"],
                "secure_record_storage": False}  # fmt: skip

    def _GetScenarios(self, params: dict[str, str]) -> dict[str, Any]:
        app = self._application(params)
        if app is None:
            return {"error": {"code": 101, "msg": "Invalid arguments: application is not found"}}
        found = [s for s in self.scenarios if s["application_id"] == app["application_id"]]
        if "scenario_id" in params:
            found = [s for s in found if str(s["scenario_id"]) == params["scenario_id"]]
        if "scenario_name" in params:
            found = [s for s in found if params["scenario_name"].lower() in s["scenario_name"].lower()]
        with_script = params.get("with_script", "").lower() in {"true", "1"} and "scenario_id" in params
        shaped = [{k: v for k, v in s.items() if k != "application_id" and (with_script or k != "scenario_script")}
                  for s in found]  # fmt: skip
        return {"result": shaped, "total_count": len(shaped), "count": len(shaped),
                "application_id": app["application_id"], "application_name": app["application_name"]}  # fmt: skip

    def _AddScenario(self, params: dict[str, str]) -> dict[str, Any]:
        app = self._application(params)
        name, script = params.get("scenario_name", ""), params.get("scenario_script", "")
        if app is None or not name or len(name) >= 30:
            return {"error": {"code": 101, "msg": "Invalid arguments: application or scenario_name"}}
        if len(script.encode()) >= MAX_SCENARIO_SCRIPT:
            return {"error": {"code": 101, "msg": "Invalid arguments: scenario_script must be less than 128 KB"}}
        if any(s["scenario_name"] == name and s["application_id"] == app["application_id"] for s in self.scenarios):
            return {"error": {"code": 114, "msg": "The scenario name is already taken"}}
        scenario = {"scenario_id": 20_000 + self._next_id(), "scenario_name": name, "scenario_script": script,
                    "modified": _now(), "parent": False, "application_id": app["application_id"]}  # fmt: skip
        self.scenarios.append(scenario)
        return {"result": 1, "scenario_id": scenario["scenario_id"]}

    def _SetScenarioInfo(self, params: dict[str, str]) -> dict[str, Any]:
        scenario = next((s for s in self.scenarios if str(s["scenario_id"]) == params.get("scenario_id")), None)
        if scenario is None:
            return {"error": {"code": 101, "msg": "Invalid arguments: scenario is not found"}}
        if len(params.get("scenario_script", "").encode()) >= MAX_SCENARIO_SCRIPT:
            return {"error": {"code": 101, "msg": "Invalid arguments: scenario_script must be less than 128 KB"}}
        if "scenario_script" in params:
            scenario["scenario_script"] = params["scenario_script"]
            scenario["modified"] = _now()
        return {"result": 1}

    def _GetRules(self, params: dict[str, str]) -> dict[str, Any]:
        app = self._application(params)
        if app is None:
            return {"error": {"code": 101, "msg": "Invalid arguments: application is not found"}}
        found = [r for r in self.rules if r["application_id"] == app["application_id"]]
        if "rule_id" in params:
            found = [r for r in found if str(r["rule_id"]) == params["rule_id"]]
        if "rule_name" in params:
            found = [r for r in found if params["rule_name"] in r["rule_name"]]
        with_scenarios = params.get("with_scenarios", "").lower() in {"true", "1"}
        shaped = []
        for rule in found:
            item = {k: v for k, v in rule.items() if k != "scenario_ids"}
            if with_scenarios:
                item["scenarios"] = [{k: v for k, v in s.items() if k not in {"scenario_script", "application_id"}}
                                     for s in self.scenarios if s["scenario_id"] in rule["scenario_ids"]]  # fmt: skip
            shaped.append(item)
        return {"result": shaped, "total_count": len(shaped), "count": len(shaped)}

    def _AddRule(self, params: dict[str, str]) -> dict[str, Any]:
        app = self._application(params)
        name, pattern = params.get("rule_name", ""), params.get("rule_pattern", "")
        try:
            ids = [int(i) for i in params.get("scenario_id", "").split(";") if i]
        except ValueError:
            ids = []
        known = {s["scenario_id"] for s in self.scenarios}
        if app is None or not name or len(name) >= 100 or not pattern or not ids or not set(ids) <= known:
            return {
                "error": {"code": 101, "msg": "Invalid arguments: application, rule_name, rule_pattern or scenario"}
            }
        rule = {"rule_id": RULE_ID + self._next_id(), "application_id": app["application_id"], "rule_name": name,
                "rule_pattern": pattern, "video_conference": False, "modified": _now(),
                "scenario_ids": ids}  # fmt: skip
        self.rules.append(rule)
        self.rule_ids.add(rule["rule_id"])
        return {"result": 1, "rule_id": rule["rule_id"]}

    def _BindScenario(self, params: dict[str, str]) -> dict[str, Any]:
        rule = next((r for r in self.rules if str(r["rule_id"]) == params.get("rule_id")), None)
        scenario = next((s for s in self.scenarios if str(s["scenario_id"]) == params.get("scenario_id")), None)
        if rule is None or scenario is None or rule["application_id"] != scenario["application_id"]:
            return {"error": {"code": 101, "msg": "Invalid arguments: rule or scenario"}}
        if params.get("bind", "true").lower() in {"true", "1"}:
            if scenario["scenario_id"] not in rule["scenario_ids"]:
                rule["scenario_ids"].append(scenario["scenario_id"])
        elif scenario["scenario_id"] in rule["scenario_ids"]:
            rule["scenario_ids"].remove(scenario["scenario_id"])
        return {"result": 1}

    def _get_phone_numbers(self, params: dict[str, str]) -> Response:
        """GetPhoneNumbers, paged; `sandbox` lists "only the numbers of the sandbox, real numbers, or all numbers"
        ('true', 'false', 'all': GetPhoneNumbersRequest, voximplant.com/docs/references/voxengine/voximplantapi/
        getphonenumbersrequest). Its default is not documented; the fake lists all numbers without it."""
        sandbox = params.get("sandbox", "all").lower()
        if sandbox not in {"all", "true", "false"}:
            return _error(101, "Invalid arguments: sandbox must be all, true or false")
        wanted = [r for r in self.phone_numbers if sandbox == "all" or r[SANDBOX_MARK] == (sandbox == "true")]
        return _page([{k: v for k, v in r.items() if k != SANDBOX_MARK} for r in wanted], params)

    def _get_secrets(self, params: dict[str, str]) -> Response:
        """GetSecrets: the application's secrets by name, never their values (SecretListItem: secret_id,
        secret_name, description, created, modified; voximplant.com/docs/guides/voxengine/secrets and
        voximplant.com/docs/references/voxengine/voximplantapi/getsecretsrequest)."""
        app = self._application(params)
        if app is None:
            return _error(101, "Invalid arguments: application_id or application_name is required")
        part = params.get("secret_name_part", "")
        found = [{k: v for k, v in s.items() if k != "application_id"} for s in self.secrets
                 if s["application_id"] == app["application_id"] and part in s["secret_name"]]  # fmt: skip
        return _page(found, params)

    def _get_call_history(self, params: dict[str, str]) -> Response:
        """GetCallHistory: from_date and to_date are required (`YYYY-MM-DD HH:mm:ss` "in the selected timezone",
        the `timezone` parameter), ids split by `;`, `call_session_history_custom_data` filters by the custom data
        the session was started with (GetCallHistoryRequest: voximplant.com/docs/references/avatarengine and
        voximplant/apiclient-nodejs src/Interfaces.ts; the answer names the zone used: GetCallHistoryResponse,
        voximplant.com/docs/references/voxengine/voximplantapi/getcallhistoryresponse).

        Whether Voximplant matches the custom data whole or in part is not documented: the fake matches it whole.
        """
        timezone = params.get("timezone") or self.account_timezone
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return _error(101, f"Invalid arguments: timezone {timezone}")
        try:
            since = datetime.strptime(params["from_date"], HISTORY_TIME).replace(tzinfo=zone)
            until = datetime.strptime(params["to_date"], HISTORY_TIME).replace(tzinfo=zone)
        except (KeyError, ValueError):
            return _error(101, "Invalid arguments: from_date and to_date are required as YYYY-MM-DD HH:mm:ss")
        try:
            wanted = {int(i) for i in params.get("call_session_history_id", "").split(";") if i}
        except ValueError:
            return _error(101, "Invalid arguments: call_session_history_id")
        with_calls = params.get("with_calls", "false").lower() == "true"
        custom = params.get("call_session_history_custom_data")
        found = [
            s for s in self.sessions
            if (not wanted or s.history_id in wanted) and since <= s.started_at <= until
            and (custom is None or s.raw_custom_data == custom)
        ]  # fmt: skip
        if params.get("desc_order", "").lower() in {"true", "1"}:
            found.reverse()
        result = []
        for session in found:
            item: dict[str, Any] = {
                "call_session_history_id": session.history_id, "account_id": int(self.account_id),
                "application_id": 10001, "application_name": "callbot.sandbox.voximplant.com",
                "user_id": 0, "rule_name": "outbound", "start_date": _in_zone(session.started_at, zone),
                "initiator_address": "127.0.0.1", "media_server_address": "127.0.0.1",
                "log_file_url": f"{self.url}/logs/{session.history_id}.log",
                "custom_data": session.raw_custom_data,
            }  # fmt: skip
            if session.history is not None:
                item["duration"] = session.history["duration"]
                item["finish_reason"] = session.history["finish_reason"]
                if with_calls:
                    item["calls"] = session.history["calls"]
            elif with_calls:
                item["calls"] = []
            result.append(item)
        total = len(result)
        result = result[: int(params["count"])] if params.get("count", "").isdigit() else result
        return JSONResponse({"result": result, "total_count": total, "count": len(result), "timezone": timezone})

    async def _start(self, rule_id: int, custom: str) -> Session:
        history_id = 500_000 + len(self.sessions) + 1
        try:
            data = json.loads(custom) if custom else {}
        except ValueError:
            data = {"raw": custom}
        session = Session(
            history_id, rule_id, data, access_url=f"{self.url}/session/{history_id}", raw_custom_data=custom
        )
        self.sessions.append(session)
        if self.runner is not None:
            access_url = await self.runner(session)
            if access_url:
                session.access_url = access_url
        elif self.fetch_briefs and isinstance(data.get("u"), str) and data.get("m") != "pull":
            # As the scenario does on AppEvents.Started, while StartScenarios is still answering.
            session.briefing = asyncio.create_task(self.fetch_brief(session))
            # A bot that is not there (a test that only looks at StartScenarios) is not an error of the fake's:
            # the failure is kept for whoever awaits the brief, and not reported as never retrieved.
            session.briefing.add_done_callback(lambda task: task.cancelled() or task.exception())
        return session

    async def _control(self, request: Request) -> Response:
        history_id = request.path_params["history_id"]
        session = next((s for s in self.sessions if s.history_id == history_id), None)
        if session is None:
            return Response("session not found", status_code=404)
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = {"raw": True}
        session.control.append(body)
        if isinstance(body, dict) and session.pulled:
            if body.get("action") == "brief" and self.brief_refusal is not None:
                return JSONResponse({"ok": False, "error": self.brief_refusal})
            return JSONResponse(_pulled(session, body, self.control_answer))
        # As the scenario does: only the control secret from the brief moves the call.
        briefing = session.briefing
        if session.brief is None and briefing is not None and briefing.done() and briefing.exception() is None:
            session.brief = briefing.result()
        secret = session.brief.get("control_secret") if session.brief else None
        if not isinstance(body, dict) or secret is None or body.get("secret") != secret:
            return JSONResponse({"ok": False, "error": "missing or wrong secret"})
        return JSONResponse(self.control_answer)


PULL_BATCH = 20  # events per answer, as scenarios/outbound_call.js bounds them (scenarios/README.md, "Pull mode")
TERMINAL_EVENTS = {"failed", "disconnected"}


def _pulled(session: Session, body: dict[str, Any], control_answer: dict[str, Any]) -> dict[str, Any]:
    """The scenario's answers in pull mode (scenarios/README.md, "Pull mode"): brief, events, hangup."""
    action = body.get("action")
    if action == "brief":
        brief = body.get("brief")
        if not isinstance(brief, dict) or brief.get("call_id") != session.call_id:
            return {"ok": False, "error": "bad brief"}
        if session.brief is not None and session.brief.get("control_secret") != brief.get("control_secret"):
            return {"ok": False, "error": "brief already delivered"}
        session.brief = brief
        return {"ok": True}
    secret = session.brief.get("control_secret") if session.brief else None
    if secret is None or body.get("secret") != secret:
        return {"ok": False, "error": "missing or wrong secret"}
    if action == "hangup":
        return control_answer
    if action != "events" or not isinstance(body.get("after"), int):
        return {"ok": False, "error": "unknown action"}
    session.confirmed = max(session.confirmed, body["after"])
    session.queued = [event for event in session.queued if event["seq"] > session.confirmed]
    done = session.terminal_seq is not None and session.confirmed >= session.terminal_seq
    return {"ok": True, "events": session.queued[:PULL_BATCH], "last_seq": session.next_seq - 1, "done": done}


def _page(records: list[dict[str, Any]], params: dict[str, str]) -> JSONResponse:
    """A list method's answer: `count` records from `offset` (Voximplant's default count is 20)."""
    try:
        count, offset = int(params.get("count", 20)), int(params.get("offset", 0))
    except ValueError:
        return _error(101, "Invalid arguments: count and offset must be numbers")
    if count < 0 or offset < 0:
        return _error(101, "Invalid arguments: count and offset must not be negative")
    page = records[offset : offset + count]
    return JSONResponse({"result": page, "total_count": len(records), "count": len(page)})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


HISTORY_TIME = "%Y-%m-%d %H:%M:%S"


def _history_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(HISTORY_TIME)


def _in_zone(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime(HISTORY_TIME)


def _error(code: int, msg: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "msg": msg}})


def _fault(fault: Fault) -> Response:
    if fault.status != 200:
        return JSONResponse({"error": "server error"}, status_code=fault.status)
    return _error(fault.code or 1, fault.msg or "Fatal error")
