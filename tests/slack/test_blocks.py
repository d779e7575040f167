"""Block Kit builders: clipping a parent message Slack found too long."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.calls.models import Call, CallRequest, CallState, Channel, Origin
from bot.slack.blocks import call_message, clip, shortened


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("abcdefghijkl", 10, "abcdefghi…"),
        ("ask <@U0ANA> now", 10, "ask …"),  # not inside a mention
        ("a &amp; b and more", 5, "a …"),  # not inside an entity
        ("a &amp; b and more", 9, "a &amp; …"),  # a whole entity stays
        ("x" * 20 + "<https://example.com|a link>", 25, "x" * 20 + "…"),
    ],
)
def test_clip_cuts_with_an_ellipsis_and_never_inside_a_mention_or_entity(text: str, limit: int, expected: str) -> None:
    assert clip(text, limit) == expected
    assert len(clip(text, limit)) <= limit


def test_shortened_clips_every_text_and_keeps_the_blocks_and_button() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    request = CallRequest(
        destination="+14155550100", caller_id="+14155550123", channel=Channel.PSTN, instructions="&" * 2900,
        max_duration_s=600, origin=Origin(team_id="T0", user_id="U0ANA", conversation_id="C0GENERAL"),
    )  # fmt: skip
    call = Call(id="c1", request=request, state=CallState.RINGING, state_reason="", created_at=now, updated_at=now)
    message = call_message(call)
    short = shortened(message, limit=100)
    assert [b["type"] for b in short["blocks"]] == [b["type"] for b in message["blocks"]]
    assert short["blocks"][-1] == message["blocks"][-1]  # the Hang up button, whose texts were short already
    texts = [short["text"], *(v for b in short["blocks"] for v in _texts(b))]
    assert all(len(t) <= 100 for t in texts)
    assert short["blocks"][1]["text"]["text"].endswith("&amp;…")  # clipped between entities, not inside one
    assert len(json.dumps(short)) < len(json.dumps(message)) / 3


def _texts(node: object) -> list[str]:
    """Every "text" string in a Block Kit tree."""
    if isinstance(node, list):
        return [text for item in node for text in _texts(item)]
    if not isinstance(node, dict):
        return []
    found: list[str] = []
    for key, value in node.items():
        found.extend([value] if key == "text" and isinstance(value, str) else _texts(value))
    return found


def test_each_version_of_a_call_message_has_new_block_ids_and_an_unchanged_one_keeps_them() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    request = CallRequest(
        destination="+14155550100", caller_id="+14155550123", channel=Channel.PSTN, instructions="say hello",
        max_duration_s=600, origin=Origin(team_id="T0", user_id="U0ANA", conversation_id="C0GENERAL"),
    )  # fmt: skip
    ringing = Call(id="c1", request=request, state=CallState.RINGING, state_reason="", created_at=now, updated_at=now)
    connected = replace(ringing, state=CallState.CONNECTED)

    def ids(call: Call) -> list[str]:
        return [block["block_id"] for block in call_message(call)["blocks"]]

    first, second = ids(ringing), ids(connected)
    assert len(first) == len(set(first)) == 4 and all(len(i) <= 255 for i in first)
    assert [i.split(".")[0] for i in first] == ["call_head", "call_quote", "call_state", "call_actions"]
    assert not set(first) & set(second)  # the update shows new blocks
    assert ids(ringing) == first  # rendering the same call again is the same version


def test_the_parent_shows_when_the_call_was_placed_as_a_slack_date_not_a_ticking_clock() -> None:
    placed = datetime(2026, 1, 1, 14, 40, tzinfo=UTC)
    request = CallRequest(
        destination="+14155550100", caller_id="+14155550123", channel=Channel.PSTN, instructions="say <!here> hi",
        max_duration_s=600, origin=Origin(team_id="T0", user_id="U0ANA", conversation_id="C0GENERAL"),
    )  # fmt: skip
    call = Call(
        id="c1", request=request, state=CallState.RINGING, state_reason="", created_at=placed, updated_at=placed
    )
    [state] = [b for b in call_message(call)["blocks"] if b["block_id"].startswith("call_state.")]
    assert state["elements"][0]["text"] == (
        f":bell: Ringing… · placed <!date^{int(placed.timestamp())}^{{date_short_pretty}} at {{time}}|"
        "2026-01-01 14:40 UTC>"
    )  # each reader's client shows it in their own time zone; nothing in the message changes as time passes
    assert "&lt;!here&gt;" in json.dumps(call_message(call)) and "<!here>" not in json.dumps(call_message(call))
