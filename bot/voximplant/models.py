"""What the Management API answers, as callbot reads it: one pydantic model per result shape."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class StartScenariosResult(BaseModel):
    media_session_access_url: str
    media_session_access_secure_url: str
    call_session_history_id: int


class CallerIdInfo(BaseModel):
    """One entry of GetCallerIDs (Voximplant's CallerIDInfoType)."""

    callerid_id: int
    callerid_number: str
    active: bool
    verified_until: date | None = None
    code_entering_attempts_left: int | None = None
    verification_call_attempts_left: int | None = None

    @field_validator("verified_until", mode="before")
    @classmethod
    def _empty_is_no_date(cls, value: object) -> object:
        """Voximplant may send `verified_until: ""` for a caller ID with no verification date: that is no date."""
        return None if value == "" else value

    @property
    def e164(self) -> str:
        return _e164(self.callerid_number)


class PhoneNumberInfo(BaseModel):
    """One entry of GetPhoneNumbers (Voximplant's AttachedPhoneInfoType), the fields callbot reads.

    `can_be_used`: "Whether a not verified account can use the phone" (AttachedPhoneInfoType,
    voximplant.com/docs/references/voxengine/voximplantapi/attachedphoneinfo). `test_number` is not Voximplant's
    field: the client sets it for the numbers GetPhoneNumbers lists with `sandbox=true` (test numbers).
    """

    phone_id: int
    phone_number: str
    phone_country_code: str | None = None
    category_name: str | None = None
    deactivated: bool = False
    canceled: bool = False
    can_be_used: bool = True
    verification_status: str | None = None
    application_id: int | None = None
    application_name: str | None = None
    test_number: bool = False

    @property
    def e164(self) -> str:
        return _e164(self.phone_number)


class Page(BaseModel):
    result: list[dict[str, object]]
    total_count: int
    count: int


class Application(BaseModel):
    application_id: int
    application_name: str  # the full name: <short name>.<account>.<node>.voximplant.com


class Scenario(BaseModel):
    scenario_id: int
    scenario_name: str
    scenario_script: str | None = None


class Rule(BaseModel):
    rule_id: int
    rule_name: str
    rule_pattern: str
    application_id: int | None = None
    scenarios: list[Scenario] = Field(default_factory=list)


class CallInfo(BaseModel):
    """One call inside a session, as GetCallHistory reports it with `with_calls=true` (CallInfoType)."""

    model_config = ConfigDict(extra="ignore")

    call_id: int
    incoming: bool = False
    successful: bool = False
    duration: float | None = None
    cost: float | None = None
    remote_number: str = ""
    start_time: str | None = None
    end_reason: dict[str, Any] | None = None


class CallSessionInfo(BaseModel):
    """One JS session from GetCallHistory (CallSessionInfoType): over once `finish_reason` is set."""

    model_config = ConfigDict(extra="ignore")

    call_session_history_id: int
    start_date: str | None = None
    duration: float | None = None
    finish_reason: str | None = None
    custom_data: str | None = None
    calls: list[CallInfo] = []

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None

    @property
    def outgoing(self) -> CallInfo | None:
        """The call the scenario placed (the session's first outgoing call)."""
        return next((call for call in self.calls if not call.incoming), None)


class History(BaseModel):
    result: list[CallSessionInfo]


class SecretInfo(BaseModel):
    """One entry of GetSecrets (SecretListItem): the secret's name, never its value."""

    model_config = ConfigDict(extra="ignore")

    secret_id: int
    secret_name: str


class ErrorBody(BaseModel):
    code: int
    msg: str


def _e164(number: str) -> str:
    """Voximplant writes numbers as digits with the country code (`14155550123`); callbot stores E.164."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return "+" + digits
