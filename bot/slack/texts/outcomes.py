"""The words for how a call ended (`Outcome`, bot/calls/outcomes.py): the summary's first words, history's lines."""

from __future__ import annotations

from bot.calls.models import Call, Outcome
from bot.slack.texts.markup import CURRENCY, count, escape, money
from bot.slack.texts.reasons import reason

OUTCOME_WORDS = {
    Outcome.TALKED: (":white_check_mark:", "Talked with a person"),
    Outcome.VOICEMAIL_LEFT: (":mailbox_with_mail:", "Left a voicemail"),
    Outcome.VOICEMAIL_NO_MESSAGE: (":mailbox_with_no_mail:", "Reached voicemail, left no message"),
    Outcome.NOT_ANSWERED: (":no_bell:", "Not answered"),
    Outcome.BUSY: (":no_entry:", "Busy"),
    Outcome.UNAVAILABLE: (":no_mobile_phones:", "Unavailable"),
    Outcome.DECLINED: (":no_entry_sign:", "Declined"),
    Outcome.FAILED: (":x:", "Failed"),
    Outcome.REFUSED: (":x:", "Refused before dialling"),
}
# Outcomes of a call someone (or something) answered: their lines give the length and the turns, not a reason.
CONNECTED = frozenset({Outcome.TALKED, Outcome.VOICEMAIL_LEFT, Outcome.VOICEMAIL_NO_MESSAGE})


def duration(seconds: float | None) -> str:
    total = round(seconds or 0)
    minutes, secs = divmod(total, 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def outcome_summary(call: Call, outcome: Outcome, *, turns: int, cost: float | None) -> str:
    """The summary's line: `:white_check_mark: *Talked with a person* · 2m 10s · 8 turns · cost 0.12 in …`, or
    `:no_entry: *Busy*: the line was busy (486 Busy Here)` (mrkdwn: the reason is escaped)."""
    emoji, words = OUTCOME_WORDS[outcome]
    if outcome in CONNECTED:
        text = f"{emoji} *{words}* · {duration(call.duration_s)} · {count(turns, 'turn')}"
    else:
        text = f"{emoji} *{words}*: {escape(reason(call.state_reason))}"
    if cost is not None:
        text += f" · cost {money(cost)} {CURRENCY}"
    return text + "."


def outcome_state(call: Call) -> str | None:
    """How the parent message shows a call that ended or failed: its outcome, `:no_entry: Busy: the line was busy
    (486 Busy Here)` or `:mailbox_with_mail: Left a voicemail · ended after 25s`; None without one."""
    if call.outcome is None:
        return None
    emoji, words = OUTCOME_WORDS[call.outcome]
    if call.outcome in CONNECTED:
        return f"{emoji} {words} · ended after {duration(call.duration_s)}"
    return f"{emoji} {words}: {escape(reason(call.state_reason))}"


def outcome_line(call: Call) -> str | None:
    """A call's outcome in a line of `/call history` or `/call status`; None while the call lives (or ended before
    outcomes were stored)."""
    if call.outcome is None:
        return None
    emoji, words = OUTCOME_WORDS[call.outcome]
    if call.outcome in CONNECTED:
        line = f"{emoji} {words}, {duration(call.duration_s)}"
    elif call.outcome in {Outcome.FAILED, Outcome.REFUSED}:
        line = f"{emoji} {words}: {escape(reason(call.state_reason))}"
    else:
        line = f"{emoji} {words}"
    return line + (f" · cost {money(call.cost)}" if call.cost is not None else "")
