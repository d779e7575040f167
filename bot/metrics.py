"""/metrics in Prometheus text format, from prometheus-client with one registry per app (tests run many apps).

prometheus-client rather than hand-written text: it gets the exposition format's escaping, histogram buckets and
`_total`/`_created` conventions right, and it is the library Prometheus maintains.

    callbot_http_requests_total{route,status}        requests answered, by route template
    callbot_calls{state}                             calls in the store by state (ended/failed/canceled: outcomes)
    callbot_call_outcomes{outcome}                   ended calls in the store by how they ended (bot/calls/outcomes.py);
                                                     a gauge, as a late voicemail event may move a call from `talked`
    callbot_background_tasks                         call launches and hang-ups queued or under way (not Slack writes)
    callbot_slack_outbox_rows                        Slack writes stored and waiting for Slack to accept them
    callbot_slack_outbox_oldest_seconds              how long the oldest waiting Slack write has waited (0: none wait)
    callbot_slack_retries_total{reason}              Slack writes retried: ratelimited (429), server_error, connection,
                                                     auth (Slack refuses the bot token)
    callbot_slack_token_refused                      1 while Slack refuses the bot token and writes are held
    callbot_voximplant_request_seconds{method}       Management API latency, retries included
    callbot_voximplant_errors_total{method,kind}     Management API failures (error: it answered one; unreachable)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from slack_sdk.http_retry.async_handler import HttpRequest, HttpResponse, RetryState
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.calls.models import CallState, Outcome
from bot.state import state_of


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the gauges show, read when /metrics is asked."""

    calls_by_state: dict[str, int]
    calls_by_outcome: dict[str, int]
    background_tasks: int
    outbox_rows: int
    outbox_oldest_s: float
    token_refused: bool


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "callbot_http_requests", "HTTP requests answered", ["route", "status"], registry=self.registry
        )
        self.calls = Gauge("callbot_calls", "Calls in the store by state", ["state"], registry=self.registry)
        self.outcomes = Gauge(
            "callbot_call_outcomes", "Ended calls in the store by outcome", ["outcome"], registry=self.registry
        )
        self.background = Gauge(
            "callbot_background_tasks", "Call launches and hang-ups queued or under way", registry=self.registry
        )
        self.outbox_rows = Gauge(
            "callbot_slack_outbox_rows", "Slack writes stored and waiting for Slack to accept them",
            registry=self.registry,
        )  # fmt: skip
        self.outbox_oldest = Gauge(
            "callbot_slack_outbox_oldest_seconds", "Age of the oldest waiting Slack write (0 when none wait)",
            registry=self.registry,
        )  # fmt: skip
        self.slack_retries = Counter(
            "callbot_slack_retries", "Slack Web API requests retried", ["reason"], registry=self.registry
        )
        self.slack_token_refused = Gauge(
            "callbot_slack_token_refused", "1 while Slack refuses the bot token (Slack writes held)",
            registry=self.registry,
        )  # fmt: skip
        self.voximplant_seconds = Histogram(
            "callbot_voximplant_request_seconds", "Voximplant Management API latency", ["method"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=self.registry,
        )  # fmt: skip
        self.voximplant_errors = Counter(
            "callbot_voximplant_errors", "Voximplant Management API failures", ["method", "kind"],
            registry=self.registry,
        )  # fmt: skip

        self.hang_up_fallbacks = Counter(
            "callbot_hang_up_fallbacks",
            "Hang-ups sent to the session's plain access URL because its HTTPS certificate did not verify",
            registry=self.registry,
        )

    def voximplant_observer(self, method: str, seconds: float, error: str | None) -> None:
        """The VoximplantClient `observe` hook."""
        self.voximplant_seconds.labels(method).observe(seconds)
        if error is not None:
            self.voximplant_errors.labels(method, error).inc()

    async def render(self, snapshot: Snapshot) -> Response:
        """The exposition text, with the gauges set from what the store and the app say at this scrape."""
        for state in CallState:
            self.calls.labels(state.value).set(snapshot.calls_by_state.get(state.value, 0))
        for outcome in Outcome:
            self.outcomes.labels(outcome.value).set(snapshot.calls_by_outcome.get(outcome.value, 0))
        self.background.set(snapshot.background_tasks)
        self.outbox_rows.set(snapshot.outbox_rows)
        self.outbox_oldest.set(snapshot.outbox_oldest_s)
        self.slack_token_refused.set(1 if snapshot.token_refused else 0)
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


# Methods whose trigger_id expires 3 seconds after the person's click (docs.slack.dev/reference/methods/views.open):
# sleeping on a 429's Retry-After would only spend it, so they are never retried; the person is answered instead.
TRIGGER_BOUND = ("views.open", "views.push")


class CountingRateLimitRetryHandler(AsyncRateLimitErrorRetryHandler):
    """slack-sdk's 429 handler (honours Retry-After), counting each retry it makes; never for trigger-bound methods."""

    def __init__(self, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._metrics = metrics

    async def _can_retry_async(
        self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:  # fmt: skip
        if request.url.rstrip("/").endswith(TRIGGER_BOUND):
            return False
        return await super()._can_retry_async(state=state, request=request, response=response, error=error)

    async def prepare_for_next_attempt_async(
        self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:  # fmt: skip
        self._metrics.slack_retries.labels("ratelimited").inc()
        await super().prepare_for_next_attempt_async(state=state, request=request, response=response, error=error)


class RequestCounter:
    """ASGI middleware: counts each HTTP response by route template (never by raw path) and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = _route_of(scope)

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.metrics.requests.labels(route, str(message["status"])).inc()
            await send(message)

        await self.app(scope, receive, counting_send)


def _route_of(scope: Scope) -> str:
    for route in scope["app"].router.routes if "app" in scope else ():
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", "other"))
    return "other"


async def metrics_route(request: Request) -> Response:
    state = state_of(request.app)
    waiting, oldest = await state.store.slack_outbox_depth()
    snapshot = Snapshot(
        calls_by_state=await state.store.calls_by_state(),
        calls_by_outcome=await state.store.calls_by_outcome(),
        background_tasks=state.background.pending,
        outbox_rows=waiting,
        outbox_oldest_s=max(0.0, (datetime.now(UTC) - oldest).total_seconds()) if oldest is not None else 0.0,
        token_refused=state.delivery.token_refused is not None,
    )
    return await state.metrics.render(snapshot)
