"""Reading Slack Web API failures the same way everywhere."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError


def error_code(error: SlackApiError, default: str = "") -> str:
    """Slack's error code, or `default` when the answer was not Slack's JSON (a proxy's text/plain 502 keeps its
    body as a str, which has no `.get`)."""
    data = error.response.data
    code = data.get("error") if isinstance(data, dict) else None
    return str(code or default)
