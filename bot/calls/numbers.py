"""Phone numbers: parse what people type, refuse what must never be dialled, show numbers to people."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType, shortnumberinfo

from bot.errors import Refusal

# Types a person or a business answers; everything else (premium rate, shared cost, pagers...) is refused.
CALLABLE_TYPES = frozenset(
    {
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.TOLL_FREE,
        PhoneNumberType.VOIP,
    }
)
_TYPE_WORDS = {
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
    PhoneNumberType.PAGER: "a pager number",
    PhoneNumberType.UAN: "a universal access number",
    PhoneNumberType.VOICEMAIL: "a voicemail access number",
    PhoneNumberType.PERSONAL_NUMBER: "a personal forwarding number",
}
_TYPE_NAMES = {
    PhoneNumberType.MOBILE: "a mobile",
    PhoneNumberType.FIXED_LINE: "a landline",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "a landline or mobile",
    PhoneNumberType.TOLL_FREE: "a toll-free",
    PhoneNumberType.VOIP: "a VoIP",
}
# Emergency numbers that are dialled the same way in many countries; checked besides phonenumbers' own tables.
_WELL_KNOWN_EMERGENCY = frozenset({"112", "911", "999", "000", "110", "119", "118", "100", "101", "102", "08"})
_INTERNATIONAL_PREFIXES = ("+", "00", "011")
_FIELD = "destination"
NON_GEOGRAPHIC = "001"  # phonenumbers' region for country codes that belong to no country (+800, +808, +870, +882…)


def normalise(text: str) -> str:
    """`text` after NFKC, with every decimal digit as its ASCII digit: full-width `+1 911`, or 911 in Arabic-Indic
    digits, read as `+1 911` and `911`."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in folded)


def format_international(e164: str) -> str:
    """`+14155550100` as people read it: `+1 415-555-0100`."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164, None), PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164


def region_of(e164: str) -> str | None:
    """The ISO region code of a number in E.164, or None when it has none (non-geographic)."""
    return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))


def number_types(names: Iterable[str]) -> frozenset[PhoneNumberType]:
    """`["mobile", "voip"]` (the ALLOWED_NUMBER_TYPES setting) as phonenumbers' type values."""
    return frozenset(getattr(PhoneNumberType, name.upper()) for name in names)


def parse_phone_number(
    text: str,
    default_region: str,
    *,
    allowed_regions: frozenset[str] = frozenset(),
    allowed_types: frozenset[int] = CALLABLE_TYPES,
    field: str = _FIELD,
) -> str:
    """The destination `text` as E.164, or a Refusal saying why it must not or cannot be dialled.

    Checked in this order, so the gravest reason is the one given: emergency (in any form and any country it could
    be read in), unreadable, short code, invalid, a number type not in `allowed_types`, a region not in
    `allowed_regions` (empty means any region may be called).
    """
    shown = text.strip()
    typed = international_form(shown)
    refuse_if_emergency(shown, default_region, field=field)
    try:
        number = phonenumbers.parse(typed, default_region)
    except phonenumbers.NumberParseException:
        raise Refusal(
            f"I couldn't read `{shown}` as a phone number. Write it in international form, e.g. `+14155550100`.",
            field=field,
        ) from None
    region = phonenumbers.region_code_for_number(number)
    if len(str(number.national_number)) <= 6 and not phonenumbers.is_valid_number(number):
        raise Refusal(
            f"{shown} is a short code. callbot only calls full phone numbers: if the service has an ordinary number, "
            "call that one, with its country code (e.g. `+14155550100`).",
            field=field,
        )
    if not phonenumbers.is_valid_number(number):
        raise Refusal(
            f"`{shown}` is not a valid phone number"
            + (f" in {region}" if region and region != NON_GEOGRAPHIC else "")
            + ". Check the digits and include the country code, e.g. `+14155550100`.",
            field=field,
        )
    kind = phonenumbers.number_type(number)
    if kind not in allowed_types:
        what = _TYPE_WORDS.get(kind, f"{_TYPE_NAMES.get(kind, 'an unknown')} number")
        raise Refusal(
            f"{format_international(_e164(number))} is {what}; callbot does not call those here. "
            "Ask an admin if this one is needed.",
            field=field,
        )
    if allowed_regions and region not in allowed_regions:
        allowed = ", ".join(sorted(allowed_regions))
        if region == NON_GEOGRAPHIC or not region:
            raise Refusal(
                f"{format_international(_e164(number))} is a non-geographic number (+{number.country_code} belongs "
                f"to no country), and calls here may only go to {allowed}. Ask an admin if you need it.",
                field=field,
            )
        raise Refusal(
            f"Calls to {region} are not allowed here (allowed: {allowed}). Ask an admin if you need it.", field=field
        )
    return _e164(number)


def ambiguous_number(typed: str, readings: Sequence[str], *, field: str = _FIELD) -> Refusal:
    """The refusal for number words that form more than one valid number (`readings`, in E.164)."""
    shown = [format_international(reading) for reading in readings]
    listed = ", ".join(shown[:-1]) + " or " + shown[-1]
    return Refusal(
        f"I can read `{typed.strip()}` as more than one number: {listed}. Write the number without spaces, "
        f"e.g. `{readings[0]}`, so I call the one you mean.",
        field=field,
    )


def refuse_if_emergency(text: str, default_region: str, *, field: str = _FIELD) -> None:
    """Raise a Refusal if `text` reaches emergency services in any form or country it could be read in."""
    if is_emergency_number(text, default_region):
        raise Refusal(
            f"{text.strip()} is an emergency number. callbot never dials emergency services: call them yourself, now.",
            field=field,
        )


def international_form(text: str) -> str:
    """`00 44 20…` (and `011 44…`, North America's prefix) as `+44 20…`: how most of the world dials abroad."""
    stripped = normalise(text).strip()
    for prefix in ("00", "011"):
        if stripped.startswith(prefix) and not stripped.startswith(prefix + "0"):
            return "+" + stripped[len(prefix) :].lstrip()
    return stripped


def is_emergency_number(text: str, default_region: str) -> bool:
    """True if `text`, in any form people dial it, reaches emergency services in its region or `default_region`."""
    digits = re.sub(r"[^\d+]", "", normalise(text))
    if not digits:
        return False
    # Read it both as a national number of the default region and, where it has one, with its country code.
    candidates: set[tuple[str, str]] = {(digits.lstrip("+"), default_region)}
    for prefix in _INTERNATIONAL_PREFIXES:
        if digits.startswith(prefix):
            rest = digits[len(prefix) :]
            for length in (1, 2, 3):
                code = rest[:length]
                for region in phonenumbers.region_codes_for_country_code(int(code)) if code.isdigit() else ():
                    candidates.add((rest[length:], region))
            break
    for national, region in list(candidates):
        prefix = phonenumbers.country_code_for_region(region)
        national_prefix = _national_prefix(region)
        if national_prefix and national.startswith(national_prefix):
            candidates.add((national[len(national_prefix) :], region))
        if national.startswith(str(prefix)):
            candidates.add((national[len(str(prefix)) :], region))
    return any(
        national in _WELL_KNOWN_EMERGENCY or shortnumberinfo.is_emergency_number(national, region)
        for national, region in candidates
        if national
    )


def _national_prefix(region: str) -> str | None:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    return metadata.national_prefix if metadata else None


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)
