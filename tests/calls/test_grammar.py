"""The `/call` grammar: what each kind of text parses to, and that no text at all crashes the path to a request."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.calls.grammar import CallDraft, parse_command, readable
from bot.calls.models import CallRequest, Channel, Origin
from bot.calls.policy import CallPolicy
from bot.calls.service import CallService
from bot.errors import Refusal
from bot.slack.texts import refusal as words
from bot.store import Store
from bot.voximplant import ApiKeyAuth, VoximplantClient


def full_width(text: str) -> str:
    """`text` in full-width forms (as East Asian input methods type it); spaces stay."""
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


def draft(
    destination: str | None,
    instructions: str = "",
    *,
    caller_id: str | None = None,
    channel: str | None = None,
    duration: str | None = None,
    readings: tuple[str, ...] = (),
    caller_id_readings: tuple[str, ...] = (),
    voicemail: str | None = None,
    record: bool = False,
) -> CallDraft:
    return CallDraft(
        destination, caller_id, instructions, channel=channel, duration=duration, destination_readings=readings,
        caller_id_readings=caller_id_readings, voicemail=voicemail, record=record,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # phone numbers as people type them
        ("+14155550100 say hi", draft("+14155550100", "say hi")),
        ("+1 (415) 555-0100 remind Ana", draft("+1 (415) 555-0100", "remind Ana")),
        ("415-555-0100 hello", draft("415-555-0100", "hello")),
        ("(415) 555 0100", draft("(415) 555 0100")),
        ("00 44 20 7946 0000 confirm Friday", draft("00 44 20 7946 0000", "confirm Friday")),
        ("+14155550100 call back 2 times", draft("+14155550100", "call back 2 times")),
        ("12ab34 hello", draft("12ab34", "hello")),
        # Slack's escaped links
        ("<tel:+14155550100|+1 415-555-0100> hello", draft("+14155550100", "hello")),
        ("<tel:+14155550100> hello", draft("+14155550100", "hello")),
        ("<sip:desk@pbx.example.com> check the line", draft("sip:desk@pbx.example.com", "check the line")),
        ("<sip:desk@pbx.example.com|desk> hi", draft("sip:desk@pbx.example.com", "hi")),
        ("<mailto:alice@example.com|alice@example.com> hi", draft("alice@example.com", "hi")),
        ("sip:<mailto:alice@example.com|alice@example.com> hi", draft("sip:alice@example.com", "hi")),
        # SIP and app users
        ("sip:desk@pbx.example.com:5060 hi", draft("sip:desk@pbx.example.com:5060", "hi")),
        ("sips:desk@pbx.example.com, hi", draft("sips:desk@pbx.example.com", "hi")),
        ("alice@example.com hi", draft("alice@example.com", "hi")),
        ("alice via user say the build is green", draft("alice", "say the build is green", channel="user")),
        ("alice via app hi", draft("alice", "hi", channel="app")),
        # options, in any order, each once
        ("+14155550100 from +14155550123 hi", draft("+14155550100", "hi", caller_id="+14155550123")),
        ("+14155550100 from 415 555 0123 hi", draft("+14155550100", "hi", caller_id="415 555 0123")),
        ("+14155550100 via whatsapp hi", draft("+14155550100", "hi", channel="whatsapp")),
        ("+14155550100 via SIP: hi", draft("+14155550100", "hi", channel="SIP")),
        ("+14155550100 for 5m hi", draft("+14155550100", "hi", duration="5m")),
        ("+14155550100 for 10 min, hi", draft("+14155550100", "hi", duration="10 min")),
        ("+14155550100 for 1h hi", draft("+14155550100", "hi", duration="1h")),
        (
            "415-555-0100 for 5m via phone from +14155550123 ask about the invoice",
            draft("415-555-0100", "ask about the invoice", caller_id="+14155550123", channel="phone", duration="5m"),
        ),
        ("+14155550100 for 5m for 6m hi", draft("+14155550100", "for 6m hi", duration="5m")),
        # what to do at a voicemail greeting, and recording (issue 15)
        ("+14155550100 voicemail: hang up say hi", draft("+14155550100", "say hi", voicemail="hang up")),
        ("+14155550100 voicemail: leave say hi", draft("+14155550100", "say hi", voicemail="leave")),
        ("+14155550100 voicemail hangup, hi", draft("+14155550100", "hi", voicemail="hangup")),
        ("+14155550100 record hi", draft("+14155550100", "hi", record=True)),
        (
            "+14155550100 record voicemail: Hang Up for 5m tell Ana",
            draft("+14155550100", "tell Ana", voicemail="hang up", record=True, duration="5m"),
        ),
        ("+14155550100 voicemail: shout hi", draft("+14155550100", "hi", voicemail="shout")),  # refused by vet
        ("+14155550100 hi, record the answer", draft("+14155550100", "hi, record the answer")),
        ("record voicemail: leave say hi", draft(None, "say hi", voicemail="leave", record=True)),
        ("voicemail: is full, tell them", draft(None, "voicemail: is full, tell them")),
        # words that only look like options stay in the instructions
        ("+14155550100 for Ana: the review moved", draft("+14155550100", "for Ana: the review moved")),
        ("+14155550100 for 2 reasons", draft("+14155550100", "for 2 reasons")),
        ("+14155550100 tell her from now on", draft("+14155550100", "tell her from now on")),
        # right after a destination, `from` and `via` are options even when their value is wrong (refused later)
        ("+14155550100 from nowhere hi", draft("+14155550100", "hi", caller_id="nowhere")),
        ("+14155550100 via email hi", draft("+14155550100", "hi", channel="email")),
        # no destination: the form opens with what reads well
        ("", draft(None)),
        ("say hello to Ana", draft(None, "say hello to Ana")),
        ("from +14155550123 for 5m say hi", draft(None, "say hi", caller_id="+14155550123", duration="5m")),
        ("via sip hi", draft(None, "hi", channel="sip")),
        ("from accounting: tell them", draft(None, "from accounting: tell them")),
        ("via the front desk", draft(None, "via the front desk")),
        # Slack's escapes inside the instructions read as typed
        (
            "+14155550100 tell &lt;Ana&gt; about <#C0123|general> &amp; <https://x.example/doc|the doc> <!here>",
            draft("+14155550100", "tell <Ana> about #general & the doc @here"),
        ),
        ("+14155550100 line one\nline two", draft("+14155550100", "line one\nline two")),
    ],
)
def test_grammar(text: str, expected: CallDraft) -> None:
    assert parse_command(text, "US") == expected


# Where a number ends, in numbering plans whose numbers have no fixed length (DE, AT, IT) and in one that has (US).
@pytest.mark.parametrize(
    ("region", "text", "expected"),
    [
        # instructions that start with a number: both readings are valid numbers, so the draft keeps both
        ("DE", "+49 30 123456 2 Termine absagen",
         draft("+49 30 123456 2", "Termine absagen", readings=("+4930123456", "+49301234562"))),
        ("DE", "030 123456 12 Leute kommen",
         draft("030 123456 12", "Leute kommen", readings=("+4930123456", "+493012345612"))),
        ("AT", "+43 1 234567 89 Personen",
         draft("+43 1 234567 89", "Personen", readings=("+431234567", "+43123456789"))),
        ("IT", "+39 06 1234 5678 2 persone",
         draft("+39 06 1234 5678 2", "persone", readings=("+39061234", "+390612345678", "+3906123456782"))),
        ("US", "+14155550100 from +49 30 901820 2 Termine",
         draft("+14155550100", "Termine", caller_id="+49 30 901820 2",
               caller_id_readings=("+4930901820", "+49309018202"))),
        # written without spaces, or ended by punctuation, a number reads one way only
        ("DE", "+4930123456 2 Termine absagen", draft("+4930123456", "2 Termine absagen")),
        ("DE", "030-123456 12 Leute kommen", draft("030-123456", "12 Leute kommen")),
        ("DE", "+49 30 123456, 2 Termine", draft("+49 30 123456", "2 Termine")),
        ("DE", "+49 30 123456 Termine absagen", draft("+49 30 123456", "Termine absagen")),
        ("AT", "+431234567 89 Personen", draft("+431234567", "89 Personen")),
        ("IT", "+390612345678 2 persone", draft("+390612345678", "2 persone")),
        ("US", "+1 415 555 0100: say hi", draft("+1 415 555 0100", "say hi")),
        ("US", "+1 415 555 0100. 2 things", draft("+1 415 555 0100", "2 things")),
        ("US", "+1 415 555 0100 2 times", draft("+1 415 555 0100", "2 times")),
        ("US", "415 555 0100 12 reminders", draft("415 555 0100", "12 reminders")),
        # an emergency number before other digits is taken alone, so the refusal names it
        ("DE", "112 3 Verletzte", draft("112", "3 Verletzte")),
        ("AT", "133 2 Einbrecher", draft("133", "2 Einbrecher")),
        # ...but a trunk prefix and area code that happen to be one is the start of a number
        ("AU", "08 8123 4567 hi", draft("08 8123 4567", "hi")),
        # full-width and other look-alike digits and words read as what they look like; instructions stay as typed
        ("US", full_width("+1 911") + " help", draft("+1 911", "help")),
        ("US", full_width("+1 415 555 0100 via whatsapp hi"),
         draft("+1 415 555 0100", full_width("hi"), channel="whatsapp")),
    ],
)  # fmt: skip
def test_where_a_number_ends(region: str, text: str, expected: CallDraft) -> None:
    assert parse_command(text, region) == expected


def test_readable_keeps_plain_text() -> None:
    assert readable("a < b and c > d") == "a < b and c > d"


def test_readable_names_people_and_groups() -> None:
    typed = "ask <@U0ANA|ana> and <!subteam^S0OPS|@oncall>, not <@U0BOB>"
    assert readable(typed) == "ask @ana and @oncall, not <@U0BOB>"


# -- no text crashes it -------------------------------------------------------------------------------------------

_FRAGMENTS = [
    "+1", "(415)", "555-0100", "+14155550100", "415-555-0100", "00", "44", "20", "7946", "0000", "011", "911",
    "+44 999", "112", "+1900", "from", "via", "for", "5m", "10", "min", "1h", "0m", "99999m", "phone", "sip", "user",
    "app", "whatsapp", "email", "sip:", "sip:a@b.example", "sips:x@[::1]:5060", "sip:911@gw.example", "a@b.example",
    "alice", "<tel:+14155550100|x>", "<tel:>", "<sip:a@b>", "<mailto:a@b.example|a>", "<@U0ANA>", "<#C1|c>",
    "<!here>", "&lt;", "&amp;", "&", "<", ">", "|", "@", ":", ",", "\n", "\t", "(", ")", "-", ".", "\u0663",
    "\uff0b", "x" * 300,
]  # fmt: skip
_DESTINATIONS = [
    "+14155550100", "+1 (415) 555-0100", "415-555-0100", "00 44 20 7946 0000", "911", "+1 900 555 0100", "5550100",
    "sip:desk@pbx.example.com", "<sip:desk@pbx.example.com>", "sip:911@gw.example", "sip:bad", "alice", "a b",
    "<tel:+14155550100|x>", "alice@example.com", "@alice", "+4915123456789",
]  # fmt: skip
_OPTIONS = [
    "from +14155550123", "from +14155550999", "from nowhere", "via phone", "via sip", "via user", "via whatsapp",
    "via email", "for 5m", "for 0m", "for 11m", "for 2h", "for 10 min",
]  # fmt: skip
_SHAPED = st.tuples(
    st.sampled_from(_DESTINATIONS), st.lists(st.sampled_from(_OPTIONS), max_size=3), st.text(max_size=40)
).map(lambda parts: " ".join([parts[0], *parts[1], parts[2]]))
TEXTS = st.one_of(
    st.text(max_size=400), st.lists(st.sampled_from(_FRAGMENTS), max_size=12).map(" ".join), _SHAPED, _SHAPED
)


class _Vetting:
    """The real Vetting.vet over a real SQLite store, on one event loop for all examples."""

    def __init__(self, directory: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.store = self.loop.run_until_complete(Store.open(directory / "callbot.db"))
        self.loop.run_until_complete(
            self.store.add_caller_id(
                "+14155550123", label="Support", channels=frozenset(Channel), added_by="test", at=datetime.now(UTC)
            )
        )
        self.http = httpx.AsyncClient()
        client = VoximplantClient(self.http, base_url="http://127.0.0.1:9/", auth=ApiKeyAuth("1", "key"))
        policy = CallPolicy(
            default_region="US", allowed_countries=frozenset(), default_caller_id=None, max_duration_s=600,
            rule_id=1, public_base_url="http://127.0.0.1:9",
        )  # fmt: skip
        self.service = CallService(self.store, client, policy)
        self.origin = Origin(team_id="T0", user_id="U0ANA", conversation_id="C0GENERAL")

    def vet(self, text: str) -> CallRequest:
        return self.loop.run_until_complete(self.service.vetting.vet(parse_command(text, "US"), self.origin))

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.loop.run_until_complete(self.store.close())
        self.loop.close()


@pytest.fixture(scope="module")
def vetting() -> Iterator[_Vetting]:
    with tempfile.TemporaryDirectory() as directory:
        vetting = _Vetting(Path(directory))
        yield vetting
        vetting.close()


@settings(
    max_examples=400, derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(text=TEXTS)
def test_every_text_gives_a_request_or_a_refusal_with_a_message(vetting: _Vetting, text: str) -> None:
    draft = parse_command(text, "US")
    assert isinstance(draft, CallDraft)
    if draft.destination is None:
        return  # the form opens instead; its submission goes through the same vet
    try:
        request = vetting.vet(text)
    except Refusal as refusal:
        assert words(refusal).strip(), f"empty refusal for {text!r}"
        assert refusal.field in {None, "destination", "caller_id", "channel", "duration", "instructions"}
        return
    assert 60 <= request.max_duration_s <= 600
    if request.channel in (Channel.PSTN, Channel.WHATSAPP):
        assert request.destination.startswith("+") and request.destination[1:].isdigit()
    elif request.channel is Channel.SIP:
        assert request.destination.startswith(("sip:", "sips:")) and "@" in request.destination
    else:
        assert request.destination and not any(ch.isspace() for ch in request.destination)
