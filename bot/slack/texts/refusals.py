"""The words for each refusal code (`bot/calls/refusals.py`): what was wrong, and what to do instead.

A code whose words name no facts is a line in `_PLAIN`; any other has a function below, registered with `@_says`.
A call's buttons (Hang up, Say…, Join) have theirs in `buttons.py`.
Numbers come as E.164 and are shown in international form here; what people typed is quoted as typed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

from bot.calls.hours import Closed, place_name
from bot.calls.models import Channel
from bot.calls.numbers import format_international
from bot.calls.refusals import Admins, Choice, Why
from bot.errors import LimitReached, Refusal, Refusals
from bot.slack.texts import buttons
from bot.slack.texts.markup import CURRENCY, count, either, escape, lowered, minutes, money, resets, shown, when
from bot.slack.texts.schedules import WORDS as SCHEDULE_WORDS

EXAMPLE = "`+14155550100`"
_PLAIN = {
    Why.NO_DESTINATION: "Say who to call: `/call +14155550100 what the agent should say`.",
    Why.EMPTY_DESTINATION: f"Say who to call: a phone number such as {EXAMPLE}.",
    Why.TOO_SHORT: "A call needs at least one minute. Say e.g. `for 5m`.",
    Why.RECORDING_OFF: (
        "Recording is off on this workspace, so I can't record this call (nothing was dialled). Ask again without "
        "`record`, or ask an admin to turn recording on (RECORDING_ENABLED)."
    ),
    Why.NO_INSTRUCTIONS: (
        "Say what the agent should tell the person you call, e.g. `/call +14155550100 remind Ana the review moved "
        "to 3pm`."
    ),
    Why.NOT_SET_UP: (
        "Calling is not set up on this workspace yet: an admin needs to set the Voximplant settings (see the README, "
        "“Voximplant setup”)."
    ),
    Why.MEMBERSHIP_UNKNOWN: "Slack did not tell me in time whether you may call; try again in a moment.",
    Why.ADMIN_UNKNOWN: "Slack did not tell me in time whether you are a callbot admin; try again in a moment.",
    **buttons.PLAIN,
}
# Number types as ALLOWED_NUMBER_TYPES names them (bot/calls/numbers.py, type_name).
_TYPE_WORDS = {
    "premium_rate": "a premium-rate number",
    "shared_cost": "a shared-cost number",
    "pager": "a pager number",
    "uan": "a universal access number",
    "voicemail": "a voicemail access number",
    "personal_number": "a personal forwarding number",
    "mobile": "a mobile number",
    "fixed_line": "a landline number",
    "fixed_line_or_mobile": "a landline or mobile number",
    "toll_free": "a toll-free number",
    "voip": "a VoIP number",
}
_CHANNEL_CALLS = {
    Channel.PSTN: "phone calls",
    Channel.SIP: "SIP calls",
    Channel.USER: "app user calls",
    Channel.WHATSAPP: "WhatsApp calls",
}
# What an admin command was for, by its audit-log action (bot/slack/admin.py).
_ADMIN_ACTIONS = {
    "callerid.add": "change the allowed caller IDs",
    "callerid.remove": "change the allowed caller IDs",
    "deny.list": "see the deny list",
    "deny.add": "change the deny list",
    "deny.remove": "change the deny list",
    "call.after_hours": "place calls outside calling hours",
    "spend": "see what calls cost",
}
_Words = Callable[[Refusal, dict[str, Any]], str]
_SAYS: dict[Why, _Words] = dict(buttons.SAYS)


def refusal(refused: Refusal) -> str:
    """What the person reads: each reason of several on its own line."""
    if isinstance(refused, Refusals):
        return "\n".join(refusal(each) for each in refused.each)
    plain = _PLAIN.get(refused.why)
    return plain if plain is not None else _SAYS[refused.why](refused, dict(refused.facts))


def who_to_ask(admins: Admins) -> str:
    """Who a person can ask about callbot, as a sentence with Slack mentions."""
    named = _admins_named(admins)
    return f"Ask {named}." if named else "callbot has no admins yet: ask whoever runs it to name some."


def _admins_named(admins: Admins) -> str | None:
    """`<@U1>, <@U2> or a workspace admin`; None when callbot has no admins."""
    named = [f"<@{admin}>" for admin in admins.named[:5]]
    if len(admins.named) > len(named):
        named.append("another callbot admin")
    if admins.workspace_admins:
        named.append("a workspace admin")
    return either(named) if named else None


def _says(*codes: Why) -> Callable[[_Words], _Words]:
    def register(words: _Words) -> _Words:
        for code in codes:
            _SAYS[code] = words
        return words

    return register


@_says(Why.EMERGENCY)
def _emergency(_: Refusal, f: dict[str, Any]) -> str:
    return f"{f['typed']} is an emergency number. callbot never dials emergency services: call them yourself, now."


@_says(Why.UNREADABLE_NUMBER)
def _unreadable(_: Refusal, f: dict[str, Any]) -> str:
    return f"I couldn't read `{f['typed']}` as a phone number. Write it in international form, e.g. {EXAMPLE}."


@_says(Why.SHORT_CODE)
def _short_code(_: Refusal, f: dict[str, Any]) -> str:
    return (
        f"{f['typed']} is a short code. callbot only calls full phone numbers: if the service has an ordinary number, "
        f"call that one, with its country code (e.g. {EXAMPLE})."
    )


@_says(Why.INVALID_NUMBER)
def _invalid(_: Refusal, f: dict[str, Any]) -> str:
    where = f" in {f['region']}" if f.get("region") else ""
    return (
        f"`{f['typed']}` is not a valid phone number{where}. Check the digits and include the country code, "
        f"e.g. {EXAMPLE}."
    )


@_says(Why.NUMBER_TYPE)
def _number_type(_: Refusal, f: dict[str, Any]) -> str:
    what = _TYPE_WORDS.get(f["kind"], "an unknown number")
    return (
        f"{format_international(f['number'])} is {what}; callbot does not call those here. "
        "Ask an admin if this one is needed."
    )


@_says(Why.NON_GEOGRAPHIC)
def _non_geographic(_: Refusal, f: dict[str, Any]) -> str:
    return (
        f"{format_international(f['number'])} is a non-geographic number (+{f['country_code']} belongs to no "
        f"country), and calls here may only go to {', '.join(f['allowed'])}. Ask an admin if you need it."
    )


@_says(Why.REGION_NOT_ALLOWED)
def _region(_: Refusal, f: dict[str, Any]) -> str:
    allowed = ", ".join(f["allowed"])
    return f"Calls to {f['region']} are not allowed here (allowed: {allowed}). Ask an admin if you need it."


@_says(Why.AMBIGUOUS_NUMBER)
def _ambiguous(_: Refusal, f: dict[str, Any]) -> str:
    readings: Sequence[str] = f["readings"]
    return (
        f"I can read `{f['typed']}` as more than one number: {either([format_international(r) for r in readings])}. "
        f"Write the number without spaces, e.g. `{readings[0]}`, so I call the one you mean."
    )


@_says(Why.OUTSIDE_CALLING_HOURS)
def _outside_calling_hours(_: Refusal, f: dict[str, Any]) -> str:
    shut: Closed = f["closed"]
    number = format_international(shut.number)
    (first, first_at), (last, last_at) = shut.local[0], shut.local[-1]
    if len(shut.local) == 1:
        where = f"It's {first_at:%H:%M} in {place_name(first)}, where {number} rings"
        there = "there"
    else:
        where = (
            f"{number} may ring in {len(shut.local)} time zones, from {place_name(first)} to {place_name(last)}, "
            f"where it's {first_at:%H:%M} to {last_at:%H:%M}"
        )
        there = "in every one of them"
    rule = f"callbot places calls between {f['window']} local time"
    if shut.opens_at is None:
        later = f"No time of day is inside those hours {there}, so callbot does not call it."
    else:
        later = f"You can call it {when(shut.opens_at, f['now'])}."
    anyway = (
        "As a callbot admin you can call anyway: open the form with `/call` and give a reason under "
        "*Outside calling hours*."
        if f["admin"]
        else "If it cannot wait, ask a callbot admin."
    )
    return f"{where}; {rule}. {later} {anyway}"


@_says(Why.DENIED)
def _denied(_: Refusal, f: dict[str, Any]) -> str:
    note = f" ({f['reason']})" if f.get("reason") else ""
    return (
        f"{format_international(f['number'])} is on this workspace's deny list{note}. "
        "Ask a callbot admin if you think that is a mistake."
    )


@_says(Why.SIP_NOT_PHONE)
def _sip_not_phone(_: Refusal, f: dict[str, Any]) -> str:
    return (
        f"`{shown(f['typed'])}` is a SIP address, not a phone number. Choose SIP, or write "
        "`/call sip:alice@example.com via sip`."
    )


@_says(Why.BAD_SIP_URI)
def _bad_sip_uri(_: Refusal, f: dict[str, Any]) -> str:
    return (
        f"`{shown(f['typed'])}` is not a SIP address callbot can call. Write it as `sip:alice@example.com` "
        "(user, `@`, host; an optional `:port`)."
    )


@_says(Why.BAD_SIP_PORT)
def _bad_sip_port(_: Refusal, f: dict[str, Any]) -> str:
    return f"`{shown(f['typed'])}` has port {f['port']}; ports go from 1 to 65535."


@_says(Why.BAD_USER_NAME)
def _bad_user_name(_: Refusal, f: dict[str, Any]) -> str:
    return (
        f"`{shown(f['typed'])}` is not an app user name. User names are one word of letters, digits, `.`, `_` or "
        "`-` (at most 50), such as `alice` or `desk-12`."
    )


@_says(Why.BAD_CHANNEL)
def _bad_channel(_: Refusal, f: dict[str, Any]) -> str:
    return (
        f"`{shown(f['typed'])}` is not a way callbot can call. Say `via phone`, `via sip`, `via user` or "
        "`via whatsapp`."
    )


@_says(Why.BAD_DURATION)
def _bad_duration(_: Refusal, f: dict[str, Any]) -> str:
    return f"I couldn't read `{shown(f['typed'])}` as a duration. Say minutes, e.g. `for 5m`."


@_says(Why.TOO_LONG)
def _too_long(_: Refusal, f: dict[str, Any]) -> str:
    return f"Calls here may last at most {minutes(f['max_s'])}; ask for `for {f['max_s'] // 60}m` or less."


@_says(Why.BAD_VOICEMAIL)
def _bad_voicemail(_: Refusal, f: dict[str, Any]) -> str:
    return f"At a voicemail greeting I can `leave` a message or `hang up`, not `{shown(f['typed'])}`."


@_says(Why.INSTRUCTIONS_TOO_LONG)
def _instructions_too_long(_: Refusal, f: dict[str, Any]) -> str:
    return f"The instructions are {f['length']} characters long; keep them under {f['limit']}."


@_says(Why.CALLER_ID_NOT_ALLOWED)
def _caller_id_not_allowed(_: Refusal, f: dict[str, Any]) -> str:
    return (
        f"{format_international(f['number'])} is not an allowed caller ID for {_CHANNEL_CALLS[f['channel']]}. "
        + _choices(f["allowed"])
    )


@_says(Why.NO_CALLER_ID)
def _no_caller_id(_: Refusal, f: dict[str, Any]) -> str:
    return (
        f"No caller ID is allowed for {_CHANNEL_CALLS[f['channel']]} yet. An admin can add one with "
        "`/call callerid add +14155550123` (or `callbot callerids sync`)."
    )


@_says(Why.CHOOSE_CALLER_ID)
def _choose_caller_id(_: Refusal, f: dict[str, Any]) -> str:
    allowed: Sequence[Choice] = f["allowed"]
    return f"Say which number to call from, e.g. `from {allowed[0].number}`. " + _choices(allowed)


def _choices(allowed: Sequence[Choice]) -> str:
    if not allowed:
        return "No caller ID is allowed yet; ask an admin to add one."
    listed = ", ".join(format_international(c.number) + (f" ({c.label})" if c.label else "") for c in allowed[:10])
    return f"Allowed: {listed}."


@_says(Why.MEMBERSHIP_UNCHECKED)
def _membership_unchecked(_: Refusal, f: dict[str, Any]) -> str:
    said = ", ".join(f"{group}: {code}" for group, code in f["problems"])
    return (
        f"I couldn't check whether you may place calls (Slack said {said}). "
        f"Try again in a minute; if it keeps happening, tell {_admins_named(f['admins']) or 'whoever runs callbot'}."
    )


@_says(Why.NOT_A_CALLER)
def _not_a_caller(_: Refusal, f: dict[str, Any]) -> str:
    groups = either([f"<!subteam^{g}>" if g.startswith("S") else f"<#{g}>" for g in f["groups"]])
    return f"Only members of {groups} may place calls with callbot. If you need to, {lowered(who_to_ask(f['admins']))}"


@_says(Why.NOT_AN_ADMIN)
def _not_an_admin(_: Refusal, f: dict[str, Any]) -> str:
    return f"Only callbot admins can {_ADMIN_ACTIONS.get(f['action'], 'do that')}. {who_to_ask(f['admins'])}"


@_says(Why.HOURLY_LIMIT)
def _hourly_limit(refused: Refusal, f: dict[str, Any]) -> str:
    return (
        f"You have placed {count(f['count'], 'call')} in the last hour; the limit is {f['limit']} an hour. "
        f"You can place the next one {when(_retry_at(refused), f['now'])}."
    )


@_says(Why.USER_CALLS_UNDER_WAY, Why.WORKSPACE_CALLS_UNDER_WAY)
def _under_way(refused: Refusal, f: dict[str, Any]) -> str:
    mine = refused.why is Why.USER_CALLS_UNDER_WAY
    who, whose = ("You have", "your calls") if mine else ("This workspace has", "this workspace's calls")
    retry_at, now = _retry_at(refused), f["now"]
    soon = (
        f"as soon as one ends, {when(retry_at, now)} at the latest"
        if retry_at > now
        else f"as soon as one of {whose} ends"
    )
    return (
        f"{who} {count(f['live'], 'call')} under way; "
        f"the limit is {f['limit']} at once. You can place the next one {soon}."
    )


@_says(Why.PERSON_SPEND_CAP)
def _person_spend_cap(refused: Refusal, f: dict[str, Any]) -> str:
    return (
        f"You have spent {money(f['spent'])} on calls today (UTC); the cap is {money(f['cap'])} a day per person "
        f"({CURRENCY}). It resets {resets(_retry_at(refused), f['now'])}."
    )


@_says(Why.WORKSPACE_SPEND_CAP)
def _workspace_spend_cap(refused: Refusal, f: dict[str, Any]) -> str:
    return (
        f"This workspace has spent {money(f['spent'])} on calls this month (UTC); the cap is {money(f['cap'])} a "
        f"month ({CURRENCY}). It resets {resets(_retry_at(refused), f['now'])}."
    )


def _retry_at(refused: Refusal) -> datetime:
    return refused.retry_at if isinstance(refused, LimitReached) else cast(datetime, refused.facts["now"])


@_says(Why.UNKNOWN_CHANNELS)
def _unknown_channels(_: Refusal, f: dict[str, Any]) -> str:
    return f"Unknown channel in `{escape(f['typed'])}`: use pstn, sip, user or whatsapp."


@_says(Why.BAD_PREFIX)
def _bad_prefix(_: Refusal, f: dict[str, Any]) -> str:
    return (
        f"`{escape(f['typed'])}` is neither a number nor a prefix. Write it in international form: "
        "`+14155550100` for one number, `+1900` for all numbers starting with +1 900."
    )


_SAYS.update(SCHEDULE_WORDS)  # scheduled calls' refusals (bot/slack/texts/schedules.py)
# Every code has words: a new code without them fails at import, not when someone is refused.
if missing := [code for code in Why if code not in _PLAIN and code not in _SAYS]:
    raise RuntimeError(f"refusal codes without words: {missing}")
