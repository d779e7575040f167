"""CallObserver: what the domain tells the Slack side when a call is created or changes. It knows nothing more of
Slack; `bot/slack/notifier.py` implements it, the doctor has its own."""

from __future__ import annotations

from typing import Protocol

from bot.calls.models import Call, StatusEvent, Transition


class CallObserver(Protocol):
    """Told of every change of a call, in order, once it is stored."""

    async def call_created(self, call: Call, *, within_s: float | None = None) -> bool:
        """Show a new call; False if it could not be shown anywhere (then it is not placed). TimeoutError when the
        place it is shown in has not taken it `within_s` after it was sent (it is still shown later)."""
        ...

    async def call_moved(self, call: Call, transition: Transition) -> None: ...

    async def call_event(self, call: Call, event: StatusEvent) -> bool:
        """Show an event that moved nothing; True when its writes were queued with the event noted announced, in
        one statement (then the intake need not note it)."""
        ...

    async def hang_up_requested(self, call: Call, user_id: str) -> None: ...

    async def hang_up_failed(self, call: Call, why: str) -> None: ...

    async def join_requested(self, call: Call, user_id: str) -> None:
        """The session was asked to dial `user_id` onto the call (Join)."""
        ...

    async def join_failed(self, call: Call, user_id: str, why: str) -> None:
        """The session refused the Join or could not be reached (`why`); the call goes on as it was."""
        ...

    async def say_requested(self, call: Call, user_id: str, text: str) -> None:
        """The call's agent took `text` from `user_id` (Say…)."""
        ...

    async def call_unconfirmed(self, call: Call, why: str) -> None:
        """StartScenarios failed (`why`), yet the call's own status events show it is under way."""
        ...

    async def call_reconciled(self, call: Call, cost: float | None) -> None:
        """The call's final state came from Voximplant's call history, not from its status events."""
        ...

    async def balance_empty(self, call: Call) -> None:
        """Voximplant refused `call` for want of funds (402): no call can be placed until the account is topped up.
        Said once, until a call connects again."""
        ...
