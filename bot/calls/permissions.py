"""Who may do what: admins, who may place calls, and the per-person and per-workspace call limits.

Membership comes from a `Directory` (Slack, in the app; see `bot/slack/directory.py`), so the domain holds no Slack
types. Limits are counted from the `calls` table, so they hold across restarts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Protocol

from bot.calls.models import Call, Origin
from bot.calls.refusals import Admins, Why
from bot.calls.spending import Caps, Spending
from bot.errors import DirectoryError, LimitReached, Refusal
from bot.store import Store

RATE_WINDOW = timedelta(hours=1)
# How long after its limit a call may still be live: the scenario's watchdog (WATCHDOG_EXTRA_S, 300 s) plus time for
# StartScenarios and the last status event; once connected, only the latter.
SETUP_MARGIN = timedelta(seconds=300 + 60)
END_MARGIN = timedelta(seconds=60)
# Slack wants its ack within 3 s, and these questions are asked before it: the whole check gets this long.
LOOKUP_DEADLINE_S = 1.5


class Directory(Protocol):
    """What the workspace says about people: who administers it, and who belongs to a channel or user group."""

    async def is_workspace_admin(self, user_id: str) -> bool: ...

    async def is_member(self, group_id: str, user_id: str) -> bool:
        """True if `user_id` is in the channel (C…, G…) or user group (S…) `group_id`."""
        ...


@dataclass(frozen=True, slots=True)
class Limits:
    """0 means no limit."""

    calls_per_user_per_hour: int = 0
    concurrent_per_user: int = 0
    concurrent_per_workspace: int = 0
    max_duration_s: int = 600
    spend_per_person_day: float = 0.0  # in the Voximplant account's currency (bot/calls/spending.py)
    spend_per_workspace_month: float = 0.0

    @property
    def count_calls(self) -> bool:
        """True if any limit counts calls or what they cost (every field but the duration): admission then counts
        them under a lock."""
        return any(getattr(self, f.name) for f in fields(self) if f.name != "max_duration_s")


class Permissions:
    """Answers "is this person an admin?" and "may they place a call now?"; audits refused admin attempts."""

    def __init__(
        self,
        store: Store,
        directory: Directory | None,
        *,
        admins: Iterable[str] = (),
        workspace_admins_are_admins: bool = False,
        allowed_callers: Iterable[str] = (),
        limits: Limits = Limits(),
        clock: Callable[[], datetime],
        lookup_deadline_s: float = LOOKUP_DEADLINE_S,
    ) -> None:
        self._store = store
        self._directory = directory
        self._admins = frozenset(admins)
        self._workspace_admins = workspace_admins_are_admins
        self._allowed_callers = tuple(allowed_callers)
        self._limits = limits
        self._clock = clock
        self._deadline_s = lookup_deadline_s
        self.spending = Spending(
            store, Caps(limits.spend_per_person_day, limits.spend_per_workspace_month), clock=clock
        )  # the spending caps, checked with the other limits; /call spend reads it

    async def is_admin(self, user_id: str) -> bool:
        """A callbot admin: listed in CALLBOT_ADMINS, or (when the setting allows it) a workspace admin or owner.

        False when Slack cannot say in time: nobody becomes an admin because Slack did not answer.
        """
        return await self._admin_status(user_id) is True

    async def require_admin(self, user_id: str, *, action: str, target: str = "") -> None:
        """Refuse (and audit the attempt) unless `user_id` is an admin; `action` is what was asked, as audited."""
        status = await self._admin_status(user_id)
        if status is True:
            return
        if status is None:
            await self._refused(user_id, action, target, "refused: Slack did not answer")
            raise Refusal(Why.ADMIN_UNKNOWN)
        await self._refused(user_id, action, target, "refused: not an admin")
        raise Refusal(Why.NOT_AN_ADMIN, action=action, admins=self.admins())

    def admins(self) -> Admins:
        """Who a person can ask about callbot: they cannot see CALLBOT_ADMINS."""
        return Admins(tuple(sorted(self._admins)), self._workspace_admins)

    async def _admin_status(self, user_id: str) -> bool | None:
        """True or False, or None when the workspace's admins count and Slack did not say in time."""
        if user_id in self._admins:
            return True
        if not self._workspace_admins or self._directory is None:
            return False
        try:
            async with asyncio.timeout(self._deadline_s):
                return await self._directory.is_workspace_admin(user_id)
        except (DirectoryError, TimeoutError):
            return None

    async def _refused(self, actor: str, action: str, target: str, detail: str) -> None:
        """The audit line of a refused attempt (the changes themselves are audited by the Allowlist)."""
        await self._store.audit(
            actor=actor, action=action, target=target, detail=detail, allowed=False, at=self._clock()
        )

    async def check_may_call(self, origin: Origin) -> None:
        """Refuse unless everyone may call, or the person is an admin or in one of the allowed channels or groups.

        Asked on every request (someone who leaves the group cannot call any more), before Slack's ack: Slack gets
        `lookup_deadline_s` in all to answer, and a question it leaves open refuses the call, never allows it.
        """
        if not self._allowed_callers:
            return
        try:
            async with asyncio.timeout(self._deadline_s):
                await self._check_membership(origin)
        except TimeoutError:
            raise Refusal(Why.MEMBERSHIP_UNKNOWN) from None

    async def _check_membership(self, origin: Origin) -> None:
        if await self.is_admin(origin.user_id):
            return
        problems: list[tuple[str, str]] = []
        for group in self._allowed_callers:
            try:
                if await self._directory_or_fail().is_member(group, origin.user_id):
                    return
            except DirectoryError as error:
                problems.append((group, error.code))
        if problems:  # the person may be in a group Slack did not list: say so rather than "only members of…"
            raise Refusal(Why.MEMBERSHIP_UNCHECKED, problems=tuple(problems), admins=self.admins())
        raise Refusal(Why.NOT_A_CALLER, groups=self._allowed_callers, admins=self.admins())

    async def check_limits(self, origin: Origin) -> None:
        """Refuse with the time the next call will be allowed when a rate, concurrency or spending limit holds.

        Each check is one COUNT over an index; only a refusal reads more (when the oldest call in the way was placed).
        """
        now = self._clock()
        limits, store = self._limits, self._store
        if limits.calls_per_user_per_hour:
            since = now - RATE_WINDOW
            recent = await store.count_calls(user_id=origin.user_id, since=since)
            if recent >= limits.calls_per_user_per_hour:
                # The next call is allowed once enough of the calls in the window have aged out of it.
                oldest_in_way = await store.nth_newest_call_time(
                    limits.calls_per_user_per_hour, user_id=origin.user_id, since=since
                )
                retry_at = (oldest_in_way or now) + RATE_WINDOW
                raise LimitReached(
                    Why.HOURLY_LIMIT, retry_at=retry_at, count=recent, limit=limits.calls_per_user_per_hour, now=now
                )
        for why, user_id, team_id, limit in (
            (Why.USER_CALLS_UNDER_WAY, origin.user_id, None, limits.concurrent_per_user),
            (Why.WORKSPACE_CALLS_UNDER_WAY, None, origin.team_id, limits.concurrent_per_workspace),
        ):
            if not limit:
                continue
            live = await store.count_calls(user_id=user_id, team_id=team_id, live_only=True)
            if live < limit:
                continue
            # A place frees up once enough of the calls under way have ended; each has a latest end (_ends_by).
            ends = sorted(_ends_by(call) for call in await store.live_calls(user_id=user_id, team_id=team_id))
            retry_at = ends[len(ends) - limit] if len(ends) >= limit else now
            # No time in the past is promised: past every bound, the next call may go as soon as one ends.
            raise LimitReached(why, retry_at=max(retry_at, now), live=live, limit=limit, now=now)
        await self.spending.check(origin)

    @property
    def limits(self) -> Limits:
        return self._limits

    def _directory_or_fail(self) -> Directory:
        if self._directory is None:
            raise DirectoryError("no_directory")
        return self._directory


def _ends_by(call: Call) -> datetime:
    """The latest a live call can end: the scenario hangs up max_duration_s after it connects, and its watchdog ends
    any session max_duration_s + 300 s after it starts (ringing and dialling included); plus time for the last
    status event to reach us."""
    limit = timedelta(seconds=call.request.max_duration_s)
    latest = call.created_at + limit + SETUP_MARGIN
    if call.connected_at is not None:
        latest = min(latest, call.connected_at + limit + END_MARGIN)
    return latest


AdminCheck = Callable[[str], Awaitable[bool]]


def admin_check(permissions: Permissions | None, admins: Iterable[str]) -> AdminCheck:
    """`Permissions.is_admin`; without Permissions (the doctor), whether the policy names the person an admin."""
    if permissions is not None:
        return permissions.is_admin
    named = frozenset(admins)

    async def listed(user_id: str) -> bool:
        return user_id in named

    return listed


async def acts_for(is_admin: AdminCheck, user_id: str, requester: str) -> bool:
    """The one rule for a call's buttons (Hang up, Say…, Join) and a schedule's Cancel: the person who asked for the
    call, or a callbot admin."""
    return user_id == requester or await is_admin(user_id)
