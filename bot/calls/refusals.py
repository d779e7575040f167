"""Why a request is refused: one code per reason, and the facts each code carries. No words.

A `Refusal` (bot/errors.py) carries one of these codes, the `field` it is about, and its facts as keyword values:
numbers in E.164, times as aware datetimes, counts as ints, what was typed as typed. `bot/slack/texts/refusals.py`
turns each code into the sentence a person reads; a new refusal is a new member here and a new line there.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Why(StrEnum):
    """Each reason a request is refused, with the facts its Refusal carries (beside `field`)."""

    # What to call: the destination field
    NO_DESTINATION = "no_destination"  # the request names nobody to call
    EMPTY_DESTINATION = "empty_destination"  # the destination is blank
    EMERGENCY = "emergency"  # typed: an emergency number, in any form
    UNREADABLE_NUMBER = "unreadable_number"  # typed
    SHORT_CODE = "short_code"  # typed
    INVALID_NUMBER = "invalid_number"  # typed; region: the region it was read in, or None
    NUMBER_TYPE = "number_type"  # number (E.164); kind: the number type's name, as ALLOWED_NUMBER_TYPES spells it
    NON_GEOGRAPHIC = "non_geographic"  # number; country_code: int; allowed: the allowed regions, sorted
    REGION_NOT_ALLOWED = "region_not_allowed"  # region; allowed: the allowed regions, sorted
    AMBIGUOUS_NUMBER = "ambiguous_number"  # typed; readings: the numbers (E.164) the words can form
    DENIED = "denied"  # number; reason: the deny list's note (may be empty)
    OUTSIDE_CALLING_HOURS = "outside_calling_hours"  # closed: hours.Closed; window: hours.Window; now; admin: bool
    SIP_NOT_PHONE = "sip_not_phone"  # typed: a SIP address given as a phone number
    BAD_SIP_URI = "bad_sip_uri"  # typed
    BAD_SIP_PORT = "bad_sip_port"  # typed; port: int
    BAD_USER_NAME = "bad_user_name"  # typed
    # How, from where, how long, what to say
    BAD_CHANNEL = "bad_channel"  # typed
    BAD_DURATION = "bad_duration"  # typed
    TOO_SHORT = "too_short"  # under a minute
    TOO_LONG = "too_long"  # max_s: the longest call allowed, in seconds
    NO_INSTRUCTIONS = "no_instructions"
    INSTRUCTIONS_TOO_LONG = "instructions_too_long"  # length, limit: characters
    BAD_VOICEMAIL = "bad_voicemail"  # typed: what `voicemail:` was given (not leave or hang up)
    RECORDING_OFF = "recording_off"  # `record` asked for while RECORDING_ENABLED is off
    CALLER_ID_NOT_ALLOWED = "caller_id_not_allowed"  # number; channel; allowed: the Choices for that channel
    NO_CALLER_ID = "no_caller_id"  # channel: no caller ID is allowed for it
    CHOOSE_CALLER_ID = "choose_caller_id"  # allowed: the Choices (more than one, none the default)
    NOT_SET_UP = "not_set_up"  # Voximplant is not configured on this workspace
    # Who may call
    MEMBERSHIP_UNKNOWN = "membership_unknown"  # Slack did not say in time whether the person may call
    MEMBERSHIP_UNCHECKED = "membership_unchecked"  # problems: (group, Slack error code) pairs; admins: Admins
    NOT_A_CALLER = "not_a_caller"  # groups: the channels (C…, G…) and user groups (S…) allowed; admins: Admins
    ADMIN_UNKNOWN = "admin_unknown"  # Slack did not say in time whether the person is an admin
    NOT_AN_ADMIN = "not_an_admin"  # action: the audit log's name for what was refused; admins: Admins
    # Limits (LimitReached; its retry_at is when the next call is allowed)
    HOURLY_LIMIT = "hourly_limit"  # count: calls in the last hour; limit; now
    USER_CALLS_UNDER_WAY = "user_calls_under_way"  # live; limit; now
    WORKSPACE_CALLS_UNDER_WAY = "workspace_calls_under_way"  # live; limit; now
    PERSON_SPEND_CAP = "person_spend_cap"  # spent: today's (UTC) cost of the person's calls; cap; now
    WORKSPACE_SPEND_CAP = "workspace_spend_cap"  # spent: this month's (UTC) cost of the workspace's calls; cap; now
    # Hang up
    HANG_UP_UNKNOWN = "hang_up_unknown"  # no such call (an older installation's button)
    HANG_UP_NOT_YOURS = "hang_up_not_yours"  # requester: the Slack user who placed it
    HANG_UP_OVER = "hang_up_over"  # the call has ended
    HANG_UP_TOO_EARLY = "hang_up_too_early"  # still being set up
    HANG_UP_UNCONFIRMED = "hang_up_unconfirmed"  # max_duration_s: Voximplant never confirmed the call
    # Join
    JOIN_NOT_YOURS = "join_not_yours"  # requester: the Slack user who placed it
    JOIN_OVER = "join_over"  # the call has ended
    JOIN_NOT_CONNECTED = "join_not_connected"  # nobody has answered yet: there is nothing to join
    JOIN_UNREACHABLE = "join_unreachable"  # Voximplant never confirmed the call: its session cannot be reached
    JOIN_NO_TARGET = "join_no_target"  # profile: the profile's phone (E.164) and why it cannot be used, if any
    # Say… (an unknown call is HANG_UP_UNKNOWN: its words name no button)
    SAY_NOT_YOURS = "say_not_yours"  # requester: the Slack user who placed it
    SAY_OVER = "say_over"  # the call has ended
    SAY_NOT_CONNECTED = "say_not_connected"  # nobody has answered yet
    SAY_UNCONFIRMED = "say_unconfirmed"  # Voximplant never confirmed the call: its session cannot be reached
    SAY_TEXT = "say_text"  # length: characters (0: nothing written); limit
    # When (bot/calls/when.py) and the schedule
    WHEN_UNREADABLE = "when_unreadable"  # typed: not `at 15:30`, `tomorrow at 9am` or `in 20m`
    WHEN_NOT_A_TIME = "when_not_a_time"  # typed: `at 25:00`, `at 13pm`
    WHEN_PAST = "when_past"  # typed; now; tz: the requester's zone (IANA)
    WHEN_TOO_FAR = "when_too_far"  # typed; days: how far ahead a call may be scheduled
    WHEN_SKIPPED = "when_skipped"  # typed; day: date; tz: the clocks jump over that time that day
    RETRY_UNREADABLE = "retry_unreadable"  # typed: not `2 every 10m`
    RETRY_TOO_MANY = "retry_too_many"  # count; limit
    RETRY_INTERVAL = "retry_interval"  # every_s; least_s; most_s
    NEVER_OPEN = "never_open"  # number: its zones share no time inside calling hours, so no time can be found
    SCHEDULE_INTERRUPTED = "schedule_interrupted"  # the bot stopped between claiming an attempt and launching it
    SCHEDULE_UNKNOWN = "schedule_unknown"  # no such scheduled call
    CANCEL_NOT_YOURS = "cancel_not_yours"  # requester: who scheduled it
    CANCEL_TOO_LATE = "cancel_too_late"  # attempt: the attempt being dialled now (Hang up ends it)
    CANCEL_OVER = "cancel_over"  # state: finished, refused or cancelled already
    # The lists (callbot callerids, /call callerid, /call deny)
    UNKNOWN_CHANNELS = "unknown_channels"  # typed: channel names that are not pstn, sip, user or whatsapp
    BAD_PREFIX = "bad_prefix"  # typed: neither a number nor a prefix


@dataclass(frozen=True, slots=True)
class Admins:
    """Who a refused person can ask: callbot's admins (Slack user IDs, sorted) and whether workspace admins count."""

    named: tuple[str, ...] = ()
    workspace_admins: bool = False


@dataclass(frozen=True, slots=True)
class Choice:
    """One allowed caller ID, as a refusal lists it."""

    number: str  # E.164
    label: str = ""
