"""Calling hours: a number is called only when it is daytime where it rings, in every zone it may ring in, with an
injected clock; an admin may call outside them with a reason, which is audited."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import httpx
import pytest

from bot.calls.grammar import CallDraft
from bot.calls.hours import Window, closed, time_zones
from bot.calls.models import Channel, Origin
from bot.calls.permissions import Permissions
from bot.calls.policy import CallPolicy
from bot.calls.refusals import Why
from bot.calls.service import CallService
from bot.errors import Refusal
from bot.sandbox.fake_voximplant import ACCOUNT_ID, API_KEY, RULE_ID, FakeVoximplant
from bot.slack.texts import refusal as words
from bot.store import Store
from bot.voximplant import ApiKeyAuth, VoximplantClient

DAY = datetime(2026, 12, 1, tzinfo=UTC)  # a Tuesday; New York on EST (UTC-5), Sydney on daylight time (UTC+11)
HOURS = Window.parse("08:00-21:00")
NEW_YORK = "+12125550100"
DELHI = "+911123456789"  # India: UTC+5:30
KATHMANDU = "+97715512345"  # Nepal: UTC+5:45
AU_MOBILE = "+61412345678"  # may ring anywhere from the Cocos Islands (UTC+6:30) to Lord Howe Island (UTC+11)
ANA = Origin(team_id="T0SANDBOX", user_id="U0ANA", conversation_id="C0GENERAL")
ADMIN = Origin(team_id="T0SANDBOX", user_id="U0ADMIN", conversation_id="C0GENERAL")
CALLER_ID = "+14155550123"


def at(hour: int, minute: int = 0, days: int = 0) -> datetime:
    return DAY + timedelta(days=days, hours=hour, minutes=minute)


# (number, UTC time, open): the window's edges, 08:00 (open) and 21:00 (closed) local time, each side by a minute.
EDGES = [
    (NEW_YORK, at(12, 59), False), (NEW_YORK, at(13, 0), True),  # 07:59 and 08:00 in New York
    (NEW_YORK, at(1, 59, days=1), True), (NEW_YORK, at(2, 0, days=1), False),  # 20:59 and 21:00
    (DELHI, at(2, 29), False), (DELHI, at(2, 30), True),  # 07:59 and 08:00 in Delhi
    (DELHI, at(15, 29), True), (DELHI, at(15, 30), False),  # 20:59 and 21:00
    (KATHMANDU, at(2, 14), False), (KATHMANDU, at(2, 15), True),  # 07:59 and 08:00 in Kathmandu
    # Every zone the mobile may ring in must be inside: from 08:00 on the Cocos Islands (01:30 UTC) until 21:00 in
    # Sydney and on Lord Howe Island (10:00 UTC), though Sydney's day began at 19:00 UTC the evening before.
    (AU_MOBILE, at(1, 29), False), (AU_MOBILE, at(1, 30), True),
    (AU_MOBILE, at(9, 59), True), (AU_MOBILE, at(10, 0), False),
]  # fmt: skip


@pytest.mark.parametrize(("number", "now", "is_open"), EDGES)
def test_a_number_is_open_from_the_window_start_up_to_its_end_in_every_zone_it_may_ring_in(
    number: str, now: datetime, is_open: bool
) -> None:
    assert (closed(HOURS, number, now) is None) is is_open


def test_a_mobile_of_a_country_with_several_zones_is_read_the_strictest_way() -> None:
    sydney_line = "+61298765432"
    assert time_zones(sydney_line) == ("Australia/Sydney",) and len(time_zones(AU_MOBILE)) == 8
    assert closed(HOURS, sydney_line, at(21)) is None  # 08:00 in Sydney: its fixed lines may be called...
    shut = closed(HOURS, AU_MOBILE, at(21))  # ...but a mobile may be on the Cocos Islands, where it is 03:30
    assert shut is not None and shut.opens_at == at(1, 30, days=1)
    assert [zone for zone, _ in shut.local] == [
        "Indian/Cocos",
        "Indian/Christmas",
        "Australia/Perth",
        "Australia/Eucla",
        "Australia/Brisbane",
        "Australia/Adelaide",
        "Australia/Lord_Howe",
        "Australia/Sydney",
    ]  # fmt: skip  (earliest wall clock first; Lord Howe keeps Sydney's time in summer)
    assert words(shut_refusal(HOURS, shut, now=at(21))).startswith(
        "+61 412 345 678 may ring in 8 time zones, from Cocos to Sydney, where it's 03:30 to 08:00;"
    )


def test_it_opens_at_the_next_window_start_there() -> None:
    for number, now, opens in [
        (NEW_YORK, at(12, 59), at(13)),  # today
        (NEW_YORK, at(2, 0, days=1), at(13, days=1)),  # after 21:00: tomorrow morning
        (DELHI, at(15, 30), at(2, 30, days=1)),
        (KATHMANDU, at(0), at(2, 15)),
        (AU_MOBILE, at(10, 0), at(1, 30, days=1)),
    ]:
        shut = closed(HOURS, number, now)
        assert shut is not None and shut.opens_at == opens, (number, now)


def test_places_are_named_as_they_are_called_now() -> None:
    shut = closed(HOURS, DELHI, at(2))
    assert shut is not None and shut.local[0][0] == "Asia/Calcutta"  # libphonenumber's name for it
    assert words(shut_refusal(HOURS, shut, now=at(2))).startswith("It's 07:30 in Kolkata, where +91 11 2345 6789 rings")


def test_zones_too_far_apart_for_the_window_never_open() -> None:
    short = Window.parse("09:00-10:00")  # an hour: New York and Los Angeles are three apart
    shut = closed(short, "+18005550100", at(14, 30))  # a toll-free number rings all over North America
    assert shut is not None and shut.opens_at is None
    assert "No time of day is inside those hours in every one of them" in words(shut_refusal(short, shut))


def test_a_window_may_run_past_midnight_and_must_read_as_times_of_day() -> None:
    night = Window.parse("22:00-06:00")
    assert night.contains(time(23, 30)) and night.contains(time(5, 59)) and not night.contains(time(6, 0))
    assert Window.parse("08:00-24:00").contains(time(23, 59))
    for wrong in ("8-21", "08:00-25:00", "08:60-21:00", "08:00-08:00", "morning"):
        with pytest.raises(ValueError, match="calling hours"):
            Window.parse(wrong)


def shut_refusal(window: Window, shut: object, *, admin: bool = False, now: datetime = DAY) -> Refusal:
    return Refusal(Why.OUTSIDE_CALLING_HOURS, field="destination", closed=shut, window=window, admin=admin, now=now)


# -- through Vetting, with a real store ----------------------------------------------------------------------------


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = await Store.open(tmp_path / "callbot.db")
    await store.add_caller_id(CALLER_ID, label="", channels=frozenset({Channel.PSTN}), added_by="test", at=DAY)
    yield store
    await store.close()


@pytest.fixture
async def service(store: Store, fake_voximplant: FakeVoximplant) -> AsyncIterator[Callable[[Clock], CallService]]:
    async with httpx.AsyncClient() as http:
        voximplant = VoximplantClient(
            http, base_url=f"{fake_voximplant.url}/platform_api/", auth=ApiKeyAuth(ACCOUNT_ID, API_KEY)
        )

        def build(clock: Clock) -> CallService:
            policy = CallPolicy(
                default_region="US", allowed_countries=frozenset(), default_caller_id=CALLER_ID, max_duration_s=600,
                rule_id=RULE_ID, public_base_url="http://127.0.0.1:9", calling_hours=HOURS,
            )  # fmt: skip
            permissions = Permissions(store, None, admins={"U0ADMIN"}, clock=clock)
            return CallService(store, voximplant, policy, clock=clock, permissions=permissions)

        yield build


async def test_a_call_outside_its_hours_is_refused_with_the_local_time_and_when_it_opens(
    service: Callable[[Clock], CallService],
) -> None:
    clock = Clock(at(12, 15))  # 07:15 in New York
    calls = service(clock)
    with pytest.raises(Refusal) as refused:
        await calls.vetting.vet(CallDraft(NEW_YORK, None, "remind Ana"), ANA)
    assert refused.value.why is Why.OUTSIDE_CALLING_HOURS and refused.value.field == "destination"
    opens = int(at(13).timestamp())
    assert words(refused.value) == (
        "It's 07:15 in New York, where +1 212-555-0100 rings; callbot places calls between 08:00 and 21:00 local "
        f"time. You can call it in 45 minutes (at <!date^{opens}^{{time}}|13:00 UTC>). If it cannot wait, ask a "
        "callbot admin."
    )
    clock.now = at(13)
    request = await calls.vetting.vet(CallDraft(NEW_YORK, None, "remind Ana"), ANA)
    assert request.destination == NEW_YORK


async def test_an_admin_may_call_outside_hours_with_a_reason_and_it_is_audited(
    service: Callable[[Clock], CallService], store: Store
) -> None:
    calls = service(Clock(at(3)))  # 22:00 in New York
    draft = CallDraft(NEW_YORK, None, "the on-call engineer: the site is down")
    with pytest.raises(Refusal) as refused:
        await calls.vetting.vet(draft, ADMIN)
    assert "As a callbot admin you can call anyway" in words(refused.value)  # told how, without a reason yet

    request = await calls.vetting.vet(replace(draft, after_hours_reason="production outage"), ADMIN)
    assert request.destination == NEW_YORK
    entry = (await store.audit_entries())[0]
    assert (entry.actor, entry.action, entry.target, entry.allowed) == ("U0ADMIN", "call.after_hours", NEW_YORK, True)
    assert entry.detail == "outside calling hours: production outage"


async def test_a_reason_from_someone_who_is_no_admin_is_refused_under_its_field_and_audited(
    service: Callable[[Clock], CallService], store: Store
) -> None:
    calls = service(Clock(at(3)))
    draft = CallDraft(NEW_YORK, None, "hello", after_hours_reason="it is urgent")
    with pytest.raises(Refusal) as refused:
        await calls.vetting.vet(draft, ANA)
    assert refused.value.why is Why.NOT_AN_ADMIN and refused.value.field == "after_hours_reason"
    assert words(refused.value).startswith("Only callbot admins can place calls outside calling hours.")
    entry = (await store.audit_entries())[0]
    assert (entry.actor, entry.action, entry.allowed) == ("U0ANA", "call.after_hours", False)
    # Inside the hours, the reason is not needed and nothing is asked of anyone.
    request = await service(Clock(at(15))).vetting.vet(draft, ANA)
    assert request.destination == NEW_YORK
