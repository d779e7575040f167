"""The words of `/call callerid …`, `/call deny …`, `/call history`, `/call status` and `/call spend`
(bot/slack/admin.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.calls.models import Call, CallerId, DeniedDestination
from bot.calls.numbers import format_international
from bot.slack.texts import destination, outcome_line, state_line
from bot.slack.texts.markup import CURRENCY, count, escape, money, resets

if TYPE_CHECKING:
    from bot.calls.spending import SpendReport

USAGE = (
    "*Admin commands* (callbot admins only):\n"
    '• `/call callerid add +14155550123 "Support line" channels: pstn,whatsapp`\n'
    "• `/call callerid remove +14155550123`\n"
    "• `/call deny add +1900 premium lines` (a whole number or its first digits) · `/call deny remove +1900` · "
    "`/call deny list`\n"
    "• `/call spend` (this month's spending and the caps)\n"
    "*For everyone:* `/call callerid list` (the numbers you can call from) · `/call history [n]` (your last "
    "calls) · `/call status <call id>`"
)
QUOTE_NOT_CLOSED = "A quote is not closed. " + USAGE
NO_CALLER_IDS_YET = 'No caller IDs are allowed yet. Add one: `/call callerid add +14155550123 "Support line"`.'
DENY_LIST_EMPTY = "The deny list is empty. Add a number or prefix: `/call deny add +1900 premium lines`."
HOW_MANY = "Say how many calls to show, e.g. `/call history 20`."
WHICH_CALL = "Say which call, e.g. `/call status 3f2a9c1b7d4e` (`/call history` shows the ids)."


def caller_ids(entries: list[CallerId]) -> str:
    lines = [
        f"• {format_international(e.number)}" + (f" ({escape(e.label)})" if e.label else "")
        + f" · {', '.join(sorted(e.channels))} · added by {_who(e.added_by)}"
        for e in entries
    ]  # fmt: skip
    return "*Allowed caller IDs*\n" + "\n".join(lines)


def caller_id_not_listed(number: str) -> str:
    return f"{format_international(number)} is not on the allowlist. See it with `/call callerid list`."


def caller_id_removed(number: str) -> str:
    return f"Removed {format_international(number)} from the allowed caller IDs."


def caller_id_added(number: str, *, label: str, channels: frozenset[str], new: bool) -> str:
    named = f" ({escape(label)})" if label else ""
    return f"{'Added' if new else 'Updated'} {format_international(number)}{named} for {', '.join(sorted(channels))}."


def denied(entries: list[DeniedDestination]) -> str:
    lines = [
        f"• `{e.prefix}`" + (f" ({escape(e.reason)})" if e.reason else "") + f" · added by {_who(e.added_by)}"
        for e in entries
    ]
    return "*Denied destinations* (numbers, or numbers starting with)\n" + "\n".join(lines)


def prefix_not_listed(prefix: str) -> str:
    return f"`{prefix}` is not on the deny list. See it with `/call deny list`."


def prefix_removed(prefix: str) -> str:
    return f"Removed `{prefix}` from the deny list."


def prefix_added(prefix: str, *, new: bool) -> str:
    return f"{'Added' if new else 'Updated'} `{prefix}`: calls to numbers starting with it are refused."


def history(calls: list[Call], *, everyone: bool) -> str:
    """The last calls: everyone's for an admin (with who placed each), else the person's own."""
    if not calls:
        return "No calls yet." if everyone else "You have not placed any calls yet."
    title = f"*The last {len(calls)} calls*" if everyone else f"*Your last {len(calls)} calls*"
    return title + "\n" + "\n".join(_line(call, with_who=everyone) for call in calls)


def no_such_call(call_id: str) -> str:
    return f"I found no call `{escape(call_id)}` that you placed. `/call history` lists yours."


def status(call: Call) -> str:
    request = call.request
    lines = [
        f"*Call `{call.id}`* to {escape(destination(call))}",
        outcome_line(call) or state_line(call),
        f"Requested by <@{request.origin.user_id}> at {call.created_at:%Y-%m-%d %H:%M} UTC"
        f" · from {format_international(request.caller_id)} · via {request.channel.value}",
    ]
    if call.slack_channel and call.slack_ts:
        lines.append(f"Thread: <#{call.slack_channel}> (message {call.slack_ts})")
    return "\n".join(lines)


def _line(call: Call, *, with_who: bool) -> str:
    who = f" · <@{call.request.origin.user_id}>" if with_who else ""
    shown = outcome_line(call) or state_line(call)
    return f"• `{call.id}` {call.created_at:%m-%d %H:%M} UTC → {escape(destination(call))} · {shown}{who}"


def _who(added_by: str) -> str:
    return f"<@{added_by}>" if added_by[:1] in {"U", "W"} else added_by


def spend(report: SpendReport) -> str:
    """`/call spend`: the workspace's spending this month (UTC), who spent most, and the caps."""
    caps = report.caps
    lines = [
        f"*Spending in {report.month:%B %Y}* (UTC), {CURRENCY}",
        f"This workspace: {money(report.spent)} on {count(report.calls, 'call')}"
        + (
            f" · the cap is {money(caps.per_workspace_month)} a month"
            if caps.per_workspace_month
            else " · no monthly cap"
        )
        + f"; the month resets {resets(report.resets_at, report.now)}.",
        f"Each person: at most {money(caps.per_person_day)} a day (UTC days)."
        if caps.per_person_day
        else "Each person: no daily cap.",
    ]
    if report.top:
        lines.append("*Who spent most this month*")
        lines += [f"• <@{s.user_id}> {money(s.spent)} on {count(s.calls, 'call')}" for s in report.top]
    return "\n".join(lines)
