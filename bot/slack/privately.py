"""Showing a message to one person alone: through a request's response_url, else with chat.postEphemeral."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.slack.api_errors import error_code

log = logging.getLogger(__name__)


async def tell_privately(
    client: AsyncWebClient, message: dict[str, Any], *, url: str | None, channel: str, user: str, about: str
) -> bool:
    """Show `message` (`text`, perhaps `blocks`) to `user` alone: through `url` (a response_url) when there is one,
    else, or when it fails, with chat.postEphemeral in `channel`. False when neither reached them (logged, naming
    `about`; never the URL, which can post as the bot)."""
    if url:
        try:
            answer = await AsyncWebhookClient(url, session=client.session).send_dict(
                {"response_type": "ephemeral", "replace_original": False, **message}
            )
            if answer.status_code == 200:
                return True
            log.warning("%s: the response_url answered HTTP %s", about, answer.status_code)
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("%s: the response_url could not be reached (%s)", about, type(error).__name__)
    try:
        await client.chat_postEphemeral(
            channel=channel, user=user, text=str(message.get("text", "")), blocks=message.get("blocks")
        )
        return True
    except SlackApiError as error:
        log.error("%s: could not tell <@%s> (%s)", about, user, error_code(error))
    except (aiohttp.ClientError, TimeoutError) as error:
        log.error("%s: could not tell <@%s> (%s)", about, user, type(error).__name__)
    return False
