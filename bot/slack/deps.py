"""What the Slack listeners need, handed to each module's register()."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.calls.allowlist import Allowlist
from bot.calls.joining import Joining
from bot.calls.permissions import Permissions
from bot.calls.placing import Placing
from bot.calls.policy import CallPolicy
from bot.calls.saying import Saying
from bot.calls.vetting import Vetting
from bot.roles import Launches
from bot.store import Store
from bot.tasks import Background

if TYPE_CHECKING:
    from bot.slack.schedules import SlackSchedules


@dataclass(frozen=True, slots=True)
class Deps:
    vetting: Vetting  # checks a request: /call and the form
    placing: Placing  # creates and launches calls; Hang up
    permissions: Permissions  # who is an admin
    allowlist: Allowlist  # the caller IDs (the form's choices) and the deny list, and changes to them
    records: Store  # calls as stored: /call history and /call status
    background: Background  # hang-ups, after the ack
    launches: Launches  # a new call's launch, after the ack: here, or on a worker replica
    policy: CallPolicy  # the default region, the longest call
    joining: Joining  # Join: who may, where to dial them
    saying: Saying  # Say…: who may have a call's agent say something, and passing it on
    schedules: SlackSchedules | None = None  # calls for later, and their Cancel (bot/slack/schedules.py)
