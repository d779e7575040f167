"""Slack's refusals of a write, sorted: the codes delivery branches on, and one rule per question about a failure.

Slack's error code is read only from a JSON answer (`bot.slack.api_errors`): a proxy's text/plain 502 is a 5xx like
any other.
"""

from __future__ import annotations

from enum import StrEnum

from slack_sdk.errors import SlackApiError

from bot.slack.api_errors import error_code


class SlackErrorCode(StrEnum):
    """Slack error codes delivery branches on."""

    CHANNEL_NOT_FOUND = "channel_not_found"
    NOT_IN_CHANNEL = "not_in_channel"
    IS_ARCHIVED = "is_archived"
    IS_INACTIVE = "is_inactive"  # chat.update's word for an archived or frozen channel
    RESTRICTED_ACTION = "restricted_action"
    READ_ONLY_CHANNEL = "restricted_action_read_only_channel"
    THREAD_ONLY_CHANNEL = "restricted_action_thread_only_channel"  # no top-level messages
    NON_THREADABLE_CHANNEL = "restricted_action_non_threadable_channel"  # no thread replies at all
    CANNOT_REPLY = "cannot_reply_to_message"  # this one message takes no replies
    MSG_TOO_LONG = "msg_too_long"
    RATELIMITED = "ratelimited"
    RATE_LIMITED = "rate_limited"  # chat.postMessage, HTTP 200: "posted too many messages"


# The conversation will not take the call's thread: follow the call in a DM with the requester instead
# (docs.slack.dev/reference/methods/chat.postMessage and chat.update, "Errors").
WHERE_ELSE = frozenset(
    {
        SlackErrorCode.CHANNEL_NOT_FOUND,
        SlackErrorCode.NOT_IN_CHANNEL,
        SlackErrorCode.IS_ARCHIVED,
        SlackErrorCode.IS_INACTIVE,
        SlackErrorCode.RESTRICTED_ACTION,
        SlackErrorCode.READ_ONLY_CHANNEL,
        SlackErrorCode.THREAD_ONLY_CHANNEL,
        SlackErrorCode.NON_THREADABLE_CHANNEL,
    }
)
TRANSIENT = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
# Slack refuses the token itself: no write can succeed until someone fixes it, and then every held write should.
AUTH_REFUSED = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive", "missing_scope"}
)


# -- retry rules: each answers one question about a failed write --------------------------------------------------


def is_rate_limited(error: SlackApiError) -> bool:
    """HTTP 429, or chat.postMessage's HTTP 200 `rate_limited`: the same write goes later, never dropped."""
    return error.response.status_code == 429 or error_code(error) in {
        SlackErrorCode.RATELIMITED,
        SlackErrorCode.RATE_LIMITED,
    }


def is_auth_refused(error: SlackApiError) -> bool:
    """Slack refuses the bot token (revoked, rotated, expired, missing a scope): hold the write, do not drop it."""
    return error_code(error) in AUTH_REFUSED


def is_transient(error: SlackApiError) -> bool:
    """Slack had trouble of its own (5xx or a transient error code): the same write may succeed later."""
    return error.response.status_code >= 500 or error_code(error) in TRANSIENT


def retry_after(error: SlackApiError, default: float = 1.0) -> float:
    if "Retry-After" not in error.response.headers:
        return default
    try:
        return max(0.0, float(error.response.headers.get("Retry-After", default)))
    except (TypeError, ValueError):
        return default
