"""The sandbox's local web page: the channel and its threads, live; a /call box; the call form; Hang up and Say…
buttons.

Served on loopback by `callbot sandbox`. Every action goes to the bot the way Slack would send it: `/call` as a
signed slash command, a button press as a signed `block_actions` payload (with the message it was on), and the text
a person writes in a form the button opened (Say…) as a signed `view_submission` of the view the bot opened.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from bot.sandbox.fake_slack import BOT_USER_ID, TEAM_ID, FakeSlack, Message
from bot.sandbox.slack_requests import SlackSender

PAGE = Path(__file__).with_name("page.html")
USER_ID = "U0ANA"


class SandboxPage:
    def __init__(self, fake: FakeSlack, sender: SlackSender, *, channel: str, caller_id: str, help_text: str) -> None:
        self._fake = fake
        self._sender = sender
        self._channel = channel
        self._caller_id = caller_id
        self._help = help_text
        self.ephemeral: list[dict[str, Any]] = []  # what only the person typing sees (answers to commands and actions)
        self.sent: list[dict[str, Any]] = []  # every request sent to the bot, with the bot's HTTP status
        self.app = Starlette(
            routes=[
                Route("/", self._page),
                Route("/api/state", self._state),
                Route("/api/command", self._command, methods=["POST"]),
                Route("/api/action", self._action, methods=["POST"]),
            ]
        )

    async def _page(self, _: Request) -> Response:
        return HTMLResponse(PAGE.read_text())

    async def _state(self, _: Request) -> Response:
        parents = self._fake.parents(self._channel) + [p for p in self._fake.parents() if p.channel.startswith("D")]
        return JSONResponse({
            "channel": self._channel, "caller_id": self._caller_id, "help": self._help,
            "messages": [self._shape(p, with_thread=True) for p in parents],
            "ephemeral": self.ephemeral[-20:],
        })  # fmt: skip

    async def _command(self, request: Request) -> Response:
        text = str((await request.json()).get("text", "")).strip()
        command, _, rest = text.partition(" ")
        if command != "/call":
            self.ephemeral.append({"text": "Only /call is known here, e.g. /call +14155550100 say hello"})
            return JSONResponse({"ok": False})
        response = await self._sender.command(rest, user_id=USER_ID, channel_id=self._channel)
        self.sent.append({"kind": "slash_command", "text": rest, "status": response.status_code})
        if response.content:
            try:
                self.ephemeral.append({"text": str(response.json().get("text", ""))})
            except ValueError:
                self.ephemeral.append({"text": response.text})
        return JSONResponse({"ok": response.status_code == 200})

    async def _action(self, request: Request) -> Response:
        body = await request.json()
        message = self._fake.find(str(body.get("channel")), str(body.get("ts")))
        button = _find_button(message, str(body.get("action_id")), body.get("block_id")) if message else None
        if message is None or button is None:
            return JSONResponse({"ok": False, "error": "no such button"}, status_code=404)
        views = len(self._fake.views)
        payload = _block_actions(message, button, self._sender.response_url(), self._sender.new_trigger_id())
        response = await self._sender.interaction(payload)
        self.sent.append({"kind": "block_actions", "action_id": button["action_id"], "status": response.status_code})
        if response.status_code != 200:
            self.ephemeral.append({"text": f"(the bot answered HTTP {response.status_code} to that button)"})
        typed = body.get("text")
        if isinstance(typed, str) and len(self._fake.views) > views:  # the button opened a form: fill it in
            await self._fill_in(self._fake.views[-1], typed)
        return JSONResponse({"ok": response.status_code == 200})

    async def _fill_in(self, view: dict[str, Any], text: str) -> None:
        """Submit the form a button opened with `text` in its one text input; its field errors shown as ephemeral."""
        inputs = [b for b in view.get("blocks", []) if b.get("type") == "input"]
        if len(inputs) != 1:
            return
        block, action = inputs[0]["block_id"], inputs[0]["element"]["action_id"]
        values = {block: {action: {"type": "plain_text_input", "value": text}}}
        response = await self._sender.view_submission(view, values, user_id=USER_ID)
        self.sent.append({"kind": "view_submission", "callback_id": view.get("callback_id"),
                          "status": response.status_code})  # fmt: skip
        try:
            errors = response.json().get("errors") if response.content else None
        except ValueError:
            errors = None
        for error in (errors or {}).values():
            self.ephemeral.append({"text": str(error)})

    def _shape(self, message: Message, *, with_thread: bool) -> dict[str, Any]:
        shaped = {"channel": message.channel, "ts": message.ts, "text": message.text, "edits": message.edits,
                  "blocks": message.blocks, "buttons": [_button_view(b) for b in _buttons(message)]}  # fmt: skip
        if with_thread:
            shaped["thread"] = [self._shape(m, with_thread=False) for m in self._fake.thread(message)]
        return shaped


def _buttons(message: Message) -> list[dict[str, Any]]:
    found = []
    for block in message.blocks:
        if block.get("type") == "actions":
            for element in block.get("elements", []):
                if element.get("type") == "button":
                    found.append({**element, "block_id": block.get("block_id")})
    return found


def _button_view(button: dict[str, Any]) -> dict[str, Any]:
    text = button.get("text", {})
    return {"action_id": button.get("action_id"), "block_id": button.get("block_id"),
            "text": text.get("text", "") if isinstance(text, dict) else str(text),
            "style": button.get("style")}  # fmt: skip


def _find_button(message: Message, action_id: str, block_id: object) -> dict[str, Any] | None:
    for button in _buttons(message):
        if button.get("action_id") == action_id and (block_id is None or button["block_id"] == block_id):
            return button
    return None


def _block_actions(message: Message, button: dict[str, Any], response_url: str, trigger_id: str) -> dict[str, Any]:
    """A `block_actions` payload with the fields Slack sends for a button in a bot message."""
    now = f"{time.time():.6f}"
    action = {"action_id": button["action_id"], "block_id": button["block_id"], "text": button.get("text"),
              "type": "button", "action_ts": now}  # fmt: skip
    for optional in ("value", "style"):
        if optional in button:
            action[optional] = button[optional]
    shaped_message = {"type": "message", "user": BOT_USER_ID, "bot_id": "B0CALLBOT", "text": message.text,
                      "ts": message.ts, "blocks": message.blocks}  # fmt: skip
    return {
        "type": "block_actions",
        "user": {"id": USER_ID, "username": "ana", "name": "ana", "team_id": TEAM_ID},
        "api_app_id": "A0CALLBOT",
        "token": "legacy-verification-token-unused",
        "container": {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": message.channel,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id,  # opens a form for 3 s, as Slack's does
        "team": {"id": TEAM_ID, "domain": "sandbox"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": message.channel, "name": "general"},
        "message": shaped_message,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }
