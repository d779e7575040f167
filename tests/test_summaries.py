"""bot/summaries: what is sent to OpenAI (bounded) and what is kept of its answer; the settings that turn it on."""

from __future__ import annotations

import pytest

from bot.settings import OPENAI_BASE_URL, OPENAI_MODEL, load_settings
from bot.summaries import Turn
from bot.summaries.prompt import MAX_LINE_CHARS, MAX_TRANSCRIPT_CHARS, MAX_TURN_CHARS, lines_of, transcript_text


def test_the_transcript_is_sent_as_speaker_lines() -> None:
    turns = [Turn("agent", "Hello,\n  Ana."), Turn("callee", "Hi!")]
    assert transcript_text(turns) == "Agent: Hello, Ana.\nCallee: Hi!"


def test_a_long_turn_is_cut_and_a_long_transcript_keeps_its_start_and_mostly_its_end() -> None:
    assert transcript_text([Turn("agent", "y" * 5000)]) == "Agent: " + "y" * (MAX_TURN_CHARS - 1) + "…"
    turns = [Turn("callee" if n % 2 else "agent", f"turn {n:03d} " + "z" * 900) for n in range(100)]
    sent = transcript_text(turns)
    assert len(sent) <= MAX_TRANSCRIPT_CHARS
    lines = sent.split("\n")
    marker = next(i for i, line in enumerate(lines) if line.startswith("[…"))
    head, tail = lines[:marker], lines[marker + 1 :]

    assert head[0].startswith("Agent: turn 000") and tail[-1].startswith("Callee: turn 099")
    assert len(tail) > 2 * len(head)  # the end, where agreements and next steps are, gets most of the room
    assert lines[marker] == f"[… {100 - len(head) - len(tail)} turns left out …]"


def test_the_answer_is_cut_to_four_lines_without_bullets_or_blank_lines() -> None:
    answer = "\n- First.\n\n* Second.\n• Third.\n1. Fourth.\n2) Fifth."
    assert lines_of(answer) == ["First.", "Second.", "Third.", "Fourth."]
    assert lines_of("x" * 1000) == ["x" * (MAX_LINE_CHARS - 1) + "…"]
    assert lines_of("  \n\n ") == []
    assert lines_of("-1 degree, said Ana.") == ["-1 degree, said Ana."]  # a dash is a bullet only before a space


def test_written_summaries_are_off_until_a_key_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(_env_file=None, need_slack=False)
    assert settings.openai_api_key is None
    assert (settings.openai_base_url, settings.openai_model, settings.openai_timeout_s) == (
        OPENAI_BASE_URL, OPENAI_MODEL, 10.0
    )  # fmt: skip
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment-0123")
    monkeypatch.setenv("OPENAI_TIMEOUT_S", "4")
    settings = load_settings(_env_file=None, need_slack=False)
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == "sk-from-the-environment-0123"
    assert settings.openai_timeout_s == 4.0
    assert "sk-from-the-environment-0123" not in repr(settings) and "sk-from-the-environment-0123" not in str(settings)
