"""The Slack outbox over the harness: bursts, rate limits, Slack errors; nothing lost, order kept, pace held.

Pacing runs on the virtual clock the `bot` fixture injects (shared with the fake Slack's record of arrival times),
so "no faster than one write a second per channel" is checked exactly and the tests take no real seconds.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import create_app
from bot.calls.models import STATUS_EVENTS, CallState, Channel
from bot.calls.outcomes import judge
from bot.calls.states import transition_for
from bot.sandbox.clock import VirtualClock
from bot.sandbox.fake_slack import FakeSlack, load_manifest
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.servers import LocalServer
from bot.sandbox.slack_requests import SlackSender
from bot.slack.delivery import call_order
from bot.slack.delivery.replies import MAX_LINE_CHARS, MAX_REPLY_CHARS
from bot.slack.delivery.sender import MAX_BACKOFF_S
from bot.slack.texts import reason as reason_words
from bot.state import state_of
from tests.conftest import BOT_TOKEN, CALLER_ID, SIGNING_SECRET, Bot, eventually, make_settings
from tests.e2e.test_call_flow import parent_of, place, thread_texts
from tests.e2e.test_hang_up import hang_up_button
from tests.ops.test_operations import metrics

WRITES = ("chat.postMessage", "chat.update")


def write_times(fake_slack: FakeSlack, channel: str) -> list[float]:
    return [c.at for c in fake_slack.calls if c.method in WRITES and c.params.get("channel") == channel]


def assert_paced(times: list[float], pace_s: float = 1.0) -> None:
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= pace_s - 1e-9 for gap in gaps), [g for g in gaps if g < pace_s]


async def test_a_burst_of_200_transcript_lines_arrives_complete_in_order_and_paced(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, slack_clock: VirtualClock
) -> None:
    # Time stands still: the parent goes out at once (the channel was free), then every later write waits its
    # turn while the whole burst arrives, which is what a lively call looks like from Slack's side.
    slack_clock.hold()
    session = await place(slack, fake_voximplant, "+14155550100 talk a lot")
    await fake_voximplant.send_event(session, "connected")
    said = [f"line {n:03d}: {'agent' if n % 2 else 'callee'} speaking" for n in range(200)]
    for n, text in enumerate(said):
        response = await fake_voximplant.send_event(
            session, "transcript", {"role": "agent" if n % 2 else "callee", "text": text}
        )
        assert response.status_code == 200
    await fake_voximplant.send_event(session, "disconnected", {"duration_s": 300, "reason": "remote_hangup"})
    slack_clock.release()
    await bot.idle()

    lines = thread_texts(fake_slack)
    expected = [f"*{'Agent' if n % 2 else 'Callee'}:* {text}" for n, text in enumerate(said)]
    assert lines[0] == ":large_green_circle: Connected. The agent is talking."
    assert lines[1:201] == expected
    assert lines[201] == ":white_check_mark: *Talked with a person* · 5m 00s · 200 turns."
    assert len(lines) == 202
    replies = fake_slack.thread(parent_of(fake_slack))
    assert all(len(reply.text) <= 3000 for reply in replies)
    # Grouped: the milestone, the 200 lines in a few replies of at most 3,000 characters, the summary.
    assert len(replies) == 1 + 3 + 1, [r.text.count("\n") + 1 for r in replies]
    assert len(fake_slack.calls_to("chat.update")) == 1  # the parent was refreshed once, to its final state
    assert_paced(write_times(fake_slack, "C0GENERAL"))
    assert await bot.store.calls_with_pending_slack() == []


async def test_429_then_500_then_success_loses_nothing(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=7)
    fake_slack.fail_next("chat.postMessage", status=500)
    fake_slack.fail_next("chat.update", status=503)
    await fake_voximplant.send_event(session, "ringing")
    await fake_voximplant.send_event(session, "connected")
    await fake_voximplant.send_event(session, "transcript", {"role": "agent", "text": "Hello!"})
    await fake_voximplant.send_event(session, "disconnected", {"duration_s": 9, "reason": "remote_hangup"})
    await bot.idle()

    assert thread_texts(fake_slack) == [
        ":bell: Ringing…",
        ":large_green_circle: Connected. The agent is talking.",
        "*Agent:* Hello!",
        ":white_check_mark: *Talked with a person* · 9s · 1 turn.",
    ]
    assert "ended after 9s" in parent_of(fake_slack).text
    posts = fake_slack.calls_to("chat.postMessage")
    limited = next(i for i, c in enumerate(posts) if c.params.get("thread_ts"))  # the first reply met the 429
    assert posts[limited + 1].at - posts[limited].at >= 7  # Retry-After honoured (virtual seconds)
    assert posts[limited].params["text"] == posts[limited + 1].params["text"] == posts[limited + 2].params["text"]
    assert_paced(write_times(fake_slack, "C0GENERAL"))
    assert await bot.store.calls_with_pending_slack() == []


async def test_a_plain_text_502_from_a_proxy_is_retried_like_any_5xx(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, http: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    fake_slack.fail_next("chat.postMessage", status=502, text="<html>502 Bad Gateway</html>")
    await fake_voximplant.send_event(session, "connected")
    await bot.idle()
    assert thread_texts(fake_slack) == [":large_green_circle: Connected. The agent is talking."]
    replies = [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("thread_ts")]
    assert len(replies) == 2
    assert replies[1].at - replies[0].at < MAX_BACKOFF_S  # the first backoff, not the pause after an unexpected error
    found = await metrics(http, bot)
    assert found[("callbot_slack_retries_total", (("reason", "server_error"),))] == 1
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_reply_slack_finds_too_long_is_split_not_lost(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    said = "first sentence of a long answer\nsecond sentence of it"
    fake_slack.fail_next("chat.postMessage", "msg_too_long")
    await fake_voximplant.send_event(session, "transcript", {"role": "agent", "text": said})
    await bot.idle()
    assert thread_texts(fake_slack) == ["*Agent:* first sentence of a long answer", "second sentence of it"]


async def test_a_transcript_over_40000_characters_reaches_the_thread_in_replies_slack_does_not_cut(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    # Slack would keep the first 40,000 characters of a longer text and say nothing, so no reply may come near that.
    session = await place(slack, fake_voximplant, "+14155550100 talk a lot")
    await fake_voximplant.send_event(session, "connected")
    symbols = "<&>" * 3_000  # 9,000 characters, 39,000 once escaped: one turn far over what one reply holds
    await fake_voximplant.send_event(session, "transcript", {"role": "agent", "text": symbols})
    said = [f"turn {n:02d}: " + "blah " * 200 for n in range(40)]  # 40,000 more characters
    for text in said:
        await fake_voximplant.send_event(session, "transcript", {"role": "callee", "text": text})
    await fake_voximplant.send_event(session, "disconnected", {"duration_s": 600, "reason": "remote_hangup"})
    await bot.idle()

    posts = [c.params["text"] for c in fake_slack.calls_to("chat.postMessage") if c.params.get("thread_ts")]
    assert sum(len(text) for text in posts) > 40_000
    assert all(len(text) <= MAX_REPLY_CHARS for text in posts), [len(t) for t in posts]
    replies = [m.text for m in fake_slack.thread(parent_of(fake_slack))]
    assert replies == posts  # the fake Slack cut nothing
    # The long turn: capped at MAX_LINE_CHARS (its end marked), in several replies cut between entities.
    pieces = [text for text in replies if "&" in text]
    turn = "".join(pieces)
    assert len(pieces) >= 4 and all(p.count("&") == p.count(";") for p in pieces)
    assert turn.startswith("*Agent:* &lt;&amp;&gt;&lt;") and turn.endswith("…") and len(turn) == MAX_LINE_CHARS
    # Every other turn arrives whole and in order, and the summary counts all 41.
    assert [line for text in replies if "&" not in text for line in text.split("\n")][1:-1] == [
        f"*Callee:* {text}" for text in said
    ]
    assert replies[-1] == ":white_check_mark: *Talked with a person* · 10m 00s · 41 turns."


async def test_a_parent_update_slack_finds_too_long_is_sent_shortened(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    session = await place(slack, fake_voximplant, "+14155550100 " + "please say this. " * 150)
    fake_slack.fail_next("chat.update", "msg_too_long")
    await fake_voximplant.send_event(session, "connected")
    await bot.idle()
    full, short = fake_slack.calls_to("chat.update")
    assert len(short.params["blocks"]) == len(full.params["blocks"])  # the same blocks, Hang up included
    assert (
        short.params["blocks"][1]["text"]["text"].endswith("…")
        and len(short.params["blocks"][1]["text"]["text"]) <= 1000
    )
    assert len(full.params["blocks"][1]["text"]["text"]) > 2000
    assert "Connected" in parent_of(fake_slack).text
    assert thread_texts(fake_slack) == [":large_green_circle: Connected. The agent is talking."]
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_parent_update_still_too_long_when_shortened_is_dropped_and_the_thread_goes_on(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    fake_slack.fail_next("chat.update", "msg_too_long")
    fake_slack.fail_next("chat.update", "msg_too_long")
    await fake_voximplant.send_event(session, "connected")
    await bot.idle()
    assert len(fake_slack.calls_to("chat.update")) == 2  # once in full, once shortened, then given up
    assert thread_texts(fake_slack) == [":large_green_circle: Connected. The agent is talking."]
    assert await bot.store.calls_with_pending_slack() == []
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "msg_too_long" in errors[0], errors
    await fake_voximplant.send_event(session, "disconnected", {"duration_s": 3, "reason": "remote_hangup"})
    await bot.idle()
    assert "ended after 3s" in parent_of(fake_slack).text  # later updates are not held back


async def test_late_transcript_lines_land_after_the_end_in_order_and_are_counted_in_the_summary(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, slack_clock: VirtualClock
) -> None:
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    # Slack's pace keeps the summary waiting (here: time stands still) while the late lines arrive.
    slack_clock.hold()
    await fake_voximplant.send_event(session, "connected", seq=1)
    await fake_voximplant.send_event(session, "disconnected", {"duration_s": 20, "reason": "remote_hangup"}, seq=4)
    await fake_voximplant.send_event(session, "transcript", {"role": "agent", "text": "Bye now."}, seq=2)
    await fake_voximplant.send_event(session, "transcript", {"role": "callee", "text": "Bye!"}, seq=3)
    await fake_voximplant.send_event(session, "ringing", seq=5)  # nonsense after the end changes nothing
    slack_clock.release()
    await bot.idle()
    assert thread_texts(fake_slack) == [
        ":large_green_circle: Connected. The agent is talking.",
        ":white_check_mark: *Talked with a person* · 20s · 2 turns.",  # written when sent: the late lines count
        "*Agent:* Bye now.",
        "*Callee:* Bye!",
    ]
    assert "ended after 20s" in parent_of(fake_slack).text


async def test_a_transcript_line_arriving_after_a_later_one_takes_its_place_in_the_thread(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # Line 3 waits for line 2 at most GAP_WAIT_S of real time: on a loaded machine the next request may take longer
    # than the second it allows, and this test is about the order, not about how long the wait lasts.
    monkeypatch.setattr(call_order, "GAP_WAIT_S", 30.0)
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await fake_voximplant.send_event(session, "connected", seq=1)
    await bot.idle()  # nothing waits: the next line would go out at once
    # A retried request: the scenario's line 2 reaches the bot after its line 3.
    await fake_voximplant.send_event(session, "transcript", {"role": "callee", "text": "Fine, thanks."}, seq=3)
    await fake_voximplant.send_event(session, "transcript", {"role": "agent", "text": "How are you?"}, seq=2)
    await bot.idle()
    assert thread_texts(fake_slack) == [
        ":large_green_circle: Connected. The agent is talking.",
        "*Agent:* How are you?",
        "*Callee:* Fine, thanks.",
    ]


async def test_a_line_waits_for_an_earlier_event_until_its_writes_are_queued_not_only_stored(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Between an event's transaction and its Slack writes there is a moment (on PostgreSQL, round trips long) when
    it is stored and its line not queued: a later line must not take that for the gap filled and go first."""
    monkeypatch.setattr(call_order, "GAP_WAIT_S", 30.0)
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await fake_voximplant.send_event(session, "connected", seq=1)
    await bot.idle()
    line = {"v": 1, "call_id": session.call_id, "seq": 2, "event": "transcript", "at": datetime.now(UTC),
            "data": {"role": "agent", "text": "How are you?"}}  # fmt: skip
    # Line 2 stored, as its request's transaction leaves it, its writes not queued yet...
    await bot.store.record_event(
        STATUS_EVENTS.validate_python(line), received_at=datetime.now(UTC), decide=transition_for, judge=judge
    )
    await fake_voximplant.send_event(session, "transcript", {"role": "callee", "text": "Fine, thanks."}, seq=3)
    await asyncio.sleep(0.3)  # line 3's worker looks at the gap meanwhile
    assert thread_texts(fake_slack) == [":large_green_circle: Connected. The agent is talking."]
    # ...then its request finishes (here: the scenario repeats it, and the repeat announces the stored event).
    await fake_voximplant.send_event(session, "transcript", {"role": "agent", "text": "How are you?"}, seq=2)
    await bot.idle()
    assert thread_texts(fake_slack) == [
        ":large_green_circle: Connected. The agent is talking.",
        "*Agent:* How are you?",
        "*Callee:* Fine, thanks.",
    ]


async def test_a_gap_that_never_fills_does_not_hold_back_the_lines_after_it(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await fake_voximplant.send_event(session, "connected", seq=1)
    await fake_voximplant.send_event(session, "transcript", {"role": "callee", "text": "Hello?"}, seq=3)  # 2 is lost
    await bot.idle()
    await fake_voximplant.send_event(session, "transcript", {"role": "callee", "text": "Anyone?"}, seq=4)
    await bot.idle()
    assert thread_texts(fake_slack) == [
        ":large_green_circle: Connected. The agent is talking.",
        "*Callee:* Hello?",
        "*Callee:* Anyone?",
    ]


@pytest.fixture
def three_live(bot_settings: dict[str, Any]) -> None:
    bot_settings["concurrent_calls_per_user"] = 3


async def test_calls_sharing_a_channel_keep_each_thread_in_order(
    three_live: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    sessions = [await place(slack, fake_voximplant, f"+1415555{100 + n:04d} call {n}") for n in range(3)]
    for n in range(6):  # their lines arrive interleaved, while the calls' messages and lines share the channel's pace
        for index, session in enumerate(sessions):
            text = f"call {index} line {n}"
            await fake_voximplant.send_event(session, "transcript", {"role": "agent", "text": text})
    for session in sessions:
        await fake_voximplant.send_event(session, "disconnected", {"duration_s": 5, "reason": "remote_hangup"})
    await bot.idle()

    parents = fake_slack.parents("C0GENERAL")
    assert len(parents) == 3
    for index, parent in enumerate(parents):
        assert f"call {index}" in str(parent.blocks)
        lines = [line for reply in fake_slack.thread(parent) for line in reply.text.split("\n")]
        assert lines == [f"*Agent:* call {index} line {n}" for n in range(6)] + [
            ":white_check_mark: *Talked with a person* · 5s · 6 turns."
        ]
    assert fake_slack.rate_limited == []  # and the fake Slack refused none of their writes for going too fast


@pytest.fixture
def broadcast(bot_settings: dict[str, Any]) -> None:
    bot_settings["slack_broadcast_summary"] = True


async def test_the_final_summary_can_be_broadcast(
    broadcast: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await fake_voximplant.send_event(session, "connected")
    await fake_voximplant.send_event(
        session, "disconnected", {"duration_s": 5, "reason": "remote_hangup", "cost": 0.02}
    )
    await bot.idle()
    replies = fake_slack.thread(parent_of(fake_slack))
    assert [r.broadcast for r in replies] == [False, True]
    assert (
        replies[-1].text
        == ":white_check_mark: *Talked with a person* · 5s · 0 turns · cost 0.02 in your Voximplant account's currency."
    )


async def test_slack_unreachable_for_a_while_loses_nothing(
    tmp_path: Path, fake_voximplant: FakeVoximplant, http: httpx.AsyncClient
) -> None:
    fake = FakeSlack(bot_token=BOT_TOKEN, manifest=load_manifest())
    clock = VirtualClock()
    fake.clock = clock.now
    slack_server = LocalServer(fake.app)
    port = slack_server.port
    fake.url = slack_server.url  # type: ignore[attr-defined]
    await slack_server.start()
    bot_server = LocalServer()
    settings = make_settings(tmp_path, fake, fake_voximplant, public_base_url=bot_server.url)
    bot_server.app = app = create_app(settings, slack_clock=clock)
    async with bot_server:
        await state_of(app).store.add_caller_id(
            CALLER_ID, label="Support line", channels=frozenset({Channel.PSTN}), added_by="test", at=datetime.now(UTC)
        )
        sender = SlackSender(http, bot_url=bot_server.url, signing_secret=SIGNING_SECRET, response_base=fake.url)  # type: ignore[attr-defined]
        session = await place(sender, fake_voximplant, "+14155550100 hello")
        await slack_server.stop()  # Slack is gone: connections are refused
        await fake_voximplant.send_event(session, "connected")
        await fake_voximplant.send_event(session, "transcript", {"role": "agent", "text": "Are you there?"})
        assert await state_of(app).store.calls_with_pending_slack() == [session.call_id]
        expected = [":large_green_circle: Connected. The agent is talking.", "*Agent:* Are you there?"]
        async with LocalServer(fake.app, port=port):  # and back, at the same address
            await eventually(
                lambda: [ln for m in fake.thread(fake.parents()[0]) for ln in m.text.split("\n")] == expected
            )
            await eventually(lambda: "Connected" in fake.parents()[0].text)
            await state_of(app).delivery.idle()
    assert len(fake.parents()) == 1


async def test_a_refused_token_holds_the_writes_until_slack_accepts_it_again(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, http: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    fake_slack.bot_token = "xoxb-rotated-elsewhere"  # Slack no longer takes the bot's token: invalid_auth
    before = len(fake_slack.calls)
    await fake_voximplant.send_event(session, "connected")
    await fake_voximplant.send_event(session, "transcript", {"role": "agent", "text": "Hello!"})
    await eventually(lambda: len([c for c in fake_slack.calls[before:] if c.method in WRITES]) >= 3)  # and again
    assert await bot.store.calls_with_pending_slack() == [session.call_id]  # nothing dropped
    assert thread_texts(fake_slack) == []
    found = await metrics(http, bot)
    assert found[("callbot_slack_token_refused", ())] == 1
    assert found[("callbot_slack_retries_total", (("reason", "auth"),))] >= 3

    fake_slack.bot_token = BOT_TOKEN  # the token works again
    await bot.idle()
    assert thread_texts(fake_slack) == [":large_green_circle: Connected. The agent is talking.", "*Agent:* Hello!"]
    assert "Connected" in parent_of(fake_slack).text
    assert await bot.store.calls_with_pending_slack() == []
    assert (await metrics(http, bot))[("callbot_slack_token_refused", ())] == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "invalid_auth" in errors[0], errors  # one line for the whole hold
    assert "xoxb-" not in caplog.text


async def test_writes_held_for_a_revoked_token_go_out_after_a_restart_with_a_new_one(
    tmp_path: Path, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, http: httpx.AsyncClient,
    slack_clock: VirtualClock,
) -> None:  # fmt: skip
    async def started(token: str) -> tuple[LocalServer, Any]:
        server = LocalServer()
        settings = make_settings(
            tmp_path, fake_slack, fake_voximplant, public_base_url=server.url, slack_bot_token=token,
            shutdown_grace_s=1.0,
        )  # fmt: skip
        server.app = app = create_app(settings, slack_clock=slack_clock)
        await server.start()
        return server, app

    first, app = await started(BOT_TOKEN)
    await state_of(app).store.add_caller_id(
        CALLER_ID, label="Support line", channels=frozenset({Channel.PSTN}), added_by="test", at=datetime.now(UTC)
    )
    sender = SlackSender(http, bot_url=first.url, signing_secret=SIGNING_SECRET, response_base=fake_slack.url)  # type: ignore[attr-defined]
    session = await place(sender, fake_voximplant, "+14155550100 hello")
    await eventually(lambda: len(fake_slack.parents()) == 1)
    fake_slack.bot_token = "xoxb-reinstalled"  # the old token is revoked; the app was reinstalled with a new one
    await fake_voximplant.send_event(session, "connected")
    await eventually(lambda: state_of(app).delivery.token_refused == "invalid_auth")
    await first.stop()  # the held writes stay in SQLite

    second, app = await started("xoxb-reinstalled")
    try:
        await eventually(lambda: [m.text for m in fake_slack.thread(fake_slack.parents()[0])] == [
            ":large_green_circle: Connected. The agent is talking."
        ])  # fmt: skip
        await state_of(app).delivery.idle()
        assert await state_of(app).store.calls_with_pending_slack() == []
    finally:
        await second.stop()


@pytest.fixture
def quick_parent(bot_settings: dict[str, Any]) -> None:
    bot_settings["slack_parent_timeout_s"] = 0.5


@pytest.fixture
def no_burst(bot_settings: dict[str, Any]) -> None:
    bot_settings["slack_burst"] = 1  # strictly one write a second: a channel that took a write is busy for a second


async def test_a_call_waiting_its_turn_in_a_busy_channel_is_dialled_once_shown_not_failed(
    quick_parent: None, no_burst: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack,
    fake_voximplant: FakeVoximplant, slack_clock: VirtualClock,
) -> None:  # fmt: skip
    # Slack is healthy; the channel just took a write and has no burst, so the next one waits for its paced turn.
    first = await place(slack, fake_voximplant, "+14155550100 first")
    await bot.idle()
    slack_clock.hold()  # the next turn comes only when the clock moves: far past the 0.5 s bound, in real time
    await fake_voximplant.send_event(first, "transcript", {"role": "agent", "text": "Hello"})
    await eventually(lambda: thread_texts(fake_slack) == ["*Agent:* Hello"])  # it took this second's turn
    response = await slack.command("+14155550101 second")
    assert response.status_code == 200 and response.text == ""
    await asyncio.sleep(1.0)
    [second, _] = await bot.store.recent_calls()
    assert second.state is CallState.REQUESTED and len(fake_voximplant.sessions) == 1  # waiting, not failed
    slack_clock.release()
    await eventually(lambda: len(fake_voximplant.sessions) == 2)  # shown, then dialled
    call = await bot.store.call(second.id)
    assert call is not None and call.state is CallState.STARTING


async def test_a_call_asked_for_while_slack_is_down_is_not_dialled_late_and_says_so_once_slack_is_back(
    quick_parent: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    slack_clock: VirtualClock,
) -> None:  # fmt: skip
    # Slack answers 503, and its retries wait on the delivery clock, which stands still: Slack stays down.
    slack_clock.hold()
    fake_slack.fail_next("chat.postMessage", status=503)
    response = await slack.command("+14155550100 hello")
    assert response.status_code == 200 and response.text == ""
    await asyncio.wait_for(bot.background.idle(), timeout=10)  # the launch gave up waiting for the message
    [call] = await bot.store.recent_calls()
    words = "Slack did not take this call's message within 0.5 s (it may be down or slow), so the call was not dialled"
    assert call.state is CallState.FAILED and reason_words(call.state_reason) == f"{words}; ask again"
    assert fake_voximplant.requests == []  # nothing was dialled, and nothing will be
    assert fake_slack.messages == []

    slack_clock.release()  # Slack is back: the queued message, its update and the failure reply go out in order
    await bot.idle()
    parent = parent_of(fake_slack)
    assert "Refused before dialling: Slack did not take this call's message" in parent.text
    assert hang_up_button(parent) is None
    assert thread_texts(fake_slack) == [f":x: *Refused before dialling*: {words}; ask again."]
    assert fake_voximplant.requests == []
