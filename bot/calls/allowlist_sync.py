"""`callbot callerids sync`: bring the caller-ID allowlist in line with what Voximplant lets the account call from.

Adds every active, verified caller ID (GetCallerIDs) and every bought number still in service (GetPhoneNumbers).
A bought number that cannot place real calls is not added, and the report says why: a test number (GetPhoneNumbers
lists it with `sandbox=true`), or one Voximplant marks `can_be_used: false` ("Whether a not verified account can use
the phone": AttachedPhoneInfoType, voximplant.com/docs/references/voxengine/voximplantapi/attachedphoneinfo).
Removes only entries an earlier sync added that Voximplant no longer offers; entries an admin added by hand are
never removed (WhatsApp senders, for one, are not in either list), but those Voximplant does not know are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from bot.calls.allowlist import Allowlist
from bot.calls.models import Channel
from bot.calls.ports import CallerIdSource
from bot.voximplant.models import PhoneNumberInfo

SYNC_ACTOR = "voximplant-sync"
GONE = "no longer in Voximplant"  # the audit log's detail for a number the sync removes that Voximplant dropped


class Unusable(StrEnum):
    """Why a bought number cannot be a caller ID for real calls."""

    TEST_NUMBER = "test_number"  # GetPhoneNumbers lists it with sandbox=true
    UNVERIFIED = "unverified"  # can_be_used: false until the account is verified


@dataclass(frozen=True, slots=True)
class Skipped:
    why: Unusable
    verification: str = ""  # Voximplant's verification_status, when it gave one


@dataclass
class SyncReport:
    added: list[tuple[str, str]] = field(default_factory=list)  # (number, label)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    unknown_to_voximplant: list[str] = field(default_factory=list)  # added by hand, kept
    skipped: dict[str, Skipped] = field(default_factory=dict)  # Voximplant's numbers that are no caller IDs
    kept_unusable: list[str] = field(default_factory=list)  # added by hand, kept, but skipped above


async def sync_caller_ids(
    allowlist: Allowlist, voximplant: CallerIdSource, *, today: date, dry_run: bool = False
) -> SyncReport:
    """Compare, and (unless `dry_run`) apply the changes, each written to the audit log."""
    offered: dict[str, str] = {}
    for caller_id in await voximplant.get_caller_ids():
        if caller_id.active and (caller_id.verified_until is None or caller_id.verified_until >= today):
            offered[caller_id.e164] = "verified caller ID"
    report = SyncReport()
    for bought in await voximplant.get_phone_numbers():
        if bought.deactivated or bought.canceled:
            continue
        why_not = _why_not_a_caller_id(bought)
        if why_not is not None:
            report.skipped[bought.e164] = why_not
            continue
        kind = f" ({bought.category_name.lower()})" if bought.category_name else ""
        offered.setdefault(bought.e164, f"Voximplant number{kind}")
    for number in offered:
        report.skipped.pop(number, None)  # also a verified caller ID: usable as that
    current = {entry.number: entry for entry in await allowlist.caller_ids()}
    for number, label in sorted(offered.items()):
        if number in current:
            report.unchanged.append(number)
        else:
            report.added.append((number, label))
    for number, entry in sorted(current.items()):
        if number not in offered:
            if entry.added_by == SYNC_ACTOR:
                report.removed.append(number)
            else:
                (report.kept_unusable if number in report.skipped else report.unknown_to_voximplant).append(number)
    if dry_run:
        return report
    for number, label in report.added:
        await allowlist.add_caller_id(number, label=label, channels=frozenset({Channel.PSTN}), by=SYNC_ACTOR)
    for number in report.removed:
        skipped = report.skipped.get(number)
        await allowlist.remove_caller_id(number, by=SYNC_ACTOR, detail=skipped.why.value if skipped else GONE)
    return report


def _why_not_a_caller_id(number: PhoneNumberInfo) -> Skipped | None:
    """Why a bought number cannot be a caller ID for real calls, or None when it can."""
    if number.test_number:
        return Skipped(Unusable.TEST_NUMBER)
    if not number.can_be_used:
        return Skipped(Unusable.UNVERIFIED, number.verification_status or "")
    return None
