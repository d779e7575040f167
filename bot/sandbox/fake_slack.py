"""A fake Slack Web API: answers with Slack's response shapes, records every call, and fails on request.

Point the bot at it with SLACK_API_URL=<url>/api/. It also serves response_url endpoints at /commands/...
and /actions/...

Like Slack, it behaves as the app's settings say: give it the app manifest (`manifest=load_manifest()` reads the
repository's manifest.yml). Without one, the app has Slack's defaults (no Messages tab, so no DMs from the bot).

The methods themselves (what each answers) are in bot/sandbox/fake_slack_web_api.py; here are the recording, the
faults, outages and delays tests ask for, Slack's rate tiers and per-channel pace, and `reset()` (tests serve one
fake for the session).
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.sandbox.fake_slack_web_api import BOT_USER_ID, TEAM_ID, Message, WebApiMethods
from bot.slack.manifest import BOT_SCOPES
from bot.slack.pacing import BURST

__all__ = ["BOT_USER_ID", "CHANNEL_BURST", "MANIFEST", "RATE_LIMITS", "TEAM_ID", "ApiCall", "FakeSlack", "Fault",
           "Message", "load_manifest"]  # fmt: skip

# Methods limited per workspace by tier, in calls a minute (docs.slack.dev/apis/web-api/rate-limits: past the limit,
# HTTP 429 with a Retry-After header in seconds): chat.update is Tier 3, "50+ per minute"
# (docs.slack.dev/reference/methods/chat.update); views.open Tier 4, "100+ per minute"
# (docs.slack.dev/reference/methods/views.open). The fake holds each to that many in any 60 seconds of its clock.
RATE_LIMITS = {"chat.update": 50, "views.open": 100}
# A response_url takes "up to 5" messages "within 30 minutes" of the request that brought it (Slack's slash
# commands page, "Delayed responses and multiple responses"). Past the 5, the fake answers 404 `used_url`; past the
# 30 minutes, 404 `expired_url` (Slack's page names no answer for either: these are the fake's, not Slack's word).
# The URLs SlackSender issues carry their issue time (RESPONSE_URL); one made by hand without it never expires.
RESPONSE_URL_USES = 5
RESPONSE_URL_LIFETIME_S = 30 * 60
RESPONSE_URL = re.compile(r"/(?:commands|actions)/[^/]+/\d+/(?P<issued>\d{9,11})-[0-9a-f]+")
# chat.postMessage per channel: "1 per second" with "Short bursts >1 allowed" (docs.slack.dev/apis/web-api/rate-limits,
# "Posting messages"; past it, HTTP 429 with Retry-After). The fake keeps a bucket per channel: CHANNEL_BURST posts
# at once, refilled one a second. Slack publishes no burst size, so the fake holds callbot to the one callbot assumes
# (bot/slack/pacing.py BURST): a bot that bursts past it meets the 429 it would risk in life.
CHANNEL_PACE_S = 1.0
CHANNEL_BURST = BURST
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
class Fault:
    """One scripted answer: a Slack error code, or an HTTP status (429 carries Retry-After).

    `text`: answer with this text/plain body instead of Slack's JSON (what a proxy or load balancer in front of
    Slack sends with a 502 or 503).
    """

    error: str | None = None
    status: int = 200
    retry_after: int | None = None
    text: str | None = None
    channel: str | None = None  # only a call to this channel meets it (None: the next call, wherever it goes)


@dataclass(frozen=True)
class _Setup:
    """What the fake was made with, which `reset()` restores."""

    bot_token: str
    app_token: str
    now: Callable[[], float]
    manifest: dict[str, Any]
    rate_limits: dict[str, int]
    channel_burst: int | None


class FakeSlack(WebApiMethods):
    """State and behaviour of the fake; `app` is the ASGI app that serves it."""

    def __init__(
        self, *, bot_token: str = "xoxb-sandbox-token", app_token: str = "xapp-1-sandbox",
        now: Callable[[], float] = time.time, manifest: dict[str, Any] | None = None,
        rate_limits: dict[str, int] | None = None, channel_burst: int | None = CHANNEL_BURST,
    ) -> None:  # fmt: skip
        self._setup = _Setup(bot_token, app_token, now, copy.deepcopy(manifest or {}),
                             dict(RATE_LIMITS if rate_limits is None else rate_limits), channel_burst)  # fmt: skip
        self._requests: set[asyncio.Task[Any]] = set()  # requests being answered (a slow_down may hold them)
        self._resetting = asyncio.Event()  # set while reset() cuts the held ones short
        self.app = Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["GET", "POST"]),
                Route("/commands/{path:path}", self._response_url, methods=["POST"]),
                Route("/actions/{path:path}", self._response_url, methods=["POST"]),
            ]
        )
        self._fresh()

    def _fresh(self) -> None:
        """Everything a test can set or the fake records, as a new fake has it."""
        self.bot_token = self._setup.bot_token
        self.manifest = copy.deepcopy(self._setup.manifest)  # the app's settings, as its manifest gives them
        self.app_token = self._setup.app_token
        self.socket_mode: Any = None  # a FakeSocketMode whose URL apps.connections.open hands out
        self.now = self._setup.now  # the clock triggers expire by
        self._used_triggers = set()
        self.calls: list[ApiCall] = []
        self.messages = []
        self.ephemeral = []
        self.responses: list[dict[str, Any]] = []
        self._response_url_uses: dict[str, int] = defaultdict(int)
        self.views = []
        self.channel_errors = {}  # every post to the channel fails with this code
        # Channels' posting settings (docs.slack.dev/reference/methods/chat.postMessage, "Errors"): top-level
        # messages refused (restricted_action_thread_only_channel), thread replies refused
        # (restricted_action_non_threadable_channel); messages (channel, ts) that take no replies
        # (cannot_reply_to_message).
        self.thread_only = set()
        self.non_threadable = set()
        self.unrepliable = set()
        self.users = {}
        self.channel_members = {}
        self.usergroups = {}
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.rate_limits = dict(self._setup.rate_limits)
        self._recent: dict[str, deque[float]] = defaultdict(deque)  # by `clock`, calls let through in the last 60 s
        self.channel_burst = self._setup.channel_burst  # chat.postMessage's bucket per channel; None: no limit
        self._channel_due: dict[str, float] = {}  # by `clock`, each channel's bucket (GCRA's theoretical arrival time)
        self.rate_limited: list[ApiCall] = []  # calls answered 429: their method's tier or their channel's pace spent
        self.outage: Fault | None = None  # while set, every Web API call gets this answer (fail_next comes first)
        self._delays: dict[str, float] = {}
        self.clock: Callable[[], float] = time.monotonic  # tests give it the bot's pacing clock
        self._ts_base = 1_700_000_000  # message ts and view hashes count up from here
        self._serial = 0
        # The scopes the bot token was granted, sent back in the `x-oauth-scopes` header of every answer to it, as
        # Slack does (the Node SDK reads it into `response_metadata.scopes`: docs.slack.dev/tools/node-slack-sdk/
        # reference/web-api/interfaces/WebAPICallResult). Tests take some away to show a missing scope.
        self.scopes: list[str] = list(BOT_SCOPES)

    async def reset(self) -> None:
        """Back to what a new fake is, for the next test: a request still held by `slow_down` is answered at once
        (HTTP 503, recording and changing nothing) and waited for, so nothing of one test reaches the next."""
        self._resetting.set()
        try:
            await asyncio.gather(*self._requests, return_exceptions=True)
        finally:
            self._resetting.clear()
        self._fresh()

    # -- what tests and the sandbox use ---------------------------------------------------------------------------

    def fail_next(
        self, method: str, error: str | None = None, *, status: int = 200, retry_after: int | None = None,
        text: str | None = None, channel: str | None = None,
    ) -> None:  # fmt: skip
        """Make the next call of `method` fail with a Slack error code, or an HTTP status (429: rate limited).

        With `text`, the answer is that text/plain body and not JSON (e.g. `status=502, text="Bad Gateway"`).
        With `channel`, the next call of `method` to that channel (a user id: a DM) fails, the others go through.
        """
        self._faults[method].append(Fault(error, status, retry_after, text, channel))

    def slow_down(self, method: str, seconds: float) -> None:
        """Answer every later call of `method` `seconds` late, as a slow or distant Slack would (0: on time again)."""
        self._delays[method] = seconds

    def add_user(
        self, user_id: str, *, name: str = "", admin: bool = False, owner: bool = False, primary_owner: bool = False,
        deleted: bool = False, tz: str = "America/Los_Angeles", phone: str = "",
    ) -> dict[str, Any]:  # fmt: skip
        """A workspace member as users.info describes them (a subset of Slack's fields, same names and types).

        `profile.phone` is the free text the person typed in their profile ("" when they gave none): users.info's
        profile "contains as much information as the user has supplied in the default profile fields"
        (docs.slack.dev/reference/methods/users.info, "Profile"), and users.profile.get's example shows
        `"phone": ""`; `users:read` is enough for it (only `email` needs `users:read.email`, same page).
        """
        name = name or user_id.lower()
        # `tz` is the IANA name of the member's zone, `tz_offset` its offset from UTC now in seconds, `tz_label` its
        # name (Slack's user object: docs.slack.dev/reference/objects/user-object; Slack writes the label out in
        # full, "Pacific Standard Time"; the fake gives the zone's abbreviation, which callbot does not read).
        here = datetime.now(UTC).astimezone(ZoneInfo(tz))
        offset = here.utcoffset()
        user = {
            "id": user_id, "team_id": TEAM_ID, "name": name, "deleted": deleted, "color": "9f69e7",
            "real_name": name.title(), "tz": tz, "tz_label": here.tzname() or tz,
            "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
            "profile": {"real_name": name.title(), "display_name": name, "team": TEAM_ID, "phone": phone},
            "is_admin": admin or owner or primary_owner, "is_owner": owner or primary_owner,
            "is_primary_owner": primary_owner, "is_restricted": False, "is_ultra_restricted": False,
            "is_bot": False, "is_app_user": False, "updated": 1_700_000_000,
        }  # fmt: skip
        self.users[user_id] = user
        return user

    def calls_to(self, method: str) -> list[ApiCall]:
        return [call for call in self.calls if call.method == method]

    def parents(self, channel: str | None = None) -> list[Message]:
        return [m for m in self.messages if m.thread_ts is None and (channel is None or m.channel == channel)]

    def thread(self, parent: Message) -> list[Message]:
        return [m for m in self.messages if m.channel == parent.channel and m.thread_ts == parent.ts]

    # -- HTTP ------------------------------------------------------------------------------------------------------

    async def _api(self, request: Request) -> Response:
        task = asyncio.current_task()
        assert task is not None
        self._requests.add(task)
        try:
            return await self._answer(request)
        finally:
            self._requests.discard(task)

    def _fault_for(self, method: str, channel: object) -> Fault | None:
        """The first scripted fault of `method` that this call meets, taken off the list."""
        for fault in self._faults[method]:
            if fault.channel is None or fault.channel == channel:
                self._faults[method].remove(fault)
                return fault
        return None

    async def _answer(self, request: Request) -> Response:
        method = request.path_params["method"]
        params = await _params(request)
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else params.pop("token", None)
        self.calls.append(ApiCall(method, params, token, at=self.clock()))
        if self._delays.get(method) and not await self._held(self._delays[method]):
            return JSONResponse({"ok": False, "error": "fake_slack_reset"}, status_code=503)
        fault = self._fault_for(method, params.get("channel")) or self.outage
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
        wait = self._over_tier(method)
        if wait is None:
            wait = self._over_channel_pace(method, params)
        if wait is not None:
            self.rate_limited.append(self.calls[-1])
            return JSONResponse({"ok": False, "error": "ratelimited"}, status_code=429,
                                headers={"Retry-After": str(wait)})  # fmt: skip
        result: dict[str, Any] = handler(params)
        return JSONResponse(result, headers={"x-oauth-scopes": ",".join(self.scopes)})

    async def _held(self, seconds: float) -> bool:
        """Wait `seconds` (a slow Slack); False when reset() came first: the request belongs to a test now over."""
        try:
            async with asyncio.timeout(seconds):
                await self._resetting.wait()
        except TimeoutError:
            return True
        return False

    async def _response_url(self, request: Request) -> Response:
        dated = RESPONSE_URL.fullmatch(request.url.path)
        if dated is not None and self.now() - int(dated.group("issued")) > RESPONSE_URL_LIFETIME_S:
            return PlainTextResponse("expired_url", status_code=404)
        self._response_url_uses[request.url.path] += 1
        if self._response_url_uses[request.url.path] > RESPONSE_URL_USES:
            return PlainTextResponse("used_url", status_code=404)
        self.responses.append(json.loads(await request.body()))
        return Response("ok")

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

    def _over_channel_pace(self, method: str, params: dict[str, Any]) -> int | None:
        """Seconds until the channel takes another chat.postMessage when its burst is spent, else None (and
        counted). A user ID stands for the app's DM with that person, as Slack reads it."""
        if method != "chat.postMessage" or self.channel_burst is None:
            return None
        channel = str(params.get("channel", ""))
        if channel.startswith(("U", "W")):
            channel = "D" + channel[1:]
        now, due = self.clock(), self._channel_due.get(channel, 0.0)
        allowed_at = due - (self.channel_burst - 1) * CHANNEL_PACE_S
        if allowed_at > now:
            return max(1, math.ceil(allowed_at - now))
        self._channel_due[channel] = max(due, now) + CHANNEL_PACE_S
        return None


async def _params(request: Request) -> dict[str, Any]:
    body = await request.body()
    params: dict[str, Any] = dict(request.query_params)
    if request.headers.get("content-type", "").startswith("application/json"):
        params.update(json.loads(body or b"{}"))
    else:
        params.update(parse_qsl(body.decode()))
    return params


def _error(code: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": code})
