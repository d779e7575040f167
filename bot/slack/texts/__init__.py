"""Every sentence a person reads in Slack, in one place so tone and accuracy are reviewed together.

This module holds the call's messages, the usage card and the form; `refusals` the words for each refusal code
(`bot/calls/refusals.py`), `reasons` the words for why a call failed (`bot/calls/reasons.py`), `markup` the
pieces they are built from. The domain hands over codes and facts; only here do they become words.
"""

from __future__ import annotations

from datetime import UTC

from bot.calls.models import Call, CallState, Channel
from bot.calls.numbers import format_international
from bot.slack.texts.markup import CURRENCY, money
from bot.slack.texts.markup import escape as escape
from bot.slack.texts.outcomes import duration as duration
from bot.slack.texts.outcomes import outcome_line as outcome_line
from bot.slack.texts.outcomes import outcome_state, outcome_summary
from bot.slack.texts.reasons import reason as reason
from bot.slack.texts.refusals import refusal as refusal
from bot.slack.texts.refusals import who_to_ask as who_to_ask

USAGE = (
    "*Place a call:* `/call <destination> [from <caller id>] [via phone|sip|user|whatsapp] [for <minutes>m] "
    "[voicemail: leave|hang up] [record] [at 15:30 | in 20m] [retry 2 every 10m] [what the agent should say]`\n"
    "For example: `/call +14155550100 remind Ana the review moved to 3pm`"
)
USAGE_EXAMPLES = (
    ("/call +1 (415) 555-0100 remind Ana the review moved to 3pm", "a phone call; the rest is for the agent"),
    ("/call 415-555-0100 from +14155550123 for 5m ask about the invoice", "local form, a caller ID, a time limit"),
    ("/call 00 44 20 7946 0000 confirm Friday's delivery", "international form with 00"),
    ("/call sip:desk@pbx.example.com via sip check the line", "a SIP address"),
    ("/call alice via user say the build is green", "a user of the Voximplant app"),
    ("/call +14155550100 via whatsapp say hello", "a WhatsApp call"),
    (
        "/call +14155550100 voicemail: hang up ask Ana to confirm",
        "hang up at a voicemail greeting (default: leave one)",
    ),
    ("/call +14155550100 record ask about the invoice", "record the call, where an admin turned recording on"),
    ("/call +14155550100 at 15:30 retry 2 every 10m remind Ana", "later (your time zone), redialled if busy"),
    ("/call say hello", "no destination: opens the form, filled in"),
    ("/call +14155550100", "nothing for the agent to say: opens the form to ask"),
)
USAGE_FOOTER = (
    "Options go right after the destination, in any order. Emergency, short and premium-rate numbers are never "
    "dialled. You can also use the *Place a call* shortcut, or *Call about this* on any message."
)
UNEXPECTED = (
    "Something went wrong on our side (reference `{ref}`). Check the call's thread before you try again; "
    "if it keeps failing, give your admin the reference."
)
STORE_FAILED = (
    "Sorry, callbot can't save anything right now, so nothing was done and nothing was dialled. Try again later."
)
COMMAND_TOO_LATE = (
    "callbot could only get to your command {seconds} seconds after you sent it, so it did nothing and dialled "
    "nothing. Please send it again."
)
COMMAND_MAYBE_DONE = (
    "callbot stopped while it was handling your command, so I can't tell whether it was done. Check the channel "
    "and `/call status` before you send it again."
)
SLACK_NOT_CONFIRMED = (
    "Slack isn't answering callbot right now, so I can't place calls yet. Try again in a minute; nothing was dialled."
)
SLACK_TOKEN_REFUSED = (
    "Slack is refusing callbot's token right now, so I can't place calls. Nothing was dialled; please tell a "
    "callbot admin."
)
FALLBACK_TO_DM = "I couldn't post in <#{conversation}> ({why}), so I'm following this call here."
MOVED_TO_DM = "I can no longer post in <#{conversation}> ({why}), so I'm following this call here from now on."
NOWHERE_TO_POST = "I couldn't post the call's thread anywhere ({why}), so I did not place the call."
MESSAGES_TAB_OFF = (
    " I can't message you directly because callbot's *Messages tab* is off: ask a Slack admin to turn it on "
    "(the app's settings at api.slack.com/apps, *App Home* > *Show Tabs* > *Messages Tab*, or "
    "`features.app_home.messages_tab_enabled: true` in its manifest). Until then, call from a channel callbot can "
    "post in."
)


def nowhere_to_post(why: str) -> str:
    """Why a call was not placed when its thread could be posted nowhere; names the setting an admin can change."""
    text = NOWHERE_TO_POST.format(why=why)
    if "messages_tab_disabled" in why:
        text += MESSAGES_TAB_OFF
    return text


CHANNEL_NAMES = {
    Channel.PSTN: "Phone",
    Channel.SIP: "SIP",
    Channel.USER: "App user",
    Channel.WHATSAPP: "WhatsApp",
}
MODAL_TITLE = "Place a call"
MODAL_SUBMIT = "Call"
MODAL_CLOSE = "Cancel"
REFUSED_TITLE = "Can't place this call"
LABEL_DESTINATION = "Who to call"
PLACEHOLDER_DESTINATION = "+1 415 555 0100, sip:alice@example.com or an app user name"
HINT_DESTINATION = "Phone numbers with their country code; local numbers are read as {region} numbers."
LABEL_CHANNEL = "Call via"
PLACEHOLDER_CHANNEL = "Detect from the destination"
LABEL_CALLER_ID = "Call from"
PLACEHOLDER_CALLER_ID = "Choose a caller ID"
HINT_CALLER_ID_DEFAULT = "Leave it empty to use the default caller ID for the channel."
HINT_CALLER_ID_CLIPPED = "Showing the first {shown} of {total} caller IDs; for another, type `/call … from <number>`."
NO_CALLER_IDS = (
    ":warning: No caller ID is allowed yet, so no call can be placed. An admin can add one with "
    "`callbot callerids add +14155550123`."
)
LABEL_DURATION = "Longest call (minutes)"
PLACEHOLDER_DURATION = "Up to {minutes}"
LABEL_INSTRUCTIONS = "What the agent should say"
LABEL_AFTER_HOURS = "Outside calling hours"
PLACEHOLDER_AFTER_HOURS = "Only to call outside calling hours: why it cannot wait"
HINT_AFTER_HOURS = "Callbot admins only. The reason is kept in the audit log."
PLACEHOLDER_INSTRUCTIONS = "e.g. Remind Ana the review moved to 3pm and ask if that still works."
LABEL_VOICEMAIL = "If a voicemail answers"
VOICEMAIL_CHOICES = {"leave": "Leave a short message", "hang_up": "Hang up without a message"}
LABEL_RECORD = "Recording"
RECORD_OPTION = "Record this call (the agent says so first)"
HINT_RECORD = "The link goes to you and the admins only, never to the channel."
LABEL_CONVERSATION = "Post the call's thread in"
THREAD_NOTE = "The call's thread will reply to the message you picked, when posted in its conversation."
NO_CONVERSATION = "Choose the conversation where the call's thread goes."
FORM_EXPIRED = "This form is out of date; close it and open a new one with `/call`."
MODAL_BUSY = (
    "Slack asked callbot to slow down, so I couldn't open the call form. Try `/call` again in {seconds} s, or type "
    "the whole call: `/call +14155550100 what the agent should say`."
)
MODAL_FAILED = (
    "I couldn't open the call form ({why}). Try `/call` again, or type the whole call: "
    "`/call +14155550100 what the agent should say`."
)

_STATE_WORDS = {
    CallState.REQUESTED: ":telephone_receiver: Dialing…",
    CallState.STARTING: ":telephone_receiver: Dialing…",
    CallState.DIALING: ":telephone_receiver: Dialing…",
    CallState.RINGING: ":bell: Ringing…",
    CallState.CONNECTED: ":large_green_circle: Connected: the agent is talking",
}


def destination(call: Call) -> str:
    request = call.request
    if request.channel in (Channel.PSTN, Channel.WHATSAPP):
        return format_international(request.destination)
    return request.destination


def state_line(call: Call) -> str:
    """The call's state as the parent message shows it (mrkdwn: the reason, from Voximplant or a SIP server, is
    escaped)."""
    if call.state in _STATE_WORDS:
        return _STATE_WORDS[call.state]
    shown = outcome_state(call) if call.state in {CallState.ENDED, CallState.FAILED} else None
    if shown is not None:  # how it ended, as the summary says it (a call that ended before outcomes: as it was)
        return shown
    if call.state is CallState.ENDED:
        return f":white_check_mark: Ended after {duration(call.duration_s)}"
    if call.state is CallState.CANCELED:
        return f":no_entry_sign: Canceled: {escape(reason(call.state_reason))}"
    return f":x: Failed: {escape(reason(call.state_reason))}"


def headline(call: Call) -> str:
    return f"Call to {destination(call)}"


def summary(call: Call) -> str:
    """One line for notifications and the parent message's fallback text (mrkdwn, escaped)."""
    return f"{escape(headline(call))}: {state_line(call)}"


def milestone(call: Call) -> str | None:
    """The thread reply for the state a call just reached, or None for states that get none."""
    match call.state:
        case CallState.DIALING:
            return f":telephone_receiver: Dialing {escape(destination(call))}…"
        case CallState.RINGING:
            return ":bell: Ringing…"
        case CallState.CONNECTED:
            return ":large_green_circle: Connected. The agent is talking."
        case CallState.ENDED:
            return f":white_check_mark: Call ended after {duration(call.duration_s)}."
        case CallState.FAILED:
            return f":x: The call failed: {escape(reason(call.state_reason))}."
        case CallState.CANCELED:
            return f":no_entry_sign: The call was canceled: {escape(reason(call.state_reason))}."
    return None


def placed_at(call: Call) -> str:
    """When the call was placed, as a Slack date: each reader sees it in their own time zone and words ("today at
    2:40 PM"); clients that cannot format it show the UTC fallback (docs.slack.dev/messaging/formatting-message-text,
    "Date formatting")."""
    placed = call.created_at.astimezone(UTC)
    return f"placed <!date^{int(placed.timestamp())}^{{date_short_pretty}} at {{time}}|{placed:%Y-%m-%d %H:%M} UTC>"


def final_summary(
    call: Call, *, turns: int, cost: float | None, from_history: bool = False, notes: tuple[str, ...] = ()
) -> str:
    """The last reply of a call's thread: its outcome first, then duration and turns (or why it did not connect),
    the cost when Voximplant reported it, then what happened at a voicemail greeting and whether it was recorded
    (`notes`)."""
    if call.outcome is not None:
        text = outcome_summary(call, call.outcome, turns=turns, cost=cost)
    else:  # a call that ended before outcomes were stored
        text = milestone(call) or summary(call)
        if call.state is CallState.ENDED:
            text += f" {turns} {'turn' if turns == 1 else 'turns'}."
        if cost is not None:
            text += f" Cost: {money(cost)} ({CURRENCY})."
    for note in notes:
        text += f" {note}"
    if from_history:
        text += " _No status came from the call for a while, so this final state comes from Voximplant's call history._"
    return text


def answered(by: str) -> str:
    """Who answered, from answering-machine detection (PSTN calls)."""
    if by == "voicemail":
        return ":vhs: Reached voicemail."
    if by == "human":
        return ":bust_in_silhouette: A person answered."
    return ":grey_question: I couldn't tell whether a person or a machine answered; the agent talks as with a person."


def voicemail(left: bool, message_s: float) -> str:
    """What the agent did at a voicemail greeting."""
    if left:
        return f":vhs: Voicemail: left a {max(1, round(message_s))} s message."
    return ":vhs: Voicemail: hung up without a message."


def recording_shared(requester: str) -> str:
    """In the call's thread: the call is recorded, and where its link went (never here: anyone with it can listen)."""
    return (
        f":red_circle: This call is recorded. The link to the recording went to <@{requester}> and the callbot admins "
        "in a direct message, not here: anyone who has the link can listen to it."
    )


def recording_link(call: Call, url: str) -> str:
    """The direct message with a call's recording link, for its requester and the admins only."""
    return (
        f":red_circle: The recording of the {escape(headline(call))} (call `{call.id}`, asked for by "
        f"<@{call.request.origin.user_id}>): <{url}|listen>. Anyone who has this link can listen to it: don't post it "
        "in a channel."
    )


RECORDED_NOTE = "Recorded: the link went to the requester and the admins in a direct message."


def hang_up_requested(user_id: str) -> str:
    return f":octagonal_sign: <@{user_id}> asked to hang up."


def hang_up_failed(why: str) -> str:
    return f":warning: I couldn't hang up the call ({escape(why)}). I'm checking Voximplant's call history."


def start_unconfirmed(why: str) -> str:
    return (
        f":warning: Voximplant did not confirm the call ({escape(why)}), but the call is under way: its status reports "
        "keep coming, so this thread follows it. The Hang up button can't reach it; it ends by itself at its time "
        "limit."
    )


def transcript(role: str, text: str) -> str:
    speaker = "Agent" if role == "agent" else "Callee"
    return f"*{speaker}:* {escape(text)}"


def scenario_error(message: str) -> str:
    return f":warning: The call reported a problem: {escape(message)}"


def agent_stumbled(message: str) -> str:
    """A Voice AI error that leaves its session open: the call goes on."""
    return f":warning: The agent hit a problem and carries on: {escape(message)}"


def balance_empty(requester: str) -> str:
    """For callbot admins, once, when Voximplant refuses calls for want of funds."""
    return (
        f":warning: Voximplant refused a call <@{requester}> asked for: the account's balance is too low to place "
        "calls (402 Payment Required). No call can go out until it is topped up in the Voximplant control panel "
        "(Billing). I'll tell you again only if this happens after calls have worked again."
    )
