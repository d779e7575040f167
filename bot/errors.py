"""Errors callbot raises on purpose.

    CallbotError
    ├── ConfigError          settings are missing or contradict each other; the start stops
    ├── Refusal              a request we will not carry out: a code (bot/calls/refusals.py) and its facts
    │   ├── LimitReached     a call limit holds; says when the next call will be allowed
    │   └── Refusals         several at once, one per field, for a form to show each under its input
    ├── DirectoryError       Slack could not say who is an admin or who is in a channel or user group
    ├── BadToken             a status event or brief request whose token opens nothing
    │   └── UnknownCall      a status event for a call we do not know (it reads as a bad token)
    ├── BriefWithheld        the brief token is right, but the brief is not given (the call is over, the token spent)
    ├── StoreUnavailable     the database cannot be opened or written (a full disk, a held lock, a bad path);
    │                        defined in bot/store/errors.py
    ├── VoximplantError      the Management API said no, or could not be asked
    │   └── VoximplantUnreachable   the request never left this machine, so retrying it is safe
    └── WriteUpFailed        OpenAI gave no written summary (a code saying why); defined in bot/summaries/__init__.py

CallbotError itself is defined in bot/calls/models.py, the domain's leaf module, so the store can reach it.
None of them ever holds a secret: not a token, an API key or a callback token.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from bot.calls.models import CallbotError
from bot.calls.refusals import Why
from bot.store.errors import StoreUnavailable as StoreUnavailable  # re-exported: the store may not import bot.errors


class ConfigError(CallbotError):
    """Settings are missing or contradictory; `problems` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        listing = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"callbot cannot start; fix these settings:\n{listing}")


class Refusal(CallbotError):
    """A request we refuse: `why` is the reason (a code), `facts` the values it names (numbers in E.164, times,
    counts, what was typed). `bot/slack/texts` turns it into words that tell the person what to do instead.

    `field` names the modal input the refusal is about, so a form can show it under that field.
    """

    def __init__(self, why: Why, *, field: str | None = None, **facts: object) -> None:
        super().__init__(why.value)
        self.why = why
        self.field = field
        self.facts = facts

    def __str__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in self.facts.items())
        return f"{self.why.value} ({shown})" if shown else self.why.value


class LimitReached(Refusal):
    """A rate or concurrency limit refuses the call; `retry_at` is when the next one will be allowed (UTC)."""

    def __init__(self, why: Why, *, retry_at: datetime, **facts: object) -> None:
        super().__init__(why, field=None, **facts)
        self.retry_at = retry_at


class DirectoryError(CallbotError):
    """Slack could not answer who someone is or who belongs to a group; `code` is Slack's error code."""

    def __init__(self, code: str) -> None:
        super().__init__(f"Slack could not answer: {code}")
        self.code = code


class BadToken(CallbotError):
    """A status event or brief request whose token opens nothing: wrong, or for a call we do not know (the two read
    the same, so whoever sends them learns nothing about which call ids exist)."""

    def __init__(self) -> None:
        super().__init__("bad token")


class UnknownCall(BadToken):
    """A status event for a call that is not stored (its origin was checked another way: pull mode)."""


class Withheld(StrEnum):
    """Why a brief is not given although its token is right."""

    CALL_OVER = "call_over"  # the call has ended: the scenario must not dial
    TOKEN_SPENT = "token_spent"  # the call reported already, or the token outlived the launch
    NOT_SET_UP = "not_set_up"  # no PUBLIC_BASE_URL (pull mode brings the brief itself)


class BriefWithheld(CallbotError):
    """The brief token is right, but the brief is not given; `why` says why."""

    def __init__(self, why: Withheld) -> None:
        super().__init__(f"brief withheld: {why.value}")
        self.why = why


class VoximplantError(CallbotError):
    """The Management API answered an error, or the request's outcome is unknown.

    `code` is Voximplant's error code (None when it gave none, e.g. a timeout or HTTP 5xx) and `message` its text.
    `may_have_started` is True when the request may have reached Voximplant: a call may be under way.
    """

    def __init__(self, message: str, *, code: int | None = None, may_have_started: bool = False) -> None:
        super().__init__(f"Voximplant error {code}: {message}" if code is not None else message)
        self.code = code
        self.message = message
        self.may_have_started = may_have_started


class VoximplantUnreachable(VoximplantError):
    """The request never reached Voximplant (connection refused, connect or pool timeout)."""


class Refusals(Refusal):
    """Several refusals of one request at once (a form shows each under its field); it reads as the first."""

    def __init__(self, each: list[Refusal]) -> None:
        super().__init__(each[0].why, field=each[0].field, **each[0].facts)
        self.each = each

    def __str__(self) -> str:
        return "; ".join(Refusal.__str__(refusal) for refusal in self.each)
