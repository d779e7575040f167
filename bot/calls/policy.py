"""CallPolicy: the settings the call domain needs, taken from Settings once."""

from __future__ import annotations

from dataclasses import dataclass

from bot.calls.hours import Window
from bot.calls.numbers import CALLABLE_TYPES


@dataclass(frozen=True, slots=True)
class CallPolicy:
    """Where calls may go and how they are placed. Who may call and how often is `permissions.Limits`."""

    default_region: str
    allowed_countries: frozenset[str]
    default_caller_id: str | None
    max_duration_s: int
    rule_id: int | None
    public_base_url: str | None  # where the scenario reaches the bot: the brief, and the status events
    pull: bool = False  # no public URL: the bot brings the brief and fetches the events through each session
    start_timeout_s: float = 10.0  # the longest one StartScenarios request waits for its answer
    show_timeout_s: float = 15.0  # the longest a new call waits to be shown (its Slack message) before it is dialled
    allowed_types: frozenset[int] = CALLABLE_TYPES
    admins: frozenset[str] = frozenset()  # CALLBOT_ADMINS, for when no Permissions are given (the doctor)
    calling_hours: Window | None = None  # local time at the destination when a call may start; None: any time
    recording_enabled: bool = False  # RECORDING_ENABLED: a call may be recorded when its requester asks
    disclosure: str = ""  # CALL_DISCLOSURE: the agent's first words ({requester}); "" for the default

    @property
    def reachable(self) -> bool:
        """The scenario can be given its call: through PUBLIC_BASE_URL, or (pull mode) through its session."""
        return self.pull or self.public_base_url is not None

    @property
    def launchable(self) -> bool:
        """A rule to start and a way to reach the scenario: with Voximplant's credentials, calls can be placed."""
        return self.rule_id is not None and self.reachable
