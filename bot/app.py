"""create_app(settings): one Starlette application holding every HTTP route, built fresh for each run or test.

Its lifespan opens the bot's parts with `build(settings)` (bot/build.py) and keeps them, typed, as `app.state.bot`
(`bot.state.state_of(app)`) while it serves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from bot import routes
from bot.build import build
from bot.calls import launch
from bot.calls.clock import Clock as DomainClock
from bot.calls.clock import utc_now
from bot.calls.polling import Cadence
from bot.metrics import Metrics, RequestCounter, metrics_route
from bot.settings import Settings
from bot.slack.pacing import Clock
from bot.slack_token import TokenCheckWaits


def create_app(
    settings: Settings, *, slack_clock: Clock | None = None, token_waits: TokenCheckWaits | None = None,
    poll_cadence: Cadence | None = None, clock: DomainClock = utc_now,
) -> Starlette:  # fmt: skip
    """The bot as an ASGI app; its lifespan opens the store and the HTTP clients and closes them.

    `slack_clock`, `token_waits`, `poll_cadence` and `clock`: as build() takes them (tests hand the bot its time).
    """
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with build(
            settings,
            metrics=metrics,
            slack_clock=slack_clock,
            token_waits=token_waits,
            poll_cadence=poll_cadence,
            clock=clock,
        ) as state:
            app.state.bot = state  # kept after the lifespan ends, so work finishing during shutdown still finds it
            yield

    return Starlette(
        routes=[
            Route("/slack/events", routes.slack_events, methods=["POST"]),
            Route("/voximplant/events", routes.voximplant_events, methods=["POST"]),
            Route(launch.BRIEF_PATH, routes.voximplant_brief, methods=["GET"]),
            Route("/healthz", routes.healthz, methods=["GET"]),
            Route("/metrics", metrics_route, methods=["GET"]),
        ],
        middleware=[Middleware(RequestCounter, metrics=metrics)],
        lifespan=lifespan,
    )
