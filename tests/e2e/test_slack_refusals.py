"""Answers real Slack gives that a plain channel never does: each has somewhere to go, and no call or line is lost.

The fake Slack gives each as Slack documents it (docs.slack.dev/reference/methods/chat.postMessage and chat.update,
"Errors"): a channel's own posting settings, an archived channel's `is_inactive` to chat.update, chat.postMessage's
HTTP 200 `rate_limited`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import create_app
from bot.calls.models import Channel
from bot.sandbox.clock import VirtualClock
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.servers import LocalServer
from bot.sandbox.slack_requests import SlackSender
from bot.state import state_of
from tests.conftest import CALLER_ID, DESTINATION, SIGNING_SECRET, Bot, eventually, make_settings
from tests.e2e.test_call_flow import parent_of, place, thread_texts
from tests.e2e.test_call_form import MESSAGE, opened, values

FOLLOWED = "so I'm following this call here."


def dm_thread(fake_slack: FakeSlack) -> list[str]:
    [dm] = fake_slack.parents("D0ANA")
    return [m.text for m in fake_slack.thread(dm)]


@pytest.mark.parametrize(
    "code", ["restricted_action", "restricted_action_read_only_channel", "channel_not_found", "is_archived"]
)
async def test_a_channel_that_refuses_the_bot_gets_the_call_followed_in_a_dm(
    code: str, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    fake_slack.channel_errors["C0GENERAL"] = code  # e.g. posting is limited to admins, or the channel is read-only
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await fake_voximplant.send_event(session, "ringing")
    await bot.idle()
    assert fake_slack.parents("C0GENERAL") == []
    assert dm_thread(fake_slack) == [f"I couldn't post in <#C0GENERAL> ({code}), {FOLLOWED}", ":bell: Ringing…"]


async def test_a_thread_only_channel_refuses_the_parent_so_the_call_is_followed_in_a_dm(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    fake_slack.thread_only.add("C0GENERAL")
    await place(slack, fake_voximplant, "+14155550100 hello")
    await bot.idle()
    assert fake_slack.parents("C0GENERAL") == []
    assert dm_thread(fake_slack) == [
        f"I couldn't post in <#C0GENERAL> (restricted_action_thread_only_channel), {FOLLOWED}"
    ]


async def test_a_non_threadable_channel_refuses_the_thread_so_it_moves_to_a_dm(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    fake_slack.non_threadable.add("C0GENERAL")
    session = await place(slack, fake_voximplant, "+14155550100 hello")  # the parent itself is a top-level message
    await fake_voximplant.send_event(session, "transcript", {"role": "agent", "text": "Hello!"})
    await bot.idle()
    assert thread_texts(fake_slack) == []
    assert dm_thread(fake_slack) == [
        "I can no longer post in <#C0GENERAL> (restricted_action_non_threadable_channel), so I'm following this call "
        "here from now on.",
        "*Agent:* Hello!",
    ]


async def test_a_message_that_takes_no_replies_gets_the_call_thread_beside_it_in_the_channel(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    fake_slack.unrepliable.add(("C0GENERAL", MESSAGE["ts"]))  # e.g. a message type that cannot have thread replies
    await slack.message_action("call_about_message", MESSAGE)
    await slack.view_submission(opened(fake_slack), values(destination=DESTINATION))
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    await fake_voximplant.send_event(fake_voximplant.sessions[0], "ringing")
    await bot.idle()
    parent = parent_of(fake_slack)  # on its own in the channel, not in the refused thread, not in a DM
    assert parent.thread_ts is None and fake_slack.parents("D0ANA") == []
    assert thread_texts(fake_slack) == [":bell: Ringing…"]


@pytest.mark.parametrize("first_reply", [True, False], ids=["reply", "parent"])
async def test_an_http_200_rate_limited_post_is_sent_again_later_not_dropped(
    first_reply: bool, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    if not first_reply:
        fake_slack.fail_next("chat.postMessage", "rate_limited")  # HTTP 200, no Retry-After: "posted too many"
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    if first_reply:
        fake_slack.fail_next("chat.postMessage", "rate_limited")
    await fake_voximplant.send_event(session, "transcript", {"role": "agent", "text": "Hello!"})
    await bot.idle()
    posts = fake_slack.calls_to("chat.postMessage")
    refused = 1 if first_reply else 0
    assert posts[refused].params["text"] == posts[refused + 1].params["text"]  # the same write, once more
    assert posts[refused + 1].at - posts[refused].at >= 1.0  # after a pause (virtual seconds)
    assert thread_texts(fake_slack) == ["*Agent:* Hello!"]
    assert await bot.store.calls_with_pending_slack() == []


@pytest.mark.parametrize("first", ["update", "reply"])
async def test_a_channel_archived_mid_call_moves_the_thread_to_a_dm_whichever_write_meets_it_first(
    first: str, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    slack_clock: VirtualClock,
) -> None:  # fmt: skip
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await bot.idle()
    fake_slack.channel_errors["C0GENERAL"] = "is_archived"  # chat.update answers is_inactive there
    if first == "update":
        await fake_voximplant.send_event(session, "connected")  # a parent update, then a reply
    else:
        await fake_voximplant.send_event(session, "transcript", {"role": "agent", "text": "Hello!"})
    await bot.idle()
    code = "is_inactive" if first == "update" else "is_archived"
    line = ":large_green_circle: Connected. The agent is talking." if first == "update" else "*Agent:* Hello!"
    assert dm_thread(fake_slack) == [
        f"I can no longer post in <#C0GENERAL> ({code}), so I'm following this call here from now on.",
        line,
    ]
    call = await bot.store.call(session.call_id)
    assert call is not None and call.slack_channel == "D0ANA"


async def test_after_a_restart_a_thread_beside_its_message_is_found_again_by_slacks_refusal(
    tmp_path: Path, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, http: httpx.AsyncClient,
    slack_clock: VirtualClock,
) -> None:  # fmt: skip
    # What the bot learnt (the message takes no replies) is not stored: a restarted bot first replies in that
    # message's thread, is refused, and replies under the call's own message from then on.
    async def started(port: int = 0) -> tuple[LocalServer, Any]:
        server = LocalServer(port=port)  # the same port again: the scenario's callback URL names it
        settings = make_settings(tmp_path, fake_slack, fake_voximplant, public_base_url=server.url,
                                 shutdown_grace_s=1.0)  # fmt: skip
        server.app = app = create_app(settings, slack_clock=slack_clock)
        await server.start()
        return server, app

    first, app = await started()
    await state_of(app).store.add_caller_id(
        CALLER_ID, label="Support line", channels=frozenset({Channel.PSTN}), added_by="test", at=datetime.now(UTC)
    )
    sender = SlackSender(http, bot_url=first.url, signing_secret=SIGNING_SECRET, response_base=fake_slack.url)  # type: ignore[attr-defined]
    fake_slack.unrepliable.add(("C0GENERAL", MESSAGE["ts"]))
    await sender.message_action("call_about_message", MESSAGE)
    await sender.view_submission(opened(fake_slack), values(destination=DESTINATION))
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    await fake_voximplant.briefed(fake_voximplant.sessions[0])  # the scenario has its brief before the bot stops
    await state_of(app).delivery.idle()
    await first.stop()

    second, app = await started(first.port)
    try:
        await fake_voximplant.send_event(fake_voximplant.sessions[0], "transcript", {"role": "agent", "text": "Hi"})
        await eventually(lambda: thread_texts(fake_slack) == ["*Agent:* Hi"])
        refused = [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("thread_ts") == MESSAGE["ts"]]
        assert len(refused) == 2  # the parent's first try, and the restarted bot's first reply
        await state_of(app).delivery.idle()
    finally:
        await second.stop()
