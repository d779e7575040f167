"""A call whose status callbacks never came is settled from Voximplant's call history."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from bot.calls.models import CallState
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.slack_requests import SlackSender
from tests.conftest import Bot, eventually
from tests.e2e.test_call_flow import parent_of, place, thread_texts


@pytest.fixture(autouse=True)
def quick_watchdog(bot_settings: dict[str, Any]) -> None:
    bot_settings.update(reconcile_after_s=0.3, reconcile_every_s=0.05)


async def test_a_call_whose_callbacks_were_dropped_is_settled_from_call_history(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await fake_voximplant.send_event(session, "connected")
    # The call goes on and ends, but every later callback is lost; only the call history knows.
    fake_voximplant.end_session(session, duration=42, successful=True, cost=0.0312)

    async def settled() -> None:
        call = await bot.store.call(session.call_id)
        assert call is not None and call.state is CallState.ENDED

    await eventually_async(settled)
    # The watchdog moves the call, then queues its Slack writes: wait for the summary, not only for idle workers.
    await eventually(lambda: any("comes from Voximplant's call history" in t for t in thread_texts(fake_slack)[-1:]))
    await bot.idle()
    call = await bot.store.call(session.call_id)
    assert call is not None and call.duration_s == 42 and call.state_reason == "from call history"
    last = thread_texts(fake_slack)[-1]
    assert last.startswith(":white_check_mark: *Talked with a person* · 42s · 0 turns · cost 0.0312")
    assert "comes from Voximplant's call history" in last
    assert "ended after 42s" in parent_of(fake_slack).text
    history = [r for r in fake_voximplant.requests if r["method"] == "GetCallHistory"]
    assert history and history[0]["call_session_history_id"] == str(session.history_id)
    assert history[0]["with_calls"] == "true"
    # Late callbacks after the reconciliation change nothing.
    await fake_voximplant.send_event(session, "failed", {"code": 486, "reason": "Busy Here"})
    await bot.idle()
    call = await bot.store.call(session.call_id)
    assert call is not None and call.state is CallState.ENDED


async def test_a_call_voximplant_never_confirmed_is_found_in_call_history_by_its_custom_data(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    answer = asyncio.Event()
    fake_voximplant.fail_next(status=500, start_anyway=True, until=answer)  # the session runs; its answer is lost
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    assert (await fake_voximplant.send_event(session, "connected")).status_code == 200
    answer.set()
    await bot.idle()
    call = await bot.store.call(session.call_id)
    assert call is not None and call.state is CallState.CONNECTED and call.history_id is None
    # Every later callback is lost; the call history knows the session by the custom data it was started with.
    fake_voximplant.end_session(session, duration=42, successful=True)

    async def settled() -> None:
        call = await bot.store.call(session.call_id)
        assert call is not None and call.state is CallState.ENDED

    await eventually_async(settled)
    call = await bot.store.call(session.call_id)
    assert call is not None and call.history_id == session.history_id and call.duration_s == 42
    lookups = [r for r in fake_voximplant.requests if r["method"] == "GetCallHistory"]
    assert lookups[0]["call_session_history_custom_data"] == session.raw_custom_data
    assert "call_session_history_id" not in lookups[0]


async def test_an_unanswered_call_is_settled_as_failed_with_its_reason(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    fake_voximplant.end_session(
        session, duration=0, successful=False, end_reason={"code": 486, "description": "Busy Here"}
    )

    async def settled() -> None:
        call = await bot.store.call(session.call_id)
        assert call is not None and call.state is CallState.FAILED

    await eventually_async(settled)
    # The watchdog moves the call, then queues its Slack writes: wait for them, not only for idle workers.
    await eventually(
        lambda: (
            thread_texts(fake_slack)[-1:] != []
            and thread_texts(fake_slack)[-1].startswith(":no_entry: *Busy*: the line was busy (486 Busy Here).")
        )
    )


async def test_a_session_still_running_is_left_alone(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await fake_voximplant.send_event(session, "connected")
    await eventually(lambda: sum(r["method"] == "GetCallHistory" for r in fake_voximplant.requests) >= 2)
    call = await bot.store.call(session.call_id)
    assert call is not None and call.state is CallState.CONNECTED


async def eventually_async(check: Any, timeout: float = 5.0) -> None:
    """`eventually` for a check that must read the store (an async function raising AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.02)
