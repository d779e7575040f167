"""Slash commands on a web replica: answered at once, run by a worker (`--role web`, issue 14).

A web replica that takes `/call` does nothing before its answer but check the signature (bot/routes.py) and keep the
command (`Inbox.keep`): one statement on PostgreSQL, which is also the replay guard and tells the workers. Its
answer is Slack's empty 200, so its acknowledgement costs what the bare stack's does, however slow the vetting.

A worker then runs the command through the same Bolt listeners as everywhere (`Inbox.run`), as a request already
verified (Bolt's Socket Mode path), and says what the listener's acknowledgement would have said through the
command's response_url: the refusal, the help card, the admin's answer. Slack shows it to the person alone, as it
shows an ephemeral acknowledgement. The form a bare `/call` opens is opened from there too, within the 3 seconds
its trigger lasts.

A command that no worker hears of (a worker restarting) is found by the workers' scan (`waiting`) and answered with
chat.postEphemeral, since only the NOTIFY carried its response_url (that fails in a DM or a private channel without
the bot: the answer is then only logged). One older than `answer_within` is not run, and the person is told that
nothing was done; one older than a response_url's 30 minutes is dropped unanswered. A worker claims the command it
runs again every KEEP_EVERY_S, however slow Slack is; one that dies holding it leaves it to another, TAKEN_FOR after
its last claim, which never runs it again, as what the first did is not known:
a call it stored has the command's id and is launched by the launch scan; otherwise the person is told that the
command may or may not have been done, and to check before sending it again.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.calls.clock import Clock, utc_now
from bot.calls.placing import new_call_id
from bot.errors import StoreUnavailable
from bot.slack import texts
from bot.slack.privately import tell_privately
from bot.store import SlashCommand, Store
from bot.tasks import Renewal

log = logging.getLogger(__name__)

NOT_HEARD_AFTER = timedelta(seconds=2)  # a command no worker took by then: its NOTIFY was missed
TAKEN_FOR = timedelta(seconds=30)  # a command its worker did not claim again for this long: that worker died
KEEP_EVERY_S = TAKEN_FOR.total_seconds() / 3  # how often a worker claims again the command it runs
FORGOTTEN_AFTER = timedelta(minutes=30)  # a response_url's life: a command kept longer is dropped unanswered
COMMAND_ID = "slash_command_id"  # the Bolt context's key for the command's id, which a call it places takes
NOT_KEPT = ("response_url", "token")  # what the stored row never holds: the response_url, Slack's legacy token


def is_slash_command(body: dict[str, Any]) -> bool:
    """True for a slash command's form (`command=/call&text=…`), as against an interaction or an event."""
    command = body.get("command")
    return isinstance(command, str) and command.startswith("/") and "type" not in body


class Inbox:
    """A web replica's `keep`, and a worker's `run` and `waiting`, over the store's slack_commands rows."""

    def __init__(
        self, store: Store, *, bolt: AsyncApp | None = None, client: AsyncWebClient | None = None,
        answer_within: timedelta = timedelta(seconds=60), clock: Clock = utc_now, keep_every_s: float = KEEP_EVERY_S,
    ) -> None:  # fmt: skip
        self._store = store
        self._keep_every_s = keep_every_s
        self._bolt = bolt  # a worker's: the listeners that run the command
        self._client = client
        self._answer_within = answer_within
        self._clock = clock

    async def keep(self, body: dict[str, Any], *, signature: str, replay_window: timedelta) -> bool:
        """Keep a verified slash command for the workers and tell them; False for a replay, its signature seen
        within `replay_window` (nothing kept). Raises StoreUnavailable when it cannot be kept."""
        fields = {key: str(value) for key, value in body.items() if key not in NOT_KEPT}
        command_id = new_call_id()
        notify = f"command {command_id} {body.get('response_url') or ''}".rstrip()
        now = self._clock()
        return await self._store.queue_command(
            command_id, fields, signature=signature, at=now, forget_before=now - replay_window, notify=notify
        )  # fmt: skip

    async def waiting(self) -> list[str]:
        """Commands a worker should take although nobody told it: missed NOTIFYs, and workers that died."""
        now = self._clock()
        return await self._store.commands_waiting(received_before=now - NOT_HEARD_AFTER, stale_before=now - TAKEN_FOR)

    async def run(self, command_id: str, response_url: str | None) -> None:
        """Take the command, unless another worker has it, and run it; say the answer to the person."""
        now = self._clock()
        try:
            command = await self._store.take_command(command_id, at=now, stale_before=now - TAKEN_FOR)
            if command is not None:
                kept = Renewal(lambda: self._claim(command), self._keep_every_s, what=f"slash command {command.id}")
                try:  # however slow (Slack's 429s), it stays this worker's while it runs
                    await self._answer(command, response_url, now)
                finally:
                    await kept.stop()
                await self._store.drop_command(command.id)
        except StoreUnavailable as error:  # the row stays: a worker takes it over after TAKEN_FOR
            log.warning("could not run slash command %s: %s", command_id, error.reason)

    async def _claim(self, command: SlashCommand) -> bool:
        """Claim again the command this worker runs; False when another worker took it over."""
        try:
            return await self._store.claim_command(command.id, at=self._clock(), takes=command.takes)
        except StoreUnavailable as error:  # not known to be lost: the next claim may reach the database
            log.warning("could not claim slash command %s again: %s", command.id, error.reason)
            return True

    async def _answer(self, command: SlashCommand, response_url: str | None, now: datetime) -> None:
        assert self._bolt is not None, "a worker's Inbox has the Bolt app"
        fields = dict(command.fields)
        if response_url:
            fields["response_url"] = response_url
        waited = now - command.received_at
        if waited > FORGOTTEN_AFTER:  # no worker ran for that long: the person gave up, and its response_url expired
            log.info("dropped slash command %s, kept %d s ago: no worker ran it", command.id, waited.total_seconds())
        elif command.takes > 1:  # its worker stopped claiming it for TAKEN_FOR: what it did is not known
            if await self._store.call(command.id) is None:  # a call it placed has its id: the launch scan has it
                await self._say(fields, _ephemeral(texts.COMMAND_MAYBE_DONE))
        elif waited > self._answer_within:
            await self._say(fields, _ephemeral(texts.COMMAND_TOO_LATE.format(seconds=int(waited.total_seconds()))))
        else:
            request = AsyncBoltRequest(body=fields, mode="socket_mode", context={COMMAND_ID: command.id})
            response = await self._bolt.async_dispatch(request)
            if response.status != 200:  # Bolt's own refusal (no listener, a middleware's error): never silence
                ref = secrets.token_hex(4)
                log.error("slash command %s: Bolt answered HTTP %s (reference %s)", command.id, response.status, ref)
                await self._say(fields, _ephemeral(texts.UNEXPECTED.format(ref=ref)))
            elif response.body:
                await self._say(fields, _message(response.body))

    async def _say(self, fields: dict[str, str], message: dict[str, Any]) -> None:
        """What the acknowledgement would have said, to the person alone: through the response_url, else with
        chat.postEphemeral where they typed the command."""
        assert self._client is not None
        await tell_privately(
            self._client, message, url=fields.get("response_url"), channel=fields.get("channel_id", ""),
            user=fields.get("user_id", ""), about="a slash command",
        )  # fmt: skip


def _ephemeral(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text}


def _message(body: str) -> dict[str, Any]:
    """A listener's acknowledgement (Bolt's JSON, or bare text) as a message for the response_url."""
    try:
        message = json.loads(body)
    except ValueError:
        message = None
    if not isinstance(message, dict):
        return _ephemeral(body)
    message.setdefault("response_type", "ephemeral")
    return message
