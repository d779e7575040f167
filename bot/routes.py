"""HTTP routes: Slack's front door (checked before Bolt sees anything), status callbacks from the scenario, health.

Both public routes read their body as a stream and stop at a cap (413), so a stranger's upload never sits in
memory whole. A request that is not provably Slack's gets a 4xx and, at most, one short log line a minute.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from urllib.parse import parse_qsl

from pydantic import ValidationError
from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncBoltContext, AsyncBoltRequest
from slack_bolt.request.async_internals import build_async_context
from slack_sdk.signature import SignatureVerifier
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.calls.clock import utc_now
from bot.calls.models import STATUS_EVENTS
from bot.errors import BadToken, BriefWithheld, StoreUnavailable, Withheld
from bot.logs import QuietLog, bind_call
from bot.slack import texts
from bot.slack.inbox import Inbox, is_slash_command
from bot.state import BotState, callbacks_of, state_of
from bot.store import Store

log = logging.getLogger(__name__)
# Status events: a transcript line is cut at 10,000 characters; JSON-escaped that is at most 60 KB.
MAX_EVENT_BYTES = 64 * 1024
# Slack's requests: the largest it sends us is a view_submission or a block_actions carrying a view or a message, and
# those are bounded by Slack's own limits (a modal holds at most 100 blocks and 3,000 characters of private_metadata:
# docs.slack.dev/reference/views/modal-views; a message 50 blocks), far below this. Slack's own bolt-js refuses
# bodies over 4 MB unverified (bolt-js v5.1.0, `bodyLimit`); a slash command is a few kilobytes.
MAX_SLACK_BYTES = 1024 * 1024
# Past a cap, this much more is read and dropped before answering, so a client still sending reads the 413 rather
# than a reset connection; a larger upload is cut off there.
DRAIN_BYTES = 4 * 1024 * 1024
NO_STORE = {"Cache-Control": "no-store"}  # a brief holds secrets: no proxy or cache keeps it
REPLAY_WINDOW = timedelta(minutes=10)  # Slack refuses timestamps older than 5 minutes; keep signatures twice that
_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}", re.ASCII)


class TooLarge(Exception):
    """The body passed its cap. `drained`: the rest was read and dropped, so the connection can be kept."""

    def __init__(self, *, drained: bool) -> None:
        super().__init__("body too large")
        self.drained = drained


async def read_capped(request: Request, limit: int) -> bytes:
    """The request body, or TooLarge once it passes `limit` bytes: nothing past the limit is kept.

    A little past it (DRAIN_BYTES) is read and dropped, so a client still sending gets the 413 and not a reset
    connection; beyond that reading stops, and the answer closes the connection.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + DRAIN_BYTES:
        raise TooLarge(drained=False)
    body = bytearray()
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit + DRAIN_BYTES:
            raise TooLarge(drained=False)
        if seen <= limit:
            body += chunk
    if seen > limit:
        raise TooLarge(drained=True)
    return bytes(body)


def _too_large(route: str, refused: TooLarge, quiet: QuietLog) -> Response:
    quiet.refused(route, "body too large")
    # Connection: close when the rest of the upload was not read, so the server stops reading it.
    headers = {} if refused.drained else {"Connection": "close"}
    return JSONResponse({"ok": False, "error": "body too large"}, status_code=413, headers=headers)


async def slack_events(request: Request) -> Response:
    """POST /slack/events: verified here (size, signature, age, shape) before Bolt sees it; replays absorbed."""
    state = state_of(request.app)
    quiet = state.quiet_log
    try:
        body = await read_capped(request, MAX_SLACK_BYTES)
    except TooLarge as refused:
        return _too_large("/slack/events", refused, quiet)
    why = unsigned_reason(request, body, state.verifier)
    if why is not None:
        quiet.refused("/slack/events", why)
        return Response(status_code=401)
    bolt_request = _bolt_request(request, body)
    if bolt_request is None:  # signed, yet not a payload Slack sends
        quiet.refused("/slack/events", "a signed body that is not a Slack payload")
        return Response(status_code=400)
    if state.inbox is not None and is_slash_command(bolt_request.body):  # a web replica: a worker runs it
        return await _keep_for_a_worker(state.inbox, bolt_request.body, request.headers["x-slack-signature"], state)
    try:
        if await is_replay(request.headers["x-slack-signature"], state.store):
            log.warning("ignored a replayed Slack request")
            return Response(status_code=200)
    except StoreUnavailable as error:  # nothing can be stored, so a replay could place nothing: let Bolt answer
        state.store_log.refused("/slack/events", str(error))
    return to_starlette_response(await state.slack_handler.app.async_dispatch(bolt_request))


async def _keep_for_a_worker(inbox: Inbox, body: dict[str, object], signature: str, state: BotState) -> Response:
    """A web replica's answer to a slash command: kept for a worker (which says what there is to say through the
    command's response_url), then an empty 200, as a listener that only acks; a replay is kept no more."""
    try:
        if not await inbox.keep(body, signature=signature, replay_window=REPLAY_WINDOW):
            log.warning("ignored a replayed Slack request")
    except StoreUnavailable as error:
        state.store_log.refused("/slack/events", str(error))
        return JSONResponse({"response_type": "ephemeral", "text": texts.STORE_FAILED})
    return Response(status_code=200)


def unsigned_reason(request: Request, body: bytes, verifier: SignatureVerifier) -> str | None:
    """Why this request is not provably from Slack (bad or stale signature, malformed headers); None if it is."""
    timestamp = request.headers.get("x-slack-request-timestamp", "")
    signature = request.headers.get("x-slack-signature", "")
    if not _TIMESTAMP.fullmatch(timestamp):
        return "no valid X-Slack-Request-Timestamp"
    if not _SIGNATURE.fullmatch(signature):
        return "no valid X-Slack-Signature"
    try:
        body.decode("utf-8")  # slack-sdk decodes it to check the signature; Slack sends only UTF-8
    except UnicodeDecodeError:
        return "a body that is not UTF-8"
    if not verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
        return "bad signature, or a timestamp more than 5 minutes away"
    return None


def _bolt_request(request: Request, body: bytes) -> AsyncBoltRequest | None:
    """The request as Bolt takes it, or None when the body is not a form or JSON object Slack would send."""
    try:
        text = body.decode("utf-8")
        if not _is_slack_payload(text, request.headers.get("content-type", "")):
            return None
        bolt_request = AsyncBoltRequest(body=text, query=str(request.query_params), headers=dict(request.headers))
    except (ValueError, TypeError, AttributeError, KeyError, IndexError):  # Bolt reads what it finds as given
        return None
    if "payload" in text and not bolt_request.body:
        # Bolt takes any form mentioning "payload" for an interactivity request and, finding no payload field,
        # reads nothing: a slash command whose text says "payload" would go unanswered. Read it as the form it is.
        fields = dict(parse_qsl(text, keep_blank_values=True))
        bolt_request.body = fields
        bolt_request.context = build_async_context(AsyncBoltContext({}), fields)
    return bolt_request


def _is_slack_payload(text: str, content_type: str) -> bool:
    """True when Bolt would read `text` as a payload shaped as Slack's are: a form, or a JSON object (alone, or as a
    form's `payload`) whose fields Bolt reads have the types Slack gives them."""
    if content_type.split(";")[0].strip() == "application/json" or text.startswith("{"):
        return _has_slack_shape(_json(text))
    if "=" not in text:  # every form Slack sends has fields
        return False
    fields = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in text:  # Bolt's rule: a body mentioning payload is an interactivity request
        return "payload" not in fields or _has_slack_shape(_json(fields["payload"]))
    return True


# The fields of a Slack payload that Bolt reads before any listener runs, with the types Slack sends: Bolt's
# middleware and context builders call `.get` on these, so a signed body with another type would crash it.
_OBJECTS = frozenset({"event", "view", "container", "channel", "message", "function_data", "state"})
_OBJECTS_OR_TEXT = frozenset({"team", "user", "enterprise"})
_LISTS_OF_OBJECTS = frozenset({"authorizations", "actions", "response_urls"})
_TEXTS = frozenset(
    {"type", "command", "callback_id", "trigger_id", "response_url", "user_id", "team_id", "channel_id",
     "enterprise_id", "api_app_id", "action_ts", "message_ts", "bot_access_token", "challenge"}
)  # fmt: skip


def _has_slack_shape(payload: object) -> bool:
    """True for a JSON object whose top-level fields that Bolt reads have Slack's types (or are null)."""
    if not isinstance(payload, dict):
        return False
    for key, value in payload.items():
        if value is None:
            continue
        if key in _OBJECTS and not isinstance(value, dict):
            return False
        if key in _OBJECTS_OR_TEXT and not isinstance(value, str | dict):
            return False
        if key in _LISTS_OF_OBJECTS and not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
            return False
        if key in _TEXTS and not isinstance(value, str):
            return False
    return True


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None


async def voximplant_events(request: Request) -> Response:
    """POST /voximplant/events: one status event from a call's scenario.

    413 past the cap, 422 for a body that is not a status event, 401 for a bad token or an unknown call (in the same
    words), 503 while the store fails (the scenario retries); 200 once the event is stored, a duplicate too.
    """
    state = callbacks_of(request.app)
    calls = state.calls
    try:
        body = await read_capped(request, MAX_EVENT_BYTES)
    except TooLarge as refused:
        return _too_large("/voximplant/events", refused, state.quiet_log)
    try:
        event = STATUS_EVENTS.validate_json(body)
    except ValidationError as error:
        return _refused(request, "/voximplant/events", 422, first_problem(error))
    try:
        outcome = await calls.intake.receive(event, bearer_token(request.headers.get("authorization")))
        bind_call(outcome.call.id)
        # Slack writes are queued in the outbox (SQLite) before we answer, so an accepted event is not lost to a
        # crash; an event stored just before a crash is announced at the next start, or when the scenario repeats it.
        if outcome.duplicate:
            await calls.intake.catch_up(event)
        else:
            await calls.intake.announce_once(outcome, event)
    except BadToken:
        return _refused(request, "/voximplant/events", 401, "bad callback token")
    except StoreUnavailable as error:  # the scenario retries a 5xx: the event is not lost
        state.store_log.refused("/voximplant/events", str(error))
        return JSONResponse({"ok": False, "error": "cannot store events now; retry"}, status_code=503)
    return JSONResponse({"ok": True, "duplicate": outcome.duplicate})


async def voximplant_brief(request: Request) -> Response:
    """GET /voximplant/brief: the call's brief for its scenario, opened by the brief token in custom data.

    401 for a token that opens no brief, 410 (with why) for one whose brief is no longer given: the scenario must
    not dial. Never cached.
    """
    state = callbacks_of(request.app)
    try:
        brief = await state.calls.placing.brief(bearer_token(request.headers.get("authorization")))
    except BadToken:
        return _refused(request, "/voximplant/brief", 401, "bad brief token", headers=NO_STORE)
    except BriefWithheld as withheld:
        return _refused(request, "/voximplant/brief", 410, _WITHHELD[withheld.why], headers=NO_STORE)
    except StoreUnavailable as error:  # the scenario retries its fetch for a while
        state.store_log.refused("/voximplant/brief", str(error))
        return JSONResponse({"ok": False, "error": "try again"}, status_code=503, headers=NO_STORE)
    bind_call(str(brief["call_id"]))
    log.info("the scenario fetched the call's brief")
    return JSONResponse(brief, headers=NO_STORE)


# What the scenario reads when its brief is withheld (scenarios/outbound_call.js logs it and does not dial).
_WITHHELD = {
    Withheld.CALL_OVER: "the call is over; do not dial",
    Withheld.TOKEN_SPENT: "the brief token is spent",
    Withheld.NOT_SET_UP: "calling is not set up on this workspace",
}


def _refused(
    request: Request, route: str, status: int, error: str, *, headers: dict[str, str] | None = None
) -> Response:
    """A refusal of the scenario's request, logged quietly: strangers decide how many arrive."""
    callbacks_of(request.app).quiet_log.refused(route, error)
    return JSONResponse({"ok": False, "error": error}, status_code=status, headers=headers)


def first_problem(error: ValidationError) -> str:
    """The first thing wrong with a status event's body: `data.code: Input should be a valid integer`."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header; empty when there is none."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def healthz(request: Request) -> Response:
    """GET /healthz: 200 while the store takes a write, 503 when it cannot (a full disk, a held lock)."""
    state = state_of(request.app)
    try:
        healthy = await state.store.ping()
    except StoreUnavailable as error:
        state.store_log.refused("/healthz", str(error))
        healthy = False
    except Exception:  # the probe must answer, whatever broke
        log.exception("health check: the store did not answer")
        healthy = False
    # How Voximplant's status events arrive (push or pull), so a probe shows the mode the bot runs in.
    return JSONResponse({"ok": healthy, "events": state.events_mode}, status_code=200 if healthy else 503)


async def is_replay(signature: str, store: Store) -> bool:
    """True if this correctly signed Slack request (its signature) was already received: someone is replaying it."""
    now = utc_now()
    return not await store.first_sighting(signature, at=now, forget_before=now - REPLAY_WINDOW)
