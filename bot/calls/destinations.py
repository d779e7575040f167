"""Where a call goes, per channel: phone and WhatsApp numbers, SIP URIs, app user names; and how long it may last.

Each function takes what a person typed or picked and returns the form the scenario expects, or raises a Refusal
naming the field it is about.

A SIP address whose user part is a telephone number (`sip:+19005550100@gw.example.com`, `sip:911;phone-context=+1@…`,
or the same percent-encoded) reaches the phone network through that server, so the number is checked exactly as a
phone destination is: emergency, number type, country, and (in `Vetting.vet`) the deny list. A short all-digit
user part with no country (`sip:2001@pbx.example.com`) is an extension of that server: only the emergency check
applies to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

import phonenumbers

from bot.calls.models import Channel
from bot.calls.numbers import CALLABLE_TYPES, normalise, parse_phone_number, refuse_if_emergency
from bot.calls.refusals import Why
from bot.errors import Refusal

# The words people use for each channel, in `/call … via <word>` and in the form's select.
CHANNEL_WORDS: dict[str, Channel] = {
    "phone": Channel.PSTN,
    "pstn": Channel.PSTN,
    "tel": Channel.PSTN,
    "sip": Channel.SIP,
    "user": Channel.USER,
    "app": Channel.USER,
    "whatsapp": Channel.WHATSAPP,
    "wa": Channel.WHATSAPP,
}
MAX_SIP_URI = 256
# RFC 3261 user part (unreserved, escapes and user-unreserved marks) and host (name, IPv4 or [IPv6]), optional
# port and URI parameters. Stricter than the scenario's own check, so what we accept the scenario accepts too.
_SIP_URI = re.compile(
    r"(?P<scheme>sips?):(?P<user>[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+)@"
    r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:.]+\])"
    r"(?::(?P<port>\d{1,5}))?(?P<params>(?:;[A-Za-z0-9\-_.!~*'()%]+(?:=[A-Za-z0-9\-_.!~*'()%\[\]:]+)?)*)",
    re.IGNORECASE,
)
# Voximplant application user names: no spaces, no `@` (the user is called by name within our application).
_USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,49}")
_DURATION = re.compile(r"(?P<amount>\d{1,4})\s*(?P<unit>m|min|mins|minutes?|h|hr|hrs|hours?)?", re.IGNORECASE)
_EMAIL_LIKE = re.compile(r"[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+")
# A user part that a SIP server may dial as a telephone number: digits and no letters (RFC 3966 allows `-.()*#` as
# well; anything else without letters, such as spaces, is read as a number too rather than let through as a name).
_NUMBER_USER = re.compile(r"[^A-Za-z]*\d[^A-Za-z]*")
EXTENSION_DIGITS = 6  # a local user part of at most this many digits is an extension of the SIP server


@dataclass(frozen=True, slots=True)
class SipNumber:
    """The telephone number in a SIP address's user part, and the region to read it in."""

    typed: str
    region: str
    extension: bool  # short, local, no country: a number on that server, not on the phone network


def parse_channel(text: str) -> Channel:
    """A channel word (`phone`, `sip`, `user`, `whatsapp`, or the enum value) as a Channel."""
    word = text.strip().lower()
    channel = CHANNEL_WORDS.get(word)
    if channel is None:
        channel = next((c for c in Channel if c.value == word), None)
    if channel is None:
        raise Refusal(Why.BAD_CHANNEL, field="channel", typed=text)
    return channel


def infer_channel(destination: str) -> Channel:
    """The channel a destination implies when none was said: SIP for `sip:` URIs and `user@host`, else phone."""
    typed = destination.strip()
    if typed.lower().startswith(("sip:", "sips:")) or _EMAIL_LIKE.fullmatch(typed):
        return Channel.SIP
    return Channel.PSTN


def parse_destination(
    text: str,
    channel: Channel,
    *,
    default_region: str,
    allowed_regions: frozenset[str] = frozenset(),
    allowed_types: frozenset[int] = CALLABLE_TYPES,
) -> str:
    """The destination as the scenario expects it for `channel`, or a Refusal saying what is wrong."""
    typed = text.strip()
    if not typed:
        raise Refusal(Why.EMPTY_DESTINATION, field="destination")
    if channel in (Channel.PSTN, Channel.WHATSAPP):
        if channel is Channel.PSTN and infer_channel(typed) is Channel.SIP:
            raise Refusal(Why.SIP_NOT_PHONE, field="destination", typed=typed)
        return parse_phone_number(typed, default_region, allowed_regions=allowed_regions, allowed_types=allowed_types)
    if channel is Channel.SIP:
        return parse_sip_uri(typed, default_region, allowed_regions=allowed_regions, allowed_types=allowed_types)
    return parse_user_name(typed)


def parse_sip_uri(
    text: str,
    default_region: str,
    *,
    allowed_regions: frozenset[str] = frozenset(),
    allowed_types: frozenset[int] = CALLABLE_TYPES,
) -> str:
    """`sip:user@host` (a bare `user@host` gets the `sip:` scheme); a telephone number as its user is vetted."""
    typed = text.strip()
    uri = typed if typed.lower().startswith(("sip:", "sips:")) else f"sip:{typed}"
    found = _SIP_URI.fullmatch(uri) if len(uri) <= MAX_SIP_URI else None
    if found is None:
        raise Refusal(Why.BAD_SIP_URI, field="destination", typed=typed)
    port = found.group("port")
    if port is not None and not 0 < int(port) < 65536:
        raise Refusal(Why.BAD_SIP_PORT, field="destination", typed=typed, port=int(port))
    number = sip_number(uri, default_region)
    if number is not None:
        for region in dict.fromkeys((number.region, default_region)):
            refuse_if_emergency(number.typed, region)
        if not number.extension:
            parse_phone_number(
                number.typed, number.region, allowed_regions=allowed_regions, allowed_types=allowed_types
            )
    return found.group("scheme").lower() + uri[len(found.group("scheme")) :]


def sip_number(uri: str, default_region: str) -> SipNumber | None:
    """The telephone number a SIP URI's user part holds (percent-decoded, cut at `;`), or None for a name.

    `phone-context=+CC` names the number's country; `user=phone` says the user part is a telephone number.
    """
    found = _SIP_URI.fullmatch(uri.strip())
    if found is None:
        return None
    user, *params = normalise(unquote(found.group("user"))).split(";")
    user = user.strip()
    if not _NUMBER_USER.fullmatch(user):
        return None
    region = default_region
    context = next((p.split("=", 1)[1] for p in params if p.lower().startswith("phone-context=")), None)
    if context is not None and context.startswith("+"):
        region = _region_of_prefix(context) or default_region
    uri_params = (found.group("params") or "").lower().split(";")
    phone = context is not None or "user=phone" in uri_params
    digits = re.sub(r"\D", "", user)
    is_global = user.startswith("+") or user.startswith(("00", "011"))
    return SipNumber(user, region, extension=not (phone or is_global) and len(digits) <= EXTENSION_DIGITS)


def dialled_number(destination: str, channel: Channel, default_region: str) -> str | None:
    """The E.164 number a vetted destination reaches on the phone network (for the deny list), if any."""
    if channel in (Channel.PSTN, Channel.WHATSAPP):
        return destination
    if channel is not Channel.SIP:
        return None
    number = sip_number(destination, default_region)
    if number is None or number.extension:
        return None
    try:
        return parse_phone_number(number.typed, number.region)
    except Refusal:
        return None


def _region_of_prefix(context: str) -> str | None:
    """The region of the country code that a `phone-context` global number (`+1`, `+1-212`, `+49`) starts with."""
    digits = re.sub(r"\D", "", context)
    for length in (1, 2, 3):
        region = phonenumbers.region_code_for_country_code(int(digits[:length])) if digits[:length] else "ZZ"
        if region != "ZZ":
            return region
    return None


def parse_user_name(text: str) -> str:
    """An application user name, as VoxEngine's callUser takes it."""
    typed = text.strip().removeprefix("@")
    if not _USER_NAME.fullmatch(typed):
        raise Refusal(Why.BAD_USER_NAME, field="destination", typed=text)
    return typed


def parse_duration(text: str, *, max_s: int) -> int:
    """`5m`, `5 min`, `1h` or a bare number of minutes, as seconds between one minute and `max_s`."""
    found = _DURATION.fullmatch(text.strip())
    if found is None:
        raise Refusal(Why.BAD_DURATION, field="duration", typed=text)
    unit = (found.group("unit") or "m").lower()
    seconds = int(found.group("amount")) * (3600 if unit.startswith("h") else 60)
    if seconds < 60:
        raise Refusal(Why.TOO_SHORT, field="duration")
    if seconds > max_s:
        raise Refusal(Why.TOO_LONG, field="duration", max_s=max_s)
    return seconds
