"""Phone numbers: parse what people type, refuse what must never be dialled, show numbers in international form."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import cache

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType, shortnumberinfo

from bot.calls.refusals import Why
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


def number_types(names: Iterable[str]) -> frozenset[int]:
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
        raise Refusal(Why.UNREADABLE_NUMBER, field=field, typed=shown) from None
    region = phonenumbers.region_code_for_number(number)
    if len(str(number.national_number)) <= 6 and not phonenumbers.is_valid_number(number):
        raise Refusal(Why.SHORT_CODE, field=field, typed=shown)
    if not phonenumbers.is_valid_number(number):
        named = region if region and region != NON_GEOGRAPHIC else None
        raise Refusal(Why.INVALID_NUMBER, field=field, typed=shown, region=named)
    kind = phonenumbers.number_type(number)
    if kind not in allowed_types:
        raise Refusal(Why.NUMBER_TYPE, field=field, number=_e164(number), kind=type_name(kind))
    if allowed_regions and region not in allowed_regions:
        allowed = tuple(sorted(allowed_regions))
        if region == NON_GEOGRAPHIC or not region:
            raise Refusal(
                Why.NON_GEOGRAPHIC, field=field, number=_e164(number), country_code=number.country_code,
                allowed=allowed,
            )  # fmt: skip
        raise Refusal(Why.REGION_NOT_ALLOWED, field=field, region=region, allowed=allowed)
    return _e164(number)


def ambiguous_number(typed: str, readings: Sequence[str], *, field: str = _FIELD) -> Refusal:
    """The refusal for number words that form more than one valid number (`readings`, in E.164)."""
    return Refusal(Why.AMBIGUOUS_NUMBER, field=field, typed=typed.strip(), readings=tuple(readings))


def refuse_if_emergency(text: str, default_region: str, *, field: str = _FIELD) -> None:
    """Raise a Refusal if `text` reaches emergency services in any form or country it could be read in."""
    if is_emergency_number(text, default_region):
        raise Refusal(Why.EMERGENCY, field=field, typed=text.strip())


def type_name(kind: int) -> str:
    """A number type as ALLOWED_NUMBER_TYPES spells it: `premium_rate`, `toll_free`; `unknown` for any other."""
    return next((name.lower() for name, value in vars(PhoneNumberType).items() if value == kind), "unknown")


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
        country_code, national_prefix, _ = _region_facts(region)
        if national_prefix and national.startswith(national_prefix):
            candidates.add((national[len(national_prefix) :], region))
        if national.startswith(country_code):
            candidates.add((national[len(country_code) :], region))
    return any(
        national in _WELL_KNOWN_EMERGENCY
        or (len(national) <= _region_facts(region)[2] and shortnumberinfo.is_emergency_number(national, region))
        for national, region in candidates
        if national
    )


@cache
def _region_facts(region: str) -> tuple[str, str | None, int]:
    """`region`'s country code, national prefix, and the most digits one of its emergency numbers has (0: none).

    From libphonenumber's metadata, looked up once per region: `/call` reads each run of typed words as a number in
    some 25 regions (every +1 country), and these lookups and the short-number check's regular expressions were
    most of its answer's time (cProfile: 1.2 ms a run). The possible lengths bound what the emergency pattern
    matches, so a longer number is no emergency number and is not matched at all.
    """
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    short = phonenumbers.PhoneMetadata.short_metadata_for_region(region)
    longest = 0
    if short is not None and short.emergency is not None:
        longest = max(short.emergency.possible_length, default=_NO_BOUND)
    national_prefix = metadata.national_prefix if metadata else None
    return str(phonenumbers.country_code_for_region(region)), national_prefix, longest


_NO_BOUND = 1_000  # emergency numbers listed without their possible lengths: every number is matched


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)
