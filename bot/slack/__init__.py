"""The Slack surface: listeners that turn Slack payloads into call requests, and calls into messages."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.slack import actions, commands, modals, shortcuts, texts
from bot.slack.deps import Deps

log = logging.getLogger(__name__)


def register(app: AsyncApp, deps: Deps) -> None:
    """Wire every listener and the one error boundary."""
    commands.register(app, deps)
    modals.register(app, deps)
    shortcuts.register(app, deps)
    actions.register(app, deps)

    @app.error
    async def unexpected(error: Exception, body: dict[str, Any], context: AsyncBoltContext) -> None:
        ref = secrets.token_hex(4)
        log.error("unexpected error %s handling a Slack %s request", ref, body.get("type") or "command", exc_info=error)
        if context.respond is not None:
            await context.respond(text=texts.UNEXPECTED.format(ref=ref), response_type="ephemeral")
