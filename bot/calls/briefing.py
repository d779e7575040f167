"""What the brief tells the scenario beyond the call itself: the agent's mandatory first words (the disclosure), and
which answering-machine detection model suits the destination.

The disclosure goes in the brief apart from the instructions, and the scenario has the agent say it first, before
anything the instructions ask (scenarios/README.md): rules for automated calls expect the callee to hear who is
calling and that it is an automated agent (in the US the FCC treats AI-generated voices as artificial voices under
the TCPA), so a requester cannot word it away.
"""

from __future__ import annotations

import phonenumbers

from bot.calls.models import CallRequest, Channel
from bot.calls.numbers import region_of

DEFAULT_DISCLOSURE = "Hello, this is an automated assistant calling for {requester}."
RECORDED = "This call is recorded."
PLACEHOLDER = "{requester}"
NOBODY = "a colleague"  # when Slack sent no user name with the request
MAX_DISCLOSURE_CHARS = 300

# Voximplant's answering-machine models by country: AMD.Model in its type declarations (voxengine.d.ts v28:
# BR, CL, CO, KZ, MX, RU, PH, PE, US, and EU_GENERAL, "General European multilingual model"). The scenario takes
# the member's name; any other country gets EU_GENERAL.
AMD_MODELS = frozenset({"BR", "CL", "CO", "KZ", "MX", "RU", "PH", "PE", "US"})
AMD_DEFAULT_MODEL = "EU_GENERAL"


def disclosure(template: str, request: CallRequest) -> str:
    """The agent's first words: the template with the requester's name, and a word that the call is recorded."""
    text = (template.strip() or DEFAULT_DISCLOSURE).replace(PLACEHOLDER, request.requester_name.strip() or NOBODY)
    return f"{text} {RECORDED}" if request.record else text


def check_template(template: str) -> str | None:
    """What is wrong with a CALL_DISCLOSURE template, or None."""
    if not template.strip():
        return "must not be empty"
    if len(template) > MAX_DISCLOSURE_CHARS:
        return f"is {len(template)} characters; at most {MAX_DISCLOSURE_CHARS}"
    leftover = template.replace(PLACEHOLDER, "")
    if "{" in leftover or "}" in leftover:
        return f"may contain only the placeholder {PLACEHOLDER}"
    return None


def amd_model(request: CallRequest) -> str | None:
    """The AMD.Model name for a PSTN call's destination country (EU_GENERAL when Voximplant has none for it); None
    for other channels, which get no answering-machine detection."""
    if request.channel is not Channel.PSTN:
        return None
    try:
        region = region_of(request.destination)
    except phonenumbers.NumberParseException:
        return AMD_DEFAULT_MODEL
    return region if region in AMD_MODELS else AMD_DEFAULT_MODEL
