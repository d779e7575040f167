"""Logging set up once, by the entry point: one JSON object a line, secrets never included."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

# Slack tokens, and bearer values, wherever they would slip into a message.
_SECRET = re.compile(r"(xox[abposr]-[\w-]+|xapp-[\w-]+|Bearer\s+[\w.~+/=-]+)")


def redact(text: str) -> str:
    return _SECRET.sub("[redacted]", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
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
