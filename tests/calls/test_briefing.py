"""What the brief tells the agent beyond the call: the disclosure said first, and the answering-machine model."""

from __future__ import annotations

import pytest

from bot.calls.briefing import DEFAULT_DISCLOSURE, amd_model, check_template, disclosure
from bot.calls.models import AtVoicemail, CallRequest, Channel, Origin
from bot.calls.vetting import at_voicemail
from bot.errors import Refusal
from bot.settings import Settings

ORIGIN = Origin(team_id="T0", user_id="U0ANA", conversation_id="C0")


def request(destination: str = "+14155550100", **fields: object) -> CallRequest:
    values: dict[str, object] = {"caller_id": "+14155550123", "max_duration_s": 600, "origin": ORIGIN, **fields}
    return CallRequest(destination=destination, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("destination", "model"),
    [
        ("+14155550100", "US"),  # United States
        ("+5511987654321", "BR"),  # Brazil
        ("+525512345678", "MX"),  # Mexico
        ("+573001234567", "CO"),  # Colombia
        ("+77012345678", "KZ"),  # Kazakhstan shares +7 with Russia: the number's region decides
        ("+79161234567", "RU"),
        ("+447700900123", "EU_GENERAL"),  # no model of its own
        ("+4930123456", "EU_GENERAL"),
        ("+16045550100", "EU_GENERAL"),  # Canada shares +1 with the US, not its model
    ],
)
def test_the_amd_model_follows_the_destination_country(destination: str, model: str) -> None:
    assert amd_model(request(destination)) == model


def test_only_phone_calls_get_answering_machine_detection() -> None:
    assert amd_model(request("sip:desk@pbx.example.com", channel=Channel.SIP)) is None
    assert amd_model(request("+14155550100", channel=Channel.WHATSAPP)) is None


def test_the_disclosure_names_the_requester_and_says_when_the_call_is_recorded() -> None:
    assert disclosure("", request(requester_name="ana")) == "Hello, this is an automated assistant calling for ana."
    assert disclosure(DEFAULT_DISCLOSURE, request()) == "Hello, this is an automated assistant calling for a colleague."
    recorded = disclosure("Acme's assistant for {requester}.", request(requester_name="ravi", record=True))
    assert recorded == "Acme's assistant for ravi. This call is recorded."


def test_a_disclosure_template_takes_only_the_requester_placeholder() -> None:
    assert check_template(DEFAULT_DISCLOSURE) is None
    assert check_template("  ") == "must not be empty"
    assert check_template("Hi from {workspace}") == "may contain only the placeholder {requester}"
    assert check_template("x" * 301) == "is 301 characters; at most 300"
    with pytest.raises(ValueError, match=r"call_disclosure"):
        Settings(_env_file=None, call_disclosure="Hi {0}")  # type: ignore[call-arg]


def test_recording_is_off_unless_an_admin_turns_it_on() -> None:
    assert Settings(_env_file=None).recording_enabled is False  # type: ignore[call-arg]
    assert request().record is False and request().voicemail is AtVoicemail.LEAVE


@pytest.mark.parametrize(
    ("typed", "choice"),
    [(None, AtVoicemail.LEAVE), ("leave", AtVoicemail.LEAVE), ("Hang  Up", AtVoicemail.HANG_UP),
     ("hang_up", AtVoicemail.HANG_UP), ("hangup", AtVoicemail.HANG_UP)],
)  # fmt: skip
def test_voicemail_choices(typed: str | None, choice: AtVoicemail) -> None:
    assert at_voicemail(typed) is choice


def test_an_unknown_voicemail_choice_is_refused_under_its_field() -> None:
    with pytest.raises(Refusal) as refused:
        at_voicemail("shout")
    assert refused.value.field == "voicemail"
