"""`/call callerid …`, `/call deny …`, `/call history [n]`, `/call status <id>`: lists and records from Slack.

`/call` hands these words to `answer()`; every answer is ephemeral. Changing a list is for callbot admins only, and
every change, and every refused attempt, is written to the audit log.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable

from bot.calls.grammar import readable
from bot.calls.models import Call, Channel
from bot.calls.numbers import format_international, parse_phone_number
from bot.calls.refusals import Why
from bot.errors import Refusal
from bot.slack import texts
from bot.slack.deps import Deps

SUBCOMMANDS = frozenset({"callerid", "callerids", "deny", "history", "status"})
MAX_HISTORY = 50
_PREFIX = re.compile(r"\+[1-9]\d{0,14}")
_NUMBER_WORD = re.compile(r"[+\d()][\d()\-.]*")

USAGE = (
    "*Admin commands* (callbot admins only):\n"
    '• `/call callerid add +14155550123 "Support line" channels: pstn,whatsapp`\n'
    "• `/call callerid remove +14155550123`\n"
    "• `/call deny add +1900 premium lines` (a whole number or its first digits) · `/call deny remove +1900` · "
    "`/call deny list`\n"
    "*For everyone:* `/call callerid list` (the numbers you can call from) · `/call history [n]` (your last "
    "calls) · `/call status <call id>`"
)


def handles(text: str) -> bool:
    """True if the `/call` text is one of the subcommands this module answers."""
    first = text.split(None, 1)[0].lower() if text.strip() else ""
    return first in SUBCOMMANDS


async def answer(text: str, user_id: str, deps: Deps) -> str:
    """The ephemeral reply to one subcommand; refusals come back as their text.

    Slack sends links escaped (`<tel:+14155550123|+1 415 555 0123>`): they are read as typed first.
    """
    try:
        words = shlex.split(readable(text).replace("“", '"').replace("”", '"'))
    except ValueError:
        return "A quote is not closed. " + USAGE
    command, args = words[0].lower(), words[1:]
    try:
        if command in {"callerid", "callerids"}:
            return await _callerid(args, user_id, deps)
        if command == "deny":
            return await _deny(args, user_id, deps)
        if command == "history":
            return await _history(args, user_id, deps)
        return await _status(args, user_id, deps)
    except Refusal as refusal:
        return texts.refusal(refusal)


async def _callerid(args: list[str], user_id: str, deps: Deps) -> str:
    action = args[0].lower() if args else "list"
    store, permissions, region = deps.records, deps.permissions, deps.policy.default_region
    if action == "list":  # everyone may see which numbers they can call from
        entries = await store.caller_ids()
        if not entries:
            return 'No caller IDs are allowed yet. Add one: `/call callerid add +14155550123 "Support line"`.'
        lines = [
            f"• {format_international(e.number)}" + (f" ({texts.escape(e.label)})" if e.label else "")
            + f" · {', '.join(sorted(e.channels))} · added by {_who(e.added_by)}"
            for e in entries
        ]  # fmt: skip
        return "*Allowed caller IDs*\n" + "\n".join(lines)
    if action not in {"add", "remove"} or len(args) < 2:
        return USAGE
    typed, rest = _number_words(args[1:])
    target = _quietly(lambda: parse_phone_number(typed, region, field="caller_id")) or typed
    await permissions.require_admin(user_id, action=f"callerid.{action}", target=target)
    number = parse_phone_number(typed, region, field="caller_id")
    shown = format_international(number)
    if action == "remove":
        if not await store.remove_caller_id(number):
            return f"{shown} is not on the allowlist. See it with `/call callerid list`."
        await permissions.audit(user_id, "callerid.remove", number)
        return f"Removed {shown} from the allowed caller IDs."
    label, channels = _label_and_channels(rest)
    new = await store.add_caller_id(number, label=label, channels=channels, added_by=user_id, at=deps.clock())
    detail = f"label={label!r} channels={','.join(sorted(channels))}"
    await permissions.audit(user_id, "callerid.add", number, detail=detail)
    verb = "Added" if new else "Updated"
    named = f" ({texts.escape(label)})" if label else ""
    return f"{verb} {shown}{named} for {', '.join(sorted(channels))}."


async def _deny(args: list[str], user_id: str, deps: Deps) -> str:
    action = args[0].lower() if args else "list"
    store, permissions, region = deps.records, deps.permissions, deps.policy.default_region
    if action == "list":
        await permissions.require_admin(user_id, action="deny.list")
        entries = await store.denied_destinations()
        if not entries:
            return "The deny list is empty. Add a number or prefix: `/call deny add +1900 premium lines`."
        lines = [
            f"• `{e.prefix}`" + (f" ({texts.escape(e.reason)})" if e.reason else "") + f" · added by {_who(e.added_by)}"
            for e in entries
        ]
        return "*Denied destinations* (numbers, or numbers starting with)\n" + "\n".join(lines)
    if action not in {"add", "remove"} or len(args) < 2:
        return USAGE
    typed, rest = _number_words(args[1:])
    target = _quietly(lambda: _prefix(typed, region)) or typed
    await permissions.require_admin(user_id, action=f"deny.{action}", target=target)
    prefix = _prefix(typed, region)
    if action == "remove":
        if not await store.remove_denied(prefix):
            return f"`{prefix}` is not on the deny list. See it with `/call deny list`."
        await permissions.audit(user_id, "deny.remove", prefix)
        return f"Removed `{prefix}` from the deny list."
    reason = " ".join(rest)
    new = await store.add_denied(prefix, reason=reason, added_by=user_id, at=deps.clock())
    await permissions.audit(user_id, "deny.add", prefix, detail=reason)
    return f"{'Added' if new else 'Updated'} `{prefix}`: calls to numbers starting with it are refused."


async def _history(args: list[str], user_id: str, deps: Deps) -> str:
    try:
        count = int(args[0]) if args else 10
    except ValueError:
        return "Say how many calls to show, e.g. `/call history 20`."
    count = min(max(count, 1), MAX_HISTORY)
    admin = await deps.permissions.is_admin(user_id)
    recent = await deps.records.recent_calls(user_id=None if admin else user_id, limit=count)
    if not recent:
        return "No calls yet." if admin else "You have not placed any calls yet."
    title = f"*The last {len(recent)} calls*" if admin else f"*Your last {len(recent)} calls*"
    return title + "\n" + "\n".join(_line(call, with_who=admin) for call in recent)


async def _status(args: list[str], user_id: str, deps: Deps) -> str:
    if not args:
        return "Say which call, e.g. `/call status 3f2a9c1b7d4e` (`/call history` shows the ids)."
    call = await deps.records.call(args[0])
    if call is None or (call.request.origin.user_id != user_id and not await deps.permissions.is_admin(user_id)):
        return f"I found no call `{texts.escape(args[0])}` that you placed. `/call history` lists yours."
    request = call.request
    lines = [
        f"*Call `{call.id}`* to {texts.escape(texts.destination(call))}",
        f"{texts.state_line(call)}",
        f"Requested by <@{request.origin.user_id}> at {call.created_at:%Y-%m-%d %H:%M} UTC"
        f" · from {format_international(request.caller_id)} · via {request.channel.value}",
    ]
    if call.slack_channel and call.slack_ts:
        lines.append(f"Thread: <#{call.slack_channel}> (message {call.slack_ts})")
    return "\n".join(lines)


def _line(call: Call, *, with_who: bool) -> str:
    who = f" · <@{call.request.origin.user_id}>" if with_who else ""
    return (
        f"• `{call.id}` {call.created_at:%m-%d %H:%M} UTC → {texts.escape(texts.destination(call))}"
        f" · {texts.state_line(call)}{who}"
    )


def _number_words(words: list[str]) -> tuple[str, list[str]]:
    """`+1 415 555 0100 Sales` → ("+1 415 555 0100", ["Sales"]): people type numbers with spaces."""
    count = next((i for i, word in enumerate(words) if not _NUMBER_WORD.fullmatch(word)), len(words))
    count = max(count, 1)
    return " ".join(words[:count]), words[count:]


def _label_and_channels(words: list[str]) -> tuple[str, frozenset[Channel]]:
    """`"Support line" channels: pstn,whatsapp` → ("Support line", {pstn, whatsapp}); pstn when none is named."""
    label: list[str] = []
    channel_words: list[str] = []
    for index, word in enumerate(words):
        if word.lower().startswith("channels:"):
            channel_words = [word[len("channels:") :], *words[index + 1 :]]
            break
        label.append(word)
    names = [name.strip().lower() for part in channel_words for name in part.split(",") if name.strip()]
    try:
        channels = frozenset(Channel(name) for name in names) or frozenset({Channel.PSTN})
    except ValueError:
        raise Refusal(Why.UNKNOWN_CHANNELS, typed=" ".join(channel_words)) from None
    return " ".join(label), channels


def _prefix(typed: str, region: str) -> str:
    """A deny-list entry as E.164 digits: a whole number (read like /call reads it) or its first digits."""
    compact = re.sub(r"[\s().\-]", "", typed)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if _PREFIX.fullmatch(compact):
        return compact
    try:
        return parse_phone_number(typed, region)
    except Refusal:
        raise Refusal(Why.BAD_PREFIX, typed=typed) from None


def _quietly(read: Callable[[], str]) -> str | None:
    """What `read` gives, or None where it refuses: for the audit log's target, before the admin check."""
    try:
        return read()
    except Refusal:
        return None


def _who(added_by: str) -> str:
    return f"<@{added_by}>" if added_by[:1] in {"U", "W"} else added_by
