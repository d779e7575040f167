"""The running bot's parts, typed: what `build(settings)` makes and the routes use, instead of an untyped bag.

`create_app` keeps one `BotState` on the Starlette application (`app.state.bot`) while its lifespan runs; routes
and tests reach it through `state_of(app)`. The doctor's test call serves only the Voximplant routes, so it keeps
only their part, `Callbacks` (`callbacks_of(app)`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from starlette.applications import Starlette

from bot.logs import QuietLog

if TYPE_CHECKING:  # types only: the parts load Bolt, the Slack SDK and the HTTP clients, which build.py imports
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from slack_sdk.signature import SignatureVerifier

    from bot.calls.polling import EventPoller
    from bot.calls.service import CallService
    from bot.metrics import Metrics
    from bot.slack.delivery import Delivery
    from bot.slack.inbox import Inbox
    from bot.slack_token import SlackTokenCheck
    from bot.store import Store
    from bot.tasks import Background


@dataclass(frozen=True, slots=True, kw_only=True)
class Callbacks:
    """What the routes the scenario calls need: /voximplant/events and /voximplant/brief."""

    calls: CallService
    quiet_log: QuietLog  # refused strangers' requests: a line a minute at most
    store_log: QuietLog  # the database failing a request: a line a minute at most


@dataclass(frozen=True, slots=True, kw_only=True)
class BotState(Callbacks):
    """Everything `create_app`'s lifespan opened, for the routes, /metrics and the tests."""

    store: Store
    metrics: Metrics
    background: Background
    delivery: Delivery
    poller: EventPoller | None  # pull mode only
    events_mode: Literal["push", "pull"]
    slack_handler: AsyncSlackRequestHandler
    verifier: SignatureVerifier
    slack_token: SlackTokenCheck
    inbox: Inbox | None = None  # a web replica's: slash commands it answers at once and leaves to the workers


def callbacks_of(app: Starlette) -> Callbacks:
    """The Voximplant routes' part of a running app (the whole state in `callbot serve`, a part in the doctor)."""
    state = getattr(app.state, "bot", None)
    if not isinstance(state, Callbacks):
        raise RuntimeError("the app is not running: its lifespan has not started, or has ended")
    return state


def state_of(app: Starlette) -> BotState:
    """The parts of an app `create_app` built, while it runs."""
    state = callbacks_of(app)
    if not isinstance(state, BotState):
        raise RuntimeError("this app serves only the Voximplant routes (the doctor's test call)")
    return state
