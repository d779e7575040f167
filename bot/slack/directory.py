"""The workspace's people as the domain needs them: admins (users.info), channel and user group members.

Answers are cached for `ttl_s` seconds (MEMBERSHIP_CACHE_S, default 30): a /call checks membership on every
request, and a big channel's member list takes several Web API pages. Someone removed from a group can still call
for at most that long; 0 turns the cache off.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import DirectoryError

PAGE_SIZE = 200


class SlackDirectory:
    """`bot.calls.permissions.Directory` over the Slack Web API."""

    def __init__(
        self, client: AsyncWebClient, *, ttl_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._ttl_s = ttl_s
        self._clock = clock
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._admins: dict[str, tuple[float, bool]] = {}

    async def is_workspace_admin(self, user_id: str) -> bool:
        cached = self._admins.get(user_id)
        if cached is not None and self._fresh(cached[0]):
            return cached[1]
        try:
            response = await self._client.users_info(user=user_id)
        except SlackApiError as error:
            raise DirectoryError(str(error.response.get("error", "unknown_error"))) from None
        user = response.get("user") or {}
        admin = bool(
            not user.get("deleted") and (user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        )
        self._admins[user_id] = (self._clock(), admin)
        return admin

    async def is_member(self, group_id: str, user_id: str) -> bool:
        cached = self._members.get(group_id)
        if cached is None or not self._fresh(cached[0]):
            members = await (self._usergroup(group_id) if group_id.startswith("S") else self._channel(group_id))
            cached = (self._clock(), members)
            self._members[group_id] = cached
        return user_id in cached[1]

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
            raise DirectoryError(str(error.response.get("error", "unknown_error"))) from None

    async def _usergroup(self, group_id: str) -> frozenset[str]:
        try:
            response = await self._client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as error:
            raise DirectoryError(str(error.response.get("error", "unknown_error"))) from None
        return frozenset(response.get("users") or [])

    def _fresh(self, fetched_at: float) -> bool:
        return self._ttl_s > 0 and self._clock() - fetched_at < self._ttl_s
