"""Vetting.vet_join: where a Join dials the person joining meets a call destination's guard rails (real store,
injected clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.calls.hours import Window
from bot.calls.models import Channel
from bot.calls.permissions import Permissions
from bot.calls.policy import CallPolicy
from bot.calls.refusals import Why
from bot.calls.vetting import JoinTarget, Vetting
from bot.errors import Refusal
from bot.slack.texts import refusal as words
from bot.store import Store

CALLER_ID = "+14155550100"  # the call's caller ID: its country (US) is the one allowed by default
OPEN = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)  # 10:00 in California
SHUT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 01:00 in California


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = await Store.open(tmp_path / "callbot.db")
    yield store
    await store.close()


def vetting(store: Store, now: datetime) -> Vetting:
    policy = CallPolicy(
        default_region="US", allowed_countries=frozenset(), default_caller_id=CALLER_ID, max_duration_s=600,
        rule_id=1, public_base_url="http://127.0.0.1:9", calling_hours=Window.parse("08:00-21:00"),
    )  # fmt: skip
    permissions = Permissions(store, None, admins={"U0ADMIN"}, clock=lambda: now)
    return Vetting(store, policy, set_up=True, permissions=permissions, clock=lambda: now)


async def refused(vet: Vetting, typed: str, user_id: str = "U0ANA") -> Refusal:
    with pytest.raises(Refusal) as caught:
        await vet.vet_join(typed, caller_id=CALLER_ID, user_id=user_id)
    return caught.value


async def test_a_profile_number_or_an_app_user_is_accepted(store: Store) -> None:
    vet = vetting(store, OPEN)
    phone = await vet.vet_join(" (415) 555-0123 ", caller_id=CALLER_ID, user_id="U0ANA")
    assert phone == JoinTarget(Channel.PSTN, "+14155550123")
    app_user = await vet.vet_join("@maria.app", caller_id=CALLER_ID, user_id="U0ANA")
    assert app_user == JoinTarget(Channel.USER, "maria.app")


async def test_the_destination_guard_rails_refuse_a_join(store: Store) -> None:
    vet = vetting(store, OPEN)
    assert (await refused(vet, "911")).why is Why.EMERGENCY
    assert (await refused(vet, "+1 911")).why is Why.EMERGENCY
    assert "premium-rate" in words(await refused(vet, "+1 900 555 0123"))
    assert (await refused(vet, "611")).why is Why.SHORT_CODE
    abroad = await refused(vet, "+44 20 7946 0123")  # the caller ID's country only, by default
    assert abroad.why is Why.REGION_NOT_ALLOWED, abroad
    assert (await refused(vet, "  ")).why is Why.JOIN_NO_TARGET

    await store.add_denied("+1415555", reason="test lines", added_by="U0ADMIN", at=OPEN)
    denied = await refused(vet, "+1 415 555 0123")
    assert words(denied) == (
        "+1 415-555-0123 is on this workspace's deny list (test lines). Ask a callbot admin if you think that is a "
        "mistake."
    )


async def test_calling_hours_refuse_a_join_with_no_admin_override(store: Store) -> None:
    vet = vetting(store, SHUT)
    for user_id in ("U0ANA", "U0ADMIN"):
        shut = await refused(vet, "+1 415 555 0123", user_id)
        assert shut.why is Why.OUTSIDE_CALLING_HOURS and shut.field == "destination"
        assert shut.facts["admin"] is False  # the Join form has no reason field: nobody is told to give one
        assert "If it cannot wait, ask a callbot admin." in words(shut)
    assert (await vet.vet_join("maria", caller_id=CALLER_ID, user_id="U0ANA")).channel is Channel.USER
