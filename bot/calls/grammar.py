"""The `/call` text, as people type it.

    /call <destination> [from <caller id>] [via phone|sip|user|whatsapp] [for <minutes>m]
          [voicemail: leave|hang up] [record] [at 15:30 | tomorrow at 9am | in 20m] [retry 2 every 10m]
          [instructions…]

The options follow the destination in any order, each once; everything after them is the agent's instructions.
A destination is a phone number in any common form (`+1 (415) 555-0100`, `415-555-0100`, `00 44 20 7946 0000`),
a SIP address (`sip:alice@example.com`, or `alice@example.com`), or, with `via user`, an app user name. Slack's
escaped forms (`<tel:+1…|…>`, `<sip:…>`, `<mailto:…|…>`) are read as what was typed. Without a destination, the
options may lead (`/call from +1… say hi`): the form then opens with them filled in.

A number may be typed with spaces, so where it ends is read from its digits: the run of leading words that forms a
valid number. When more than one valid number can be formed (`+49 30 123456 2 Termine`: +49 30 123456, or
+49 30 1234562?), the draft keeps every reading and the request is refused, asking for the number without spaces.
A comma, colon, semicolon or full stop ends a number (`+1 415 555 0100: say hi`). Destination and option words are
read after Unicode normalisation (NFKC: full-width `+1 911` is `+1 911`); the instructions are kept as typed.

Parsing never raises and checks nothing: `Vetting.vet` checks every part and refuses with a reason.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace

import phonenumbers
from phonenumbers import PhoneNumberFormat

from bot.calls.destinations import CHANNEL_WORDS
from bot.calls.numbers import international_form, is_emergency_number, normalise
from bot.calls.when import AT_WORDS, RETRY_WORDS, SPAN_WORDS

# Slack rewrites links in command text when "escape" is on: <tel:+14155550100|+1 415…>, <mailto:a@b|a@b>.
_SLACK_LINK = re.compile(r"<(tel|sips?|mailto):([^|>]*)(?:\|[^>]*)?>", re.IGNORECASE)
_SLACK_CHANNEL = re.compile(r"<#[A-Z0-9]+\|([^>]*)>")
_SLACK_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
_SLACK_NAMED = re.compile(r"<(?:@[UW]|!subteam\^)[A-Z0-9]+\|@?([^>]*)>")  # <@U123|ana>, <!subteam^S1|@oncall>
_SLACK_URL = re.compile(r"<((?:https?|ftp)://[^|>]*)(?:\|([^>]*))?>")
_NUMBER_WORD = re.compile(r"\+?[\d()][\d()\-.]*")
_EMAIL_LIKE = re.compile(r"[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+")
_DURATION_WORDS = re.compile(
    r"(?P<value>\d{1,4}\s*(?:m|min|mins|minutes?|h|hr|hrs|hours?))(?=\s|$|[,.;:])(?P<punct>[,.;:]?)", re.IGNORECASE
)
_TRAILING_PUNCT = ",.;:"


@dataclass(frozen=True, slots=True)
class CallDraft:
    """What a person asked for, before any of it is checked; `channel` and `duration` are the words as typed.

    `destination_readings` and `caller_id_readings` hold the numbers (E.164) that words typed with spaces could
    be, when there is more than one; empty when the words read one way only.
    """

    destination: str | None
    caller_id: str | None
    instructions: str
    channel: str | None = None
    duration: str | None = None
    destination_readings: tuple[str, ...] = ()
    caller_id_readings: tuple[str, ...] = ()
    after_hours_reason: str | None = None  # the form's: an admin's reason to call outside calling hours
    voicemail: str | None = None  # what to do at a voicemail greeting, as typed (`leave`, `hang up`)
    record: bool = False  # `record` was asked for
    when: str | None = None  # when to ring, as typed (`at 15:30`, `in 20m`): bot/calls/when.py reads it
    retry: str | None = None  # the words after `retry` (`2 every 10m`)


@dataclass(frozen=True, slots=True)
class _Number:
    """Number words taken from the start of a text: as typed, the rest of the text, and the readings if ambiguous."""

    typed: str | None
    rest: str
    readings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Options:
    caller_id: str | None = None
    channel: str | None = None
    duration: str | None = None
    caller_id_readings: tuple[str, ...] = ()
    voicemail: str | None = None
    record: bool = False
    when: str | None = None
    retry: str | None = None


def parse_command(text: str, default_region: str) -> CallDraft:
    """Split `/call` text into its parts; never raises: checks come later."""
    rest = readable(text).strip()
    taken = _take_destination(rest, default_region)
    destination, after = taken.typed, taken.rest
    if destination is not None:
        options, instructions = _take_options(after, default_region, strict=False)
    else:
        # "/call alice via user hi": a first word followed by an explicit channel is the destination.
        first, after_first = _first_word(rest)
        options, instructions = _take_options(after_first, default_region, strict=False)
        if first is not None and options.channel is not None and options.channel.lower() in CHANNEL_WORDS:
            destination = first
        else:
            options, instructions = _take_options(rest, default_region, strict=True)
    return CallDraft(
        destination=destination,
        caller_id=options.caller_id,
        instructions=instructions.strip(),
        channel=options.channel,
        duration=options.duration,
        destination_readings=taken.readings,
        caller_id_readings=options.caller_id_readings,
        voicemail=options.voicemail,
        record=options.record,
        when=options.when,
        retry=options.retry,
    )


def readable(text: str) -> str:
    """Slack's escaped command text as the person typed it: links unwrapped, `&lt;` `&gt;` `&amp;` decoded."""
    text = _SLACK_LINK.sub(_unwrap_link, text)
    text = _SLACK_CHANNEL.sub(lambda m: f"#{m.group(1)}", text)
    text = _SLACK_SPECIAL.sub(lambda m: f"@{m.group(1)}", text)
    text = _SLACK_NAMED.sub(lambda m: f"@{m.group(1)}", text)
    text = _SLACK_URL.sub(lambda m: m.group(2) or m.group(1), text)
    return html.unescape(text) if "&" in text else text


def _unwrap_link(found: re.Match[str]) -> str:
    scheme, target = found.group(1).lower(), found.group(2)
    return f"{scheme}:{target}" if scheme.startswith("sip") else target


def _take_destination(text: str, default_region: str) -> _Number:
    first, after = _first_word(text)
    if first is not None and (first.lower().startswith(("sip:", "sips:")) or _EMAIL_LIKE.fullmatch(first)):
        return _Number(first.rstrip(_TRAILING_PUNCT), after)
    return _take_number(text, default_region)


def _take_options(text: str, default_region: str, *, strict: bool) -> tuple[_Options, str]:
    """The options at the start of `text` and what follows them.

    Right after a destination, `from` and `via` always start options, so a mistyped value is refused rather than
    read as instructions. Without a destination (`strict`), they count only when their value reads well. `for`
    counts only with a unit (`for 5m`, `for 5 min`): "for Ana" stays in the instructions.
    """
    options = _Options()
    while True:
        keyword, after = _first_word(text)
        keyword = (keyword or "").lower()
        if keyword == "from" and options.caller_id is None:
            taken = _take_number(after, default_region)
            number, rest = taken.typed, taken.rest
            if number is None and strict:
                break
            if number is None:
                number, rest = _first_word(after)
            if number is None or (strict and not _reads_as_number(number, default_region)):
                break
            options, text = replace(options, caller_id=number.rstrip(_TRAILING_PUNCT),
                                    caller_id_readings=taken.readings), rest  # fmt: skip
        elif keyword == "via" and options.channel is None:
            word, rest = _first_word(after)
            if word is None:
                break
            word = word.rstrip(_TRAILING_PUNCT)
            if strict and word.lower() not in CHANNEL_WORDS:
                break
            options, text = replace(options, channel=word), rest
        elif keyword.startswith("voicemail") and keyword.rstrip(":") == "voicemail" and options.voicemail is None:
            choice, rest = _voicemail_choice(after)
            if choice is None or (strict and choice not in VOICEMAIL_WORDS):
                break
            options, text = replace(options, voicemail=choice), rest
        elif keyword == "record" and not options.record:
            options, text = replace(options, record=True), after
        elif keyword == "for" and options.duration is None:
            found = _DURATION_WORDS.match(after.lstrip())
            if found is None:
                break
            rest = after.lstrip()[found.end() :]
            options, text = replace(options, duration=found.group("value")), rest
        elif keyword in {"at", "in", "tomorrow"} and options.when is None:
            when, rest = _when(keyword, after)
            if when is None:
                break
            options, text = replace(options, when=when), rest
        elif keyword == "retry" and options.retry is None:
            found = RETRY_WORDS.match(after.lstrip())
            if found is None:
                break
            options, text = replace(options, retry=found.group("value")), after.lstrip()[found.end() :]
        else:
            break
    return options, text


def _when(keyword: str, after: str) -> tuple[str | None, str]:
    """`at 15:30`, `tomorrow at 9am`, `in 20m`: the words as typed and the text after them; None when the words
    after the keyword are no time (`in English`, `at once` stay in the instructions)."""
    if keyword == "tomorrow":
        at, rest = _first_word(after)
        if at is None or at.lower() != "at":
            return None, after
        when, rest = _when("at", rest)
        return (f"tomorrow {when}", rest) if when is not None else (None, after)
    found = (AT_WORDS if keyword == "at" else SPAN_WORDS).match(after.lstrip())
    if found is None:
        return None, after
    return f"{keyword} {found.group('value')}", after.lstrip()[found.end() :]


# What `voicemail:` takes: leave a message (the default), or hang up without one.
VOICEMAIL_WORDS = {
    "leave": "leave", "hang up": "hang_up", "hang-up": "hang_up", "hangup": "hang_up", "hang_up": "hang_up",
}  # fmt: skip


def _voicemail_choice(text: str) -> tuple[str | None, str]:
    """The words after `voicemail:` (`leave`, `hang up`), lowercased, and the text after them; None when none."""
    word, rest = _first_word(text)
    if word is None:
        return None, text
    word = word.lower().rstrip(_TRAILING_PUNCT)
    if word == "hang":
        second, after = _first_word(rest)
        if second is not None and second.lower().rstrip(_TRAILING_PUNCT) == "up":
            return "hang up", after
    return word, rest


def _take_number(text: str, default_region: str) -> _Number:
    """The leading words that read as a phone number, the text after them, and its readings when ambiguous.

    In order: a first word that is a whole valid number on its own (typed without spaces) is taken alone; the
    shortest run that is an emergency number (so the refusal names it), unless it is the trunk prefix and area
    code of a longer number (`08 8123 4567` in Australia); the longest run that is a valid number, with every
    other valid number the runs form as its rival readings; else the longest run that is merely possible; else
    all the number-like words, so the refusal quotes what was typed. A first word that mixes digits and letters
    (`12ab34`) is taken whole for the same reason.
    """
    words = _number_words(text)
    if not words:
        first = _first_word(text)[0]
        if first and any(ch.isdigit() for ch in first) and first[0] in "+0123456789(":
            return _Number(first, _drop_words(text, 1))
        return _Number(None, text)
    runs = [" ".join(words[:count]) for count in range(1, len(words) + 1)]

    def taken(count: int, readings: tuple[str, ...] = ()) -> _Number:
        return _Number(runs[count - 1], _drop_words(text, count), readings)

    if _valid_number(runs[0], default_region) is not None:
        return taken(1)
    emergency = next((n for n, run in enumerate(runs, 1) if is_emergency_number(run, default_region)), None)
    if emergency is not None and not _starts_with_trunk_prefix(runs[emergency - 1], default_region):
        return taken(emergency)
    valid = [(count, e164) for count, run in enumerate(runs, 1) if (e164 := _valid_number(run, default_region))]
    if valid:
        readings = tuple(dict.fromkeys(e164 for _, e164 in valid))
        return taken(valid[-1][0], readings if len(readings) > 1 else ())
    if emergency is not None:
        return taken(emergency)
    for count in range(len(runs), 0, -1):
        if _reads_as_number(runs[count - 1], default_region):
            return taken(count)
    return taken(len(runs))


def _number_words(text: str) -> list[str]:
    """The leading number-like words, normalised; a word ending in `,` `:` `;` or `.` is the last one."""
    words: list[str] = []
    for raw in text.split():
        word = normalise(raw)
        bare = word.rstrip(_TRAILING_PUNCT)
        if not _NUMBER_WORD.fullmatch(bare):
            break
        words.append(bare)
        if bare != word:
            break
    return words


def _valid_number(candidate: str, default_region: str) -> str | None:
    try:
        number = phonenumbers.parse(international_form(candidate), default_region)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164) if phonenumbers.is_valid_number(number) else None


def _starts_with_trunk_prefix(candidate: str, default_region: str) -> bool:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(default_region)
    prefix = metadata.national_prefix if metadata else None
    return prefix is not None and prefix != "" and international_form(candidate).startswith(prefix)


def _reads_as_number(candidate: str, default_region: str) -> bool:
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(international_form(candidate), default_region))
    except phonenumbers.NumberParseException:
        return False


def _first_word(text: str) -> tuple[str | None, str]:
    """The first word, normalised (full-width `via` is `via`), and the rest of the text as typed."""
    parts = text.split(None, 1)
    return (normalise(parts[0]), parts[1] if len(parts) > 1 else "") if parts else (None, text)


def _drop_words(text: str, count: int) -> str:
    remaining = text.lstrip()
    for _ in range(count):
        parts = remaining.split(None, 1)
        remaining = parts[1] if len(parts) > 1 else ""
    return remaining
