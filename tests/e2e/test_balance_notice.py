"""A 402 from Voximplant (insufficient funds) is the account's problem: callbot admins hear it once, in a DM."""

from __future__ import annotations

from typing import Any

import pytest

from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.slack_requests import SlackSender
from tests.conftest import DESTINATION, Bot, eventually
from tests.e2e.test_call_flow import place, thread_texts


@pytest.fixture(autouse=True)
def admins(bot_settings: dict[str, Any]) -> None:
    bot_settings["callbot_admins"] = ["U0BOSS", "U0OPS"]


def dms_to(fake_slack: FakeSlack, user: str) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls_to("chat.postMessage") if c.params.get("channel") == user]


async def fail_for_want_of_funds(slack: SlackSender, fake_voximplant: FakeVoximplant, bot: Bot) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    await fake_voximplant.send_event(session, "dialing")
    await fake_voximplant.send_event(session, "failed", {"code": 402, "reason": "Payment Required"})
    await bot.idle()


async def test_admins_are_told_once_until_calls_work_again(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    await fail_for_want_of_funds(slack, fake_voximplant, bot)
    await fail_for_want_of_funds(slack, fake_voximplant, bot)  # still empty: nobody is told twice
    for admin in ("U0BOSS", "U0OPS"):
        [told] = dms_to(fake_slack, admin)
        assert told.startswith(":warning: Voximplant refused a call <@U0ANA> asked for: the account's balance is too")
        assert "topped up" in told
    # The requester reads it in the call's own thread, in plain words.
    await eventually(lambda: any("balance is too low" in line for line in thread_texts_of_last(fake_slack)))

    # Calls work again (one connects); a later 402 is news again.
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    await fake_voximplant.send_event(session, "connected")
    await fake_voximplant.send_event(session, "disconnected", {"duration_s": 5, "reason": "remote_hangup"})
    await fail_for_want_of_funds(slack, fake_voximplant, bot)
    assert len(dms_to(fake_slack, "U0BOSS")) == 2 and len(dms_to(fake_slack, "U0OPS")) == 2


async def test_a_dm_slack_cannot_take_at_once_is_kept_and_sent_when_it_can(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    # The DM is queued with the call's writes: a 5xx and a 429 for one admin's DM delay it, and lose nothing.
    fake_slack.fail_next("chat.postMessage", status=503, channel="U0BOSS")
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=1, channel="U0BOSS")
    await fail_for_want_of_funds(slack, fake_voximplant, bot)
    tries = [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("channel") == "U0BOSS"]
    assert len(tries) == 3  # refused twice, taken the third time
    [told] = dms_to(fake_slack, "U0OPS")
    assert [told] == [c.params["text"] for c in tries][-1:] and "balance is too low" in told
    assert len(await bot.store.pending_slack(fake_voximplant.sessions[0].call_id)) == 0


async def test_a_dm_slack_refuses_for_good_is_not_sent_anywhere_else(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    fake_slack.fail_next("chat.postMessage", "user_not_found", channel="U0BOSS")
    await fail_for_want_of_funds(slack, fake_voximplant, bot)
    [refused] = [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("channel") == "U0BOSS"]
    assert "balance is too low" in refused.params["text"]
    assert len(dms_to(fake_slack, "U0OPS")) == 1  # the other admin's DM, after it, still went
    # Nothing else carried the notice instead: the thread has its own words, the DM's text went to U0BOSS only.
    carrying = [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("text") == refused.params["text"]]
    assert {c.params["channel"] for c in carrying} == {"U0BOSS", "U0OPS"}
    assert len(await bot.store.pending_slack(fake_voximplant.sessions[0].call_id)) == 0


def thread_texts_of_last(fake_slack: FakeSlack) -> list[str]:
    parent = fake_slack.parents("C0GENERAL")[0]
    return [m.text for m in fake_slack.thread(parent)]


async def test_other_failures_tell_no_admin(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    await fake_voximplant.send_event(session, "failed", {"code": 486, "reason": "Busy Here"})
    await bot.idle()
    assert thread_texts(fake_slack)[-1].startswith(":no_entry: *Busy*: the line was busy")
    assert dms_to(fake_slack, "U0BOSS") == [] and dms_to(fake_slack, "U0OPS") == []
