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
from datetime import date, datetime

from bot.calls.models import Channel
from bot.store import Store
from bot.voximplant import PhoneNumberInfo, VoximplantClient

SYNC_ACTOR = "voximplant-sync"


@dataclass
class SyncReport:
    added: list[tuple[str, str]] = field(default_factory=list)  # (number, label)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    unknown_to_voximplant: list[str] = field(default_factory=list)  # added by hand, kept
    skipped: dict[str, str] = field(default_factory=dict)  # number -> why Voximplant's number is not a caller ID
    kept_unusable: list[str] = field(default_factory=list)  # added by hand, kept, but skipped above


async def sync_caller_ids(
    store: Store, voximplant: VoximplantClient, *, today: date, at: datetime, dry_run: bool = False
) -> SyncReport:
    """Compare, and (unless `dry_run`) apply the changes, each written to the audit log."""
    offered: dict[str, str] = {}
    for caller_id in await voximplant.get_caller_ids():
        if caller_id.active and (caller_id.verified_until is None or caller_id.verified_until >= today):
            offered[caller_id.e164] = "verified caller ID"
    report = SyncReport()
    for number in await voximplant.get_phone_numbers():
        if number.deactivated or number.canceled:
            continue
        why_not = _why_not_a_caller_id(number)
        if why_not is not None:
            report.skipped[number.e164] = why_not
            continue
        kind = f" ({number.category_name.lower()})" if number.category_name else ""
        offered.setdefault(number.e164, f"Voximplant number{kind}")
    for number in offered:
        report.skipped.pop(number, None)  # also a verified caller ID: usable as that
    current = {entry.number: entry for entry in await store.caller_ids()}
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
        await store.add_caller_id(number, label=label, channels=frozenset({Channel.PSTN}), added_by=SYNC_ACTOR, at=at)
        await store.audit(actor=SYNC_ACTOR, action="callerid.add", target=number, detail=label, allowed=True, at=at)
    for number in report.removed:
        await store.remove_caller_id(number)
        await store.audit(
            actor=SYNC_ACTOR, action="callerid.remove", target=number,
            detail=report.skipped.get(number, "no longer in Voximplant"), allowed=True, at=at,
        )  # fmt: skip
    return report


def _why_not_a_caller_id(number: PhoneNumberInfo) -> str | None:
    """Why a bought number cannot be a caller ID for real calls, or None when it can."""
    if number.test_number:
        return "a Voximplant test number: it cannot place real calls"
    if not number.can_be_used:
        status = f" (verification: {number.verification_status})" if number.verification_status else ""
        return f"Voximplant says it cannot be used until the account is verified{status}"
    return None
