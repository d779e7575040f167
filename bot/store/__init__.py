"""callbot's storage: every SQL statement callbot runs lives in this package, behind one class, `Store`.

SQLite (stdlib sqlite3) in WAL mode, one connection on the event loop's thread; each method is one transaction
run in one go, with no await inside. The schema moves forward by `PRAGMA user_version`; the SQL is kept portable.

    schema.py       the migrations, and how they are applied
    connection.py   Connection: open, close, migrate, ping; each method's work as one transaction; checkpoints
    calls.py        Calls: store a call, find it, move it from state to state
    events.py       Events: store a status event and apply its transition at once; what is not yet announced
    guard_rails.py  GuardRails: caller IDs, deny list, audit log, what the call limits count, notices, replay guard
    outbox.py       Outbox, OutboxRow: the Slack writes waiting to be delivered
    errors.py       StoreUnavailable

The package imports only the standard library and bot.calls.models (tests/test_layers.py checks it).

A second backend (PostgreSQL) implements Store's public methods, same names and signatures: `open`, `close`,
`migrate`, `ping` and those of Calls, Events, GuardRails and Outbox. They are async so that a backend that must
await its database fits as well. It keeps the same promises:
- each method is one transaction, committed when it returns; `record_event` calls `decide` inside it;
- it takes and returns the domain's values (bot.calls.models) and OutboxRow, never rows or types of its own;
- a call in a terminal state (TERMINAL_STATES, the domain's rule) never moves again;
- an event (call id, seq) is stored once; `first_sighting` and `first_notice` say True once; the audit log is
  append-only;
- a database that cannot be reached or written raises StoreUnavailable (from `open` too, naming where).
"""

from __future__ import annotations

from bot.store.calls import Calls
from bot.store.errors import StoreUnavailable
from bot.store.events import Events
from bot.store.guard_rails import GuardRails
from bot.store.outbox import Outbox, OutboxRow
from bot.store.schema import MIGRATIONS

# The domain's values (CallerId, EventOutcome, ...) are bot.calls.models': import them from there.
__all__ = [
    "MIGRATIONS",
    "OutboxRow",
    "Store",
    "StoreUnavailable",
]


class Store(Calls, Events, GuardRails, Outbox):
    """callbot's SQLite database: one connection (see Connection); each method one transaction, run in one go."""
