"""The words of a summary's written lines (OPENAI_API_KEY), or of the note that says why there are none."""

from __future__ import annotations

from typing import Any

from bot.slack.texts.markup import escape
from bot.summaries import Unavailable


def written_lines(write_up: dict[str, Any] | None) -> str:
    """What follows the summary's first line: the written lines, quoted and escaped (a model's text can hold
    mentions and links, like anything typed or spoken), or the note; "" without a `write_up` (no key set, or no
    transcript)."""
    if not write_up:
        return ""
    lines = [str(line) for line in write_up.get("lines") or []]
    if lines:
        quoted = "\n".join(f"> {escape(line)}" for line in lines)
        return f"\n:memo: _In short (written by OpenAI from the transcript):_\n{quoted}"
    why = _why(str(write_up.get("unavailable")), write_up.get("status"))
    return (
        f"\n_The written summary is unavailable: {why}; "
        "the full transcript is above in this thread, so nothing is lost._"
    )


def _why(code: str, status: object) -> str:
    http = f" (HTTP {status})" if isinstance(status, int) else ""
    match code:
        case Unavailable.TIMEOUT:
            return "OpenAI did not answer in time"
        case Unavailable.KEY_REFUSED:
            return "OpenAI refused the API key (check OPENAI_API_KEY)"
        case Unavailable.RATE_LIMITED:
            return "OpenAI is limiting this key's requests for now" + http
        case Unavailable.SERVER_ERROR:
            return "OpenAI had a problem" + http
        case Unavailable.REFUSED:
            return "OpenAI refused the request" + http + (" (check OPENAI_MODEL)" if status == 404 else "")
        case Unavailable.UNREACHABLE:
            return "OpenAI could not be reached"
        case Unavailable.EMPTY:
            return "OpenAI's answer was empty"
        case _:
            return "it could not be written"
