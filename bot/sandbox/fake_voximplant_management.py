"""The fake Voximplant's Management API methods besides StartScenarios: setup (applications, scenarios, rules),
GetCallerIDs' and GetPhoneNumbers' lists, GetSecrets and GetCallHistory, with Voximplant's parameter names, result
shapes and errors. `FakeVoximplant` (bot/sandbox/fake_voximplant.py) checks auth and dispatches here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.responses import JSONResponse, Response

from bot.sandbox.fake_voximplant_sessions import HISTORY_TIME, Session

RULE_ID = 3000001
# AddScenario and SetScenarioInfo: scenario_script "The length must be less than 128 KB", sent form-encoded in UTF-8
# (voximplant.com/docs/references/httpapi/scenarios#addscenario and #setscenarioinfo). VoxEngine's own limit, "scenario
# size is limited to 256*1024 Unicode chars" (voximplant.com/docs/guides/voxengine/limits), is looser: a script
# under 128 KB of UTF-8 has fewer than 128 Ki characters, so the upload limit is the one that bites first.
MAX_SCENARIO_SCRIPT = 128 * 1024
ACCOUNT_NAME = "sandbox"
SANDBOX_MARK = "_sandbox"  # the fake's own note on a GetPhoneNumbers record: a test number (never sent)
READ_METHODS = {"GetApplications", "GetScenarios", "GetRules"}
SETUP_METHODS = {"GetApplications", "AddApplication", "GetScenarios", "AddScenario", "SetScenarioInfo", "GetRules",
                 "AddRule", "BindScenario"}  # fmt: skip


class ManagementApi:
    """The methods, over the state `FakeVoximplant` keeps (declared here, set by FakeVoximplant)."""

    url: str
    account_id: str
    account_timezone: str
    rule_ids: set[int]
    sessions: list[Session]
    caller_ids: list[dict[str, Any]]
    phone_numbers: list[dict[str, Any]]
    applications: list[dict[str, Any]]
    scenarios: list[dict[str, Any]]
    rules: list[dict[str, Any]]
    secrets: list[dict[str, Any]]
    _ids: int

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


def _in_zone(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime(HISTORY_TIME)


def _error(code: int, msg: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "msg": msg}})
