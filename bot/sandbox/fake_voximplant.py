"""A fake Voximplant Management API: checks auth and parameters as Voximplant does, answers its shapes.

Point the bot at it with VOXIMPLANT_API_URL=<url>/platform_api/. Each StartScenarios success opens a session:
with a `runner` (the VoxEngine simulator) the real scenario runs; without one, tests play status events themselves.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ACCOUNT_ID = "1000001"
API_KEY = "sandbox-api-key"
RULE_ID = 3000001
MAX_CUSTOM_DATA = 200 * 1024


@dataclass
class Session:
    """One started scenario session: what it was given, and the control requests it received."""

    history_id: int
    rule_id: int
    custom_data: dict[str, Any]
    access_url: str
    raw_custom_data: str = ""
    control: list[dict[str, Any]] = field(default_factory=list)
    next_seq: int = 1
    api_log: list[dict[str, Any]] = field(default_factory=list)  # what the simulated scenario called, in order
    exit_code: int | None = None  # the simulator's, once it ended
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    history: dict[str, Any] | None = None  # what GetCallHistory reports once the session ended (see end_session)

    @property
    def call_id(self) -> str:
        return str(self.custom_data.get("call_id"))


@dataclass
class Fault:
    """One scripted answer to the next StartScenarios: an API error, an HTTP status, or a delay first."""

    code: int | None = None
    msg: str = ""
    status: int = 200
    delay_s: float = 0.0
    start_anyway: bool = False


Runner = Callable[[Session], Awaitable[str | None]]


class FakeVoximplant:
    def __init__(self, *, account_id: str = ACCOUNT_ID, api_key: str = API_KEY, rule_ids: set[int] | None = None):
        self.account_id = account_id
        self.api_key = api_key
        self.rule_ids = rule_ids if rule_ids is not None else {RULE_ID}
        self.requests: list[dict[str, str]] = []
        self.sessions: list[Session] = []
        self.runner: Runner | None = None
        self.url = ""  # set by whoever serves it, for the access URLs it hands out
        self._faults: deque[Fault] = deque()
        self._http = httpx.AsyncClient(timeout=5.0)
        self.app = Starlette(
            routes=[
                Route("/platform_api/{method}/", self._api, methods=["GET", "POST"]),
                Route("/session/{history_id:int}", self._control, methods=["POST"]),
            ]
        )

    # -- what tests use --------------------------------------------------------------------------------------------

    def fail_next(self, code: int | None = None, msg: str = "", *, status: int = 200, delay_s: float = 0.0,
                  start_anyway: bool = False) -> None:  # fmt: skip
        """Script the next StartScenarios answer; `start_anyway` starts the session before failing (a lost reply)."""
        self._faults.append(Fault(code=code, msg=msg, status=status, delay_s=delay_s, start_anyway=start_anyway))

    def session_for(self, call_id: str) -> Session:
        return next(s for s in self.sessions if s.call_id == call_id)

    def end_session(
        self, session: Session, *, duration: float, successful: bool, cost: float | None = None,
        end_reason: dict[str, Any] | None = None, finish_reason: str = "Normal termination",
    ) -> None:  # fmt: skip
        """Record the session as over in call history (what Voximplant keeps whether or not callbacks arrived)."""
        call: dict[str, Any] = {
            "call_id": session.history_id * 10 + 1, "incoming": False, "successful": successful,
            "duration": duration, "local_number": session.custom_data.get("caller_id", ""),
            "remote_number": session.custom_data.get("destination", ""), "remote_number_type": "pstn",
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
        bearer = token if token is not None else session.custom_data["callback_token"]
        return await self._http.post(
            session.custom_data["callback_url"], json=body, headers={"Authorization": f"Bearer {bearer}"}
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- HTTP ------------------------------------------------------------------------------------------------------

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        params = dict(request.query_params)
        params.update(parse_qsl((await request.body()).decode()))
        self.requests.append({**params, "method": method})
        if params.get("account_id") != self.account_id or params.get("api_key") != self.api_key:
            return _error(100, "Authorization failed")
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
        if fault is not None:  # started, and then the answer is late or lost
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

    def _get_call_history(self, params: dict[str, str]) -> Response:
        """GetCallHistory: from_date and to_date are required (UTC, `YYYY-MM-DD HH:mm:ss`); ids split by `;`."""
        try:
            since = datetime.strptime(params["from_date"], HISTORY_TIME).replace(tzinfo=UTC)
            until = datetime.strptime(params["to_date"], HISTORY_TIME).replace(tzinfo=UTC)
        except (KeyError, ValueError):
            return _error(101, "Invalid arguments: from_date and to_date are required as YYYY-MM-DD HH:mm:ss")
        try:
            wanted = {int(i) for i in params.get("call_session_history_id", "").split(";") if i}
        except ValueError:
            return _error(101, "Invalid arguments: call_session_history_id")
        with_calls = params.get("with_calls", "false").lower() == "true"
        found = [
            s for s in self.sessions
            if (not wanted or s.history_id in wanted) and since <= s.started_at <= until
        ]  # fmt: skip
        result = []
        for session in found:
            item: dict[str, Any] = {
                "call_session_history_id": session.history_id, "account_id": int(self.account_id),
                "application_id": 10001, "application_name": "callbot.sandbox.voximplant.com",
                "user_id": 0, "rule_name": "outbound", "start_date": _history_time(session.started_at),
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
        return JSONResponse({"result": result, "total_count": len(result), "count": len(result), "timezone": "Etc/GMT"})

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
        return JSONResponse({"ok": True})


HISTORY_TIME = "%Y-%m-%d %H:%M:%S"


def _history_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(HISTORY_TIME)


def _error(code: int, msg: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "msg": msg}})


def _fault(fault: Fault) -> Response:
    if fault.status != 200:
        return JSONResponse({"error": "server error"}, status_code=fault.status)
    return _error(fault.code or 1, fault.msg or "Fatal error")
