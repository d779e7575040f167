"""Calling hours: a call rings only in the daytime where it rings.

The window (CALLING_HOURS, default 08:00-21:00) is local time at the destination. Where a number rings is
libphonenumber's time-zone data for it: one zone for most fixed lines, several for a mobile or toll-free number of a
country that spans zones (an Australian mobile may ring in Perth or in Sydney). Such a number is read the strictest
way: it may be called only when the local time is inside the window in every zone it may ring in, and some never
are (a North American toll-free number may ring from Guam to Samoa, 21 hours apart).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_UNKNOWN_ZONE = "Etc/Unknown"  # phonenumbers' answer for a number whose zone it does not know
_LOOK_AHEAD_DAYS = 3  # past this, a number's zones share no time inside the window: they never will


@dataclass(frozen=True, slots=True)
class Window:
    """Local times a call may start: from `start` up to (not including) `end`; past midnight when end < start."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> Window:
        """`08:00-21:00` (24-hour clock); ValueError, saying what is expected, for anything else."""
        found = _WINDOW.match(text)
        if found is None:
            raise ValueError(f"calling hours must read like 08:00-21:00, not {text!r}")
        start_h, start_m, end_h, end_m = (int(part) for part in found.groups())
        if start_h > 23 or end_h > 24 or start_m > 59 or end_m > 59 or (end_h == 24 and end_m):
            raise ValueError(f"calling hours must be times of day (00:00 to 24:00), not {text!r}")
        if (start_h, start_m) == (end_h, end_m):
            raise ValueError("calling hours must not start and end at the same time: set CALLING_HOURS=off instead")
        end = time(0, 0) if end_h == 24 else time(end_h, end_m)
        return cls(time(start_h, start_m), end)

    def contains(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M} and {self.end:%H:%M}"


@dataclass(frozen=True, slots=True)
class Closed:
    """A number outside calling hours now: its local time in each zone it may ring in, and when it opens."""

    number: str  # E.164
    local: tuple[tuple[str, datetime], ...]  # (zone, local time now), for every zone, earliest local time first
    opens_at: datetime | None  # the next time inside the window in every zone (UTC); None: no such time


def time_zones(e164: str) -> tuple[str, ...]:
    """The time zones a number may ring in (IANA names), from libphonenumber; empty when it does not know."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return ()
    return tuple(zone for zone in timezone.time_zones_for_number(number) if zone != _UNKNOWN_ZONE)


def closed(window: Window, e164: str, now: datetime) -> Closed | None:
    """None if `e164` may be called at `now` (inside the window in every zone it may ring in, or its zone is
    unknown); else the local times and when it opens."""
    zones = time_zones(e164)
    if not zones:
        return None
    local = sorted(((zone, now.astimezone(ZoneInfo(zone))) for zone in zones), key=lambda pair: _wall(pair[1]))
    if all(window.contains(there.time()) for _, there in local):
        return None
    return Closed(e164, tuple(local), opens_at(window, zones, now))


def opens_at(window: Window, zones: tuple[str, ...], now: datetime) -> datetime | None:
    """The first time from `now` on that is inside the window in every one of `zones`; None if none is, within
    a few days (then none ever is: the zones are further apart than the window is long)."""

    def inside(at: datetime) -> bool:
        return all(window.contains(at.astimezone(ZoneInfo(zone)).time()) for zone in zones)

    # The first such time is now, or one zone's window opening: each zone's next few openings are the candidates.
    candidates = [now]
    for zone in zones:
        today = now.astimezone(ZoneInfo(zone)).date()
        for days in range(-1, _LOOK_AHEAD_DAYS + 1):
            opening = _local(today + timedelta(days=days), window.start, zone)
            if now < opening <= now + timedelta(days=_LOOK_AHEAD_DAYS):
                candidates.append(opening)
    return next((at.astimezone(UTC) for at in sorted(candidates) if inside(at)), None)


def _local(day: date, at: time, zone: str) -> datetime:
    """`day` at `at` in `zone`; a time skipped by a clock change reads as the same wall time after it (fold=0)."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(zone))


def _wall(at: datetime) -> datetime:
    """The clock on the wall there, to order zones by it."""
    return at.replace(tzinfo=None)


def place_name(zone: str) -> str:
    """`America/New_York` as people say it: `New York`; the older names libphonenumber still uses as the places
    are called now (`Asia/Calcutta`: `Kolkata`)."""
    place = zone.rsplit("/", 1)[-1].replace("_", " ")
    return _RENAMED.get(place, place)


# libphonenumber's zone names that the tz database keeps only as links to the places' names now
_RENAMED = {"Calcutta": "Kolkata", "Katmandu": "Kathmandu", "Rangoon": "Yangon", "Godthab": "Nuuk",
            "Faeroe": "Faroe", "Enderbury": "Kanton", "Ponape": "Pohnpei", "Truk": "Chuuk"}  # fmt: skip
