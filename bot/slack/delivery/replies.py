"""A call's thread replies as text: transcript lines grouped, long texts cut, and the summary written when sent.

Consecutive transcript lines (`group`) are joined into one message (the worker puts them in the call's order first).
chat.postMessage cuts text over 40,000 characters without a word, so we never send that much: a line is capped at
`MAX_LINE_CHARS` when queued (its end replaced by …), and a reply longer than `MAX_REPLY_CHARS` goes as several,
split at line breaks or spaces, never inside an &entity; or a <link>. `msg_too_long` splits it again.

`summary`: the call's final reply, written when it is sent (like `update`), so its turn count includes transcript
lines that arrived late, after the call ended but before the summary went out; they follow it in the thread. A line
arriving after the summary was posted is shown but not counted in it (the scenario sends every line before it
reports the end, so such a line is one whose delivery failed and was retried for a while).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.calls.models import Call
from bot.slack import texts
from bot.slack.delivery.kinds import Kind
from bot.slack.texts.write_ups import written_lines
from bot.store import OutboxRow

# chat.postMessage truncates text over 40,000 characters (docs.slack.dev/reference/methods/chat.postMessage,
# "Truncating content"; it no longer answers msg_too_long) and shows long texts poorly: we stay well under.
MAX_REPLY_CHARS = 3000  # one message of the thread
MAX_LINE_CHARS = 12_000  # one line (a transcript turn, escaped): at most four messages


def line_run(rows: list[OutboxRow]) -> list[OutboxRow]:
    """The leading run of transcript lines that carry their seq."""
    run: list[OutboxRow] = []
    for row in rows:
        if row.kind != Kind.REPLY or not row.body.get("group") or row.body.get("seq") is None:
            break
        run.append(row)
    return run


def reply_batch(rows: list[OutboxRow]) -> list[OutboxRow]:
    """The next reply: one row, or a run of consecutive grouped lines that fits one message."""
    first = rows[0]
    if not first.body.get("group"):
        return [first]
    batch, size = [first], len(first.body["text"])
    for row in rows[1:]:
        if row.kind != Kind.REPLY or not row.body.get("group"):
            break
        size += 1 + len(row.body["text"])
        if size > MAX_REPLY_CHARS:
            break
        batch.append(row)
    return batch


def written_summary(call: Call, row: OutboxRow, events: list[tuple[int, str, dict[str, Any]]]) -> OutboxRow:
    """A summary row as the reply it becomes now, from the call and every event stored so far."""
    turns = sum(1 for _, name, _ in events if name == "transcript")
    cost = call.cost if call.cost is not None else row.body.get("cost")
    if cost is None:
        cost = next((data.get("cost") for _, name, data in events if name == "disconnected"), None)
    notes: list[str] = []
    left = [data for _, name, data in events if name == "voicemail"]
    if left and (left[-1].get("left") or call.outcome is None):  # the outcome says when no message was left
        notes.append(texts.voicemail(bool(left[-1].get("left")), float(left[-1].get("message_s") or 0)))
    if any(name == "recording" for _, name, _ in events):
        notes.append(texts.RECORDED_NOTE)
    text = texts.final_summary(
        call, turns=turns, cost=cost, from_history=bool(row.body.get("from_history")), notes=tuple(notes)
    )
    text += written_lines(row.body.get("write_up"))  # OPENAI_API_KEY: what was said, agreed, next (write_ups.py)
    return replace(row, kind=Kind.REPLY, body={"text": text, "broadcast": bool(row.body.get("broadcast"))})


def pieces(text: str, limit: int = MAX_REPLY_CHARS) -> list[str]:
    """`text` in parts of at most `limit` characters, cut at the last line break, else space, in the second half of
    what fits (that one character is dropped), else just before an &entity; or a <link> the cut would break;
    nothing else is lost."""
    parts: list[str] = []
    while len(text) > limit:
        window = text[: limit + 1]  # a break right after the limit still leaves `limit` characters before it
        cut = next((at for at in (window.rfind("\n"), window.rfind(" ")) if at >= limit // 2), 0)
        if cut:
            parts.append(text[:cut])
            text = text[cut + 1 :]
            continue
        cut = limit
        if text.rfind("<", 0, cut) > text.rfind(">", 0, cut):
            cut = text.rfind("<", 0, cut) or limit
        amp = text.rfind("&", 0, cut)
        if amp > text.rfind(";", 0, cut) and cut - amp < len("&amp;"):
            cut = amp or limit
        parts.append(text[:cut])
        text = text[cut:]
    parts.append(text)
    return parts


def split(text: str) -> list[str]:
    """Two parts of a text Slack found too long: at the line break nearest the middle, else mid-text."""
    middle = len(text) // 2
    breaks = [i for i, char in enumerate(text) if char == "\n"]
    if not breaks:
        return [text[:middle], text[middle:]]
    cut = min(breaks, key=lambda i: abs(i - middle))
    return [text[:cut], text[cut + 1 :]]
