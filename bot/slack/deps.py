"""What the Slack listeners need, handed to each module's register()."""

from __future__ import annotations

from dataclasses import dataclass

from bot.calls.service import CallService
from bot.tasks import Background


@dataclass(frozen=True, slots=True)
class Deps:
    calls: CallService
    background: Background
    default_region: str
