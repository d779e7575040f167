"""The workspace's people as the domain needs them: admins (users.info), channel and user group members.

Answers are cached for `ttl_s` seconds (MEMBERSHIP_CACHE_S, default 30): a /call checks membership on every
request, and a big channel's member list takes several Web API pages (a 5,000-member channel: 25 pages at Tier 4).
Past that, the expired answer is still given while a refresh runs in the background (and for at most `STALE_S`
more), so the first /call after an expiry is not refused for a lookup that cannot finish before Slack's 3-second
ack. Someone removed from a group can still call for about `ttl_s` plus one refresh; 0 turns the cache off (a lookup
still under way is shared, not repeated).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import DirectoryError
from bot.slack.api_errors import error_code

PAGE_SIZE = 200
STALE_S = 300.0  # an expired answer is given while it is refreshed, for at most this long past its expiry
T = TypeVar("T")


class SlackDirectory:
    """`bot.calls.permissions.Directory` over the Slack Web API.

    Give it a client without Retry-After sleeps: it is asked before Slack's 3-second ack, and the caller bounds each
    question with a deadline. A lookup cut short by that deadline keeps running and fills the cache, so the person's
    next try is answered at once; concurrent questions about one group or person share one lookup.
    """

    def __init__(
        self, client: AsyncWebClient, *, ttl_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._ttl_s = ttl_s
        self._clock = clock
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._admins: dict[str, tuple[float, bool]] = {}
        self._zones: dict[str, str] = {}  # users.info's `tz`, read with the admin flags
        self._lookups: dict[str, asyncio.Task[Any]] = {}

    async def is_workspace_admin(self, user_id: str) -> bool:
        cached = self._admins.get(user_id)
        if cached is not None and self._usable(f"admin:{user_id}", cached[0], lambda: self._admin(user_id)):
            return cached[1]
        return await self._shared(f"admin:{user_id}", lambda: self._admin(user_id))

    async def time_zone(self, user_id: str) -> str | None:
        """The person's time zone as their Slack profile sets it (users.info `tz`, an IANA name); None if unknown."""
        if user_id not in self._zones:
            await self._shared(f"admin:{user_id}", lambda: self._admin(user_id))
        return self._zones.get(user_id)

    async def is_member(self, group_id: str, user_id: str) -> bool:
        cached = self._members.get(group_id)
        if cached is not None and self._usable(f"members:{group_id}", cached[0], lambda: self._group(group_id)):
            return user_id in cached[1]
        members = await self._shared(f"members:{group_id}", lambda: self._group(group_id))
        return user_id in members

    async def aclose(self) -> None:
        """Cancel the lookups still running (at shutdown)."""
        pending = list(self._lookups.values())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _usable(self, key: str, fetched_at: float, lookup: Callable[[], Coroutine[Any, Any, Any]]) -> bool:
        """Whether a cached answer may be given: fresh, or expired less than STALE_S ago while a refresh (started
        here if none runs) fetches the new one."""
        if self._ttl_s <= 0:
            return False
        age = self._clock() - fetched_at
        if age < self._ttl_s:
            return True
        if age >= self._ttl_s + STALE_S:
            return False
        self._lookup(key, lookup)
        return True

    async def _shared(self, key: str, lookup: Callable[[], Coroutine[Any, Any, T]]) -> T:
        result: T = await asyncio.shield(self._lookup(key, lookup))
        return result

    def _lookup(self, key: str, lookup: Callable[[], Coroutine[Any, Any, T]]) -> asyncio.Task[T]:
        """The lookup under way for `key`, or a new one."""
        task = self._lookups.get(key)
        if task is None:
            task = asyncio.create_task(lookup(), name=f"Slack lookup {key}")
            self._lookups[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return task

    def _finished(self, key: str, task: asyncio.Task[Any]) -> None:
        self._lookups.pop(key, None)
        if not task.cancelled():
            task.exception()  # a failure nobody waited for any more is not reported as never retrieved

    async def _admin(self, user_id: str) -> bool:
        try:
            response = await self._client.users_info(user=user_id)
        except SlackApiError as error:
            raise DirectoryError(error_code(error, "unknown_error")) from None
        user = response.get("user") or {}
        if isinstance(user.get("tz"), str):
            self._zones[user_id] = user["tz"]
        admin = bool(
            not user.get("deleted") and (user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        )
        self._admins[user_id] = (self._clock(), admin)
        return admin

    async def _group(self, group_id: str) -> frozenset[str]:
        members = await (self._usergroup(group_id) if group_id.startswith("S") else self._channel(group_id))
        self._members[group_id] = (self._clock(), members)
        return members

    async def _channel(self, channel_id: str) -> frozenset[str]:
        members: set[str] = set()
        cursor: str | None = None
        try:
            while True:
                response = await self._client.conversations_members(channel=channel_id, limit=PAGE_SIZE, cursor=cursor)
                members.update(response.get("members") or [])
                cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
                if cursor is None:
                    return frozenset(members)
        except SlackApiError as error:
            raise DirectoryError(error_code(error, "unknown_error")) from None

    async def _usergroup(self, group_id: str) -> frozenset[str]:
        try:
            response = await self._client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as error:
            raise DirectoryError(error_code(error, "unknown_error")) from None
        return frozenset(response.get("users") or [])
