"""Destinations per channel, channel words and time limits: what is accepted, and what each refusal says."""

from __future__ import annotations

import pytest

from bot.calls.destinations import infer_channel, parse_channel, parse_destination, parse_duration
from bot.calls.models import Channel
from bot.errors import Refusal


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
        ("sip:" + "a" * 300 + "@x.example", Channel.SIP, "not a SIP address"),
        ("two words", Channel.USER, "not an app user name"),
        ("alice@example.com", Channel.USER, "not an app user name"),
        ("a" * 51, Channel.USER, "at most 50"),
    ],
)
def test_refused_destinations(text: str, channel: Channel, says: str) -> None:
    with pytest.raises(Refusal) as refused:
        parse_destination(text, channel, default_region="US")
    assert says in refused.value.text
    assert refused.value.field == "destination"


def test_destination_country_must_be_allowed() -> None:
    with pytest.raises(Refusal, match="Calls to GB are not allowed here"):
        parse_destination("+442079460000", Channel.WHATSAPP, default_region="US", allowed_regions=frozenset({"US"}))


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
    assert "`email` is not a way callbot can call" in refused.value.text and "via whatsapp" in refused.value.text
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
    assert says in refused.value.text
    assert refused.value.field == "duration"
