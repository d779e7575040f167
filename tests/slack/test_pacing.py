"""Per-channel pacing on the virtual clock: a burst then one a second, parents first, thread writes at their pace,
Retry-After held."""

from __future__ import annotations

import asyncio

from bot.sandbox.clock import VirtualClock
from bot.slack.delivery.sender import MAX_BACKOFF_S, Sender
from bot.slack.pacing import Lane, Pacer


async def turns(pacer: Pacer, clock: VirtualClock, *lanes: Lane, channel: str = "C1") -> list[tuple[int, float]]:
    """Ask for a turn in `lanes`' order, all at once while time stands still; each writer's index and its time."""
    granted: list[tuple[int, float]] = []

    async def write(index: int, lane: Lane) -> None:
        await pacer.turn(channel, lane)
        granted.append((index, clock.now()))

    clock.hold()
    writers = [asyncio.create_task(write(index, lane)) for index, lane in enumerate(lanes)]
    await asyncio.sleep(0)  # every writer has asked (or had its turn at once)
    clock.release()
    await asyncio.gather(*writers)
    return granted


async def test_a_burst_of_parents_goes_at_once_then_one_a_pace() -> None:
    clock = VirtualClock()
    pacer = Pacer(clock, pace_s=1.0, burst=4)
    granted = await turns(pacer, clock, *[Lane.PARENT] * 7)
    assert granted == [(0, 0.0), (1, 0.0), (2, 0.0), (3, 0.0), (4, 1.0), (5, 2.0), (6, 3.0)]
    await pacer.turn("C2", Lane.PARENT)  # another channel has its own bucket
    assert clock.now() == 3.0


async def test_the_bucket_fills_again_at_the_pace() -> None:
    clock = VirtualClock()
    pacer = Pacer(clock, pace_s=1.0, burst=3)
    await turns(pacer, clock, *[Lane.PARENT] * 3)
    await clock.sleep(2.0)  # two writes' worth refilled, not three
    granted = await turns(pacer, clock, *[Lane.PARENT] * 3)
    assert granted == [(0, 2.0), (1, 2.0), (2, 3.0)]


async def test_a_parent_goes_ahead_of_thread_writes_already_waiting() -> None:
    clock = VirtualClock()
    pacer = Pacer(clock, pace_s=1.0, burst=1)
    await pacer.turn("C1", Lane.THREAD)  # the channel's one write for this second
    granted = await turns(pacer, clock, Lane.THREAD, Lane.THREAD, Lane.PARENT, Lane.THREAD, Lane.PARENT)
    # Parents first, in the order they asked; then the thread writes, in theirs.
    assert granted == [(2, 1.0), (4, 2.0), (0, 3.0), (1, 4.0), (3, 5.0)]


async def test_thread_writes_keep_their_pace_and_leave_the_burst_to_parents() -> None:
    clock = VirtualClock()
    pacer = Pacer(clock, pace_s=1.0, burst=4)
    granted = await turns(pacer, clock, Lane.PARENT, Lane.THREAD, Lane.THREAD, Lane.THREAD)
    assert granted == [(0, 0.0), (1, 1.0), (2, 2.0), (3, 3.0)]  # a pace after the channel's last write, as before
    # A talkative thread spent one write of the burst at most: the next calls' parents still find three.
    assert [at for _, at in await turns(pacer, clock, Lane.PARENT, Lane.PARENT, Lane.PARENT)] == [3.0] * 3


async def test_a_429_holds_the_channel_for_its_retry_after_and_empties_the_bucket() -> None:
    clock = VirtualClock()
    pacer = Pacer(clock, pace_s=1.0, burst=5)
    await pacer.turn("C1", Lane.PARENT)
    pacer.hold("C1", 30)
    granted = await turns(pacer, clock, Lane.PARENT, Lane.PARENT, Lane.THREAD)
    assert granted == [(0, 30.0), (1, 31.0), (2, 32.0)]  # then one a pace: no burst right after the hold
    await pacer.turn("C2", Lane.PARENT)  # another channel is not held
    assert clock.now() == 32.0


async def test_a_hold_that_comes_while_writes_wait_holds_them_too() -> None:
    clock = VirtualClock()
    pacer = Pacer(clock, pace_s=1.0, burst=1)
    await pacer.turn("C1", Lane.PARENT)
    clock.hold()
    waiting = asyncio.create_task(pacer.turn("C1", Lane.PARENT))
    await asyncio.sleep(0)
    pacer.hold("C1", 7)  # another writer's 429, while this one waits for the next second
    clock.release()
    await waiting
    assert clock.now() == 7.0


async def test_ready_waits_until_no_write_waits_and_a_thread_write_could_go() -> None:
    clock = VirtualClock()
    pacer = Pacer(clock, pace_s=1.0, burst=3)
    await pacer.ready("C1")  # a quiet channel: at once
    assert clock.now() == 0.0
    await pacer.turn("C1", Lane.THREAD)
    await pacer.ready("C1")
    assert clock.now() == 1.0  # a pace after the last write
    await pacer.ready("C1")  # ready claims nothing
    assert clock.now() == 1.0


async def test_a_writer_that_stops_waiting_gives_up_its_place() -> None:
    clock = VirtualClock()
    pacer = Pacer(clock, pace_s=1.0, burst=1)
    await pacer.turn("C1", Lane.THREAD)
    clock.hold()
    gone = asyncio.create_task(pacer.turn("C1", Lane.PARENT))
    next_one = asyncio.create_task(pacer.turn("C1", Lane.THREAD))
    await asyncio.sleep(0)
    gone.cancel()
    clock.release()
    await next_one
    assert gone.cancelled() and clock.now() == 1.0  # the next writer had the turn the cancelled one would have had


async def test_no_pace_means_no_waiting() -> None:
    clock = VirtualClock()
    pacer = Pacer(clock, pace_s=0.0, burst=1)
    for lane in [Lane.THREAD, Lane.PARENT] * 50:
        await pacer.turn("C1", lane)
    pacer.hold("C1", 3)
    await pacer.turn("C1", Lane.THREAD)
    assert clock.now() == 3.0  # Retry-After still holds


async def test_when_the_last_writer_stops_waiting_no_pacing_sleep_outlives_it() -> None:
    clock = VirtualClock()
    pacer = Pacer(clock, pace_s=1.0, burst=1)
    pacer.hold("C1", 3600)
    clock.hold()
    gone = asyncio.create_task(pacer.turn("C1", Lane.PARENT))
    for _ in range(3):  # it waits, and the channel's pacing sleeps until the hold ends
        await asyncio.sleep(0)
    gone.cancel()  # the bot stops: its writers are cancelled
    await asyncio.gather(gone, return_exceptions=True)
    for _ in range(3):
        await asyncio.sleep(0)
    clock.release()
    for _ in range(3):
        await asyncio.sleep(0)
    assert clock.now() == 0.0  # nothing went on sleeping out the hour for a writer that had gone


async def test_a_write_counts_from_slacks_answer_when_that_came_later_than_its_turn() -> None:
    clock = VirtualClock()
    pacer = Pacer(clock, pace_s=1.0, burst=3)
    numbers = [await pacer.turn("C1", Lane.PARENT) for _ in range(3)]
    await clock.sleep(0.25)  # the burst took a while to reach Slack, which may count it from then
    pacer.answered("C1", numbers[0])
    await pacer.turn("C1", Lane.PARENT)
    assert clock.now() == 1.25  # a second after the burst as Slack may have seen it, not as the bot sent it
    number = await pacer.turn("C1", Lane.PARENT)
    pacer.answered("C1", number)  # answered at once: nothing changes
    await pacer.turn("C1", Lane.PARENT)
    assert clock.now() == 3.25


def test_the_pause_after_failures_doubles_up_to_its_cap_however_long_the_outage() -> None:
    clock = VirtualClock()
    sender = Sender(Pacer(clock, pace_s=1.0, burst=1), clock, backoff_s=0.5, on_retry=lambda _: None)
    assert [sender.backoff(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert sender.backoff(2_000) == MAX_BACKOFF_S  # 2.0 ** 1999 would overflow: a day of failures must not crash
