"""When a call should ring, and how often to try again: the words `/call` takes for it, read in a time zone.

    at 15:30 · at 9am · at 9:30 pm · tomorrow at 9:00 · in 20m · in 2h · in 1h30m   (the requester's time zone)
    retry 2 every 10m · retry 3                                                     (busy or not answered only)

Rules, chosen to surprise least:
- A time of day that has passed today is refused, not moved to tomorrow: "at 9:00" typed at 10:00 is more likely a
  slip than a wish to call tomorrow, and a call placed a day late cannot be taken back. The refusal says to write
  `tomorrow at 9:00`. A time in the current minute counts as now.
- At most MAX_AHEAD ahead (a week): a schedule outlives people's memory of it otherwise.
- A wall time a clock change skips (02:30 on a spring-forward day) is refused, naming the day; a time that happens
  twice (the autumn change) is the first of the two.
- Retries: at most MAX_RETRIES, at least MIN_RETRY_EVERY apart (a busy line seldom frees up in less), at most
  MAX_RETRY_EVERY; `retry 2` alone tries every DEFAULT_RETRY_EVERY.

The form's date-and-time picker hands over a moment already (Unix seconds): `@<seconds>` reads as that moment.
Parsing raises a Refusal (field `when` or `retry`) with what was typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.calls.refusals import Why
from bot.errors import Refusal

MAX_AHEAD = timedelta(days=7)
MAX_RETRIES = 3
MIN_RETRY_EVERY = timedelta(minutes=5)
MAX_RETRY_EVERY = timedelta(hours=2)
DEFAULT_RETRY_EVERY = timedelta(minutes=10)

_CLOCK = r"\d{1,2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?"
_SPAN = r"(?:\d{1,3}\s*h(?:ours?|rs?)?\s*(?:\d{1,4}\s*m(?:in(?:ute)?s?)?)?|\d{1,4}\s*m(?:in(?:ute)?s?)?)"
# What the /call grammar takes as a time, before checking it (so `at 25:00` is refused as a time, not an instruction)
AT_WORDS = re.compile(rf"(?P<value>{_CLOCK})(?=\s|$|[,;])", re.IGNORECASE)
SPAN_WORDS = re.compile(rf"(?P<value>{_SPAN})(?=\s|$|[,.;:])", re.IGNORECASE)
RETRY_WORDS = re.compile(rf"(?P<value>\d{{1,2}}(?:\s*x)?(?:\s+every\s+{_SPAN})?)(?=\s|$|[,.;:])", re.IGNORECASE)

_AT = re.compile(r"^(?P<day>tomorrow\s+)?at\s+(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<half>[ap])?\.?(?:m\.?)?$", re.I)
_IN = re.compile(rf"^in\s+(?P<span>{_SPAN})$", re.IGNORECASE)
_SPAN_PARTS = re.compile(r"^(?:(?P<h>\d+)\s*h[a-z]*)?\s*(?:(?P<m>\d+)\s*m[a-z]*)?$", re.IGNORECASE)
_RETRY = re.compile(rf"^(?P<count>\d{{1,2}})(?:\s*x)?(?:\s+every\s+(?P<every>{_SPAN}))?$", re.IGNORECASE)
_MOMENT = re.compile(r"^@(?P<s>\d{9,11})$")


@dataclass(frozen=True, slots=True)
class RetryPlan:
    """Redial a busy or unanswered call up to `count` more times, `every_s` seconds after each attempt ends."""

    count: int = 0
    every_s: int = int(DEFAULT_RETRY_EVERY.total_seconds())


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone `name` (Slack's `tz`), UTC when it is missing or unknown."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def due_at(typed: str, tz: str | None, now: datetime) -> datetime:
    """The moment (UTC) `typed` names, read in the time zone `tz`, or a Refusal saying what is wrong with it."""
    words = " ".join(typed.lower().split())
    here = zone(tz)
    if (moment := _MOMENT.match(words)) is not None:
        due = datetime.fromtimestamp(int(moment.group("s")), UTC)
    elif (span := _IN.match(words)) is not None:
        length = _span(span.group("span"))
        if length is None or length <= timedelta(0):
            raise Refusal(Why.WHEN_UNREADABLE, field="when", typed=typed)
        due = now + length
    elif (at := _AT.match(words)) is not None:
        due = _time_of_day(typed, at, here, now)
    else:
        raise Refusal(Why.WHEN_UNREADABLE, field="when", typed=typed)
    if due < now.replace(second=0, microsecond=0):
        raise Refusal(Why.WHEN_PAST, field="when", typed=typed, now=now, tz=here.key)
    if due - now > MAX_AHEAD:
        raise Refusal(Why.WHEN_TOO_FAR, field="when", typed=typed, days=MAX_AHEAD.days)
    return max(due, now).astimezone(UTC)


def _time_of_day(typed: str, found: re.Match[str], here: ZoneInfo, now: datetime) -> datetime:
    hour, minute, half = int(found.group("h")), int(found.group("m") or 0), found.group("half")
    if half is not None:
        if not 1 <= hour <= 12:
            raise Refusal(Why.WHEN_NOT_A_TIME, field="when", typed=typed)
        hour = hour % 12 + (12 if half == "p" else 0)
    if hour > 23 or minute > 59:
        raise Refusal(Why.WHEN_NOT_A_TIME, field="when", typed=typed)
    day = now.astimezone(here).date() + timedelta(days=1 if found.group("day") else 0)
    local = datetime.combine(day, time(hour, minute), tzinfo=here)
    if _skipped(local):
        raise Refusal(Why.WHEN_SKIPPED, field="when", typed=typed, day=day, tz=here.key)
    return local.astimezone(UTC)


def _skipped(local: datetime) -> bool:
    """A wall time the clocks jump over (spring forward): it does not come back the same through UTC."""
    back = local.astimezone(UTC).astimezone(local.tzinfo)
    return back.replace(tzinfo=None) != local.replace(tzinfo=None)


def _span(text: str) -> timedelta | None:
    found = _SPAN_PARTS.match(text.strip())
    if found is None or not (found.group("h") or found.group("m")):
        return None
    return timedelta(hours=int(found.group("h") or 0), minutes=int(found.group("m") or 0))


def retry_plan(typed: str | None) -> RetryPlan:
    """`2 every 10m` (the words after `retry`, or the form's field): a RetryPlan, or a Refusal saying why not."""
    if typed is None or not typed.strip():
        return RetryPlan()
    found = _RETRY.match(" ".join(typed.lower().split()))
    every = _span(found.group("every")) if found is not None and found.group("every") else DEFAULT_RETRY_EVERY
    if found is None or every is None:
        raise Refusal(Why.RETRY_UNREADABLE, field="retry", typed=typed)
    count = int(found.group("count"))
    if not 1 <= count <= MAX_RETRIES:
        raise Refusal(Why.RETRY_TOO_MANY, field="retry", count=count, limit=MAX_RETRIES)
    if not MIN_RETRY_EVERY <= every <= MAX_RETRY_EVERY:
        least, most = int(MIN_RETRY_EVERY.total_seconds()), int(MAX_RETRY_EVERY.total_seconds())
        raise Refusal(Why.RETRY_INTERVAL, field="retry", every_s=int(every.total_seconds()), least_s=least, most_s=most)
    return RetryPlan(count=count, every_s=int(every.total_seconds()))
