"""HTTP routes that are not Slack's: status callbacks from the scenario, and health."""

from __future__ import annotations

import logging
from datetime import timedelta

from slack_sdk.signature import SignatureVerifier
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.calls.service import CallService, utc_now
from bot.errors import EventRejected
from bot.logs import bind_call
from bot.store import Store

log = logging.getLogger(__name__)
MAX_EVENT_BYTES = 64 * 1024
NO_STORE = {"Cache-Control": "no-store"}  # a brief holds secrets: no proxy or cache keeps it
REPLAY_WINDOW = timedelta(minutes=10)  # Slack refuses timestamps older than 5 minutes; keep signatures twice that


async def voximplant_events(request: Request) -> Response:
    """POST /voximplant/events: one status event from a call's scenario."""
    calls: CallService = request.app.state.calls
    body = await request.body()
    if len(body) > MAX_EVENT_BYTES:
        return JSONResponse({"ok": False, "error": "body too large"}, status_code=413)
    try:
        event, outcome = await calls.receive_event(request.headers.get("authorization"), body)
    except EventRejected as rejected:
        log.info("refused a status event: %s", rejected)
        return JSONResponse({"ok": False, "error": rejected.detail}, status_code=rejected.status)
    bind_call(outcome.call.id)
    # Slack writes are queued in the outbox (SQLite) before we answer, so an accepted event is not lost to a crash;
    # an event stored just before a crash is announced at the next start, or when the scenario repeats it.
    if outcome.duplicate:
        await calls.catch_up(event)
    else:
        await calls.announce_once(outcome, event)
    return JSONResponse({"ok": True, "duplicate": outcome.duplicate})


async def voximplant_brief(request: Request) -> Response:
    """GET /voximplant/brief: the call's brief for its scenario, opened by the brief token in custom data."""
    calls: CallService = request.app.state.calls
    try:
        brief = await calls.brief(bearer_token(request.headers.get("authorization")))
    except EventRejected as rejected:
        log.info("refused a brief request: %s", rejected)
        return JSONResponse({"ok": False, "error": rejected.detail}, status_code=rejected.status, headers=NO_STORE)
    bind_call(str(brief["call_id"]))
    log.info("the scenario fetched the call's brief")
    return JSONResponse(brief, headers=NO_STORE)


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header; empty when there is none."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def healthz(request: Request) -> Response:
    store: Store = request.app.state.store
    try:
        healthy = await store.ping()
    except Exception:  # the probe must answer, whatever broke
        log.exception("health check: the store did not answer")
        healthy = False
    # How Voximplant's status events arrive (push or pull), so a probe shows the mode the bot runs in.
    mode = getattr(request.app.state, "events_mode", "push")
    return JSONResponse({"ok": healthy, "events": mode}, status_code=200 if healthy else 503)


async def is_replay(request: Request, body: bytes, verifier: SignatureVerifier, store: Store) -> bool:
    """True if this correctly signed Slack request was already received: someone is replaying it."""
    timestamp = request.headers.get("x-slack-request-timestamp", "")
    signature = request.headers.get("x-slack-signature", "")
    if not timestamp.isdigit():
        return False  # unsigned or malformed: Bolt refuses it with 401 (slack-sdk would raise on int(""))
    if not verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
        return False  # Bolt refuses it with 401
    now = utc_now()
    return not await store.first_sighting(signature, at=now, forget_before=now - REPLAY_WINDOW)
