"""Voximplant Management API credentials: an API key, or a service account signing a short-lived JWT per request.

Credentials travel in the POST body or the `Authorization` header, never in the URL: httpx puts the URL into its
exception texts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import jwt

from bot.errors import VoximplantError


@dataclass(frozen=True, slots=True)
class ApiKeyAuth:
    """account_id + api_key, sent as form fields."""

    account_id: str
    api_key: str

    def form(self) -> dict[str, str]:
        return {"account_id": self.account_id, "api_key": self.api_key}

    def headers(self) -> dict[str, str]:
        return {}

    def __repr__(self) -> str:
        return f"ApiKeyAuth(account_id={self.account_id!r}, api_key='***')"


TOKEN_BACKDATE_S = 5  # iat = now - 5 s and exp = now + 24 s, as Voximplant's own clients sign them
TOKEN_LIFETIME_S = 24


@dataclass(frozen=True, slots=True)
class ServiceAccountAuth:
    """A Voximplant service account: every request carries a fresh RS256 JWT signed with the account's key."""

    account_id: str
    key_id: str
    private_key: str
    clock: Callable[[], float] = time.time

    @classmethod
    def from_file(cls, path: Path) -> ServiceAccountAuth:
        """Read the JSON key file Voximplant hands out (`account_id`, `key_id`, `private_key`)."""
        try:
            data = json.loads(path.read_text())
            return cls(account_id=str(data["account_id"]), key_id=str(data["key_id"]), private_key=data["private_key"])
        except (OSError, ValueError, KeyError, TypeError):
            raise VoximplantError(f"{path} is not a Voximplant service-account key file") from None

    def token(self) -> str:
        now = int(self.clock())
        claims = {"iss": self.account_id, "iat": now - TOKEN_BACKDATE_S, "exp": now + TOKEN_LIFETIME_S}
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.key_id})

    def form(self) -> dict[str, str]:
        return {}

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def __repr__(self) -> str:
        return f"ServiceAccountAuth(account_id={self.account_id!r}, key_id={self.key_id!r}, private_key='***')"


class Auth(Protocol):
    def form(self) -> dict[str, str]: ...
    def headers(self) -> dict[str, str]: ...


def auth_from(account_id: str | None, api_key: str | None, credentials: Path | None) -> Auth | None:
    """The auth the settings name: a service-account key file wins; None when neither is set."""
    if credentials is not None:
        return ServiceAccountAuth.from_file(credentials)
    if account_id and api_key:
        return ApiKeyAuth(account_id, api_key)
    return None
