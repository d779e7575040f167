"""Wiring: every Slack surface's listeners bound to the Bolt app, and the one error boundary behind them."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.errors import StoreUnavailable
from bot.slack import actions, blocks, commands, join, modals, say, schedules, shortcuts, texts
from bot.slack.deps import Deps

log = logging.getLogger(__name__)


def register(app: AsyncApp, deps: Deps) -> None:
    """Wire every listener and the one error boundary."""
    commands.register(app, deps)
    modals.register(app, deps)
    shortcuts.register(app, deps)
    actions.register(app, deps)
    join.register(app, deps)
    say.register(app, deps)
    if deps.schedules is not None:
        schedules.register(app, deps.schedules)
    app.error(unexpected)


async def unexpected(
    error: Exception, body: dict[str, Any], context: AsyncBoltContext, response: BoltResponse | None
) -> BoltResponse | None:
    """Bolt's error handler: words for the person, and for a bug a short reference logged with the trace."""
    kind = body.get("type") if isinstance(body, dict) else None
    if isinstance(error, StoreUnavailable):  # not a bug: one clear line for the operator, an apology for the person
        log.error("%s; a Slack %s request was answered with an apology", error, kind or "command")
        text = texts.STORE_FAILED
    else:
        ref = secrets.token_hex(4)
        log.error("unexpected error %s handling a Slack %s request", ref, kind or "command", exc_info=error)
        text = texts.UNEXPECTED.format(ref=ref)
    if response is None:  # already answered: only the response_url is left
        if context.respond is not None:
            await context.respond(text=text, response_type="ephemeral")
        return None
    return answer(kind, text)


def answer(kind: object, text: str) -> BoltResponse:
    """An HTTP answer to a Slack request that shows `text` to the person: on the form for a submission, else
    ephemeral."""
    if kind == "view_submission":
        content = {"response_action": "update", "view": blocks.refused_view(text)}
    else:
        content = {"response_type": "ephemeral", "text": text}
    return BoltResponse(status=200, body=json.dumps(content), headers={"content-type": "application/json"})
