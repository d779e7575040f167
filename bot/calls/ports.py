"""What the call domain asks of Voximplant: its Management API and each call's running session.

`bot.voximplant.VoximplantClient` answers both; the domain names only these Protocols. Their answers are the pydantic
models of `bot/voximplant/models.py` (pydantic only: the package loads its HTTP client on first use, so importing
the models pulls no httpx into the domain; tests/test_layers.py checks it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.voximplant.models import CallerIdInfo, CallSessionInfo, PhoneNumberInfo, StartScenariosResult


class Voximplant(Protocol):
    """Start a call's scenario, look a session up in the call history, and talk to a running session.

    Each raises `bot.errors.VoximplantError` when Voximplant says no or cannot be asked.
    """

    async def start_scenarios(self, *, rule_id: int, custom_data: str) -> StartScenariosResult:
        """One new call session; `may_have_started` on the error when its outcome is unknown."""
        ...

    async def get_call_history(self, history_id: int, *, started_at: datetime) -> CallSessionInfo | None: ...

    async def find_session(self, custom_data: str, *, started_at: datetime) -> CallSessionInfo | None:
        """The session StartScenarios began with exactly this custom data, for a call it never confirmed."""
        ...

    async def hang_up(self, access_url: str, *, secret: str, plain_url: str | None = None) -> None: ...

    async def join(
        self, access_url: str, *, secret: str, to: dict[str, str], by: str, name: str, plain_url: str | None = None
    ) -> None:
        """Ask the session to dial `to` ({"channel": "pstn"|"app_user", "destination"}) and bridge them in."""
        ...

    async def say(self, access_url: str, *, text: str, secret: str, plain_url: str | None = None) -> None:
        """Have the call's agent say `text`; VoximplantError with the scenario's words when it cannot."""
        ...

    async def session_request(
        self, access_url: str, body: dict[str, object], *, plain_url: str | None = None
    ) -> dict[str, object]:
        """POST `body` to the running session and return its scenario's answer (pull mode: briefs, events)."""
        ...


class CallerIdSource(Protocol):
    """The numbers the account may call from: verified caller IDs and bought numbers (`callbot callerids sync`)."""

    async def get_caller_ids(self) -> list[CallerIdInfo]: ...

    async def get_phone_numbers(self) -> list[PhoneNumberInfo]: ...
