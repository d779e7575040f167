"""The call's data: what was asked, what it is now, and what the scenario reports. No Slack or HTTP types."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter

from bot.text import shorten


class CallbotError(Exception):
    """Base of every error callbot raises on purpose (the tree is drawn in bot/errors.py).

    It lives here, the domain's leaf module, so that bot/store, which may import only this module and the standard
    library, can raise an error of the tree too (StoreUnavailable).
    """


class Channel(StrEnum):
    """How the scenario reaches the callee."""

    PSTN = "pstn"
    SIP = "sip"
    USER = "user"
    WHATSAPP = "whatsapp"


class AtVoicemail(StrEnum):
    """What the agent does when a voicemail greeting answers (answering-machine detection, PSTN calls)."""

    LEAVE = "leave"  # wait for the greeting to end, leave a short message built from the instructions, hang up
    HANG_UP = "hang_up"  # hang up without a message


class CallState(StrEnum):
    REQUESTED = "requested"
    STARTING = "starting"
    DIALING = "dialing"
    RINGING = "ringing"
    CONNECTED = "connected"
    ENDED = "ended"
    FAILED = "failed"
    CANCELED = "canceled"


class Outcome(StrEnum):
    """How a call ended, in the words people use for it (`bot/calls/outcomes.py` decides; stored once it ends)."""

    TALKED = "talked"  # someone answered and the agent talked with them
    VOICEMAIL_LEFT = "voicemail_left"  # a voicemail greeting answered; the agent left a message
    VOICEMAIL_NO_MESSAGE = "voicemail_no_message"  # a voicemail greeting answered; no message was left
    NOT_ANSWERED = "not_answered"  # it rang (or was dialled) and nobody answered
    BUSY = "busy"
    UNAVAILABLE = "unavailable"  # the number does not exist, or the phone is off or out of reach
    DECLINED = "declined"
    FAILED = "failed"  # anything else that went wrong; the call's state_reason says what
    REFUSED = "refused"  # refused before anything was dialled (the launch or the session stopped it)


class Origin(BaseModel):
    """Who asked for a call and where (ids of the chat the request came from), so the call's messages go there.

    Plain ids, no way of answering: the response_url Slack gives a request stays in the Slack layer
    (bot/slack/reply_urls.py).
    """

    model_config = ConfigDict(frozen=True)

    team_id: str
    user_id: str
    conversation_id: str
    thread_ts: str | None = None


class CallRequest(BaseModel):
    """A vetted request to place one call."""

    model_config = ConfigDict(frozen=True)

    destination: str = Field(description="E.164 for pstn and whatsapp, a SIP URI for sip, a user name for user")
    caller_id: str = Field(description="E.164")
    channel: Channel = Channel.PSTN
    instructions: str = ""
    max_duration_s: int
    origin: Origin
    voicemail: AtVoicemail = AtVoicemail.LEAVE
    record: bool = False  # asked for per call, and only while an admin has turned recording on (RECORDING_ENABLED)
    requester_name: str = ""  # the Slack user name Slack sends with the request: who the agent says it calls for


@dataclass(frozen=True, slots=True)
class Call:
    """One call as stored."""

    id: str
    request: CallRequest
    state: CallState
    state_reason: str
    created_at: datetime
    updated_at: datetime
    slack_channel: str | None = None
    slack_ts: str | None = None
    access_url: str | None = field(default=None, repr=False)  # the session's control URL (HTTPS)
    plain_access_url: str | None = field(default=None, repr=False)  # the same over HTTP, for the fallback
    history_id: int | None = None
    connected_at: datetime | None = None
    duration_s: float | None = None
    last_seq: int = 0
    control_secret: str | None = field(default=None, repr=False)  # goes to the scenario in the brief only
    custom_data: str | None = None  # what StartScenarios was given: a reference, never a secret that lasts
    pull: bool = False  # its status events are fetched through the session's access URL (no public URL)
    outcome: Outcome | None = None  # set when the call ends (None while it lives)
    cost: float | None = None  # what Voximplant charged, in the account's currency, once it said

    @property
    def is_live(self) -> bool:
        return self.state not in TERMINAL_STATES


TERMINAL_STATES = frozenset({CallState.ENDED, CallState.FAILED, CallState.CANCELED})
LIVE_STATES = frozenset(CallState) - TERMINAL_STATES  # a call in one of these may still move


@dataclass(frozen=True, slots=True)
class Transition:
    """One move of a call's state machine: the state it moves to, and why, in words shown in its thread."""

    state: CallState
    reason: str


@dataclass(frozen=True, slots=True)
class EventOutcome:
    """What recording one status event did: `duplicate` (seen before, nothing changed) and the transition made."""

    call: Call
    duplicate: bool
    transition: Transition | None


# -- guard rails: who may be shown as the caller, which destinations are refused, who did what ------------------


@dataclass(frozen=True, slots=True)
class CallerId:
    """A number on the caller-ID allowlist, and the channels it may be used on."""

    number: str
    label: str
    channels: frozenset[Channel]
    added_by: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class DeniedDestination:
    """A deny-list entry: calls to numbers starting with `prefix` (E.164 digits) are refused."""

    prefix: str
    reason: str
    added_by: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit log: who did (or tried to do) what, when; `allowed` False for a refused attempt."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: str
    allowed: bool


# -- status events, scenario -> bot (the contract in docs/architecture.md) --------------------------------------

# The longest text kept from each event field. The scenario cuts its text to these itself; anything longer is cut
# here too rather than refused, because the scenario takes a refusal as final and the event would be lost.
MAX_TRANSCRIPT_CHARS = 10_000
MAX_FAILED_REASON_CHARS = 500
MAX_DISCONNECTED_REASON_CHARS = 100
MAX_ERROR_MESSAGE_CHARS = 2_000
MAX_RECORDING_URL_CHARS = 2_000
MAX_KEYS = 20  # keys pressed at once by the agent's press_keys tool (0-9, * and #)
MAX_SAY_CHARS = 500  # a Say… text; the scenario takes no more (MAX_SAY_CHARS in scenarios/outbound_call.js)
# Numbers are bounded too: refused (422) past these, never stored. A seq that SQLite's INTEGER cannot hold, or an
# infinite duration, would otherwise fail every later step of the call (its Slack writes, its summary).
MAX_SEQ = 2**31 - 1  # a call's events, counted from 1: no call comes near
MAX_DURATION_S = 24 * 3600  # MAX_CALL_DURATION_S is at most 4 h; the scenario's watchdog ends a session soon after
MAX_VOICEMAIL_S = 600.0  # a voicemail message the agent leaves: a few sentences, far below this
MAX_COST = 100_000.0  # in the account's currency: far above any one call
FAILED_CODES = (-(2**31), 2**31 - 1)  # SIP statuses and VoxEngine's codes; a 32-bit integer


def _clipped(limit: int) -> AfterValidator:
    return AfterValidator(lambda text: shorten(text, limit))


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1]
    call_id: Annotated[str, Field(min_length=1, max_length=64)]
    seq: Annotated[int, Field(ge=1, le=MAX_SEQ)]
    at: datetime


class _NoData(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class TranscriptData(BaseModel):
    model_config = ConfigDict(frozen=True)
    role: Literal["agent", "callee"]
    text: Annotated[str, _clipped(MAX_TRANSCRIPT_CHARS)]


class FailedData(BaseModel):
    model_config = ConfigDict(frozen=True)
    code: Annotated[int, Field(ge=FAILED_CODES[0], le=FAILED_CODES[1])]
    reason: Annotated[str, _clipped(MAX_FAILED_REASON_CHARS)] = ""


class DisconnectedData(BaseModel):
    model_config = ConfigDict(frozen=True)
    duration_s: Annotated[float, Field(ge=0, le=MAX_DURATION_S, allow_inf_nan=False)] = 0
    reason: Annotated[str, _clipped(MAX_DISCONNECTED_REASON_CHARS)] = "remote_hangup"
    cost: Annotated[float | None, Field(ge=0, le=MAX_COST, allow_inf_nan=False)] = None


class ErrorData(BaseModel):
    model_config = ConfigDict(frozen=True)
    message: Annotated[str, _clipped(MAX_ERROR_MESSAGE_CHARS)]
    recoverable: bool = False  # the Voice AI's own error that leaves its session open: the call goes on


class AnsweredData(BaseModel):
    model_config = ConfigDict(frozen=True)
    by: Literal["human", "voicemail", "unknown"]  # answering-machine detection's verdict; unknown when it timed out


class VoicemailData(BaseModel):
    model_config = ConfigDict(frozen=True)
    left: bool  # a message was left; False when the requester chose to hang up at a voicemail greeting
    message_s: Annotated[float, Field(ge=0, le=MAX_VOICEMAIL_S, allow_inf_nan=False)] = 0


class RecordingData(BaseModel):
    model_config = ConfigDict(frozen=True)
    url: Annotated[str, Field(min_length=9, max_length=MAX_RECORDING_URL_CHARS, pattern=r"^https://")]


class JoinData(BaseModel):
    model_config = ConfigDict(frozen=True)
    result: Literal["joined", "no_answer", "failed"]  # bridged with the callee; not answered in 30 s; the leg failed
    by: Annotated[str, Field(max_length=64)] = ""  # who asked to join: the Slack user ID the bot sent in the request
    reason: Annotated[str, _clipped(MAX_FAILED_REASON_CHARS)] = ""
    code: Annotated[int | None, Field(ge=FAILED_CODES[0], le=FAILED_CODES[1])] = None  # the leg's Failed code


class KeysData(BaseModel):
    model_config = ConfigDict(frozen=True)
    digits: Annotated[str, Field(min_length=1, max_length=MAX_KEYS, pattern=r"^[0-9*#]+$")]


class ProgressEvent(_Event):
    event: Literal["started", "dialing", "ringing", "connected"]
    data: _NoData = _NoData()


class TranscriptEvent(_Event):
    event: Literal["transcript"]
    data: TranscriptData


class FailedEvent(_Event):
    event: Literal["failed"]
    data: FailedData


class DisconnectedEvent(_Event):
    event: Literal["disconnected"]
    data: DisconnectedData


class ErrorEvent(_Event):
    event: Literal["error"]
    data: ErrorData


class AnsweredEvent(_Event):
    """Who answered a connected call, from answering-machine detection (PSTN only); informational, no move."""

    event: Literal["answered"]
    data: AnsweredData


class VoicemailEvent(_Event):
    """What the agent did at a voicemail greeting: left a message (and how long), or hung up without one."""

    event: Literal["voicemail"]
    data: VoicemailData


class RecordingEvent(_Event):
    """Where the call's recording is: a link for the requester and admins only, never posted in a channel."""

    event: Literal["recording"]
    data: RecordingData


class JoinEvent(_Event):
    """How a Join went: the requester bridged with the callee (the agent left the line), or not; no move."""

    event: Literal["join"]
    data: JoinData


class KeysEvent(_Event):
    """Keys the agent pressed on the keypad (its press_keys tool, e.g. through a phone menu); informational, no move."""

    event: Literal["keys"]
    data: KeysData


StatusEvent = Annotated[
    ProgressEvent
    | TranscriptEvent
    | FailedEvent
    | DisconnectedEvent
    | ErrorEvent
    | AnsweredEvent
    | VoicemailEvent
    | RecordingEvent
    | JoinEvent
    | KeysEvent,
    Field(discriminator="event"),
]
STATUS_EVENTS = TypeAdapter[StatusEvent](StatusEvent)
"""Reads a status event (`validate_json` for a pushed body, `validate_python` for a pulled or stored one)."""

Evidence = AnsweredEvent | VoicemailEvent
Judge = Callable[[Call, Transition, Sequence[Evidence]], Outcome]
"""Names a call's outcome (`bot/calls/outcomes.py` `judge`) from the call (as it was before its terminal move, or as
it is once over), its terminal transition and its `answered` and `voicemail` events, oldest first. The store calls it
inside the transaction that makes the terminal move, and again when such an event is stored after it."""
Decide = Callable[[Call, StatusEvent], Transition | None]  # the move an event makes (states.py), in its transaction


# -- scheduled and retried calls (bot/calls/scheduling.py) -------------------------------------------------------


class AttemptState(StrEnum):
    """Where one attempt of a scheduled call is: waiting, dialled (its call under way), or done with."""

    SCHEDULED = "scheduled"  # waiting for its time
    DIALED = "dialed"  # claimed and handed to the launch: never dialled again
    FINISHED = "finished"  # its call ended, and whether to retry was decided
    CANCELLED = "cancelled"  # someone cancelled it before its time
    REFUSED = "refused"  # vetting refused it at its time (a caller ID removed, a limit reached...)


@dataclass(frozen=True, slots=True)
class ScheduledAttempt:
    """One attempt of a scheduled call: the first dial is attempt 1, each retry the next. Every attempt of one
    schedule shares its request, its retry plan and its Slack thread (`slack_channel`, `slack_ts`)."""

    schedule_id: str
    attempt: int
    due_at: datetime  # UTC
    state: AttemptState
    retries: int  # how many retries the plan allows in all
    retry_every_s: int
    origin: Origin
    request: str  # what was asked (JSON): re-vetted when the attempt is dialled
    tz: str  # the requester's time zone (IANA), to show times in
    created_at: datetime
    updated_at: datetime
    slack_channel: str | None = None
    slack_ts: str | None = None
    call_id: str | None = None  # the attempt's call, once dialled
    moved_from: datetime | None = None  # the time asked for, when calling hours moved it
    detail: str = ""  # why it was refused, or who cancelled it
    outcome: Outcome | None = None  # its call's outcome, once that call ended (read with it, never stored here)

    @property
    def id(self) -> str:
        return attempt_id(self.schedule_id, self.attempt)


def attempt_id(schedule_id: str, attempt: int) -> str:
    return f"{schedule_id}.{attempt}"
