"""Destination safety: every form of emergency number, short codes and non-personal types are refused."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from phonenumbers import shortnumberinfo

from bot.calls.numbers import CALLABLE_TYPES, is_emergency_number, number_types, parse_phone_number
from bot.calls.refusals import Why
from bot.errors import Refusal
from bot.slack.texts import refusal as words
from tests.calls.test_grammar import full_width

# (region the person's numbers are read in, what they typed). Each reaches emergency services somewhere.
EMERGENCY = [
    # United States
    ("US", "911"), ("US", "+1 911"), ("US", "1-911"), ("US", "1 (911)"), ("US", "+1-911"), ("US", "112"),
    ("US", "011 1 911"), ("DE", "+1 911"), ("DE", "001 911"),
    # United Kingdom
    ("GB", "999"), ("GB", "112"), ("GB", "+44 999"), ("GB", "+44 112"), ("GB", "0044 999"), ("US", "+44 999"),
    ("US", "011 44 999"), ("GB", "+44 (0) 999"),
    # Germany
    ("DE", "112"), ("DE", "110"), ("DE", "+49 112"), ("DE", "+49 110"), ("US", "+49 112"), ("US", "+49 110"),
    ("DE", "0049 110"), ("FR", "+49 (0)112"),
    # France
    ("FR", "112"), ("FR", "15"), ("FR", "17"), ("FR", "18"), ("FR", "+33 15"), ("FR", "+33 112"),
    ("US", "+33 17"), ("US", "+33 18"), ("GB", "0033 15"),
    # Australia
    ("AU", "000"), ("AU", "112"), ("AU", "106"), ("AU", "+61 000"), ("US", "+61 000"), ("US", "000"),
    ("GB", "+61 106"),
    # India
    ("IN", "112"), ("IN", "100"), ("IN", "101"), ("IN", "102"), ("IN", "108"), ("IN", "+91 112"),
    ("US", "+91 100"), ("US", "+91 108"),
    # Japan
    ("JP", "110"), ("JP", "119"), ("JP", "+81 110"), ("JP", "+81 119"), ("US", "110"), ("US", "119"),
    ("US", "+81 119"), ("GB", "00 81 110"),
    # Russia
    ("RU", "112"), ("RU", "01"), ("RU", "02"), ("RU", "03"), ("RU", "101"), ("RU", "102"), ("RU", "103"),
    ("RU", "+7 112"), ("US", "+7 112"), ("US", "+7 103"), ("RU", "8 112"),
    # Brazil
    ("BR", "190"), ("BR", "192"), ("BR", "193"), ("BR", "112"), ("BR", "911"), ("BR", "+55 190"),
    ("US", "+55 192"), ("US", "+55 193"),
]  # fmt: skip

# Short codes: service, directory and SMS numbers that are not full phone numbers.
SHORT_CODES = [
    ("US", "611"), ("US", "411"), ("US", "22222"), ("US", "+1 411"),
    ("GB", "118 118"), ("GB", "150"), ("GB", "+44 118 500"),
    ("DE", "11833"), ("DE", "+49 11880"),
    ("FR", "3949"), ("FR", "+33 3949"),
    ("AU", "1223"), ("AU", "+61 1223"),
    ("IN", "139"), ("IN", "+91 139"),
    ("JP", "104"), ("JP", "+81 177"),
    ("RU", "0611"), ("RU", "+7 0611"),
    ("BR", "144"), ("BR", "+55 144"),
]  # fmt: skip

# Premium-rate, shared-cost and other numbers that do not reach a person (phonenumbers' examples for each type).
NON_PERSONAL = [
    ("+1 900-234-5678", "premium-rate"), ("+44 901 234 5678", "premium-rate"), ("+49 900 1 234567", "premium-rate"),
    ("+33 891 12 34 56", "premium-rate"), ("+61 1900 123 456", "premium-rate"),
    ("+91 1861 123 456 789", "premium-rate"), ("+49 180 1 2345", "shared-cost"), ("+33 884 01 23 45", "shared-cost"),
    ("+61 1300 123 456", "shared-cost"), ("+91 1860 345 1234", "shared-cost"),
    ("+44 70 1234 5678", "personal forwarding"),
    ("+1 500-234-5678", "personal forwarding"), ("+44 76 4012 3456", "pager"), ("+49 16412345", "pager"),
    ("+44 55 1234 5678", "universal access"), ("+33 806 12 34 56", "universal access"),
    ("+49 177 99 1234567", "voicemail"),
]  # fmt: skip

# Ordinary numbers that must still go through, however they are typed.
CALLABLE = [
    ("US", "+1 415-555-0100", "+14155550100"), ("US", "(415) 555-0100", "+14155550100"),
    ("GB", "020 7946 0000", "+442079460000"), ("DE", "030 123456", "+4930123456"),
    ("FR", "01 23 45 67 89", "+33123456789"), ("AU", "02 9876 5432", "+61298765432"),
    ("IN", "+91 11 2345 6789", "+911123456789"), ("JP", "03-1234-5678", "+81312345678"),
    ("RU", "8 495 123-45-67", "+74951234567"), ("BR", "+55 11 91234-5678", "+5511912345678"),
]  # fmt: skip


@pytest.mark.parametrize(("region", "typed"), EMERGENCY)
def test_emergency_numbers_are_recognised_in_every_form(region: str, typed: str) -> None:
    assert is_emergency_number(typed, region)
    with pytest.raises(Refusal) as refused:
        parse_phone_number(typed, region)
    assert refused.value.why is Why.EMERGENCY and refused.value.field == "destination"
    assert "is an emergency number" in words(refused.value)


def test_every_regions_own_emergency_numbers_are_recognised_nationally_and_with_its_country_code() -> None:
    """Each region's emergency example (libphonenumber's short-number metadata), as dialled there and with the
    country code: the length bound is_emergency_number checks first skips none of them."""
    missed = []
    for region in sorted(shortnumberinfo.SUPPORTED_SHORT_REGIONS):
        short = phonenumbers.PhoneMetadata.short_metadata_for_region(region)
        if short is None or short.emergency is None or not short.emergency.example_number:
            continue
        example = short.emergency.example_number
        code = phonenumbers.country_code_for_region(region)
        for typed in (example, f"+{code} {example}"):
            if not is_emergency_number(typed, region):
                missed.append((region, typed))
    assert missed == []


@pytest.mark.parametrize(("region", "typed"), SHORT_CODES)
def test_short_codes_are_refused(region: str, typed: str) -> None:
    with pytest.raises(Refusal) as refused:
        parse_phone_number(typed, region)
    assert refused.value.why is Why.SHORT_CODE


@pytest.mark.parametrize(("typed", "kind"), NON_PERSONAL)
def test_non_personal_types_are_refused_by_default(typed: str, kind: str) -> None:
    with pytest.raises(Refusal) as refused:
        parse_phone_number(typed, "US")
    assert refused.value.why is Why.NUMBER_TYPE and re.search(f"is an? {kind}", words(refused.value))


@pytest.mark.parametrize(("region", "typed", "e164"), CALLABLE)
def test_ordinary_numbers_are_not_mistaken_for_emergency_ones(region: str, typed: str, e164: str) -> None:
    assert not is_emergency_number(typed, region)
    assert parse_phone_number(typed, region) == e164


def test_a_type_can_be_allowed_by_setting() -> None:
    allowed = number_types(["fixed_line", "mobile", "fixed_line_or_mobile", "shared_cost"])
    assert parse_phone_number("+49 180 1 2345", "DE", allowed_types=allowed) == "+4918012345"
    with pytest.raises(Refusal) as refused:
        parse_phone_number("+49 900 1 234567", "DE", allowed_types=allowed)
    assert refused.value.facts["kind"] == "premium_rate" and "premium-rate" in words(refused.value)


def test_a_type_left_out_of_the_setting_is_refused() -> None:
    with pytest.raises(Refusal) as refused:
        parse_phone_number("+1 800 555 0100", "US", allowed_types=CALLABLE_TYPES - number_types(["toll_free"]))
    assert "toll-free number" in words(refused.value)


def test_emergency_stays_refused_whatever_types_are_allowed() -> None:
    every_type = number_types(["premium_rate", "shared_cost", "uan", "unknown", "fixed_line", "mobile"])
    with pytest.raises(Refusal) as refused:
        parse_phone_number("+44 999", "US", allowed_types=every_type)
    assert refused.value.why is Why.EMERGENCY


ARABIC_INDIC_911 = "\u0669\u0661\u0661"


@pytest.mark.parametrize(
    "typed", [full_width("+1 911"), full_width("911"), ARABIC_INDIC_911, "+" + full_width("44 999")]
)
def test_look_alike_digits_are_read_as_digits_so_emergency_numbers_stay_refused(typed: str) -> None:
    assert is_emergency_number(typed, "US")
    with pytest.raises(Refusal) as refused:
        parse_phone_number(typed, "US")
    assert "is an emergency number" in words(refused.value)


def test_a_full_width_number_is_called_as_its_digits() -> None:
    assert parse_phone_number(full_width("+1 (415) 555-0100"), "US") == "+14155550100"


def test_a_short_code_refusal_says_what_to_do_instead() -> None:
    with pytest.raises(Refusal) as refused:
        parse_phone_number("611", "US")
    assert words(refused.value) == (
        "611 is a short code. callbot only calls full phone numbers: if the service has an ordinary number, "
        "call that one, with its country code (e.g. `+14155550100`)."
    )


def test_a_non_geographic_number_is_called_that_not_a_region_code() -> None:
    with pytest.raises(Refusal) as refused:
        parse_phone_number("+800 1234 5678", "US", allowed_regions=frozenset({"US", "CA"}))
    assert words(refused.value) == (
        "+800 1234 5678 is a non-geographic number (+800 belongs to no country), and calls here may only go to "
        "CA, US. Ask an admin if you need it."
    )
