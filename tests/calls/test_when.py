"""When a scheduled call rings: the `/call` words for a time and for retries, read in the requester's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.calls.grammar import parse_command
from bot.calls.refusals import Why
from bot.calls.when import RetryPlan, due_at, retry_plan
from bot.errors import Refusal
from bot.slack.texts import refusal as words

BERLIN = "Europe/Berlin"
NOW = datetime(2026, 12, 2, 14, 0, 20, tzinfo=UTC)  # Wed 2 Dec, 15:00:20 in Berlin, 06:00:20 in Los Angeles


def refused(typed: str, tz: str = BERLIN, now: datetime = NOW) -> Refusal:
    with pytest.raises(Refusal) as caught:
        due_at(typed, tz, now)
    return caught.value


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("at 15:30", datetime(2026, 12, 2, 14, 30, tzinfo=UTC)),
        ("at 3:30 pm", datetime(2026, 12, 2, 14, 30, tzinfo=UTC)),
        ("at 9pm", datetime(2026, 12, 2, 20, 0, tzinfo=UTC)),
        ("at 12am", None),  # midnight tonight has passed today: refused below
        ("tomorrow at 9:00", datetime(2026, 12, 3, 8, 0, tzinfo=UTC)),
        ("tomorrow at 12am", datetime(2026, 12, 2, 23, 0, tzinfo=UTC)),  # midnight starting tomorrow, Berlin
        ("tomorrow at 0:00", datetime(2026, 12, 2, 23, 0, tzinfo=UTC)),
        ("at 23:59", datetime(2026, 12, 2, 22, 59, tzinfo=UTC)),
        ("in 20m", NOW + timedelta(minutes=20)),
        ("in 2h", NOW + timedelta(hours=2)),
        ("in 1h30m", NOW + timedelta(hours=1, minutes=30)),
        ("in 90 minutes", NOW + timedelta(minutes=90)),
        ("at 15:00", NOW),  # the current minute is now, not the past
    ],
)
def test_times_are_read_in_the_requesters_zone(typed: str, expected: datetime | None) -> None:
    if expected is None:
        assert refused(typed).why is Why.WHEN_PAST
    else:
        assert due_at(typed, BERLIN, NOW) == expected


def test_the_same_words_mean_another_moment_in_another_zone() -> None:
    assert due_at("at 15:30", "America/Los_Angeles", NOW) == datetime(2026, 12, 2, 23, 30, tzinfo=UTC)
    assert due_at("at 15:30", None, NOW) == datetime(2026, 12, 2, 15, 30, tzinfo=UTC)  # no zone known: UTC
    assert due_at("at 15:30", "Mars/Olympus", NOW) == datetime(2026, 12, 2, 15, 30, tzinfo=UTC)


def test_an_impossible_time_is_refused_clearly() -> None:
    for typed in ("at 25:00", "at 12:60", "at 13pm", "at 0am"):
        assert refused(typed).why is Why.WHEN_NOT_A_TIME, typed
    assert words(refused("at 25:00")) == "`at 25:00` is not a time of day: use 00:00 to 23:59, or 1am to 12pm."
    assert refused("next tuesday").why is Why.WHEN_UNREADABLE
    assert refused("in 0m").why is Why.WHEN_UNREADABLE


def test_a_time_that_has_passed_today_is_refused_saying_tomorrow() -> None:
    past = refused("at 9:00")
    assert past.why is Why.WHEN_PAST and past.field == "when"
    assert words(past) == (
        "`at 9:00` has passed today (it's 15:00 your time). Say `tomorrow at 9:00` or a later time, or `in 20m`."
    )


def test_at_most_a_week_ahead() -> None:
    assert due_at("in 167h", BERLIN, NOW) == NOW + timedelta(hours=167)
    too_far = refused("in 169h")
    assert too_far.why is Why.WHEN_TOO_FAR and "up to 7 days ahead" in words(too_far)


def test_a_time_the_clocks_skip_is_refused_and_a_repeated_one_is_the_first() -> None:
    spring = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # Sat 28 Mar; Berlin springs 02:00 -> 03:00 on Sun 29 Mar
    skipped = refused("tomorrow at 2:30", now=spring)
    assert skipped.why is Why.WHEN_SKIPPED
    assert words(skipped) == "`tomorrow at 2:30` does not happen on Sun 29 Mar in Europe/Berlin: the clocks skip it. " \
        "Pick another time."  # fmt: skip
    assert due_at("tomorrow at 3:30", BERLIN, spring) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # CEST already
    autumn = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)  # Sat 24 Oct; 03:00 CEST -> 02:00 CET on Sun 25 Oct
    assert due_at("tomorrow at 2:30", BERLIN, autumn) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # the first 02:30
    # "in 2h" across the change counts real time, not wall time
    night = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 01:30 CET
    assert due_at("in 2h", BERLIN, night) == datetime(2026, 3, 29, 2, 30, tzinfo=UTC)  # 04:30 CEST


def test_retry_plans_are_bounded() -> None:
    assert retry_plan(None) == RetryPlan(0)
    assert retry_plan("2 every 10m") == RetryPlan(2, 600)
    assert retry_plan("3") == RetryPlan(3, 600)
    assert retry_plan("1 every 1h") == RetryPlan(1, 3600)
    for typed, why in [("4 every 10m", Why.RETRY_TOO_MANY), ("0", Why.RETRY_TOO_MANY),
                       ("2 every 2m", Why.RETRY_INTERVAL), ("2 every 3h", Why.RETRY_INTERVAL),
                       ("twice", Why.RETRY_UNREADABLE)]:  # fmt: skip
        with pytest.raises(Refusal) as caught:
            retry_plan(typed)
        assert caught.value.why is why and caught.value.field == "retry", typed
    with pytest.raises(Refusal) as caught:
        retry_plan("2 every 2m")
    assert words(caught.value) == (
        "Retries must be between 5 minutes and 120 minutes apart (you asked for 2 minutes). Say e.g. "
        "`retry 2 every 10m`."
    )


@pytest.mark.parametrize(
    ("text", "when", "retry", "instructions"),
    [
        ("+14155550100 at 15:30 say hi", "at 15:30", None, "say hi"),
        ("+14155550100 in 20m retry 2 every 10m say hi", "in 20m", "2 every 10m", "say hi"),
        ("+14155550100 retry 3 tomorrow at 9am remind Ana", "tomorrow at 9am", "3", "remind Ana"),
        ("+1 415 555 0100 at 9:30 pm ask", "at 9:30 pm", None, "ask"),
        ("+14155550100 at 25:00 hi", "at 25:00", None, "hi"),  # taken as a time, so it is refused as one
        ("+14155550100 in English please", None, None, "in English please"),
        ("+14155550100 at noon say hi", None, None, "at noon say hi"),
        ("+14155550100 tomorrow is fine", None, None, "tomorrow is fine"),
    ],
)
def test_the_grammar_takes_the_time_words(text: str, when: str | None, retry: str | None, instructions: str) -> None:
    draft = parse_command(text, "US")
    assert (draft.destination is not None, draft.when, draft.retry, draft.instructions) == (
        True, when, retry, instructions,
    )  # fmt: skip
