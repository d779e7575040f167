"""The words of scheduled and retried calls: the schedule's message, its thread lines, and its refusals.

Times are shown two ways: to the requester alone, in their own time zone (`15:30 (your time) · Wed 2 Dec`); in the
channel, as Slack dates, which each reader's client shows in their own time zone, with that text as the fallback.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from bot.calls.models import AttemptState, Outcome, ScheduledAttempt
from bot.calls.refusals import Why
from bot.calls.when import MAX_RETRIES, zone
from bot.errors import Refusal
from bot.slack.texts.markup import count, escape, minutes, shown

SCHEDULE_BUTTON = "Cancel"
SCHEDULE_BUTTON_CONFIRM = "Cancel this scheduled call? Nothing will be dialled."
LABEL_WHEN = "Call later"
HINT_WHEN = "Leave empty to call now. Up to 7 days ahead; outside calling hours it moves to the next allowed time."
LABEL_RETRY = "Retry if busy or unanswered"
PLACEHOLDER_RETRY = "e.g. 2 every 10m"
HINT_RETRY = "Up to 3 retries, 5 to 120 minutes apart. Not after a call that was answered or declined."


def local(at: datetime, tz: str) -> str:
    """`15:30 (your time) · Wed 2 Dec`, in the requester's zone."""
    there = at.astimezone(zone(tz))
    return f"{there:%H:%M} (your time) · {there:%a} {there.day} {there:%b}"


def slack_date(at: datetime, tz: str) -> str:
    """The time as a Slack date (each reader sees their own time), falling back to the requester's."""
    there = at.astimezone(zone(tz))
    fallback = f"{there:%H:%M} {there.tzname()} · {there:%a} {there.day} {there:%b}"
    return f"<!date^{int(at.timestamp())}^{{time}} (your time) · {{date_short_pretty}}|{fallback}>"


def retry_words(attempt: ScheduledAttempt) -> str:
    if attempt.retries == 0:
        return ""
    return f", retried {count(attempt.retries, 'time')} every {minutes(attempt.retry_every_s)} if busy or unanswered"


def moved_words(attempt: ScheduledAttempt) -> str:
    if attempt.moved_from is None:
        return ""
    return f" (moved from {slack_date(attempt.moved_from, attempt.tz)}: outside the number's calling hours)"


def confirmation(attempt: ScheduledAttempt, destination: str) -> str:
    """What the requester reads, to them alone, once the call is scheduled."""
    moved = ""
    if attempt.moved_from is not None:
        moved = (f" {local(attempt.moved_from, attempt.tz)} is outside the calling hours where it rings, so I moved it"
                 " to the first time inside them.")  # fmt: skip
    return f"🕒 Scheduled a call to {destination} for {local(attempt.due_at, attempt.tz)}{retry_words(attempt)}.{moved}"


def headline(attempt: ScheduledAttempt, *, by: str | None = None) -> str:
    """The schedule's message in the channel, as its latest attempt stands."""
    state = attempt.state
    if state is AttemptState.CANCELLED:
        return f"🚫 Scheduled call cancelled by <@{by or attempt.detail}>"
    if state is AttemptState.REFUSED:
        return f"⛔ Scheduled call not placed (attempt {attempt.attempt}): see the thread"
    if state is AttemptState.SCHEDULED and attempt.attempt > 1:
        return (f"🔁 Retry {attempt.attempt - 1} of {attempt.retries} at {slack_date(attempt.due_at, attempt.tz)}"
                f"{moved_words(attempt)}")  # fmt: skip
    if state is AttemptState.SCHEDULED:
        return (f"🕒 Scheduled for {slack_date(attempt.due_at, attempt.tz)}{moved_words(attempt)}"
                f"{retry_words(attempt)}")  # fmt: skip
    if state is AttemptState.DIALED:
        return f"📞 Attempt {attempt.attempt} is being placed: see the thread"
    return f"✅ Scheduled call done after {count(attempt.attempt, 'attempt')}: see the thread"


def requested_by(user_id: str, destination: str) -> str:
    return f"Requested by <@{user_id}> · to {destination}"


def dialled(attempt: ScheduledAttempt) -> str:
    return "📞 Placing the scheduled call now." if attempt.attempt == 1 else f"🔁 Retry {attempt.attempt - 1} now."


def moved(due: datetime, tz: str) -> str:
    return f"🌙 Outside the number's calling hours: moved to {slack_date(due, tz)}."


def refused_at_dial_time(text: str) -> str:
    return f"⛔ The scheduled call was not placed: {text}"


def finished(attempt: ScheduledAttempt, retry: ScheduledAttempt | None) -> str | None:
    """The thread line when an attempt's call ended: a retry coming, or why none (None: nothing to say)."""
    why = (
        {Outcome.BUSY: "The line was busy", Outcome.NOT_ANSWERED: "Nobody answered"}.get(attempt.outcome)
        if attempt.outcome
        else None
    )
    if retry is not None:
        return f"🔁 {why}: retry {retry.attempt - 1} of {retry.retries} at {slack_date(retry.due_at, retry.tz)}." + (
            " (Moved into the number's calling hours.)" if retry.moved_from else ""
        )
    if why is not None and attempt.retries:
        return f"{why}, and no retries are left."
    return None


def cancelled(by: str) -> str:
    return f"🚫 Cancelled by <@{by}>: nothing will be dialled."


def pending_line(attempt: ScheduledAttempt, destination: str) -> str:
    """A line of `/call history`: a call waiting for its time."""
    which = "" if attempt.attempt == 1 else f" (retry {attempt.attempt - 1})"
    return f"🕒 {slack_date(attempt.due_at, attempt.tz)}{which} · {destination} · <@{attempt.origin.user_id}>"


def _when_past(_: Refusal, f: dict[str, Any]) -> str:
    now = f["now"].astimezone(zone(f["tz"]))
    if str(f["typed"]).startswith("@"):  # the form's picker
        return f"The time you picked has passed (it's {now:%H:%M} your time). Pick a later one, or leave it empty."
    return (f"`{shown(f['typed'])}` has passed today (it's {now:%H:%M} your time). Say `tomorrow {shown(f['typed'])}`"
            " or a later time, or `in 20m`.")  # fmt: skip


def _skipped(_: Refusal, f: dict[str, Any]) -> str:
    day: date = f["day"]
    return (f"`{shown(f['typed'])}` does not happen on {day:%a} {day.day} {day:%b} in {f['tz']}: the clocks skip it."
            " Pick another time.")  # fmt: skip


def _interval(_: Refusal, f: dict[str, Any]) -> str:
    return (f"Retries must be between {minutes(f['least_s'])} and {minutes(f['most_s'])} apart (you asked for "
            f"{minutes(f['every_s'])}). Say e.g. `retry 2 every 10m`.")  # fmt: skip


def _too_late(_: Refusal, f: dict[str, Any]) -> str:
    then = " No retry will follow it." if f.get("retries_stopped") else ""
    return f"Attempt {f['attempt']} is being dialled already: use its Hang up button in the thread to end it.{then}"


_Words = Callable[[Refusal, dict[str, Any]], str]
WORDS: dict[Why, _Words] = {
    Why.WHEN_UNREADABLE: lambda _, f: (
        f"I can't read `{shown(f['typed'])}` as a time. Say `at 15:30`, `at 9am`, `tomorrow at 9:00`, `in 20m` or "
        "`in 1h30m` (your Slack time zone)."
    ),
    Why.WHEN_NOT_A_TIME: lambda _, f: (
        f"`{shown(f['typed'])}` is not a time of day: use 00:00 to 23:59, or 1am to 12pm."
    ),
    Why.WHEN_PAST: _when_past,
    Why.WHEN_TOO_FAR: lambda _, f: f"Calls can be scheduled up to {count(f['days'], 'day')} ahead; pick a sooner time.",
    Why.WHEN_SKIPPED: _skipped,
    Why.RETRY_UNREADABLE: lambda _, f: (
        f"I can't read `retry {shown(f['typed'])}`. Say e.g. `retry 2 every 10m` (redials a busy or unanswered line)."
    ),
    Why.RETRY_TOO_MANY: lambda _, f: (
        f"A call can be retried 1 to {MAX_RETRIES} times, not {f['count']}. Say e.g. `retry 2 every 10m`."
    ),
    Why.RETRY_INTERVAL: _interval,
    Why.NEVER_OPEN: lambda _, f: (
        f"{escape(f['number'])} may ring in time zones that are never all inside calling hours at once, so there is no "
        "time I can schedule it for. Ask a callbot admin to place it now, with a reason."
    ),
    Why.SCHEDULE_UNKNOWN: lambda _, f: "I can't find that scheduled call any more.",
    Why.SCHEDULE_INTERRUPTED: lambda _, f: (
        "the bot stopped while placing it, before anything was dialled; it is not tried again (so it can never ring "
        "twice). Schedule it again if it is still needed."
    ),
    Why.CANCEL_NOT_YOURS: lambda _, f: (
        f"Only <@{f['requester']}> (who scheduled this call) or a callbot admin can cancel it."
    ),
    Why.CANCEL_TOO_LATE: _too_late,
    Why.CANCEL_OVER: lambda _, f: "This scheduled call is over already; there is nothing to cancel.",
}
