"""The store's one error. bot.errors re-exports it, so it sits in callbot's error tree under CallbotError."""

from __future__ import annotations

from bot.calls.models import CallbotError


class StoreUnavailable(CallbotError):
    """SQLite could not open, read or write the database at `path`; `reason` is SQLite's own words."""

    def __init__(self, path: str, reason: str, *, opening: bool = False) -> None:
        doing = "open" if opening else "use"
        super().__init__(f"callbot cannot {doing} the database at {path}: {reason}")
        self.path = path
        self.reason = reason
