"""Background: work finishes before shutdown goes on, and what had to be cancelled has unwound when drain returns."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from bot.build import shutdown_budget
from bot.tasks import Background, cancel_and_wait


async def test_drain_waits_for_work_then_cancels_the_rest_and_lets_it_unwind() -> None:
    background = Background()
    unwound: list[str] = []
    release = asyncio.Event()

    async def quick() -> None:
        await release.wait()
        unwound.append("quick finished")

    async def stuck() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.sleep(0)  # cleanup that itself awaits, as closing a connection would
            unwound.append("stuck cleaned up")
            raise

    background.spawn(quick(), name="quick")
    background.spawn(stuck(), name="stuck")
    release.set()
    assert await background.drain(0.05) == 1
    assert unwound == ["quick finished", "stuck cleaned up"]  # nothing still running once drain returns
    assert background.pending == 0


@pytest.mark.parametrize("grace_s", [1.0, 2.0, 4.0, 8.0, 20.0, 45.5, 600.0])
def test_the_shutdown_phases_add_up_to_the_grace(grace_s: float) -> None:
    budget = shutdown_budget(grace_s)
    assert budget.requests_s >= 1 and budget.work_s >= 0 and budget.delivery_s >= 0
    assert budget.requests_s + budget.work_s + budget.delivery_s == pytest.approx(grace_s)


def test_the_default_grace_is_shared_five_ten_five() -> None:
    budget = shutdown_budget(20.0)
    assert (budget.requests_s, budget.work_s, budget.delivery_s) == (5, 10.0, 5.0)


async def test_cancel_and_wait_cancels_again_a_task_that_swallowed_its_cancel() -> None:
    """As asyncio.wait_for on Python 3.11 may do inside a library: the task carries on; it is cancelled again."""
    carried_on = asyncio.Event()

    async def stubborn() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(10)
        carried_on.set()
        await asyncio.sleep(10)  # a second wait, which only a second cancel ends

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait({task}, again_after_s=0.01), 5)
    assert carried_on.is_set() and task.cancelled()
