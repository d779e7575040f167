"""Vetting.vet with a real store and an injected clock: the whole safety table, permissions and limits."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.calls import launch
from bot.calls.grammar import CallDraft
from bot.calls.models import STATUS_EVENTS, CallState, Channel, Origin, Transition
from bot.calls.outcomes import judge
from bot.calls.permissions import Limits, Permissions
from bot.calls.policy import CallPolicy
from bot.calls.refusals import Admins, Why
from bot.calls.service import CallService
from bot.errors import LimitReached, Refusal, Refusals
from bot.sandbox.fake_voximplant import ACCOUNT_ID, API_KEY, RULE_ID, FakeVoximplant
from bot.slack.texts import refusal as words
from bot.slack.texts import who_to_ask
from bot.store import Store
from bot.voximplant import ApiKeyAuth, VoximplantClient
from tests.calls.test_numbers import EMERGENCY, NON_PERSONAL, SHORT_CODES

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NO_LIMITS = Limits()
ANA = Origin(team_id="T0SANDBOX", user_id="U0ANA", conversation_id="C0GENERAL")
BEN = Origin(team_id="T0SANDBOX", user_id="U0BEN", conversation_id="C0GENERAL")
CALLER_IDS = {"US": "+14155550123", "GB": "+442079460123", "DE": "+4930901820", "FR": "+33142685300",
              "AU": "+61298765000", "IN": "+911123456700", "JP": "+81312345600", "RU": "+74951234500",
              "BR": "+551133334444"}  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = await Store.open(tmp_path / "callbot.db")
    for number in CALLER_IDS.values():
        await store.add_caller_id(number, label="", channels=frozenset({Channel.PSTN}), added_by="test", at=START)
    yield store
    await store.close()


@pytest.fixture
async def voximplant(fake_voximplant: FakeVoximplant) -> AsyncIterator[VoximplantClient]:
    async with httpx.AsyncClient() as http:
        yield VoximplantClient(
            http, base_url=f"{fake_voximplant.url}/platform_api/", auth=ApiKeyAuth(ACCOUNT_ID, API_KEY)
        )


@pytest.fixture
def service(store: Store, voximplant: VoximplantClient) -> Callable[..., CallService]:
    def build(region: str = "US", *, limits: Limits = NO_LIMITS, clock: Clock | None = None) -> CallService:
        clock = clock or Clock()
        policy = CallPolicy(
            default_region=region, allowed_countries=frozenset(), default_caller_id=CALLER_IDS[region],
            max_duration_s=600, rule_id=RULE_ID, public_base_url="http://127.0.0.1:9",
        )  # fmt: skip
        permissions = Permissions(store, None, admins={"U0ADMIN"}, limits=limits, clock=clock)
        return CallService(store, voximplant, policy, clock=clock, permissions=permissions)

    return build


# The whole table runs against one fake server: a test per row would start a server each (and add seconds).
async def test_every_emergency_form_short_code_and_costly_number_is_refused_under_the_destination_field(
    service: Callable[..., CallService],
) -> None:
    table = [(region, typed, "is an emergency number") for region, typed in EMERGENCY]
    table += [(region, typed, "is a short code") for region, typed in SHORT_CODES]
    table += [("US", typed, kind) for typed, kind in NON_PERSONAL]
    services = {region: service(region) for region in CALLER_IDS}
    wrong = []
    for region, typed, expected in table:
        try:
            await services[region].vetting.vet(CallDraft(typed, None, "help"), ANA)
            wrong.append((region, typed, "accepted"))
        except Refusal as refusal:
            # the form shows it under the number, with the reason, and nothing else is said about it
            if expected not in words(refusal) or refusal.field != "destination" or isinstance(refusal, Refusals):
                wrong.append((region, typed, f"{refusal.field}: {words(refusal)}"))
    assert wrong == []
    assert len(table) > 100


async def test_a_sip_address_that_dials_a_denied_number_is_refused(
    service: Callable[..., CallService], store: Store
) -> None:
    await store.add_caller_id("+14155550124", label="", channels=frozenset({Channel.SIP}), added_by="t", at=START)
    await store.add_denied("+1415555", reason="test lines", added_by="U0ADMIN", at=START)
    calls = service()
    for typed in ("sip:+14155550100@gw.example.com", "sip:%2B1%20415%20555%200100@gw.example.com",
                  "sip:4155550100;phone-context=+1@gw.example.com"):  # fmt: skip
        with pytest.raises(Refusal) as refused:
            await calls.vetting.vet(CallDraft(typed, "+14155550124", "hi"), ANA)
        assert words(refused.value) == (
            "+1 415-555-0100 is on this workspace's deny list (test lines). "
            "Ask a callbot admin if you think that is a mistake."
        ), typed
    request = await calls.vetting.vet(CallDraft("sip:desk@gw.example.com", "+14155550124", "hi"), ANA)
    assert request.destination == "sip:desk@gw.example.com"


async def test_emergency_is_refused_even_when_calling_is_not_set_up(store: Store) -> None:
    policy = CallPolicy("GB", frozenset(), None, 600, None, None)
    with pytest.raises(Refusal) as refused:
        await CallService(store, None, policy).vetting.vet(CallDraft("999", None, ""), ANA)
    assert refused.value.why is Why.EMERGENCY


async def test_the_hourly_limit_says_when_the_next_call_is_allowed(service: Callable[..., CallService]) -> None:
    clock = Clock()
    calls = service(limits=Limits(calls_per_user_per_hour=2), clock=clock)
    for minutes in (0, 20):
        clock.now = START + timedelta(minutes=minutes)
        await calls.placing.create(await calls.vetting.vet(CallDraft("+14155550100", None, "hi"), ANA))
    clock.now = START + timedelta(minutes=45)
    with pytest.raises(LimitReached) as refused:
        await calls.vetting.vet(CallDraft("+14155550100", None, "hi"), ANA)
    assert refused.value.retry_at == START + timedelta(hours=1)
    assert words(refused.value) == (
        "You have placed 2 calls in the last hour; the limit is 2 an hour. "
        f"You can place the next one in 15 minutes (at <!date^{stamp(10, 0)}^{{time}}|10:00 UTC>)."
    )
    await calls.vetting.vet(CallDraft("+14155550100", None, "hi"), BEN)  # someone else still may
    clock.now = START + timedelta(hours=1)
    await calls.vetting.vet(CallDraft("+14155550100", None, "hi"), ANA)  # the first call has aged out


async def test_the_limits_hold_across_a_restart(tmp_path: Path, voximplant: VoximplantClient) -> None:
    clock = Clock()
    store = await Store.open(tmp_path / "restart.db")
    await store.add_caller_id(CALLER_IDS["US"], label="", channels=frozenset({Channel.PSTN}), added_by="t", at=START)
    policy = CallPolicy("US", frozenset(), CALLER_IDS["US"], 600, RULE_ID, "http://127.0.0.1:9")
    limits = Limits(calls_per_user_per_hour=1)
    first = CallService(store, voximplant, policy, clock=clock, permissions=Permissions(store, None, limits=limits,
                                                                                        clock=clock))  # fmt: skip
    await first.placing.create(await first.vetting.vet(CallDraft("+14155550100", None, "hi"), ANA))
    await store.close()
    reopened = await Store.open(tmp_path / "restart.db")
    try:
        again = CallService(reopened, voximplant, policy, clock=clock,
                            permissions=Permissions(reopened, None, limits=limits, clock=clock))  # fmt: skip
        with pytest.raises(LimitReached):
            await again.vetting.vet(CallDraft("+14155550100", None, "hi"), ANA)
    finally:
        await reopened.close()


def stamp(hour: int, minute: int) -> int:
    """The Unix time of `hour:minute` UTC on the tests' day, as Slack's `<!date^…>` takes it."""
    return int(START.replace(hour=hour, minute=minute).timestamp())


def connected(call_id: str, at: datetime) -> bytes:
    return json.dumps({"v": 1, "call_id": call_id, "seq": 1, "event": "connected", "at": at.isoformat()}).encode()


async def test_concurrent_calls_per_person_and_workspace(service: Callable[..., CallService], store: Store) -> None:
    clock = Clock()
    calls = service(limits=Limits(concurrent_per_user=1, concurrent_per_workspace=2, max_duration_s=600), clock=clock)
    first = await calls.placing.create(await calls.vetting.vet(CallDraft("+14155550100", None, "hi"), ANA))
    callback_token = "callback-token"  # as the scenario's brief would give it
    assert await store.issue_callback_token(first.id, token_hash=launch.hash_token(callback_token))
    clock.now = START + timedelta(minutes=3)
    # Not connected yet: ringing may last until the scenario's watchdog (600 s + 300 s), plus a minute for the news.
    with pytest.raises(LimitReached) as refused:
        await calls.vetting.vet(CallDraft("+14155550101", None, "hi"), ANA)
    assert words(refused.value) == (
        "You have 1 call under way; the limit is 1 at once. You can place the next one as soon as one ends, "
        f"in 13 minutes (at <!date^{stamp(9, 16)}^{{time}}|09:16 UTC>) at the latest."
    )
    # Connected at 09:01:30: the scenario hangs up 600 s later; the time shown is rounded up to the minute.
    clock.now = START + timedelta(minutes=1, seconds=30)
    await calls.intake.receive(STATUS_EVENTS.validate_json(connected(first.id, clock.now)), str(callback_token))
    clock.now = START + timedelta(minutes=3)
    with pytest.raises(LimitReached) as refused:
        await calls.vetting.vet(CallDraft("+14155550101", None, "hi"), ANA)
    assert refused.value.retry_at == START + timedelta(minutes=12, seconds=30)
    assert words(refused.value).endswith(f"in 10 minutes (at <!date^{stamp(9, 13)}^{{time}}|09:13 UTC>) at the latest.")
    # Past that bound (its last event is late): no time in the past is promised.
    clock.now = START + timedelta(minutes=20)
    with pytest.raises(LimitReached) as refused:
        await calls.vetting.vet(CallDraft("+14155550101", None, "hi"), ANA)
    assert words(refused.value) == (
        "You have 1 call under way; the limit is 1 at once. "
        "You can place the next one as soon as one of your calls ends."
    )
    assert refused.value.retry_at == clock.now
    await calls.placing.create(await calls.vetting.vet(CallDraft("+14155550101", None, "hi"), BEN))
    with pytest.raises(LimitReached) as refused:
        await calls.vetting.vet(CallDraft("+14155550102", None, "hi"), Origin(team_id="T0SANDBOX", user_id="U0CY",
                                                                            conversation_id="C0GENERAL"))  # fmt: skip
    assert words(refused.value).startswith("This workspace has 2 calls under way; the limit is 2 at once")
    # A place frees up when the first of the two ends: Ana's, already past its bound.
    assert words(refused.value).endswith("as soon as one of this workspace's calls ends.")
    await store.move(first.id, Transition(CallState.ENDED, "remote_hangup"), clock.now, judge=judge)
    await calls.vetting.vet(CallDraft("+14155550101", None, "hi"), ANA)  # a place freed up


@pytest.mark.parametrize(
    ("admins", "workspace_admins", "sentence"),
    [
        ((), False, "callbot has no admins yet: ask whoever runs it to name some."),
        ((), True, "Ask a workspace admin."),
        (("U0B", "U0A"), False, "Ask <@U0A> or <@U0B>."),
        (tuple(f"U0{n}" for n in range(7)), True,
         "Ask <@U00>, <@U01>, <@U02>, <@U03>, <@U04>, another callbot admin or a workspace admin."),
    ],
)  # fmt: skip
async def test_refusals_name_who_to_ask(
    store: Store, admins: tuple[str, ...], workspace_admins: bool, sentence: str
) -> None:
    permissions = Permissions(store, None, admins=admins, workspace_admins_are_admins=workspace_admins, clock=Clock())
    assert permissions.admins() == Admins(tuple(sorted(admins)), workspace_admins)
    assert who_to_ask(permissions.admins()) == sentence


async def test_the_audit_log_is_append_only(store: Store, tmp_path: Path) -> None:
    await store.audit(actor="U0ADMIN", action="deny.add", target="+1900", allowed=True, at=START)
    with contextlib.closing(sqlite3.connect(tmp_path / "callbot.db")) as other:  # any client of the file, not only us
        for sql in ("UPDATE audit_log SET actor = 'U0EVE'", "DELETE FROM audit_log"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                other.execute(sql)
    [entry] = await store.audit_entries()
    assert (entry.actor, entry.action, entry.target, entry.at) == ("U0ADMIN", "deny.add", "+1900", START)


async def test_two_requests_at_once_cannot_both_take_the_last_place(
    service: Callable[..., CallService], store: Store
) -> None:
    calls = service(limits=Limits(concurrent_per_user=1))
    first = await calls.vetting.vet(CallDraft("+14155550100", None, "hi"), ANA)
    second = await calls.vetting.vet(CallDraft("+14155550101", None, "hi"), ANA)  # both vetted before either is stored
    results = await asyncio.gather(calls.placing.create(first), calls.placing.create(second), return_exceptions=True)
    assert sorted(type(result).__name__ for result in results) == ["Call", "LimitReached"]
    assert len(await store.live_calls(user_id="U0ANA")) == 1
