"""The store's one error. bot.errors re-exports it, so it sits in callbot's error tree under CallbotError."""

from __future__ import annotations

from bot.calls.models import CallbotError


class StoreUnavailable(CallbotError):
    """The database at `path` (a SQLite file, or a PostgreSQL URL without its password) could not be opened, read
    or written; `reason` is the database's own words."""

    def __init__(self, path: str, reason: str, *, opening: bool = False) -> None:
        doing = "open" if opening else "use"
        super().__init__(f"callbot cannot {doing} the database at {path}: {reason}")
        self.path = path
        self.reason = reason
