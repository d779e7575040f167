"""Logging set up once, by the entry point: one JSON object a line, secrets never included.

Work about one call runs with `bind_call(call_id)` in effect (the context is copied into the tasks it spawns), so
every line it logs carries `call_id` without each message having to name it. Where a call's work starts: the status
route, the `/call` command, the call form and the Hang up button, each Slack delivery worker, and the watchdog's
reconciliation of each quiet call (`bound_call`).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_call_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("call_id", default=None)

# Slack tokens, bearer values and JWTs (Voximplant service-account tokens), OpenAI keys, and private keys: wherever
# they would slip into a message or a traceback.
_SECRET = re.compile(
    r"(xox[abposr]-[\w-]+|xapp-[\w-]+|Bearer\s+[\w.~+/=-]+|eyJ[\w-]+\.[\w-]+\.[\w-]+|sk-[\w-]{8,}"
    r"|hooks\.slack\.com/[\w/-]+"  # a slash command's or a form's response_url: it can post as the bot
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$))",
    re.DOTALL,
)
# Fields whose value is a secret, however it is written: a form body or query string (`api_key=…`, Socket Mode's
# `ticket=…`), JSON (`"callback_token":"…"`) or a Python repr (`'private_key': '…'`).
_NAMES = (
    r"api_key|callback_token|signing_secret|client_secret|private_key|access_token|refresh_token|bot_token"
    r"|app_token|token|ticket|password|secret|media_session_access_url|media_session_access_secure_url|access_url"
)
_SECRET_FIELD = re.compile(rf"\b({_NAMES})=([^&\s\"']+)", re.IGNORECASE)
_SECRET_QUOTED = re.compile(
    rf"""(?P<key>(?P<q>["'])(?:{_NAMES})(?P=q)\s*:\s*)(?P<v>["'])(?:\\.|(?!(?P=v)).)*(?P=v)""",
    re.IGNORECASE | re.DOTALL,
)
# A Voximplant session's access URL lets whoever holds it control the call: the path is the secret. Media servers
# are hosts under voximplant.com (the Management API, api.voximplant.com, is not one); the insecure form is an IP
# address whose path starts with /request/.
_ACCESS_URL = re.compile(
    r"(https?://(?!api\.)(?:[\w-]+\.)+voximplant\.com(?::\d+)?|https?://[^\s/\"'<>]+(?=/request/))/[^\s\"'<>]+",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """`text` with every secret it holds replaced by [redacted] (field names and URL hosts kept, for context)."""
    text = _SECRET.sub("[redacted]", text)
    text = _SECRET_QUOTED.sub(r"\g<key>\g<v>[redacted]\g<v>", text)
    text = _SECRET_FIELD.sub(r"\1=[redacted]", text)
    return _ACCESS_URL.sub(r"\1/[redacted]", text)


def bind_call(call_id: str) -> None:
    """Tag every log line from here on in this context (and tasks spawned from it) with the call's id."""
    _call_id.set(call_id)


@contextmanager
def bound_call(call_id: str) -> Iterator[None]:
    """`bind_call` for a `with` block only: for a loop that works on one call after another in one task."""
    token = _call_id.set(call_id)
    try:
        yield
    finally:
        _call_id.reset(token)


def current_call() -> str | None:
    return _call_id.get()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        call_id = getattr(record, "call_id", None) or _call_id.get()
        if call_id:
            entry["call_id"] = call_id
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request's full URL at INFO: one line per StartScenarios, and a session's access URL (a
    # secret) once Hang up posts to it. Its warnings still show.
    # slack_sdk's webhook client logs a response_url (which can post as the bot) at DEBUG.
    for chatty in ("httpx", "httpcore", "httpx2", "slack_sdk.webhook"):  # httpx2: the openai client's HTTP library
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))


class QuietLog:
    """At most one log line per `every_s` about refused requests, counting the ones it kept quiet about.

    Strangers decide how many such requests arrive: a flood of them must not become a flood of log lines.
    """

    def __init__(
        self, logger: logging.Logger, *, level: int = logging.INFO, what: str = "refused a request to",
        every_s: float = 60.0, clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self._log = logger
        self._level = level
        self._what = what
        self._every_s = every_s
        self._clock = clock
        self._next_at = float("-inf")
        self._quiet = 0

    def refused(self, route: str, why: str) -> None:
        """Note one refused request; log it unless a line was written within the last `every_s`."""
        now = self._clock()
        if now < self._next_at:
            self._quiet += 1
            return
        more = f" (and {self._quiet} more since the last line)" if self._quiet else ""
        self._log.log(self._level, "%s %s: %s%s", self._what, route, why, more)
        self._quiet = 0
        self._next_at = now + self._every_s
