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
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_call_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("call_id", default=None)

# Slack tokens, bearer values and JWTs (Voximplant service-account tokens), API keys and secrets in form bodies or
# URLs, OpenAI keys, and private keys: wherever they would slip into a message or a traceback.
_SECRET = re.compile(
    r"(xox[abposr]-[\w-]+|xapp-[\w-]+|Bearer\s+[\w.~+/=-]+|eyJ[\w-]+\.[\w-]+\.[\w-]+|sk-[\w-]{8,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$))",
    re.DOTALL,
)
_SECRET_FIELD = re.compile(r"\b(api_key|callback_token|signing_secret|token|client_secret)=([^&\s\"']+)")


def redact(text: str) -> str:
    return _SECRET_FIELD.sub(r"\1=[redacted]", _SECRET.sub("[redacted]", text))


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
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
