"""The allowlist and the deny list: every change carries its audit line, whoever makes it; nothing else does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.calls.allowlist import Allowlist, channels_named, deny_prefix
from bot.calls.models import Channel
from bot.calls.refusals import Why
from bot.errors import Refusal
from bot.store import Store

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def test_each_change_is_audited_and_a_missing_entry_changes_nothing(store: Store) -> None:
    allowlist = Allowlist(store, clock=lambda: AT)
    both = frozenset({Channel.PSTN, Channel.WHATSAPP})
    assert await allowlist.add_caller_id("+14155550123", label="Support", channels=both, by="U0ADMIN")
    assert not await allowlist.add_caller_id("+14155550123", label="Sales", channels=both, by="cli")  # updated
    assert await allowlist.deny("+1900", reason="premium lines", by="U0ADMIN")
    assert await allowlist.remove_caller_id("+14155550123", by="voximplant-sync", detail="gone")
    assert not await allowlist.remove_caller_id("+14155550123", by="cli")
    assert await allowlist.undeny("+1900", by="cli")
    assert not await allowlist.undeny("+1900", by="cli")
    assert await allowlist.caller_ids() == [] and await allowlist.denied() == []
    entries = sorted(await store.audit_entries(), key=lambda entry: entry.id)
    assert [(e.actor, e.action, e.target, e.detail, e.allowed, e.at) for e in entries] == [
        ("U0ADMIN", "callerid.add", "+14155550123", "label='Support' channels=pstn,whatsapp", True, AT),
        ("cli", "callerid.add", "+14155550123", "label='Sales' channels=pstn,whatsapp", True, AT),
        ("U0ADMIN", "deny.add", "+1900", "premium lines", True, AT),
        ("voximplant-sync", "callerid.remove", "+14155550123", "gone", True, AT),
        ("cli", "deny.remove", "+1900", "", True, AT),
    ]


def test_channel_names() -> None:
    assert channels_named("") == {Channel.PSTN}
    assert channels_named("pstn,WhatsApp") == channels_named(" pstn,  whatsapp ") == {Channel.PSTN, Channel.WHATSAPP}
    with pytest.raises(Refusal) as refused:
        channels_named("pstn, fax")
    assert refused.value.why is Why.UNKNOWN_CHANNELS and refused.value.facts == {"typed": "pstn, fax"}


@pytest.mark.parametrize(
    ("typed", "prefix"),
    [
        ("+1900", "+1900"),
        ("00 44 20", "+4420"),
        ("+1 (415) 555-0100", "+14155550100"),
        ("(415) 555-0100", "+14155550100"),
    ],
)
def test_deny_prefixes(typed: str, prefix: str) -> None:
    assert deny_prefix(typed, "US") == prefix


def test_a_deny_entry_must_be_a_number_or_a_prefix() -> None:
    with pytest.raises(Refusal) as refused:
        deny_prefix("premium", "US")
    assert refused.value.why is Why.BAD_PREFIX
