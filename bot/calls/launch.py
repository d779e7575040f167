"""The launch contract, version 2: what `script_custom_data` carries, and the brief the scenario fetches with it.

Voximplant keeps a session's custom data to at most 200 bytes (the custom-data guide,
voximplant.com/docs/howtos/calls/custom_data, and `VoxEngine.customData()` in voxengine.d.ts v28: "Maximum size is
200 bytes"), and anyone who can read the account's call history can read it. So custom data holds only a reference:

    {"v":2,"id":"<call id>","u":"<brief URL>","t":"<brief token>"}

The scenario fetches the brief (`GET u`, `Authorization: Bearer t`): destination, caller ID, channel, instructions,
limits, the status-event URL and token, and the control secret. In pull mode (no public URL) custom data is
`{"v":2,"id":…,"m":"pull"}`: the bot delivers the brief through the session's access URL, and fetches the
session's status events from there too. The brief token opens the brief only until the
call's first status event arrives, and only for a short while after the launch.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets

CONTRACT_VERSION = 2
EVENTS_VERSION = 1  # the status events' `v` (bot/calls/models.py)
_SCENARIO_CONTRACT = re.compile(r"CALLBOT_CONTRACT = \{ *launch: *(\d+), *events: *(\d+) *\};")
MAX_CUSTOM_DATA_BYTES = 200
BRIEF_PATH = "/voximplant/brief"
EVENTS_PATH = "/voximplant/events"
CALL_ID_CHARS = 12  # call ids (placing.new_call_id): 12 hex digits
BRIEF_TOKEN_BYTES = 16  # 128 bits, 22 characters in URL-safe base64: short-lived and single-call
BRIEF_TOKEN_CHARS = 22


def scenario_contract(script: str) -> tuple[int, int] | None:
    """The (launch, events) contract versions a scenario's text declares (`var CALLBOT_CONTRACT = {…}`), if any."""
    found = _SCENARIO_CONTRACT.search(script)
    return (int(found[1]), int(found[2])) if found else None


def new_brief_token() -> str:
    return secrets.token_urlsafe(BRIEF_TOKEN_BYTES)


def hash_token(token: str) -> str:
    """What is stored of a brief or callback token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def brief_url(base_url: str) -> str:
    return base_url.rstrip("/") + BRIEF_PATH


def events_url(base_url: str) -> str:
    return base_url.rstrip("/") + EVENTS_PATH


def custom_data(call_id: str, *, base_url: str, brief_token: str) -> str:
    """The script_custom_data of one launch (compact JSON, ASCII)."""
    return json.dumps(
        {"v": CONTRACT_VERSION, "id": call_id, "u": brief_url(base_url), "t": brief_token}, separators=(",", ":")
    )


def pull_custom_data(call_id: str) -> str:
    """The script_custom_data of a launch in pull mode: the bot brings the brief through the session's access URL."""
    return json.dumps({"v": CONTRACT_VERSION, "id": call_id, "m": "pull"}, separators=(",", ":"))


def size(data: str) -> int:
    """Bytes as Voximplant counts them: UTF-8."""
    return len(data.encode())


def largest_custom_data(base_url: str) -> int:
    """The size of the largest custom data a launch from `base_url` can have."""
    return size(custom_data("x" * CALL_ID_CHARS, base_url=base_url, brief_token="x" * BRIEF_TOKEN_CHARS))


def custom_data_fits(base_url: str) -> bool:
    return largest_custom_data(base_url) <= MAX_CUSTOM_DATA_BYTES


def longest_base_url() -> int:
    """How many bytes PUBLIC_BASE_URL may have for every launch's custom data to fit."""
    return MAX_CUSTOM_DATA_BYTES - largest_custom_data("")
