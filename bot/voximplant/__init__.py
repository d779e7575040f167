"""Voximplant's Management API, as callbot uses it: credentials (`auth`), answers (`models`), the client (`client`).

Two ways to authenticate, as Voximplant offers: account_id + api_key as form fields (`ApiKeyAuth`), or a service
account (`ServiceAccountAuth`): a fresh RS256 JWT per request in `Authorization: Bearer`.
"""

from bot.voximplant.auth import ApiKeyAuth, Auth, ServiceAccountAuth, auth_from
from bot.voximplant.client import MAX_CUSTOM_DATA_BYTES, Observer, VoximplantClient, never_sent, refused_as_too_many
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
