"""Destinations per channel, channel words and time limits: what is accepted, and what each refusal says."""

from __future__ import annotations

import pytest

from bot.calls.destinations import dialled_number, infer_channel, parse_channel, parse_destination, parse_duration
from bot.calls.models import Channel
from bot.calls.refusals import Why
from bot.errors import Refusal
from bot.slack.texts import refusal as words


@pytest.mark.parametrize(
    ("text", "channel", "expected"),
    [
        ("+1 (415) 555-0100", Channel.PSTN, "+14155550100"),
        ("415-555-0100", Channel.PSTN, "+14155550100"),
        ("00 44 20 7946 0000", Channel.PSTN, "+442079460000"),
        ("+49 151 23456789", Channel.WHATSAPP, "+4915123456789"),
        ("sip:desk@pbx.example.com", Channel.SIP, "sip:desk@pbx.example.com"),
        ("SIPS:desk@pbx.example.com:5061;transport=tls", Channel.SIP, "sips:desk@pbx.example.com:5061;transport=tls"),
        ("alice@example.com", Channel.SIP, "sip:alice@example.com"),
        ("sip:+14155550100@gw.example.com", Channel.SIP, "sip:+14155550100@gw.example.com"),
        ("sip:desk@[2001:db8::1]", Channel.SIP, "sip:desk@[2001:db8::1]"),
        ("sip:desk@10.0.0.7:5060", Channel.SIP, "sip:desk@10.0.0.7:5060"),
        # a telephone number as the user part passes the phone checks; a short one with no country is an extension
        ("sip:4155550100@gw.example.com", Channel.SIP, "sip:4155550100@gw.example.com"),
        (
            "sip:+442079460000;phone-context=+44@gw.example.com",
            Channel.SIP,
            "sip:+442079460000;phone-context=+44@gw.example.com",
        ),
        ("sip:2001@pbx.example.com", Channel.SIP, "sip:2001@pbx.example.com"),
        ("alice", Channel.USER, "alice"),
        ("@desk-12", Channel.USER, "desk-12"),
        ("first.last_2", Channel.USER, "first.last_2"),
    ],
)
def test_accepted_destinations(text: str, channel: Channel, expected: str) -> None:
    assert parse_destination(text, channel, default_region="US") == expected


@pytest.mark.parametrize(
    ("text", "channel", "says"),
    [
        ("", Channel.PSTN, "Say who to call"),
        ("sip:desk@pbx.example.com", Channel.PSTN, "is a SIP address, not a phone number"),
        ("alice@example.com", Channel.PSTN, "Choose SIP"),
        ("911", Channel.WHATSAPP, "emergency number"),
        ("+1 900 555 0100", Channel.WHATSAPP, "premium-rate"),
        ("sip:desk", Channel.SIP, "not a SIP address"),
        ("sip:desk@", Channel.SIP, "not a SIP address"),
        ("sip:de sk@pbx.example.com", Channel.SIP, "not a SIP address"),
        ("sip:desk@pbx.example.com:99999", Channel.SIP, "ports go from 1 to 65535"),
        ("sip:911@gw.example.com", Channel.SIP, "emergency number"),
        ("sip:+44-999@gw.example.com", Channel.SIP, "emergency number"),
        # the user part is read as the SIP server will dial it: percent-decoded, its `;` parameters apart
        ("sip:911;phone-context=+1@example.com", Channel.SIP, "911 is an emergency number"),
        ("sip:112;phone-context=+49@gw.example.com", Channel.SIP, "112 is an emergency number"),
        ("sip:%39%31%31@example.com", Channel.SIP, "911 is an emergency number"),
        ("sip:%39%31%31%3Bphone-context=+1@example.com", Channel.SIP, "911 is an emergency number"),
        ("sip:*911@gw.example.com", Channel.SIP, "emergency number"),
        ("sip:+19005550100@pbx.example.com", Channel.SIP, "+1 900-555-0100 is a premium-rate number"),
        ("sip:%2B1-900-555-0100@pbx.example.com", Channel.SIP, "premium-rate"),
        ("sip:19005550100@pbx.example.com", Channel.SIP, "premium-rate"),
        ("sip:2001@pbx.example.com;user=phone", Channel.SIP, "2001 is a short code"),
        ("sip:2001;phone-context=+1@pbx.example.com", Channel.SIP, "2001 is a short code"),
        ("sip:+1415555@gw.example.com", Channel.SIP, "short code"),
        ("sip:+1%20900%20555%200100@gw.example.com", Channel.SIP, "premium-rate"),
        ("sip:+1_900_555_0100@gw.example.com", Channel.SIP, "+1_900_555_0100"),
        ("sip:" + "a" * 300 + "@x.example", Channel.SIP, "not a SIP address"),
        ("two words", Channel.USER, "not an app user name"),
        ("alice@example.com", Channel.USER, "not an app user name"),
        ("a" * 51, Channel.USER, "at most 50"),
    ],
)
def test_refused_destinations(text: str, channel: Channel, says: str) -> None:
    with pytest.raises(Refusal) as refused:
        parse_destination(text, channel, default_region="US")
    assert says in words(refused.value)
    assert refused.value.field == "destination"


@pytest.mark.parametrize(
    ("text", "channel"),
    [("+442079460000", Channel.WHATSAPP), ("sip:+442079460000@gw.example.com", Channel.SIP),
     ("sip:02079460000;phone-context=+44@gw.example.com", Channel.SIP)],
)  # fmt: skip
def test_destination_country_must_be_allowed(text: str, channel: Channel) -> None:
    with pytest.raises(Refusal) as refused:
        parse_destination(text, channel, default_region="US", allowed_regions=frozenset({"US"}))
    assert refused.value.why is Why.REGION_NOT_ALLOWED and refused.value.facts["region"] == "GB"
    assert words(refused.value) == "Calls to GB are not allowed here (allowed: US). Ask an admin if you need it."


@pytest.mark.parametrize(
    ("destination", "channel", "number"),
    [("+14155550100", Channel.PSTN, "+14155550100"), ("+14155550100", Channel.WHATSAPP, "+14155550100"),
     ("sip:+1-415-555-0100@gw.example.com", Channel.SIP, "+14155550100"),
     ("sip:4155550100@gw.example.com", Channel.SIP, "+14155550100"),
     ("sip:%2B14155550100@gw.example.com", Channel.SIP, "+14155550100"),
     ("sip:2079460000;phone-context=+44@gw.example.com", Channel.SIP, "+442079460000"),
     ("sip:2001@pbx.example.com", Channel.SIP, None), ("sip:desk@pbx.example.com", Channel.SIP, None),
     ("alice", Channel.USER, None)],
)  # fmt: skip
def test_the_number_a_destination_dials_is_what_the_deny_list_checks(
    destination: str, channel: Channel, number: str | None
) -> None:
    assert dialled_number(destination, channel, "US") == number


@pytest.mark.parametrize(
    ("word", "channel"),
    [("phone", Channel.PSTN), ("PSTN", Channel.PSTN), ("sip", Channel.SIP), ("user", Channel.USER),
     ("app", Channel.USER), ("WhatsApp", Channel.WHATSAPP), ("wa", Channel.WHATSAPP)],
)  # fmt: skip
def test_channel_words(word: str, channel: Channel) -> None:
    assert parse_channel(word) is channel


def test_unknown_channel_names_the_choices() -> None:
    with pytest.raises(Refusal) as refused:
        parse_channel("email")
    assert "`email` is not a way callbot can call" in words(refused.value) and "via whatsapp" in words(refused.value)
    assert refused.value.field == "channel"


@pytest.mark.parametrize(
    ("text", "channel"),
    [("sip:a@b.example", Channel.SIP), ("a@b.example", Channel.SIP), ("+14155550100", Channel.PSTN),
     ("alice", Channel.PSTN)],
)  # fmt: skip
def test_inferred_channel(text: str, channel: Channel) -> None:
    assert infer_channel(text) is channel


@pytest.mark.parametrize(
    ("text", "seconds"), [("5m", 300), ("5 min", 300), ("10 minutes", 600), ("1", 60), ("1h", 3600), ("2 hrs", 7200)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text, max_s=4 * 3600) == seconds


@pytest.mark.parametrize(
    ("text", "says"),
    [("0m", "at least one minute"), ("11m", "at most 10 minutes; ask for `for 10m` or less"),
     ("1h", "at most 10 minutes"), ("soon", "couldn't read `soon`"), ("5s", "couldn't read")],
)  # fmt: skip
def test_refused_durations(text: str, says: str) -> None:
    with pytest.raises(Refusal) as refused:
        parse_duration(text, max_s=600)
    assert says in words(refused.value)
    assert refused.value.field == "duration"
