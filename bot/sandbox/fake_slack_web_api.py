"""The fake Slack's Web API methods: each takes the request's parameters and answers Slack's JSON, with Slack's
checks and errors. `FakeSlack` (bot/sandbox/fake_slack.py) records the calls, applies faults and rate tiers, and
dispatches here by method name (`chat.postMessage` -> `_chat_postMessage`)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.block_kit import message_problems, view_problems

BOT_USER_ID = "U0CALLBOT"
TEAM_ID = "T0SANDBOX"
# Trigger ids look like Slack's (`12345.98765.abcd2358fdea`); here the middle part is the Unix time the trigger
# was issued, so the fake can tell an expired one (Slack allows about 3 seconds).
TRIGGER = re.compile(r"\d+\.(?P<issued>\d{9,11})\.[0-9a-f]{6,64}")
TRIGGER_LIFETIME_S = 3
# chat.postMessage keeps the first 40,000 characters of a longer text and says nothing: no msg_too_long
# (docs.slack.dev/reference/methods/chat.postMessage, "Truncating content").
MAX_POSTED_TEXT = 40_000


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    user: str = BOT_USER_ID
    edits: int = 0
    broadcast: bool = False  # a thread reply also shown in the channel (reply_broadcast)


class WebApiMethods:
    """The methods, over the state `FakeSlack` keeps (declared here, set by FakeSlack)."""

    manifest: dict[str, Any]
    now: Callable[[], float]  # the clock triggers expire by
    _used_triggers: set[str]
    messages: list[Message]
    ephemeral: list[dict[str, Any]]
    views: list[dict[str, Any]]
    channel_errors: dict[str, str]
    thread_only: set[str]
    non_threadable: set[str]
    unrepliable: set[tuple[str, str]]
    users: dict[str, dict[str, Any]]
    channel_members: dict[str, list[str]]
    usergroups: dict[str, list[str]]
    _ts_base: int
    _serial: int

    @property
    def messages_tab_enabled(self) -> bool:
        """App Home's Messages tab (`features.app_home.messages_tab_enabled`), off unless the manifest says so."""
        app_home = self.manifest.get("features", {}).get("app_home", {})
        return bool(app_home.get("messages_tab_enabled", False))

    def find(self, channel: str, ts: str) -> Message | None:
        return next((m for m in self.messages if m.channel == channel and m.ts == ts), None)

    def _auth_test(self, _: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True, "url": "https://sandbox.slack.com/", "team": "Sandbox", "user": "callbot",
            "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": "B0CALLBOT", "is_enterprise_install": False,
        }  # fmt: skip

    def _chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._conversation(str(params.get("channel", "")))
        if "error" in channel:
            return channel
        text, blocks = params.get("text"), _blocks(params)
        if not text and not blocks:
            return {"ok": False, "error": "no_text"}
        if problems := message_problems(blocks):
            return _invalid_blocks(problems)
        thread_ts = params.get("thread_ts") or None
        if thread_ts is None and channel["id"] in self.thread_only:
            return {"ok": False, "error": "restricted_action_thread_only_channel"}
        if thread_ts is not None and channel["id"] in self.non_threadable:
            return {"ok": False, "error": "restricted_action_non_threadable_channel"}
        if thread_ts is not None and (channel["id"], thread_ts) in self.unrepliable:
            return {"ok": False, "error": "cannot_reply_to_message"}
        message = Message(
            channel=channel["id"], ts=self._next_ts(), text=(text or "")[:MAX_POSTED_TEXT], blocks=blocks,
            thread_ts=thread_ts,
            broadcast=str(params.get("reply_broadcast", "")).lower() in {"1", "true"},
        )  # fmt: skip
        self.messages.append(message)
        return {"ok": True, "channel": message.channel, "ts": message.ts, "message": _shape(message)}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        refused = self.channel_errors.get(str(params.get("channel")))
        if refused is not None:
            # chat.update answers is_inactive, not is_archived, in an archived or frozen channel
            # (docs.slack.dev/reference/methods/chat.update, "Errors").
            return {"ok": False, "error": "is_inactive" if refused == "is_archived" else refused}
        message = self.find(str(params.get("channel")), str(params.get("ts")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if problems := message_problems(_blocks(params)):
            return _invalid_blocks(problems)
        message.text = params.get("text") or message.text
        message.blocks = _blocks(params) or message.blocks
        message.edits += 1
        return {"ok": True, "channel": message.channel, "ts": message.ts, "text": message.text,
                "message": _shape(message)}  # fmt: skip

    def _chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._conversation(str(params.get("channel", "")))
        if "error" in channel:
            return channel
        self.ephemeral.append(params)
        return {"ok": True, "message_ts": self._next_ts()}

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        """views.open with Slack's checks: the trigger (well-formed, unused, under 3 s old) and the view's limits."""
        trigger = str(params.get("trigger_id") or "")
        raw = params.get("view")
        if not trigger or not raw:
            missing = "trigger_id" if not trigger else "view"
            return _invalid_arguments(f"[ERROR] missing required field: {missing}")
        found = TRIGGER.fullmatch(trigger)
        if found is None:
            return {"ok": False, "error": "invalid_trigger_id"}
        if trigger in self._used_triggers:
            return {"ok": False, "error": "exchanged_trigger_id"}
        if self.now() - int(found.group("issued")) > TRIGGER_LIFETIME_S:
            return {"ok": False, "error": "expired_trigger_id"}
        try:
            view = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError:
            view = None
        if not isinstance(view, dict):
            return _invalid_arguments("[ERROR] must be a JSON object [json-pointer:/view]")
        problems = view_problems(view)
        if problems:
            error = "view_too_large" if any("view_too_large" in p for p in problems) else "invalid_arguments"
            return {"ok": False, "error": error, "response_metadata": {"messages": problems}}
        self._used_triggers.add(trigger)
        self._serial += 1
        stored = {
            **view, "id": f"V{self._serial:08d}", "team_id": TEAM_ID, "state": {"values": {}},
            "hash": f"{self._ts_base + self._serial}.{self._serial:08x}", "private_metadata": view.get(
                "private_metadata", ""), "callback_id": view.get("callback_id", ""), "external_id": "",
            "root_view_id": f"V{self._serial:08d}", "previous_view_id": None, "app_id": "A0CALLBOT",
            "app_installed_team_id": TEAM_ID, "bot_id": "B0CALLBOT", "clear_on_close": False,
            "notify_on_close": False,
        }  # fmt: skip
        self.views.append(stored)
        return {"ok": True, "view": stored}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(params.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}

    def _conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        if channel in self.channel_errors:
            return {"ok": False, "error": self.channel_errors[channel]}
        if channel not in self.channel_members:
            return {"ok": False, "error": "channel_not_found"}
        try:
            limit = int(params.get("limit") or 100)
            start = (
                int(base64.b64decode(params["cursor"]).decode().removeprefix("offset:")) if params.get("cursor") else 0
            )
        except (ValueError, binascii.Error):
            return {"ok": False, "error": "invalid_cursor"}
        if not 1 <= limit <= 1000:
            return {"ok": False, "error": "invalid_limit"}
        members = self.channel_members[channel]
        page = members[start : start + limit]
        following = start + limit
        cursor = base64.b64encode(f"offset:{following}".encode()).decode() if following < len(members) else ""
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": cursor}}

    def _usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = str(params.get("usergroup", ""))
        if not group:
            return {"ok": False, "error": "invalid_arguments"}
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.usergroups[group])}

    # -- internals ------------------------------------------------------------------------------------------------

    def _conversation(self, channel: str) -> dict[str, Any]:
        if channel in self.channel_errors:
            return {"ok": False, "error": self.channel_errors[channel]}
        if channel.startswith(("U", "W")):
            # A user ID opens the app's DM with that person, which needs the App Home Messages tab; without it
            # chat.postMessage and chat.postEphemeral answer messages_tab_disabled (docs.slack.dev/reference/methods/
            # chat.postMessage, "Errors"; slackapi/python-slack-sdk#1015; manifest field: docs.slack.dev/reference/
            # app-manifest, features.app_home.messages_tab_enabled).
            if not self.messages_tab_enabled:
                return {"ok": False, "error": "messages_tab_disabled"}
            return {"id": "D" + channel[1:]}
        if not channel.startswith(("C", "G", "D")):
            return {"ok": False, "error": "channel_not_found"}
        return {"id": channel}

    def _next_ts(self) -> str:
        self._serial += 1
        return f"{self._ts_base + self._serial}.{self._serial:06d}"


def _blocks(params: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = params.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return list(blocks or [])


def _shape(message: Message) -> dict[str, Any]:
    shaped: dict[str, Any] = {"type": "message", "user": message.user, "text": message.text, "ts": message.ts}
    if message.blocks:
        shaped["blocks"] = message.blocks
    if message.thread_ts:
        shaped["thread_ts"] = message.thread_ts
    return shaped


def _invalid_arguments(message: str) -> dict[str, Any]:
    return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": [message]}}


def _invalid_blocks(problems: list[str]) -> dict[str, Any]:
    return {"ok": False, "error": "invalid_blocks", "response_metadata": {"messages": problems}}
