"""The fake Voximplant's scenario sessions: what StartScenarios starts, and what a session does as the scenario
would (fetch its brief, report status events, answer its access URL, queue events in pull mode).

`FakeVoximplant` (bot/sandbox/fake_voximplant.py) keeps the sessions and serves their access URLs from here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

PULL_BATCH = 20  # events per answer, as scenarios/outbound_call.js bounds them (scenarios/README.md, "Pull mode")
TERMINAL_EVENTS = {"failed", "disconnected"}
HISTORY_TIME = "%Y-%m-%d %H:%M:%S"


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


Runner = Callable[[Session], Awaitable[str | None]]


class Sessions:
    """The session side of the fake, over the state `FakeVoximplant` keeps (declared here, set by FakeVoximplant)."""

    url: str
    sessions: list[Session]
    runner: Runner | None
    control_answer: dict[str, Any]
    brief_refusal: str | None
    fetch_briefs: bool
    _http: httpx.AsyncClient

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
            "start_time": session.started_at.astimezone(UTC).strftime(HISTORY_TIME),
            "media_server_address": "127.0.0.1", "transaction_id": session.history_id * 10 + 2,
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

    async def _stop_sessions(self) -> None:
        """Cancel the brief fetches still under way (their bot is gone with the test), and wait for them."""
        fetches = [s.briefing for s in self.sessions if s.briefing is not None and not s.briefing.done()]
        for fetch in fetches:
            fetch.cancel()
        await asyncio.gather(*fetches, return_exceptions=True)

    # -- HTTP ------------------------------------------------------------------------------------------------------

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


def _pulled(session: Session, body: dict[str, Any], control_answer: dict[str, Any]) -> dict[str, Any]:
    """The scenario's answers in pull mode (scenarios/README.md, "Pull mode"): brief, events, hangup, say."""
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
    if action in ("hangup", "say"):
        return control_answer
    if action != "events" or not isinstance(body.get("after"), int):
        return {"ok": False, "error": "unknown action"}
    session.confirmed = max(session.confirmed, body["after"])
    session.queued = [event for event in session.queued if event["seq"] > session.confirmed]
    done = session.terminal_seq is not None and session.confirmed >= session.terminal_seq
    return {"ok": True, "events": session.queued[:PULL_BATCH], "last_seq": session.next_seq - 1, "done": done}
