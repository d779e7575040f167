"""`callbot doctor --call +1…`: one short real call, each step of the launch contract reported ✔ or ✘.

What only a real account can settle is settled here: that Voximplant reads the custom data and the scenario reaches
PUBLIC_BASE_URL for its brief, that status events arrive, and that Hang up reaches the session (and whether it
needed the plain access URL because the secure one's certificate does not verify for its IP address).

The doctor answers the scenario itself, at HOST:PORT, with the same routes and the same CallService as the bot, so
`callbot serve` must not be running on that port meanwhile. The call is vetted like any other (never an emergency
number; a caller ID on the allowlist) and recorded in the database like any other, as placed by "callbot doctor".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from bot import routes
from bot.build import call_policy, voximplant_auth
from bot.calls import launch
from bot.calls.grammar import CallDraft
from bot.calls.models import Call, Origin, StatusEvent, Transition
from bot.calls.numbers import format_international
from bot.calls.service import CallService
from bot.doctor import Result, failed, passed
from bot.errors import Refusal
from bot.logs import QuietLog
from bot.sandbox.servers import LocalServer
from bot.settings import Settings
from bot.slack import texts
from bot.state import Callbacks
from bot.store import Store
from bot.voximplant import VoximplantClient

log = logging.getLogger(__name__)

T = TypeVar("T")
DOCTOR = Origin(team_id="doctor", user_id="callbot-doctor", conversation_id="doctor")
INSTRUCTIONS = (
    "This is a short test call from callbot doctor. Say in one sentence that this is a test of the calling line and "
    "that nothing needs to be done, then wait."
)


@dataclass(frozen=True, slots=True)
class Waits:
    """How long each step may take, in seconds."""

    brief_s: float = 45.0  # StartScenarios to the brief fetched: the scenario retries its fetch for 30 s
    events_s: float = 15.0  # the brief to the first status event
    answer_s: float = 75.0  # dialling to connected: Voximplant gives up ringing after 60 s (408)
    talk_s: float = 4.0  # connected to Hang up: long enough to hear the agent begin
    end_s: float = 20.0  # Hang up to the call's end


@dataclass
class _Watch:
    """The CallObserver of the doctor's call: what happened to it, nothing shown in Slack."""

    changed: asyncio.Event = field(default_factory=asyncio.Event)
    events: list[str] = field(default_factory=list)
    hang_up_failure: str | None = None

    async def call_created(self, call: Call, *, within_s: float | None = None) -> bool:
        return True

    async def call_moved(self, call: Call, transition: Transition) -> None:
        self.changed.set()

    async def call_event(self, call: Call, event: StatusEvent) -> bool:
        self.changed.set()
        return False

    async def hang_up_requested(self, call: Call, user_id: str) -> None:
        return None

    async def hang_up_failed(self, call: Call, why: str) -> None:
        self.hang_up_failure = why

    async def join_requested(self, call: Call, user_id: str) -> None:
        return None  # the doctor never joins its call

    async def join_failed(self, call: Call, user_id: str, why: str) -> None:
        return None

    async def say_requested(self, call: Call, user_id: str, text: str) -> None:
        return None  # the doctor's call is never steered

    async def call_unconfirmed(self, call: Call, why: str) -> None:
        self.changed.set()

    async def call_reconciled(self, call: Call, cost: float | None) -> None:
        self.changed.set()

    async def balance_empty(self, call: Call) -> None:
        return None  # the doctor's own line says why the call failed


async def place_test_call(settings: Settings, destination: str, *, waits: Waits = Waits()) -> list[Result]:
    """Place one call to `destination` and report each step; the call is hung up by the doctor."""
    auth = voximplant_auth(settings)
    base_url = settings.base_url
    pull = settings.events_mode == "pull"
    if auth is None or settings.voximplant_rule_id is None or (base_url is None and not pull):
        return [failed("a test call needs the Voximplant credentials, VOXIMPLANT_RULE_ID and PUBLIC_BASE_URL (or "
                       "VOXIMPLANT_EVENTS=pull)")]  # fmt: skip
    if settings.database_url is None and not settings.database_path.exists():
        return [failed(f"{settings.database_path} does not exist: add a caller ID first (callbot callerids add)")]
    try:
        server = None if pull else LocalServer(host=settings.host, port=settings.port)
    except OSError as error:
        return [failed(f"{settings.host}:{settings.port} is taken ({error.strerror}): the doctor answers the "
                       "scenario there itself, so stop callbot serve for the test call, or run it before starting "
                       "the bot")]  # fmt: skip
    store = await Store.open(settings.database)
    fallbacks: list[None] = []
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(settings.voximplant_timeout_s, connect=5.0)) as http:
            voximplant = VoximplantClient(
                http, base_url=settings.voximplant_api_url, auth=auth, on_fallback=lambda: fallbacks.append(None)
            )
            watch = _Watch()
            calls = CallService(store, voximplant, call_policy(settings), observer=watch)
            if server is None:  # pull mode: nothing to serve, the doctor asks the session as the bot does
                try:
                    return await _place(calls, store, watch, destination, None, waits, fallbacks)
                finally:
                    if calls.poller is not None:
                        await calls.poller.close()
            app = Starlette(routes=[
                Route(launch.EVENTS_PATH, routes.voximplant_events, methods=["POST"]),
                Route(launch.BRIEF_PATH, routes.voximplant_brief, methods=["GET"]),
            ])  # fmt: skip
            app.state.bot = Callbacks(
                calls=calls, quiet_log=QuietLog(log), store_log=QuietLog(log, level=logging.ERROR)
            )
            server.app = app
            async with server:
                return await _place(calls, store, watch, destination, base_url, waits, fallbacks)
    finally:
        await store.close()


async def _place(
    calls: CallService, store: Store, watch: _Watch, destination: str, base_url: str | None, waits: Waits,
    fallbacks: list[None],
) -> list[Result]:  # fmt: skip
    """Each step of one test call; `base_url` None in pull mode (the scenario never calls the bot)."""
    try:
        request = await calls.vetting.vet(CallDraft(destination, None, INSTRUCTIONS), DOCTOR)
        call = await calls.placing.create(request)
    except Refusal as refusal:
        return [failed(f"the test call was refused: {texts.refusal(refusal)}")]
    shown = format_international(request.destination) if request.destination.startswith("+") else destination
    call = await calls.placing.launch(call)
    if call.history_id is None:
        return [failed(f"StartScenarios did not start the call to {shown}: {texts.reason(call.state_reason)}")]
    results = [passed(f"StartScenarios started session {call.history_id} for a call to {shown} "
                      f"({launch.size(call.custom_data or '')} bytes of custom data)")]  # fmt: skip

    async def now() -> Call:
        return await store.call(call.id) or call

    if base_url is None:
        if not call.is_live:
            why = texts.reason(call.state_reason)
            results.append(failed(f"the session did not take its brief over the access URL: {why}"))
            return results
        results.append(passed("the session took its brief over its access URL (pull mode: the scenario's answers "
                              "reach the bot)"))  # fmt: skip
        if not await _until(now, lambda c: c.last_seq > 0, waits.events_s):
            results.append(failed(f"the session gave no status event within {waits.events_s:g} s of its brief"))
            return results
        results.append(passed("status events come back from the session when the bot asks (pull mode)"))
    else:
        if not await _until(lambda: store.token_hash(call.id), bool, waits.brief_s):  # issued with the brief
            results.append(failed(f"the scenario never fetched its brief from {base_url}{launch.BRIEF_PATH} within "
                                  f"{waits.brief_s:g} s: Voximplant must reach PUBLIC_BASE_URL over HTTPS (check "
                                  "DNS, the certificate and the firewall), and the rule must run this version of "
                                  "outbound_call.js (callbot setup)"))  # fmt: skip
            return results
        results.append(passed(f"the scenario read its custom data and fetched its brief from {base_url}"))
        if not await _until(now, lambda c: c.last_seq > 0, waits.events_s):
            results.append(failed(f"no status event reached {base_url}{launch.EVENTS_PATH} within "
                                  f"{waits.events_s:g} s of the brief: check what answers that path at "
                                  "PUBLIC_BASE_URL"))  # fmt: skip
            return results
        results.append(passed(f"status events reach {base_url}{launch.EVENTS_PATH}"))
    answered = await _until(now, lambda c: c.connected_at is not None or not c.is_live, waits.answer_s)
    if answered is None or answered.connected_at is None:
        why = f"nobody answered within {waits.answer_s:g} s"
        if answered is not None:
            why = texts.reason(answered.state_reason)
        results.append(failed(f"the call did not connect: {why}; Hang up was not tried"))
        return results
    results.append(passed("the call connected, and the agent is talking"))
    await asyncio.sleep(waits.talk_s)
    try:
        live = await calls.placing.may_hang_up(call.id, DOCTOR.user_id)
    except Refusal as refusal:
        results.append(failed(f"Hang up could not be tried: {texts.refusal(refusal)}"))
        return results
    await calls.placing.hang_up(live, DOCTOR.user_id)
    ended = await _until(now, lambda c: not c.is_live, waits.end_s)
    if watch.hang_up_failure is not None or ended is None:
        why = watch.hang_up_failure or f"the call had not ended {waits.end_s:g} s later"
        results.append(failed(f"Hang up did not work: {why}"))
        return results
    how = (
        "over the plain access URL: the secure one's certificate does not verify for its IP address, so each Hang "
        "up takes that path (counted in /metrics)"
        if fallbacks
        else "over the session's secure access URL"
    )
    results.append(passed(f"Hang up worked {how}; the call ended ({texts.reason(ended.state_reason)})"))
    return results


async def _until(read: Callable[[], Awaitable[T]], done: Callable[[T], bool], within_s: float) -> T | None:
    """Poll `read()` until `done` holds for its value; the value, or None when `within_s` passed first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        value = await read()
        if done(value):
            return value
        if loop.time() >= deadline:
            return None
        await asyncio.sleep(0.1)
