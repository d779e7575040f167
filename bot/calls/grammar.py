"""The `/call` text, as people type it.

    /call <destination> [from <caller id>] [via phone|sip|user|whatsapp] [for <minutes>m] [instructions…]

The options follow the destination in any order, each once; everything after them is the agent's instructions.
A destination is a phone number in any common form (`+1 (415) 555-0100`, `415-555-0100`, `00 44 20 7946 0000`),
a SIP address (`sip:alice@example.com`, or `alice@example.com`), or, with `via user`, an app user name. Slack's
escaped forms (`<tel:+1…|…>`, `<sip:…>`, `<mailto:…|…>`) are read as what was typed. Without a destination, the
options may lead (`/call from +1… say hi`): the form then opens with them filled in.

Parsing never raises and checks nothing: `CallService.vet` checks every part and refuses with a reason.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import phonenumbers

from bot.calls.destinations import CHANNEL_WORDS
from bot.calls.numbers import international_form

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
    """What a person asked for, before any of it is checked; `channel` and `duration` are the words as typed."""

    destination: str | None
    caller_id: str | None
    instructions: str
    channel: str | None = None
    duration: str | None = None


@dataclass(frozen=True, slots=True)
class _Options:
    caller_id: str | None = None
    channel: str | None = None
    duration: str | None = None


def parse_command(text: str, default_region: str) -> CallDraft:
    """Split `/call` text into its parts; never raises: checks come later."""
    rest = readable(text).strip()
    destination, after = _take_destination(rest, default_region)
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


def _take_destination(text: str, default_region: str) -> tuple[str | None, str]:
    first, after = _first_word(text)
    if first is not None and (first.lower().startswith(("sip:", "sips:")) or _EMAIL_LIKE.fullmatch(first)):
        return first.rstrip(_TRAILING_PUNCT), after
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
            number, rest = _take_number(after, default_region)
            if number is None and strict:
                break
            if number is None:
                number, rest = _first_word(after)
            if number is None or (strict and not _reads_as_number(number, default_region)):
                break
            options, text = _Options(number.rstrip(_TRAILING_PUNCT), options.channel, options.duration), rest
        elif keyword == "via" and options.channel is None:
            word, rest = _first_word(after)
            if word is None:
                break
            word = word.rstrip(_TRAILING_PUNCT)
            if strict and word.lower() not in CHANNEL_WORDS:
                break
            options, text = _Options(options.caller_id, word, options.duration), rest
        elif keyword == "for" and options.duration is None:
            found = _DURATION_WORDS.match(after.lstrip())
            if found is None:
                break
            rest = after.lstrip()[found.end() :]
            options, text = _Options(options.caller_id, options.channel, found.group("value")), rest
        else:
            break
    return options, text


def _take_number(text: str, default_region: str) -> tuple[str | None, str]:
    """The longest leading run of words that reads as a phone number, and the text after it.

    When no run reads as one, all the leading number-like words are taken, so the refusal quotes what was typed;
    a first word that mixes digits and letters (`12ab34`) is taken whole for the same reason.
    """
    words: list[str] = []
    for word in text.split():
        if not _NUMBER_WORD.fullmatch(word):
            break
        words.append(word)
    if not words:
        first = text.split(None, 1)
        if first and any(ch.isdigit() for ch in first[0]) and first[0][0] in "+0123456789(":
            return first[0], _drop_words(text, 1)
        return None, text
    for count in range(len(words), 0, -1):
        candidate = " ".join(words[:count])
        if _reads_as_number(candidate, default_region):
            return candidate, _drop_words(text, count)
    return " ".join(words), _drop_words(text, len(words))


def _reads_as_number(candidate: str, default_region: str) -> bool:
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(international_form(candidate), default_region))
    except phonenumbers.NumberParseException:
        return False


def _first_word(text: str) -> tuple[str | None, str]:
    parts = text.split(None, 1)
    return (parts[0], parts[1] if len(parts) > 1 else "") if parts else (None, text)


def _drop_words(text: str, count: int) -> str:
    remaining = text.lstrip()
    for _ in range(count):
        parts = remaining.split(None, 1)
        remaining = parts[1] if len(parts) > 1 else ""
    return remaining
