"""What the Slack listeners need, handed to each module's register()."""

from __future__ import annotations

from dataclasses import dataclass

from bot.calls.clock import Clock
from bot.calls.permissions import Permissions
from bot.calls.placing import Placing
from bot.calls.policy import CallPolicy
from bot.calls.vetting import Vetting
from bot.store import Store
from bot.tasks import Background


@dataclass(frozen=True, slots=True)
class Deps:
    vetting: Vetting  # checks a request: /call and the form
    placing: Placing  # creates and launches calls; Hang up
    permissions: Permissions  # who is an admin
    records: Store  # calls and lists as stored: the form's caller IDs, /call history, status and the lists
    background: Background  # launches and hang-ups, after the ack
    policy: CallPolicy  # the default region, the longest call
    clock: Clock
