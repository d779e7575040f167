"""`/call callerid …`, `/call deny …`, `/call history [n]`, `/call status <id>`, `/call spend`: lists and records
from Slack.

`/call` hands these words to `answer()`; every answer is ephemeral, worded in `texts/admin.py`. Changing a list is
for callbot admins only (Permissions), and every change and every refused attempt is written to the audit log
(Allowlist, Permissions).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable

from bot.calls.allowlist import channels_named, deny_prefix
from bot.calls.grammar import readable
from bot.calls.models import Channel
from bot.calls.numbers import parse_phone_number
from bot.errors import Refusal
from bot.slack import texts
from bot.slack.deps import Deps
from bot.slack.texts import admin as words

SUBCOMMANDS = frozenset({"callerid", "callerids", "deny", "history", "status", "spend"})
MAX_HISTORY = 50
USAGE = words.USAGE
_NUMBER_WORD = re.compile(r"[+\d()][\d()\-.]*")


def handles(text: str) -> bool:
    """True if the `/call` text is one of the subcommands this module answers."""
    first = text.split(None, 1)[0].lower() if text.strip() else ""
    return first in SUBCOMMANDS


async def answer(text: str, user_id: str, deps: Deps, *, team_id: str = "") -> str:
    """The ephemeral reply to one subcommand (asked in the workspace `team_id`); refusals come back as their text.

    Slack sends links escaped (`<tel:+14155550123|+1 415 555 0123>`): they are read as typed first.
    """
    try:
        said = shlex.split(readable(text).replace("“", '"').replace("”", '"'))
    except ValueError:
        return words.QUOTE_NOT_CLOSED
    command, args = said[0].lower(), said[1:]
    try:
        if command in {"callerid", "callerids"}:
            return await _callerid(args, user_id, deps)
        if command == "deny":
            return await _deny(args, user_id, deps)
        if command == "history":
            return await _history(args, user_id, deps)
        if command == "spend":
            await deps.permissions.require_admin(user_id, action="spend")
            return words.spend(await deps.permissions.spending.report(team_id))
        return await _status(args, user_id, deps)
    except Refusal as refusal:
        return texts.refusal(refusal)


async def _callerid(args: list[str], user_id: str, deps: Deps) -> str:
    action = args[0].lower() if args else "list"
    allowlist, region = deps.allowlist, deps.policy.default_region
    if action == "list":  # everyone may see which numbers they can call from
        entries = await allowlist.caller_ids()
        return words.caller_ids(entries) if entries else words.NO_CALLER_IDS_YET
    if action not in {"add", "remove"} or len(args) < 2:
        return USAGE
    typed, rest = _number_words(args[1:])
    target = _quietly(lambda: parse_phone_number(typed, region, field="caller_id")) or typed
    await deps.permissions.require_admin(user_id, action=f"callerid.{action}", target=target)
    number = parse_phone_number(typed, region, field="caller_id")
    if action == "remove":
        if not await allowlist.remove_caller_id(number, by=user_id):
            return words.caller_id_not_listed(number)
        return words.caller_id_removed(number)
    label, channels = _label_and_channels(rest)
    new = await allowlist.add_caller_id(number, label=label, channels=channels, by=user_id)
    return words.caller_id_added(number, label=label, channels=channels, new=new)


async def _deny(args: list[str], user_id: str, deps: Deps) -> str:
    action = args[0].lower() if args else "list"
    allowlist, region = deps.allowlist, deps.policy.default_region
    if action == "list":
        await deps.permissions.require_admin(user_id, action="deny.list")
        entries = await allowlist.denied()
        return words.denied(entries) if entries else words.DENY_LIST_EMPTY
    if action not in {"add", "remove"} or len(args) < 2:
        return USAGE
    typed, rest = _number_words(args[1:])
    target = _quietly(lambda: deny_prefix(typed, region)) or typed
    await deps.permissions.require_admin(user_id, action=f"deny.{action}", target=target)
    prefix = deny_prefix(typed, region)
    if action == "remove":
        if not await allowlist.undeny(prefix, by=user_id):
            return words.prefix_not_listed(prefix)
        return words.prefix_removed(prefix)
    new = await allowlist.deny(prefix, reason=" ".join(rest), by=user_id)
    return words.prefix_added(prefix, new=new)


async def _history(args: list[str], user_id: str, deps: Deps) -> str:
    try:
        count = int(args[0]) if args else 10
    except ValueError:
        return words.HOW_MANY
    count = min(max(count, 1), MAX_HISTORY)
    everyone = await deps.permissions.is_admin(user_id)
    recent = await deps.records.recent_calls(user_id=None if everyone else user_id, limit=count)
    return words.history(recent, everyone=everyone)


async def _status(args: list[str], user_id: str, deps: Deps) -> str:
    if not args:
        return words.WHICH_CALL
    call = await deps.records.call(args[0])
    if call is None or (call.request.origin.user_id != user_id and not await deps.permissions.is_admin(user_id)):
        return words.no_such_call(args[0])
    return words.status(call)


def _number_words(said: list[str]) -> tuple[str, list[str]]:
    """`+1 415 555 0100 Sales` → ("+1 415 555 0100", ["Sales"]): people type numbers with spaces."""
    count = next((i for i, word in enumerate(said) if not _NUMBER_WORD.fullmatch(word)), len(said))
    count = max(count, 1)
    return " ".join(said[:count]), said[count:]


def _label_and_channels(said: list[str]) -> tuple[str, frozenset[Channel]]:
    """`"Support line" channels: pstn,whatsapp` → ("Support line", {pstn, whatsapp}); pstn when none is named."""
    label: list[str] = []
    channel_words: list[str] = []
    for index, word in enumerate(said):
        if word.lower().startswith("channels:"):
            channel_words = [word[len("channels:") :], *said[index + 1 :]]
            break
        label.append(word)
    return " ".join(label), channels_named(" ".join(channel_words))


def _quietly(read: Callable[[], str]) -> str | None:
    """What `read` gives, or None where it refuses: for the audit log's target, before the admin check."""
    try:
        return read()
    except Refusal:
        return None
