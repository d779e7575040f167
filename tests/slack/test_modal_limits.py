"""The call form stays within Slack's Block Kit limits, whatever it is filled with."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.calls.grammar import parse_command
from bot.calls.models import CallerId, Channel
from bot.sandbox.block_kit import view_problems
from bot.slack import blocks
from bot.slack.ids import FieldId, ModalContext
from bot.slack.modals import prefill

AT = datetime(2026, 1, 1, tzinfo=UTC)


def caller_ids(count: int, *, label: str = "Support line") -> list[CallerId]:
    return [
        CallerId(f"+1415555{n:04d}", label=f"{label} {n}", channels=frozenset(Channel), added_by="t", added_at=AT)
        for n in range(count)
    ]


def element(view: blocks.View, field: FieldId) -> dict[str, object]:
    block = next(b for b in view["blocks"] if b.get("block_id") == field)
    return block["element"]  # type: ignore[no-any-return]


def test_a_typical_form_is_accepted() -> None:
    view = blocks.call_modal(
        blocks.FormPrefill(destination="+14155550100", channel=Channel.PSTN, minutes=5, instructions="say hi"),
        caller_ids(3),
        ModalContext(conversation_id="C0GENERAL"),
        max_minutes=10,
        default_region="US",
    )
    assert view_problems(view) == []
    assert len(view["title"]["text"]) <= 24 and len(view["submit"]["text"]) <= 24


def test_the_fullest_form_is_within_every_limit() -> None:
    huge = "x" * 10_000
    view = blocks.call_modal(
        blocks.FormPrefill(destination="+1" + "5" * 500, instructions=huge, minutes=10_000),
        caller_ids(250, label="A very long label for a caller ID that nobody should ever need " * 2),
        ModalContext(conversation_id="C" + "Z" * 30, thread_ts="1700000000.123456"),
        max_minutes=240,
        default_region="US",
        default_caller_id="+14155550249",
    )
    assert view_problems(view) == []
    assert len(view["blocks"]) <= 100
    assert len(view["private_metadata"]) <= 3000
    options = element(view, FieldId.CALLER_ID)["options"]
    assert isinstance(options, list) and len(options) == 100
    assert all(len(o["text"]["text"]) <= 75 for o in options)
    # the default caller ID is kept among the first 100, and the hint says the list was cut
    assert options[0]["value"] == "+14155550249"
    caller_block = next(b for b in view["blocks"] if b.get("block_id") == FieldId.CALLER_ID)
    assert "first 100 of 250" in caller_block["hint"]["text"]
    instructions = element(view, FieldId.INSTRUCTIONS)
    assert len(str(instructions["initial_value"])) == 3000 and instructions["max_length"] == 3000
    assert "initial_value" not in element(view, FieldId.DURATION)  # 10 000 minutes is over the limit: not shown
    assert len(json.dumps(view).encode()) < 250_000


def test_without_caller_ids_the_form_says_so_instead_of_an_empty_select() -> None:
    view = blocks.call_modal(blocks.FormPrefill(), [], ModalContext(), max_minutes=10, default_region="US")
    assert view_problems(view) == []
    assert all(b.get("block_id") != FieldId.CALLER_ID for b in view["blocks"])
    assert "No caller ID is allowed yet" in json.dumps(view)


def test_the_checker_catches_what_slack_refuses() -> None:
    view = blocks.call_modal(blocks.FormPrefill(), caller_ids(2), ModalContext(), max_minutes=10, default_region="US")
    broken = {
        **view,
        "title": {"type": "plain_text", "text": "A title that is too long for Slack"},
        "private_metadata": "m" * 3001,
        "blocks": view["blocks"] * 20,
    }
    problems = view_problems(broken)
    assert "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]" in problems
    assert any("/private_metadata" in p for p in problems)
    assert "[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]" in problems
    assert any("duplicate block_id" in p for p in problems)


def test_the_form_does_not_guess_a_caller_id_that_reads_two_ways() -> None:
    typed = parse_command("from +49 30 901820 2 Termine absagen", "DE")
    assert typed.caller_id_readings == ("+4930901820", "+49309018202")
    assert prefill(typed, default_region="DE", max_s=600).caller_id is None
    clear = parse_command("from +4930901820 2 Termine absagen", "DE")
    assert prefill(clear, default_region="DE", max_s=600).caller_id == "+4930901820"
