"""The `/call` text: `<destination> [from <caller id>] [instructions…]`, as people type it."""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from bot.calls.numbers import international_form

# Slack rewrites links in command text when "escape" is on: <tel:+14155550100|+1 415…>, <mailto:a@b|a@b>.
_SLACK_LINK = re.compile(r"<(?:tel|sip|mailto):([^|>]+)(?:\|[^>]*)?>")
_NUMBER_WORD = re.compile(r"\+?[\d()][\d()\-.]*")
_FROM = re.compile(r"\s*from\s+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CallDraft:
    """What a person asked for, before any of it is checked."""

    destination: str | None
    caller_id: str | None
    instructions: str


def parse_command(text: str, default_region: str) -> CallDraft:
    """Split `/call` text into its parts; never raises: checks come later."""
    rest = _SLACK_LINK.sub(lambda m: m.group(1), text).strip()
    destination, rest = _take_number(rest, default_region)
    caller_id = None
    if destination is not None and (found := _FROM.match(rest)):
        # Right after the destination, "from" always names the caller ID, even when what follows is no number.
        tail = rest[found.end() :]
        caller_id, rest = _take_number(tail, default_region)
        if caller_id is None:
            caller_id, rest = _first_word(tail)
    return CallDraft(destination=destination, caller_id=caller_id, instructions=rest.strip())


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
