"""Voximplant's Management API, as callbot uses it: credentials (`auth`), answers (`models`), sending, retries and
errors (`api`), the account and setup methods (`account`), and the client callbot places calls with (`client`).

Two ways to authenticate, as Voximplant offers: account_id + api_key as form fields (`ApiKeyAuth`), or a service
account (`ServiceAccountAuth`): a fresh RS256 JWT per request in `Authorization: Bearer`.

Only the answers are imported here; the rest loads on first use (`from bot.voximplant import VoximplantClient`), so
code that needs only the models (`bot.voximplant.models`) loads neither httpx nor the JWT library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from bot.voximplant.models import (
    Application,
    CallerIdInfo,
    CallInfo,
    CallSessionInfo,
    PhoneNumberInfo,
    Rule,
    Scenario,
    SecretInfo,
    StartScenariosResult,
)

if TYPE_CHECKING:
    from bot.voximplant.api import Observer, never_sent, refused_as_too_many
    from bot.voximplant.auth import ApiKeyAuth, Auth, ServiceAccountAuth, auth_from
    from bot.voximplant.client import MAX_CUSTOM_DATA_BYTES, VoximplantClient

# Loaded on first use: name -> module.
_LAZY = {
    "Observer": "bot.voximplant.api",
    "never_sent": "bot.voximplant.api",
    "refused_as_too_many": "bot.voximplant.api",
    "ApiKeyAuth": "bot.voximplant.auth",
    "Auth": "bot.voximplant.auth",
    "ServiceAccountAuth": "bot.voximplant.auth",
    "auth_from": "bot.voximplant.auth",
    "MAX_CUSTOM_DATA_BYTES": "bot.voximplant.client",
    "VoximplantClient": "bot.voximplant.client",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # found directly from now on
    return value


__all__ = [
    "MAX_CUSTOM_DATA_BYTES",
    "ApiKeyAuth",
    "Application",
    "Auth",
    "CallInfo",
    "CallSessionInfo",
    "CallerIdInfo",
    "Observer",
    "PhoneNumberInfo",
    "Rule",
    "Scenario",
    "SecretInfo",
    "ServiceAccountAuth",
    "StartScenariosResult",
    "VoximplantClient",
    "auth_from",
    "never_sent",
    "refused_as_too_many",
]
