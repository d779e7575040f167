"""build(settings): the running bot's parts, opened in order and closed in reverse, as one `BotState`.

`create_app`'s lifespan runs it; so could another host (a worker process, a test). Opening: the store, the HTTP
clients, the Slack token check (up to FIRST_TRY_S), the outbox's pending writes, the recovery of calls a stopped bot
left behind, the watchdog, Socket Mode. Closing shares SHUTDOWN_GRACE_S between the phases (`shutdown_budget`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import secrets
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import aiohttp
import httpx
from pydantic import SecretStr
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.calls.allowlist import Allowlist
from bot.calls.clock import Clock as DomainClock
from bot.calls.clock import utc_now
from bot.calls.numbers import number_types
from bot.calls.permissions import Limits, Permissions
from bot.calls.policy import CallPolicy
from bot.calls.polling import Cadence, EventPoller
from bot.calls.recovery import Recovery
from bot.calls.scheduling import Scheduler
from bot.calls.service import CallService
from bot.leases import Replica
from bot.logs import QuietLog
from bot.metrics import CountingRateLimitRetryHandler, Metrics
from bot.roles import HandOff, LaunchHere, Worker
from bot.settings import Settings
from bot.slack import listeners
from bot.slack.delivery import Delivery
from bot.slack.deps import Deps
from bot.slack.directory import SlackDirectory
from bot.slack.inbox import Inbox
from bot.slack.notifier import SlackCallView
from bot.slack.pacing import Clock
from bot.slack.reply_urls import ReplyUrls
from bot.slack.schedule_view import ScheduleView
from bot.slack.schedules import SlackSchedules
from bot.slack_token import SlackTokenCheck, TokenCheckWaits
from bot.state import BotState
from bot.store import Store
from bot.tasks import Background
from bot.voximplant import Auth, VoximplantClient, auth_from

if TYPE_CHECKING:
    from bot.summaries.openai_writer import OpenAIWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ShutdownBudget:
    """SHUTDOWN_GRACE_S shared between the phases of a shutdown, one after the other; together no longer than it."""

    requests_s: int  # uvicorn lets the HTTP requests under way finish (it counts whole seconds)
    work_s: float  # then call launches and hang-ups under way may finish (Background.drain); the rest is cancelled
    delivery_s: float  # then Slack writes go out (plus what the work left unused); the rest wait in SQLite


def shutdown_budget(grace_s: float) -> ShutdownBudget:
    """A quarter of the grace for requests (whole seconds, at least 1), half for background work, the rest for Slack."""
    requests_s = min(max(1, round(grace_s / 4)), int(grace_s))
    work_s = min(grace_s / 2, grace_s - requests_s)
    return ShutdownBudget(requests_s=requests_s, work_s=work_s, delivery_s=grace_s - requests_s - work_s)


DIRECTORY_TIMEOUT_S = 10  # seconds; one Web API page; a lookup past the permission deadline finishes in the background
KEEPALIVE_S = 4.0  # how long an idle HTTP connection to Voximplant (or a session) is kept for reuse


@asynccontextmanager
async def build(
    settings: Settings, *, metrics: Metrics | None = None, slack_clock: Clock | None = None,
    token_waits: TokenCheckWaits | None = None, poll_cadence: Cadence | None = None, clock: DomainClock = utc_now,
) -> AsyncIterator[BotState]:  # fmt: skip
    """Open every part of the bot, yield them, and close them within the shutdown grace.

    `metrics` is shared with the app's request counter; `slack_clock` paces Slack writes (tests pass a virtual
    clock so pacing is deterministic and fast); `token_waits`, how the start and Slack requests wait for Slack to
    confirm the bot token (SlackTokenCheck); `poll_cadence`, how often pull mode asks a session for events (tests run
    the scenario faster, and poll faster); `clock`, the domain's time (tests set it: scheduled calls, calling hours).
    """
    metrics = metrics if metrics is not None else Metrics()
    waits = token_waits or TokenCheckWaits()
    store = await Store.open(settings.database, pool_size=settings.database_pool_size)  # DATABASE_URL or _PATH
    session = aiohttp.ClientSession()
    # Idle connections are dropped after 4 s, before a server drops them: uvicorn's default, as many servers', is
    # 5 s, httpx's also 5, and a request sent on a connection the server closes at that moment fails (ReadError); a
    # StartScenarios that fails so is never repeated, as it may have run (seen: the bench, one call in 320).
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.voximplant_timeout_s, connect=5.0), verify=_tls(),
        limits=httpx.Limits(keepalive_expiry=KEEPALIVE_S),
    )  # fmt: skip
    background = Background()
    socket_mode: AsyncSocketModeHandler | None = None
    # Socket Mode may run without a signing secret: then HTTP Slack requests are checked against a secret
    # nobody knows, so /slack/events refuses them all.
    signing_secret = _secret(settings.slack_signing_secret) or secrets.token_hex(32)
    delivery: Delivery | None = None
    directory: SlackDirectory | None = None
    watchdog: asyncio.Task[None] | None = None
    scheduling: asyncio.Task[None] | None = None
    sweeping: asyncio.Task[None] | None = None
    working: asyncio.Task[None] | None = None
    replica = Replica(store, ttl_s=settings.lease_s)
    poller: EventPoller | None = None
    token_checking: asyncio.Task[None] | None = None
    writer = _writer(settings)  # the summary's written lines, when OPENAI_API_KEY is set
    try:
        # Bolt's own client carries no token: its `authorize` hands each request the token once Slack confirmed it
        # (SlackTokenCheck), so a Slack that fails auth.test at start never makes Bolt say "reinstall".
        slack_client = AsyncWebClient(
            base_url=settings.slack_api_url,
            session=session,
            retry_handlers=[CountingRateLimitRetryHandler(metrics, max_retry_count=3)],
        )
        token_check = SlackTokenCheck(
            AsyncWebClient(
                token=_secret(settings.slack_bot_token), base_url=settings.slack_api_url, session=session,
                retry_handlers=[], timeout=math.ceil(waits.attempt_s),
            ),
            _secret(settings.slack_bot_token) or "",
            waits=waits,
        )  # fmt: skip
        # Who may call is asked before Slack's 3-second ack: no Retry-After sleeps on this client (a 429 refuses
        # the request, saying so), and the domain bounds each question with a deadline.
        directory = SlackDirectory(
            AsyncWebClient(
                token=_secret(settings.slack_bot_token), base_url=settings.slack_api_url, session=session,
                retry_handlers=[], timeout=DIRECTORY_TIMEOUT_S,
            ),
            ttl_s=settings.membership_cache_s,
        )  # fmt: skip
        # The outbox retries by itself (429, 5xx, connection errors), so its client has no retry handlers: an
        # empty list, since None would give slack-sdk's default connection-error handler (retries uncounted).
        reply_urls = ReplyUrls()  # a new call's response_url: the listeners note it, the outbox may need it
        delivery = Delivery(
            AsyncWebClient(
                token=_secret(settings.slack_bot_token),
                base_url=settings.slack_api_url,
                session=session,
                retry_handlers=[],
            ),
            store,
            pace_s=settings.slack_pace_s,
            burst=settings.slack_burst,
            clock=slack_clock,
            broadcast_summary=settings.slack_broadcast_summary,
            on_retry=lambda reason: metrics.slack_retries.labels(reason).inc(),
            updates_per_minute=settings.slack_updates_per_minute,
            reply_urls=reply_urls,
            replica=replica,
            deliver=settings.role != "web",
            writer=writer,
        )
        permissions = _permissions(settings, store, directory, clock)
        calls = CallService(
            store,
            _voximplant(settings, http, metrics),
            call_policy(settings),
            observer=SlackCallView(delivery, admins=settings.callbot_admins),
            permissions=permissions,
            poll_cadence=poll_cadence,
            clock=clock,
        )
        poller = calls.poller
        bolt = AsyncApp(
            client=slack_client,
            signing_secret=signing_secret,
            process_before_response=True,
            logger=logging.getLogger("bot.bolt"),
            authorize=token_check.bolt_authorize(),
            before_authorize=token_check.bolt_before_authorize(),
        )
        launches = HandOff(store) if settings.role == "web" else LaunchHere(calls.placing, reply_urls, background)
        schedule_view = ScheduleView(  # one try per write, a 429 retried after its Retry-After
            AsyncWebClient(
                token=_secret(settings.slack_bot_token), base_url=settings.slack_api_url, session=session,
                retry_handlers=[CountingRateLimitRetryHandler(metrics, max_retry_count=3)],
            ),
            store,
        )  # fmt: skip
        scheduler = Scheduler(
            store, calls.vetting, calls.placing, calls.policy, launch=lambda call: launches.launch_soon(call, None),
            permissions=permissions, observer=schedule_view, clock=clock,
        )  # fmt: skip
        deps = Deps(
            vetting=calls.vetting, placing=calls.placing, permissions=permissions, allowlist=Allowlist(store),
            records=store, background=background, policy=calls.policy, joining=calls.joining, saying=calls.saying,
            launches=launches, schedules=SlackSchedules(scheduler, schedule_view, directory, background),
        )  # fmt: skip
        listeners.register(bolt, deps)
        state = BotState(
            calls=calls,
            quiet_log=QuietLog(logging.getLogger("bot.routes")),
            store_log=QuietLog(  # one line a minute while the database fails
                logging.getLogger("bot.store"), level=logging.ERROR, what="the database failed a request to"
            ),
            store=store,
            metrics=metrics,
            background=background,
            delivery=delivery,
            poller=poller,
            events_mode=settings.events_mode,
            slack_handler=AsyncSlackRequestHandler(bolt),
            verifier=SignatureVerifier(signing_secret),
            slack_token=token_check,
            inbox=Inbox(store, clock=clock) if settings.role == "web" else None,
        )
        token_checking = asyncio.create_task(token_check.run(), name="slack token check")
        await token_check.confirmed(waits.first_try_s)  # then serve either way; the check goes on until Slack confirms
        alone = await replica.join()  # else other replicas serve this database: their work under way is left alone
        if settings.role != "web":  # a web replica leaves launches, Slack writes and the watchdog to the workers
            resumed = await delivery.resume()
            if resumed:
                log.info("resuming Slack writes left pending for %d calls", resumed)
            await calls.recovery.start(alone=alone)
            if poller is not None:  # the sessions of calls under way when the bot stopped: their events are waiting
                for call in await store.live_pulled_calls():
                    poller.follow(call)
            watchdog = asyncio.create_task(_watch(calls.recovery, replica, settings), name="call watchdog")
            sweeping = asyncio.create_task(delivery.sweep(replica.renew_every_s), name="slack writes sweep")
            scheduling = asyncio.create_task(_schedule(scheduler, replica, settings), name="scheduled calls")
        if settings.role == "worker":
            within = timedelta(seconds=settings.slack_parent_timeout_s)
            inbox = Inbox(
                store, bolt=bolt, answer_within=within, clock=clock,
                client=AsyncWebClient(  # Bolt's own carries no token (above)
                    token=_secret(settings.slack_bot_token), base_url=settings.slack_api_url, session=session,
                    retry_handlers=[CountingRateLimitRetryHandler(metrics, max_retry_count=3)],
                ),
            )  # fmt: skip
            worker = Worker(
                store, calls.placing, delivery, replica, reply_urls, background, inbox=inbox, launch_within=within,
            )  # fmt: skip
            working = asyncio.create_task(worker.run(), name="worker")
        if settings.slack_app_token is not None:
            # Socket Mode: Slack's requests arrive over a WebSocket this app opens; no public Slack request URL.
            # /voximplant/events, /healthz and /metrics are still served over HTTP.
            socket_mode = AsyncSocketModeHandler(bolt, app_token=settings.slack_app_token.get_secret_value())
            await socket_mode.connect_async()
            log.info("connected to Slack over Socket Mode")
        yield state
    finally:
        try:
            if socket_mode is not None:
                await socket_mode.close_async()  # no new Slack requests; the work under way drains below
            for task in (working, watchdog, scheduling, sweeping, token_checking):
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            budget = shutdown_budget(settings.shutdown_grace_s)
            deadline = asyncio.get_running_loop().time() + budget.work_s + budget.delivery_s
            unfinished = await background.drain(budget.work_s)
            if unfinished:
                log.warning("stopped with %d background tasks unfinished", unfinished)
            if poller is not None:
                await poller.close()
            if directory is not None:
                await directory.aclose()
            if delivery is not None:
                left = await delivery.flush(max(0.0, deadline - asyncio.get_running_loop().time()))
                if left:
                    log.warning("stopped with Slack writes pending for %d calls; they resume at the next start", left)
        finally:  # whatever failed above, or fails here, every connection is closed
            closing = (replica.leave, http.aclose, session.close, store.close)
            for close in (*closing, writer.aclose) if writer is not None else closing:
                try:
                    await close()
                except Exception:
                    log.exception("shutting down: %s failed", getattr(close, "__qualname__", close))


async def _watch(recovery: Recovery, replica: Replica, settings: Settings) -> None:
    """Every so often, on one replica at a time: settle calls gone quiet from the call history (or, never confirmed,
    by time), and what a replica that died left behind.

    Live parents are not refreshed: they show when the call was placed as a Slack date, which never needs an update
    (chat.update is limited per workspace, about 50 a minute; ticking clocks would spend it all).
    """
    while True:
        await asyncio.sleep(settings.reconcile_every_s)
        try:
            if await replica.lead("watchdog"):
                await recovery.round(timedelta(seconds=settings.reconcile_after_s))
        except Exception:  # the watchdog must outlive one bad round; the next round tries again
            log.exception("the call watchdog failed a round")


async def _schedule(scheduler: Scheduler, replica: Replica, settings: Settings) -> None:
    """Every SCHEDULE_EVERY_S, on one replica at a time (the `scheduler` lease, as the watchdog's): dial the
    scheduled calls and retries that are due, and decide the retries of attempts that ended."""
    while True:
        try:
            if await replica.lead("scheduler"):
                await scheduler.round()
        except Exception:  # the loop must outlive one bad round; the next round tries again
            log.exception("the scheduled calls' round failed")
        await asyncio.sleep(settings.schedule_every_s)


def _voximplant(settings: Settings, http: httpx.AsyncClient, metrics: Metrics) -> VoximplantClient | None:
    auth = voximplant_auth(settings) if settings.voximplant_configured else None
    if auth is None:
        log.warning("Voximplant is not configured: /call will explain this to people and place no calls")
        return None
    return VoximplantClient(
        http, base_url=settings.voximplant_api_url, auth=auth, observe=metrics.voximplant_observer,
        on_fallback=metrics.hang_up_fallbacks.inc,
    )  # fmt: skip


def _writer(settings: Settings) -> OpenAIWriter | None:
    """The summary's writer when OPENAI_API_KEY is set: then each ended call's transcript goes to OpenAI."""
    if settings.openai_api_key is None:
        return None
    from bot.summaries.openai_writer import OpenAIWriter  # the vendor's client loads only when it is used

    log.info("written summaries on: each call's transcript goes to OpenAI (%s)", settings.openai_model)
    return OpenAIWriter(
        settings.openai_api_key.get_secret_value(), base_url=settings.openai_base_url, model=settings.openai_model,
        timeout_s=settings.openai_timeout_s,
    )  # fmt: skip


def voximplant_auth(settings: Settings) -> Auth | None:
    key = settings.voximplant_api_key.get_secret_value() if settings.voximplant_api_key else None
    return auth_from(settings.voximplant_account_id, key, settings.voximplant_credentials)


def call_policy(settings: Settings) -> CallPolicy:
    return CallPolicy(
        default_region=settings.default_region,
        allowed_countries=frozenset(settings.allowed_countries),
        default_caller_id=settings.default_caller_id,
        max_duration_s=settings.max_call_duration_s,
        rule_id=settings.voximplant_rule_id,
        public_base_url=settings.base_url,
        pull=settings.events_mode == "pull",
        start_timeout_s=settings.voximplant_timeout_s,
        show_timeout_s=settings.slack_parent_timeout_s,
        allowed_types=number_types(settings.allowed_number_types),
        admins=frozenset(settings.callbot_admins),
        calling_hours=settings.calling_window,
        recording_enabled=settings.recording_enabled,
        disclosure=settings.call_disclosure,
    )


def _permissions(settings: Settings, store: Store, directory: SlackDirectory, clock: DomainClock) -> Permissions:
    return Permissions(
        store,
        directory,
        admins=settings.callbot_admins,
        workspace_admins_are_admins=settings.workspace_admins_are_admins,
        allowed_callers=settings.allowed_callers,
        limits=Limits(
            calls_per_user_per_hour=settings.calls_per_user_per_hour,
            concurrent_per_user=settings.concurrent_calls_per_user,
            concurrent_per_workspace=settings.concurrent_calls_per_workspace,
            max_duration_s=settings.max_call_duration_s,
            spend_per_person_day=settings.spend_per_person_day,
            spend_per_workspace_month=settings.spend_per_workspace_month,
        ),
        clock=clock,
    )


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context (the system's CAs, as httpx's default) for every build in this process: loading the CA bundle
    takes tens of milliseconds, and tests build the bot hundreds of times."""
    return httpx.create_ssl_context()


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
