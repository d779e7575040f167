"""What a scheduled call stores of its request, to vet it again when it is dialled: the vetted destination and
caller ID (so the allowlist and the deny list are asked again about the same numbers), and the rest as asked."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from bot.calls.grammar import CallDraft
from bot.calls.models import CallRequest, Channel, Origin


def dump_request(request: CallRequest, draft: CallDraft) -> str:
    """What is vetted again at dial time: the vetted destination and caller ID, and the rest as asked."""
    again = CallDraft(
        destination=request.destination, caller_id=request.caller_id, instructions=request.instructions,
        duration=draft.duration, voicemail=request.voicemail.value, record=request.record,
    )  # fmt: skip
    fields = {key: value for key, value in asdict(again).items() if value not in (None, (), False)}
    return json.dumps({"v": 1, "draft": fields, "channel": request.channel.value, "name": request.requester_name})


def stored_request(stored: str) -> tuple[CallRequest, CallDraft]:
    """The stored request (for its destination and channel; its limits are the setting's) and the draft to vet."""
    data: dict[str, Any] = json.loads(stored)
    draft = CallDraft(**{"destination": None, "caller_id": None, "instructions": "", **data["draft"]})
    request = CallRequest(
        destination=draft.destination or "", caller_id=draft.caller_id or "", channel=Channel(data["channel"]),
        instructions=draft.instructions, max_duration_s=0, origin=Origin(team_id="", user_id="", conversation_id=""),
        requester_name=data.get("name", ""),
    )  # fmt: skip
    return request, draft
