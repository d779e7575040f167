"""A fake Slack Web API: answers with Slack's response shapes, records every call, and fails on request.

Point the bot at it with SLACK_API_URL=<url>/api/. It also serves response_url endpoints at /commands/...
and /actions/...

Like Slack, it behaves as the app's settings say: give it the app manifest (`manifest=load_manifest()` reads the
repository's manifest.yml). Without one, the app has Slack's defaults (no Messages tab, so no DMs from the bot).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.sandbox.block_kit import message_problems, view_problems
from bot.slack.manifest import BOT_SCOPES

BOT_USER_ID = "U0CALLBOT"
TEAM_ID = "T0SANDBOX"
# Trigger ids look like Slack's (`12345.98765.abcd2358fdea`); here the middle part is the Unix time the trigger
# was issued, so the fake can tell an expired one (Slack allows about 3 seconds).
TRIGGER = re.compile(r"\d+\.(?P<issued>\d{9,11})\.[0-9a-f]{6,64}")
TRIGGER_LIFETIME_S = 3
# chat.postMessage keeps the first 40,000 characters of a longer text and says nothing: no msg_too_long
# (docs.slack.dev/reference/methods/chat.postMessage, "Truncating content").
MAX_POSTED_TEXT = 40_000
# Methods limited per workspace by tier, in calls a minute (docs.slack.dev/apis/web-api/rate-limits: past the limit,
# HTTP 429 with a Retry-After header in seconds): chat.update is Tier 3, "50+ per minute"
# (docs.slack.dev/reference/methods/chat.update); views.open Tier 4, "100+ per minute"
# (docs.slack.dev/reference/methods/views.open). The fake holds each to that many in any 60 seconds of its clock.
RATE_LIMITS = {"chat.update": 50, "views.open": 100}
MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"  # the repository's; absent from an installed wheel


def load_manifest(path: Path = MANIFEST) -> dict[str, Any]:
    """The app manifest at `path` (YAML), as the fake Slack takes it."""
    loaded = yaml.safe_load(path.read_text())
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} is not an app manifest")
    return loaded


@dataclass
class ApiCall:
    method: str
    params: dict[str, Any]
    token: str | None
    received_at: float = field(default_factory=time.monotonic)  # CLOCK_MONOTONIC: comparable across processes
    at: float = 0.0  # by the fake's `clock`, when the request arrived


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


@dataclass
class Fault:
    """One scripted answer: a Slack error code, or an HTTP status (429 carries Retry-After).

    `text`: answer with this text/plain body instead of Slack's JSON (what a proxy or load balancer in front of
    Slack sends with a 502 or 503).
    """

    error: str | None = None
    status: int = 200
    retry_after: int | None = None
    text: str | None = None


class FakeSlack:
    """State and behaviour of the fake; `app` is the ASGI app that serves it."""

    def __init__(
        self, *, bot_token: str = "xoxb-sandbox-token", app_token: str = "xapp-1-sandbox",
        now: Callable[[], float] = time.time, manifest: dict[str, Any] | None = None,
        rate_limits: dict[str, int] | None = None,
    ) -> None:  # fmt: skip
        self.bot_token = bot_token
        self.manifest: dict[str, Any] = manifest or {}  # the app's settings, as its manifest gives them
        self.app_token = app_token
        self.socket_mode: Any = None  # a FakeSocketMode whose URL apps.connections.open hands out
        self.now = now  # the clock triggers expire by
        self._used_triggers: set[str] = set()
        self.calls: list[ApiCall] = []
        self.messages: list[Message] = []
        self.ephemeral: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self.views: list[dict[str, Any]] = []
        self.channel_errors: dict[str, str] = {}  # every post to the channel fails with this code
        # Channels' posting settings (docs.slack.dev/reference/methods/chat.postMessage, "Errors"): top-level
        # messages refused (restricted_action_thread_only_channel), thread replies refused
        # (restricted_action_non_threadable_channel); messages (channel, ts) that take no replies
        # (cannot_reply_to_message).
        self.thread_only: set[str] = set()
        self.non_threadable: set[str] = set()
        self.unrepliable: set[tuple[str, str]] = set()
        self.users: dict[str, dict[str, Any]] = {}
        self.channel_members: dict[str, list[str]] = {}
        self.usergroups: dict[str, list[str]] = {}
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.rate_limits = dict(RATE_LIMITS if rate_limits is None else rate_limits)
        self._recent: dict[str, deque[float]] = defaultdict(deque)  # by `clock`, calls let through in the last 60 s
        self.rate_limited: list[ApiCall] = []  # calls answered 429 because their method's tier was spent
        self.outage: Fault | None = None  # while set, every Web API call gets this answer (fail_next comes first)
        self._delays: dict[str, float] = {}
        self.clock: Callable[[], float] = time.monotonic  # tests give it the bot's pacing clock
        self._clock = 1_700_000_000
        self._serial = 0
        # The scopes the bot token was granted, sent back in the `x-oauth-scopes` header of every answer to it, as
        # Slack does (the Node SDK reads it into `response_metadata.scopes`: docs.slack.dev/tools/node-slack-sdk/
        # reference/web-api/interfaces/WebAPICallResult). Tests take some away to show a missing scope.
        self.scopes: list[str] = list(BOT_SCOPES)
        self.app = Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["GET", "POST"]),
                Route("/commands/{path:path}", self._response_url, methods=["POST"]),
                Route("/actions/{path:path}", self._response_url, methods=["POST"]),
            ]
        )

    # -- what tests and the sandbox use ---------------------------------------------------------------------------

    def fail_next(
        self, method: str, error: str | None = None, *, status: int = 200, retry_after: int | None = None,
        text: str | None = None,
    ) -> None:  # fmt: skip
        """Make the next call of `method` fail with a Slack error code, or an HTTP status (429: rate limited).

        With `text`, the answer is that text/plain body and not JSON (e.g. `status=502, text="Bad Gateway"`).
        """
        self._faults[method].append(Fault(error=error, status=status, retry_after=retry_after, text=text))

    def slow_down(self, method: str, seconds: float) -> None:
        """Answer every later call of `method` `seconds` late, as a slow or distant Slack would (0: on time again)."""
        self._delays[method] = seconds

    def add_user(
        self, user_id: str, *, name: str = "", admin: bool = False, owner: bool = False, primary_owner: bool = False,
        deleted: bool = False, tz: str = "America/Los_Angeles",
    ) -> dict[str, Any]:  # fmt: skip
        """A workspace member as users.info describes them (a subset of Slack's fields, same names and types)."""
        name = name or user_id.lower()
        user = {
            "id": user_id, "team_id": TEAM_ID, "name": name, "deleted": deleted, "color": "9f69e7",
            "real_name": name.title(), "tz": tz, "tz_label": "Pacific Standard Time", "tz_offset": -28800,
            "profile": {"real_name": name.title(), "display_name": name, "team": TEAM_ID},
            "is_admin": admin or owner or primary_owner, "is_owner": owner or primary_owner,
            "is_primary_owner": primary_owner, "is_restricted": False, "is_ultra_restricted": False,
            "is_bot": False, "is_app_user": False, "updated": 1_700_000_000,
        }  # fmt: skip
        self.users[user_id] = user
        return user

    @property
    def messages_tab_enabled(self) -> bool:
        """App Home's Messages tab (`features.app_home.messages_tab_enabled`), off unless the manifest says so."""
        app_home = self.manifest.get("features", {}).get("app_home", {})
        return bool(app_home.get("messages_tab_enabled", False))

    def calls_to(self, method: str) -> list[ApiCall]:
        return [call for call in self.calls if call.method == method]

    def parents(self, channel: str | None = None) -> list[Message]:
        return [m for m in self.messages if m.thread_ts is None and (channel is None or m.channel == channel)]

    def thread(self, parent: Message) -> list[Message]:
        return [m for m in self.messages if m.channel == parent.channel and m.thread_ts == parent.ts]

    def find(self, channel: str, ts: str) -> Message | None:
        return next((m for m in self.messages if m.channel == channel and m.ts == ts), None)

    # -- HTTP ------------------------------------------------------------------------------------------------------

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        params = await _params(request)
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else params.pop("token", None)
        self.calls.append(ApiCall(method, params, token, at=self.clock()))
        if self._delays.get(method):
            await asyncio.sleep(self._delays[method])
        fault = self._faults[method].popleft() if self._faults[method] else self.outage
        if fault is not None:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            if fault.text is not None:
                return PlainTextResponse(fault.text, status_code=fault.status, headers=headers)
            error = fault.error or ("ratelimited" if fault.status == 429 else "internal_error")
            return JSONResponse({"ok": False, "error": error}, status_code=fault.status, headers=headers)
        if token is None:
            return _error("not_authed")
        if method == "apps.connections.open":  # the one method that takes the app-level token, and only it
            if token != self.app_token:
                return _error("invalid_auth" if not token.startswith("xoxb-") else "not_allowed_token_type")
            if self.socket_mode is None:
                return _error("internal_error")
            return JSONResponse({"ok": True, "url": self.socket_mode.open_url()})
        if token != self.bot_token:
            return _error("invalid_auth")
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return _error("unknown_method")
        if (wait := self._over_tier(method)) is not None:
            self.rate_limited.append(self.calls[-1])
            return JSONResponse({"ok": False, "error": "ratelimited"}, status_code=429,
                                headers={"Retry-After": str(wait)})  # fmt: skip
        result: dict[str, Any] = handler(params)
        return JSONResponse(result, headers={"x-oauth-scopes": ",".join(self.scopes)})

    async def _response_url(self, request: Request) -> Response:
        self.responses.append(json.loads(await request.body()))
        return Response("ok")

    # -- Web API methods ------------------------------------------------------------------------------------------

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
            "hash": f"{self._clock + self._serial}.{self._serial:08x}", "private_metadata": view.get(
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

    def _over_tier(self, method: str) -> int | None:
        """Seconds until `method` may be called again when its per-minute limit is spent, else None (and counted)."""
        limit = self.rate_limits.get(method)
        if limit is None:
            return None
        now, recent = self.clock(), self._recent[method]
        while recent and recent[0] <= now - 60:
            recent.popleft()
        if len(recent) >= limit:
            return max(1, math.ceil(recent[0] + 60 - now))
        recent.append(now)
        return None

    def _next_ts(self) -> str:
        self._serial += 1
        return f"{self._clock + self._serial}.{self._serial:06d}"


async def _params(request: Request) -> dict[str, Any]:
    body = await request.body()
    params: dict[str, Any] = dict(request.query_params)
    if request.headers.get("content-type", "").startswith("application/json"):
        params.update(json.loads(body or b"{}"))
    else:
        params.update(parse_qsl(body.decode()))
    return params


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


def _error(code: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": code})
