"""Small pieces the sentences are built from: Slack escaping, lists, counts, and times people read."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta


def escape(text: str) -> str:
    """Escape Slack's three control characters, so typed or spoken text cannot forge mentions or links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def either(words: Sequence[str]) -> str:
    """`a`, `a or b`, `a, b or c`."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def count(number: int, noun: str) -> str:
    """`1 call`, `2 calls`."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def lowered(sentence: str) -> str:
    return sentence[:1].lower() + sentence[1:]


def shown(typed: str) -> str:
    """What was typed, short and without backticks, to quote it in a refusal."""
    clean = typed.strip().replace("`", "'")
    return clean if len(clean) <= 80 else clean[:79] + "…"


def minutes(seconds: int) -> str:
    """`1 minute`, `10 minutes` (whole minutes, rounded down)."""
    return count(seconds // 60, "minute")


def time_to(at: datetime, now: datetime) -> str:
    """`7 minutes`, `3 h 20 min`: from `now` to `at`, rounded up to the minute (at least one)."""
    whole = max(1, math.ceil((at - now).total_seconds() / 60))
    if whole <= 60:
        return count(whole, "minute")
    hours, rest = divmod(whole, 60)
    return f"{hours} h {rest:02d} min"


def when(at: datetime, now: datetime) -> str:
    """`in 7 minutes (at 09:10 UTC)`, both rounded up (never promise too early); Slack shows readers the time in
    their own time zone, and the UTC time where it cannot."""
    span = time_to(at, now)
    at_minute = at + timedelta(minutes=1) if at.second or at.microsecond else at
    at_minute = at_minute.replace(second=0, microsecond=0)
    return f"in {span} (at <!date^{int(at_minute.timestamp())}^{{time}}|{at_minute:%H:%M} UTC>)"


CURRENCY = "in your Voximplant account's currency"  # Voximplant reports costs in the account's currency, unnamed


def money(amount: float) -> str:
    """`5.00`, `0.0312`: two decimals, or up to four where a cost has them (Voximplant prices by the minute)."""
    two = f"{amount:.2f}"
    if abs(amount - float(two)) < 1e-9:
        return two
    return f"{amount:.4f}".rstrip("0")


def resets(at: datetime, now: datetime) -> str:
    """When a daily or monthly cap resets: `at 00:00 UTC, in 3 h 20 min` or `on 1 January at 00:00 UTC, in 12 days`."""
    if at - now <= timedelta(hours=24):
        return f"at 00:00 UTC, in {time_to(at, now)}"
    days = math.ceil((at - now) / timedelta(days=1))
    return f"on {at.day} {at:%B} at 00:00 UTC, in {count(days, 'day')}"
