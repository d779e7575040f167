"""Pull mode: the bot fetches each live call's status events through its session's access URL.

With no public URL, the scenario queues its events and answers `{"action":"events","after":<seq>}` (with the
call's control secret) with the events after that seq, in order, a bounded number at a time (scenarios/README.md,
"Pull mode"). Each event goes through the same intake, state machine and Slack thread as a pushed one. Polling is
fast while a call is being set up or has just said something, slower once it is quiet, and stops once the scenario
says the call's last event was received (`done`). A session that stops answering is left to reconciliation from
the call history, as in push mode.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from pydantic import ValidationError

from bot.calls.intake import Intake
from bot.calls.models import STATUS_EVENTS, Call, CallState
from bot.calls.ports import Voximplant
from bot.errors import VoximplantError
from bot.logs import bound_call
from bot.store import Store

log = logging.getLogger(__name__)
_SETTING_UP = frozenset({CallState.STARTING, CallState.DIALING, CallState.RINGING})


@dataclass(frozen=True, slots=True)
class Cadence:
    """How often a session is asked, in seconds."""

    fast_s: float = 0.5  # while the call is set up, and for `quiet_after_s` after its last event
    slow_s: float = 3.0  # a connected call that has been quiet for a while
    quiet_after_s: float = 10.0
    give_up_s: float = 120.0  # a session unanswering this long has ended: reconciliation settles its call


class EventPoller:
    """One task per pulled call, asking its session for new events until the call's end has been received."""

    def __init__(self, intake: Intake, store: Store, voximplant: Voximplant, cadence: Cadence = Cadence()) -> None:
        self._intake = intake
        self._store = store
        self._voximplant = voximplant
        self._cadence = cadence
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @property
    def following(self) -> int:
        """How many sessions are being polled now."""
        return len(self._tasks)

    def follow(self, call: Call) -> None:
        """Poll `call`'s session from its last stored event on, unless it is polled already."""
        if call.id in self._tasks or call.access_url is None:
            return
        task = asyncio.create_task(self._poll(call), name=f"poll call {call.id}")
        self._tasks[call.id] = task
        task.add_done_callback(lambda _: self._tasks.pop(call.id, None))

    async def close(self) -> None:
        """Stop polling (at shutdown); the next start resumes from the stored events."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _poll(self, call: Call) -> None:
        with bound_call(call.id):
            try:
                await self._follow(call)
            except Exception:  # one call's poller must not die silently: the call is reconciled instead
                log.exception("polling the call's session failed; its call history will settle it")

    async def _follow(self, call: Call) -> None:
        loop = asyncio.get_running_loop()
        after, heard_at, failing_since = call.last_seq, loop.time(), None
        while True:
            body = {"action": "events", "after": after, "secret": call.control_secret or ""}
            try:
                answer = await self._voximplant.session_request(
                    call.access_url or "", body, plain_url=call.plain_access_url
                )
            except VoximplantError as error:
                failing_since = failing_since or loop.time()
                current = await self._store.call(call.id)
                if current is not None and not current.is_live:
                    return  # its end was received; the session ended before confirming it
                if loop.time() - failing_since >= self._cadence.give_up_s:
                    log.warning("the call's session stopped answering (%s); stopped polling it", error)
                    return
                await asyncio.sleep(self._cadence.slow_s)
                continue
            failing_since = None
            before = after
            for raw in _events(answer):
                try:
                    event = STATUS_EVENTS.validate_python(raw)
                except ValidationError as error:
                    log.warning("the call's session sent an event that does not fit the contract: %s", error)
                    continue
                if event.call_id != call.id or event.seq <= after:
                    continue
                outcome = await self._intake.accept_event(event)
                if outcome.duplicate:
                    await self._intake.catch_up(event)
                else:
                    await self._intake.announce_once(outcome, event)
                after, heard_at = event.seq, loop.time()
            if answer.get("done") is True:
                return
            last_seq = answer.get("last_seq")
            if isinstance(last_seq, int) and last_seq > after > before:
                continue  # more is queued than one answer carries: ask again at once
            current = await self._store.call(call.id)
            if current is None:
                return
            busy = current.state in _SETTING_UP or loop.time() - heard_at < self._cadence.quiet_after_s
            await asyncio.sleep(self._cadence.fast_s if busy or not current.is_live else self._cadence.slow_s)


def _events(answer: dict[str, object]) -> list[object]:
    events = answer.get("events")
    return events if isinstance(events, list) else []
