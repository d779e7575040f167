"""Who may do what: admins, who may place calls, and the per-person and per-workspace call limits.

Membership comes from a `Directory` (Slack, in the app; see `bot/slack/directory.py`), so the domain holds no Slack
types. Limits are counted from the `calls` table, so they hold across restarts.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.calls.models import Call, SlackOrigin
from bot.errors import DirectoryError, LimitReached, Refusal
from bot.store import Store

RATE_WINDOW = timedelta(hours=1)
# How long after its limit a call may still be live: the scenario's watchdog (WATCHDOG_EXTRA_S, 300 s) plus time for
# StartScenarios and the last status event; once connected, only the latter.
SETUP_MARGIN = timedelta(seconds=300 + 60)
END_MARGIN = timedelta(seconds=60)
# Slack wants its ack within 3 s, and these questions are asked before it: the whole check gets this long.
LOOKUP_DEADLINE_S = 1.5
SLACK_TOO_SLOW = "Slack did not tell me in time whether you may call; try again in a moment."
SLACK_TOO_SLOW_ADMIN = "Slack did not tell me in time whether you are a callbot admin; try again in a moment."


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


class Permissions:
    """Answers "is this person an admin?" and "may they place a call now?", and writes the audit log."""

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

    async def is_admin(self, user_id: str) -> bool:
        """A callbot admin: listed in CALLBOT_ADMINS, or (when the setting allows it) a workspace admin or owner.

        False when Slack cannot say in time: nobody becomes an admin because Slack did not answer.
        """
        return await self._admin_status(user_id) is True

    async def require_admin(self, user_id: str, *, action: str, target: str = "", what: str = "do that") -> None:
        """Refuse (and audit the attempt) unless `user_id` is an admin; `what` says what was refused, in words."""
        status = await self._admin_status(user_id)
        if status is True:
            return
        if status is None:
            await self.audit(user_id, action, target, detail="refused: Slack did not answer", allowed=False)
            raise Refusal(SLACK_TOO_SLOW_ADMIN)
        await self.audit(user_id, action, target, detail="refused: not an admin", allowed=False)
        raise Refusal(f"Only callbot admins can {what}. {self.who_to_ask()}")

    def who_to_ask(self) -> str:
        """Who a person can ask about callbot, as a sentence with Slack mentions: they cannot see CALLBOT_ADMINS."""
        named = self._admins_named()
        return f"Ask {named}." if named else "callbot has no admins yet: ask whoever runs it to name some."

    def _admins_named(self) -> str | None:
        """`<@U1>, <@U2> or a workspace admin`; None when callbot has no admins."""
        named = [f"<@{admin}>" for admin in sorted(self._admins)[:5]]
        if len(self._admins) > len(named):
            named.append("another callbot admin")
        if self._workspace_admins:
            named.append("a workspace admin")
        if not named:
            return None
        return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " or " + named[-1]

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

    async def audit(self, actor: str, action: str, target: str = "", *, detail: str = "", allowed: bool = True) -> None:
        await self._store.audit(
            actor=actor, action=action, target=target, detail=detail, allowed=allowed, at=self._clock()
        )

    async def check_may_call(self, origin: SlackOrigin) -> None:
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
            raise Refusal(SLACK_TOO_SLOW) from None

    async def _check_membership(self, origin: SlackOrigin) -> None:
        if await self.is_admin(origin.user_id):
            return
        problems: list[str] = []
        for group in self._allowed_callers:
            try:
                if await self._directory_or_fail().is_member(group, origin.user_id):
                    return
            except DirectoryError as error:
                problems.append(f"{group}: {error.code}")
        if problems:  # the person may be in a group Slack did not list: say so rather than "only members of…"
            raise Refusal(
                f"I couldn't check whether you may place calls (Slack said {', '.join(problems)}). "
                f"Try again in a minute; if it keeps happening, tell {self._admins_named() or 'whoever runs callbot'}."
            )
        raise Refusal(
            f"Only members of {_groups_words(self._allowed_callers)} may place calls with callbot. "
            f"If you need to, {_lowered(self.who_to_ask())}"
        )

    async def check_limits(self, origin: SlackOrigin) -> None:
        """Refuse with the time the next call will be allowed when a rate or concurrency limit holds.

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
                    f"You have placed {recent} {_calls(recent)} in the last hour; the limit is "
                    f"{limits.calls_per_user_per_hour} an hour. You can place the next one {_when(retry_at, now)}.",
                    retry_at=retry_at,
                )
        for scope, who, limit in (
            ("you have", {"user_id": origin.user_id}, limits.concurrent_per_user),
            ("this workspace has", {"team_id": origin.team_id}, limits.concurrent_per_workspace),
        ):
            if not limit:
                continue
            live = await store.count_calls(**who, live_only=True)
            if live < limit:
                continue
            # A place frees up once enough of the calls under way have ended; each has a latest end (_ends_by).
            ends = sorted(_ends_by(call) for call in await store.live_calls(**who))
            retry_at = ends[len(ends) - limit] if len(ends) >= limit else now
            whose = "your calls" if "user_id" in who else "this workspace's calls"
            when = f"as soon as one ends, {_when(retry_at, now)} at the latest" if retry_at > now else (
                f"as soon as one of {whose} ends"
            )  # fmt: skip
            raise LimitReached(
                f"{scope.capitalize()} {live} {_calls(live)} under way; the limit is {limit} at once. "
                f"You can place the next one {when}.",
                retry_at=max(retry_at, now),
            )

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


def _when(at: datetime, now: datetime) -> str:
    """`in 7 minutes (at 09:10 UTC)`, both rounded up (never promise too early); Slack shows readers the time in
    their own time zone, and the UTC time where it cannot."""
    minutes = max(1, math.ceil((at - now).total_seconds() / 60))
    span = f"{minutes} minute{'s' if minutes != 1 else ''}"
    if minutes > 60:
        hours, rest = divmod(minutes, 60)
        span = f"{hours} h {rest:02d} min"
    shown = at + timedelta(minutes=1) if at.second or at.microsecond else at
    shown = shown.replace(second=0, microsecond=0)
    return f"in {span} (at <!date^{int(shown.timestamp())}^{{time}}|{shown:%H:%M} UTC>)"


def _lowered(sentence: str) -> str:
    return sentence[:1].lower() + sentence[1:]


def _calls(count: int) -> str:
    return "call" if count == 1 else "calls"


def _groups_words(groups: tuple[str, ...]) -> str:
    shown = [f"<!subteam^{g}>" if g.startswith("S") else f"<#{g}>" for g in groups]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]
