"""CallService: the call domain, wired. It builds the domain's services so they share what they must (one store,
clock and observer, and the calls in flight) and holds no behaviour of its own:

    vetting    a person's request checked part by part: a CallRequest, or a Refusal   (bot/calls/vetting.py)
    placing    store the call, show it, start its scenario, hand it its brief; Hang up  (bot/calls/placing.py)
    joining    Join: who may, where to dial them, and the request to the session       (bot/calls/joining.py)
    saying     Say…: who may have a call's agent say something, and passing it on    (bot/calls/saying.py)
    intake     the scenario's status events: checked, stored once, announced         (bot/calls/intake.py)
    recovery   settle what no event will: call history, restarts, unconfirmed starts  (bot/calls/recovery.py)
    poller     pull mode only: fetch each live call's events through its session     (bot/calls/polling.py)
"""

from __future__ import annotations

from collections.abc import Callable

from bot.calls.clock import Clock, utc_now
from bot.calls.intake import Intake
from bot.calls.joining import Joining
from bot.calls.moves import Moves
from bot.calls.observer import CallObserver
from bot.calls.permissions import Permissions, admin_check
from bot.calls.placing import InFlight, Placing, new_call_id
from bot.calls.policy import CallPolicy
from bot.calls.polling import Cadence, EventPoller
from bot.calls.ports import Voximplant
from bot.calls.recovery import Recovery
from bot.calls.saying import Saying
from bot.calls.vetting import Vetting
from bot.store import Store


class CallService:
    """The domain's services, built once per app (or per doctor run) from its collaborators."""

    def __init__(
        self,
        store: Store,
        voximplant: Voximplant | None,
        policy: CallPolicy,
        *,
        observer: CallObserver | None = None,
        permissions: Permissions | None = None,
        clock: Clock = utc_now,
        new_id: Callable[[], str] = new_call_id,
        poll_cadence: Cadence | None = None,
    ) -> None:
        self.policy = policy
        moves = Moves(store, observer, clock=clock)
        in_flight = InFlight()
        self.vetting = Vetting(
            store, policy, set_up=voximplant is not None and policy.launchable, permissions=permissions, clock=clock
        )
        self.joining = Joining(
            store, voximplant, policy, self.vetting, observer=observer, permissions=permissions, clock=clock
        )
        self.intake = Intake(store, observer, clock=clock)
        self.recovery = Recovery(
            store, voximplant, policy, intake=self.intake, moves=moves, in_flight=in_flight, observer=observer,
            clock=clock,
        )  # fmt: skip
        self.poller = (
            EventPoller(self.intake, store, voximplant, poll_cadence or Cadence())
            if voximplant is not None and policy.pull
            else None
        )
        self.placing = Placing(
            store, voximplant, policy, moves=moves, in_flight=in_flight, reconcile=self.recovery.reconcile,
            observer=observer, permissions=permissions, follow=self.poller.follow if self.poller else None,
            clock=clock, new_id=new_id,
        )  # fmt: skip
        is_admin = admin_check(permissions, policy.admins)
        self.saying = Saying(store, voximplant, is_admin=is_admin, observer=observer, clock=clock)
