"""The outbox's pure rules: grouping replies, splitting long text (pacing: tests/slack/test_pacing.py)."""

from __future__ import annotations

from bot.slack.delivery.kinds import Kind
from bot.slack.delivery.replies import MAX_REPLY_CHARS, pieces, reply_batch, split
from bot.store import OutboxRow


def row(n: int, text: str, *, group: bool = True, kind: Kind = Kind.REPLY) -> OutboxRow:
    body: dict[str, object] = {"text": text}
    if group:
        body["group"] = True
    return OutboxRow(n, "call1", kind, body)


def test_consecutive_transcript_lines_share_one_reply_up_to_the_limit() -> None:
    rows = [row(1, "a"), row(2, "b"), row(3, "milestone", group=False), row(4, "c")]
    assert [r.id for r in reply_batch(rows)] == [1, 2]
    long = [row(n, "x" * 1000) for n in range(5)]
    batch = reply_batch(long)
    assert len(batch) == 2 and sum(len(r.body["text"]) + 1 for r in batch) - 1 <= MAX_REPLY_CHARS


def test_a_milestone_is_never_grouped() -> None:
    assert [r.id for r in reply_batch([row(1, "m", group=False), row(2, "a")])] == [1]


def test_an_update_ends_a_group() -> None:
    assert [r.id for r in reply_batch([row(1, "a"), row(2, "", group=False, kind=Kind.UPDATE), row(3, "b")])] == [1]


def test_split_prefers_the_line_break_nearest_the_middle_and_keeps_every_character() -> None:
    assert split("one\ntwo\nthree\nfour") == ["one\ntwo", "three\nfour"]
    assert split("abcdef") == ["abc", "def"]
    text = "a" * 10 + "\n" + "b" * 3
    assert "\n".join(split(text)) == text


def test_pieces_fit_the_limit_break_at_lines_or_spaces_and_lose_only_the_break() -> None:
    text = "\n".join(f"line {n:04d} " + "word " * 30 for n in range(200))
    parts = pieces(text)
    assert all(len(part) <= MAX_REPLY_CHARS for part in parts) and len(parts) > 1
    assert "\n".join(parts) == text  # every cut fell on a line break here
    assert pieces("ab cd", limit=4) == ["ab", "cd"]
    assert pieces("a bcdef", limit=4) == ["a bc", "def"]  # a break too early is not taken
    assert pieces("short") == ["short"]


def test_pieces_never_cut_inside_an_entity_or_a_link() -> None:
    escaped = "&lt;" * 1000  # 4,000 characters and no space: cut between entities
    parts = pieces(escaped)
    assert all(len(p) <= MAX_REPLY_CHARS and p.count("&") == p.count(";") for p in parts)
    assert "".join(parts) == escaped
    linked = "x" * 2990 + "<https://example.com/abc|link>" + "y" * 10
    first, *rest = pieces(linked)
    assert first == "x" * 2990 and "".join(rest).startswith("<https://example.com/abc|link>")
