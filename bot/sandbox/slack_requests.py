"""Send requests to the bot exactly as Slack does: form-encoded, signed with the signing secret."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from bot.sandbox.fake_slack import TEAM_ID


class SlackSender:
    """Signs and posts slash commands and interactivity payloads to `{bot_url}/slack/events`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        bot_url: str,
        signing_secret: str,
        response_base: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self._url = f"{bot_url}/slack/events"
        self._verifier = SignatureVerifier(signing_secret)
        self._response_base = response_base
        self._clock = clock
        self._serial = 0

    async def command(
        self,
        text: str,
        *,
        user_id: str = "U0ANA",
        channel_id: str = "C0GENERAL",
        command: str = "/call",
        trigger_id: str | None = None,
    ) -> httpx.Response:
        """A slash command with every field Slack sends."""
        self._serial += 1
        form = {
            "token": "legacy-verification-token-unused",
            "team_id": TEAM_ID,
            "team_domain": "sandbox",
            "channel_id": channel_id,
            "channel_name": "general" if channel_id == "C0GENERAL" else "channel",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0CALLBOT",
            "is_enterprise_install": "false",
            "response_url": self._url_for_responses("commands"),
            "trigger_id": trigger_id or self.new_trigger_id(),
        }
        return await self.post(urlencode(form).encode())

    def response_url(self) -> str:
        """A fresh response_url on the fake Slack, as Slack puts one in every command and interaction."""
        self._serial += 1
        return self._url_for_responses("actions")

    def _url_for_responses(self, kind: str) -> str:
        """A response_url like Slack's (`…/commands/T…/serial/secret`); its secret starts with the Unix time it was
        issued, so the fake can tell an expired one (bot/sandbox/fake_slack.py RESPONSE_URL)."""
        return f"{self._response_base}/{kind}/{TEAM_ID}/{self._serial}/{int(self._clock())}-{self._serial * 7919:08x}"

    def new_trigger_id(self) -> str:
        """A trigger id as Slack issues them; its middle part is the issue time (the fake expires it after 3 s)."""
        self._serial += 1
        return f"{self._serial}.{int(self._clock())}.{self._serial * 7919:012x}"

    async def shortcut(self, callback_id: str, *, user_id: str = "U0ANA") -> httpx.Response:
        """A global shortcut, as Slack sends it: no channel, no response_url."""
        return await self.interaction(
            {
                "type": "shortcut", "token": "legacy-verification-token-unused", "action_ts": self._action_ts(),
                "team": {"id": TEAM_ID, "domain": "sandbox"}, "user": _user(user_id), "is_enterprise_install": False,
                "enterprise": None, "callback_id": callback_id, "trigger_id": self.new_trigger_id(),
            }
        )  # fmt: skip

    async def message_action(
        self,
        callback_id: str,
        message: dict[str, Any],
        *,
        user_id: str = "U0ANA",
        channel_id: str = "C0GENERAL",
    ) -> httpx.Response:
        """A message shortcut on `message` (a message object as Slack shows it: type, user, ts, text...)."""
        return await self.interaction(
            {
                "type": "message_action", "token": "legacy-verification-token-unused", "action_ts": self._action_ts(),
                "team": {"id": TEAM_ID, "domain": "sandbox"}, "user": _user(user_id),
                "channel": {"id": channel_id, "name": "general" if channel_id == "C0GENERAL" else "channel"},
                "is_enterprise_install": False, "enterprise": None, "callback_id": callback_id,
                "trigger_id": self.new_trigger_id(), "message_ts": message["ts"], "message": message,
                "response_url": self._url_for_responses("commands"),
            }
        )  # fmt: skip

    async def view_submission(
        self, view: dict[str, Any], values: dict[str, dict[str, dict[str, Any]]], *, user_id: str = "U0ANA"
    ) -> httpx.Response:
        """Submit `view` (as views.open returned it) with `values` in `view.state.values`.

        As Slack does, each conversation select with `response_url_enabled` brings a response_url for the conversation
        chosen in it (`response_urls`).
        """
        submitted = {**view, "state": {"values": values}}
        response_urls = []
        for block in view.get("blocks", []):
            element = block.get("element") or {}
            if block.get("type") != "input" or not element.get("response_url_enabled"):
                continue
            chosen = (values.get(block.get("block_id", "")) or {}).get(element.get("action_id", "")) or {}
            channel = chosen.get("selected_conversation") or chosen.get("selected_channel")
            if channel:
                response_urls.append({"block_id": block["block_id"], "action_id": element["action_id"],
                                      "channel_id": channel, "response_url": self.response_url()})  # fmt: skip
        return await self.interaction(
            {
                "type": "view_submission", "token": "legacy-verification-token-unused",
                "team": {"id": TEAM_ID, "domain": "sandbox"}, "user": _user(user_id), "api_app_id": "A0CALLBOT",
                "trigger_id": self.new_trigger_id(), "view": submitted, "response_urls": response_urls,
                "is_enterprise_install": False, "enterprise": None,
            }
        )  # fmt: skip

    def _action_ts(self) -> str:
        return f"{self._clock():.6f}"

    async def interaction(self, payload: dict[str, Any]) -> httpx.Response:
        """An interactivity request: one form field `payload` holding the JSON."""
        return await self.post(urlencode({"payload": json.dumps(payload)}).encode())

    async def block_action(
        self, *, action_id: str, value: str, block_id: str, message: dict[str, Any], channel_id: str,
        user_id: str = "U0ANA", text: str = "Hang up",
    ) -> httpx.Response:  # fmt: skip
        """A button pressed on a message: the `block_actions` payload Slack sends, with its response_url and a
        trigger_id that opens a form for 3 seconds (as Slack's does)."""
        trigger_id = self.new_trigger_id()
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": TEAM_ID},
            "api_app_id": "A0CALLBOT",
            "token": "legacy-verification-token-unused",
            "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel_id,
                          "is_ephemeral": False},
            "trigger_id": trigger_id,
            "team": {"id": TEAM_ID, "domain": "sandbox"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": "general"},
            "message": message,
            "state": {"values": {}},
            "response_url": self._url_for_responses("actions"),
            "actions": [
                {"action_id": action_id, "block_id": block_id, "text": {"type": "plain_text", "text": text},
                 "value": value, "type": "button", "action_ts": f"{int(self._clock())}.000100"}
            ],
        }  # fmt: skip
        return await self.interaction(payload)

    async def post(self, body: bytes, *, timestamp: int | None = None, signature: str | None = None) -> httpx.Response:
        """POST a raw body, signed now unless a timestamp or signature is forced (to test forgeries and replays)."""
        stamp = str(timestamp if timestamp is not None else int(self._clock()))
        signed = signature or self._verifier.generate_signature(timestamp=stamp, body=body) or ""
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signed,
        }
        return await self._http.post(self._url, content=body, headers=headers)


def _user(user_id: str) -> dict[str, str]:
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": TEAM_ID}
