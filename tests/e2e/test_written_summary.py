"""The summary's written lines (OPENAI_API_KEY): asked of the fake OpenAI once per call, shown escaped, and when
OpenAI fails, a note instead; the summary always arrives. Through the running bot, the fake Slack and fake OpenAI."""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.sandbox.clock import VirtualClock
from bot.sandbox.fake_openai import API_KEY, FakeOpenAI
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant, Session
from bot.sandbox.servers import LocalServer
from bot.sandbox.slack_requests import SlackSender
from bot.summaries.prompt import INSTRUCTIONS, MAX_TRANSCRIPT_CHARS
from tests.conftest import SIGNING_SECRET, Bot, eventually, make_settings, running_bot, where
from tests.e2e.test_call_flow import parent_of, place, thread_texts
from tests.ops.test_operations import json_log  # noqa: F401  (a fixture)

MODEL = "gpt-test-mini"
ENDED = ":white_check_mark: *Talked with a person* · 42s · 2 turns."
HEADING = ":memo: _In short (written by OpenAI from the transcript):_"


def openai_settings(bot_settings: dict[str, Any], fake_openai: FakeOpenAI, **more: Any) -> None:
    bot_settings.update(
        openai_api_key=API_KEY, openai_base_url=f"{fake_openai.url}/v1", openai_model=MODEL, openai_timeout_s=5.0
    )
    bot_settings.update(more)


@pytest.fixture
def with_openai(bot_settings: dict[str, Any], fake_openai: FakeOpenAI) -> None:
    openai_settings(bot_settings, fake_openai)


AGENT_SAID = "Hi Ana, the review moved to 3pm."
CALLEE_SAID = "Fine, I'll be there."


async def talk(fake_voximplant: FakeVoximplant, session: Session) -> None:
    await fake_voximplant.send_event(session, "connected")
    await fake_voximplant.send_event(session, "transcript", {"role": "agent", "text": AGENT_SAID})
    await fake_voximplant.send_event(session, "transcript", {"role": "callee", "text": CALLEE_SAID})


async def end(fake_voximplant: FakeVoximplant, session: Session) -> None:
    await fake_voximplant.send_event(session, "disconnected", {"duration_s": 42, "reason": "remote_hangup"})


async def talk_and_end(fake_voximplant: FakeVoximplant, session: Session) -> None:
    await talk(fake_voximplant, session)
    await end(fake_voximplant, session)


def summary_of(fake_slack: FakeSlack) -> str:
    return fake_slack.thread(parent_of(fake_slack))[-1].text


def slack_writes(fake_slack: FakeSlack) -> str:
    return "\n".join(str(call.params) for call in fake_slack.calls)


async def test_the_summary_adds_the_lines_openai_wrote_from_the_transcript(
    with_openai: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    fake_openai: FakeOpenAI,
) -> None:  # fmt: skip
    fake_openai.answer("Ana heard the review moved to 3pm.\nShe agreed to come.\nNext step: none.")
    session = await place(slack, fake_voximplant, "+14155550100 tell Ana the review moved to 3pm")
    await talk_and_end(fake_voximplant, session)
    await bot.idle()

    assert summary_of(fake_slack) == "\n".join([
        ENDED, HEADING, "> Ana heard the review moved to 3pm.", "> She agreed to come.", "> Next step: none."
    ])  # fmt: skip
    [asked] = fake_openai.received
    assert asked.authorized and asked.model == MODEL and asked.body["store"] is False
    assert asked.messages == [
        {"role": "system", "content": INSTRUCTIONS},
        {
            "role": "user",
            "content": "Transcript:\nAgent: Hi Ana, the review moved to 3pm.\nCallee: Fine, I'll be there.",
        },
    ]
    assert await bot.store.calls_with_pending_slack() == []


async def test_without_a_key_nothing_is_sent_to_openai_and_the_summary_is_as_before(
    bot_settings: dict[str, Any], fake_openai: FakeOpenAI, bot: Bot, slack: SlackSender, fake_slack: FakeSlack,
    fake_voximplant: FakeVoximplant,
) -> None:  # fmt: skip
    assert "openai_api_key" not in bot.settings.model_fields_set
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await talk_and_end(fake_voximplant, session)
    await bot.idle()
    assert summary_of(fake_slack) == ENDED
    assert fake_openai.received == []


@pytest.fixture
def openai_unused_base(bot_settings: dict[str, Any], fake_openai: FakeOpenAI) -> None:
    bot_settings["openai_base_url"] = f"{fake_openai.url}/v1"  # where it would go, were a key set


async def test_no_key_with_the_url_set_still_sends_nothing(
    openai_unused_base: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    fake_openai: FakeOpenAI,
) -> None:  # fmt: skip
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await talk_and_end(fake_voximplant, session)
    await bot.idle()
    assert summary_of(fake_slack) == ENDED and fake_openai.received == []


async def test_a_call_with_no_transcript_asks_nothing(
    with_openai: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    fake_openai: FakeOpenAI,
) -> None:  # fmt: skip
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await fake_voximplant.send_event(session, "connected")
    await fake_voximplant.send_event(session, "disconnected", {"duration_s": 3, "reason": "remote_hangup"})
    await bot.idle()
    assert summary_of(fake_slack) == ":white_check_mark: *Talked with a person* · 3s · 0 turns."
    assert fake_openai.received == []


@pytest.mark.parametrize(
    ("fault", "why"),
    [
        ({"status": 500, "times": 3}, "OpenAI had a problem (HTTP 500)"),  # the client's two retries fail too
        (
            {"status": 429, "times": 3, "retry_after_s": 0.05},
            "OpenAI is limiting this key's requests for now (HTTP 429)",
        ),
        ({"status": 401}, "OpenAI refused the API key (check OPENAI_API_KEY)"),
    ],
)
async def test_an_openai_error_leaves_the_lines_out_and_says_nothing_is_lost(
    with_openai: None, fault: dict[str, Any], why: str, bot: Bot, slack: SlackSender, fake_slack: FakeSlack,
    fake_voximplant: FakeVoximplant, fake_openai: FakeOpenAI,
) -> None:  # fmt: skip
    fake_openai.fail_next(**fault)
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await talk_and_end(fake_voximplant, session)
    await bot.idle()
    assert summary_of(fake_slack) == (
        f"{ENDED}\n_The written summary is unavailable: {why}; the full transcript is above in this thread, so "
        "nothing is lost._"
    )
    assert thread_texts(fake_slack)[1:3] == [
        "*Agent:* Hi Ana, the review moved to 3pm.",
        "*Callee:* Fine, I'll be there.",
    ]
    assert len(fake_openai.received) == fault.get("times", 1)  # 401 is not retried; 429 and 500 twice
    assert "Incorrect API key" not in slack_writes(fake_slack)  # OpenAI's own words (they name part of the key)
    assert await bot.store.calls_with_pending_slack() == []


@pytest.fixture
def openai_nowhere(bot_settings: dict[str, Any], fake_openai: FakeOpenAI) -> None:
    openai_settings(bot_settings, fake_openai, openai_base_url="http://127.0.0.1:9/v1")  # nothing listens there


async def test_openai_unreachable_leaves_the_lines_out(
    openai_nowhere: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await talk_and_end(fake_voximplant, session)
    await bot.idle()
    assert summary_of(fake_slack).startswith(
        f"{ENDED}\n_The written summary is unavailable: OpenAI could not be reached;"
    )


@pytest.mark.parametrize("answer", ["", "  \n\n- \n"])
async def test_an_empty_answer_leaves_the_lines_out(
    with_openai: None, answer: str, bot: Bot, slack: SlackSender, fake_slack: FakeSlack,
    fake_voximplant: FakeVoximplant, fake_openai: FakeOpenAI,
) -> None:  # fmt: skip
    fake_openai.answer(answer)
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await talk_and_end(fake_voximplant, session)
    await bot.idle()
    assert summary_of(fake_slack).startswith(
        f"{ENDED}\n_The written summary is unavailable: OpenAI's answer was empty;"
    )


async def test_a_429_the_client_retries_after_its_retry_after_still_gives_the_lines(
    with_openai: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    fake_openai: FakeOpenAI,
) -> None:  # fmt: skip
    fake_openai.fail_next(429, retry_after_s=0.05)
    fake_openai.answer("They spoke.")
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await talk_and_end(fake_voximplant, session)
    await bot.idle()
    assert summary_of(fake_slack) == f"{ENDED}\n{HEADING}\n> They spoke."
    assert len(fake_openai.received) == 2


@pytest.fixture
def quick_timeout(bot_settings: dict[str, Any], fake_openai: FakeOpenAI) -> None:
    openai_settings(bot_settings, fake_openai, openai_timeout_s=0.5)


async def test_openai_slower_than_the_timeout_delays_the_summary_no_longer_than_it(
    quick_timeout: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    fake_openai: FakeOpenAI,
) -> None:  # fmt: skip
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await talk(fake_voximplant, session)
    await bot.idle()
    fake_openai.delay_s = 30  # far beyond OPENAI_TIMEOUT_S (0.5 s); the client would wait 0.5 s a try, three tries
    loop = asyncio.get_running_loop()
    started = loop.time()
    await end(fake_voximplant, session)
    await bot.idle()
    waited = loop.time() - started
    assert summary_of(fake_slack) == (
        f"{ENDED}\n_The written summary is unavailable: OpenAI did not answer in time; the full transcript is above in "
        "this thread, so nothing is lost._"
    )
    # Without the deadline around its retries the client would take three 0.5 s tries and their backoff (about
    # 3 s) and ask three times; the margin is for a loaded machine.
    assert 0.5 <= waited < 2.5, waited
    assert len(fake_openai.received) == 1


async def test_a_retried_slack_write_does_not_ask_openai_again(
    with_openai: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    fake_openai: FakeOpenAI,
) -> None:  # fmt: skip
    fake_openai.answer("Ana knows about 3pm.")
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await talk(fake_voximplant, session)
    await bot.idle()
    fake_slack.fail_next("chat.postMessage", status=500)  # the summary's post: Slack's outcome unknown, sent again
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=2)  # then rate limited, sent again
    await end(fake_voximplant, session)
    await bot.idle()
    expected = f"{ENDED}\n{HEADING}\n> Ana knows about 3pm."
    posts = [c.params["text"] for c in fake_slack.calls_to("chat.postMessage") if c.params.get("thread_ts")]
    assert posts[-3:] == [expected] * 3  # tried three times, the same text each time
    assert summary_of(fake_slack) == expected
    assert len(fake_openai.received) == 1


async def test_a_summary_written_again_after_its_thread_moved_does_not_ask_openai_again(
    with_openai: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    fake_openai: FakeOpenAI,
) -> None:  # fmt: skip
    # The channel refuses the summary: the thread moves to a DM, and the worker reads the summary's row again and
    # writes it anew there; the lines come from the row, not from a second request.
    fake_openai.answer("Ana knows about 3pm.")
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await talk(fake_voximplant, session)
    await bot.idle()
    fake_slack.fail_next("chat.postMessage", "is_archived")
    await end(fake_voximplant, session)
    await bot.idle()
    expected = f"{ENDED}\n{HEADING}\n> Ana knows about 3pm."
    summaries = [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("text") == expected]
    assert [c.params["channel"] for c in summaries] == ["C0GENERAL", "D0ANA"]  # refused there, then in the DM
    assert len(fake_openai.received) == 1
    call = await bot.store.call(session.call_id)
    assert call is not None and call.slack_channel == "D0ANA"


@pytest.fixture
def wrong_key(bot_settings: dict[str, Any], fake_openai: FakeOpenAI) -> None:
    openai_settings(bot_settings, fake_openai, openai_api_key=WRONG_KEY)


WRONG_KEY = "sk-callbot-wrong-key-0123456789abcdef"


async def test_the_key_is_never_logged_nor_written_to_slack(
    wrong_key: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    fake_openai: FakeOpenAI, json_log: io.StringIO, caplog: pytest.LogCaptureFixture,  # noqa: F811
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)  # the vendor's client and its HTTP library log at DEBUG: none may hold the key
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await talk_and_end(fake_voximplant, session)
    await bot.idle()
    [asked] = fake_openai.received
    assert not asked.authorized  # the fake refused it: 401, OpenAI's message naming the key's ends
    assert "OpenAI refused the API key" in summary_of(fake_slack)
    raw = "\n".join(record.getMessage() for record in caplog.records)  # before any redaction
    for text in (raw, caplog.text, json_log.getvalue(), slack_writes(fake_slack)):
        assert WRONG_KEY not in text and WRONG_KEY[-12:] not in text
        assert "Incorrect API key" not in text
    assert "no written summary" in raw  # the failure itself is logged, by its code


async def test_mrkdwn_in_the_answer_is_escaped_and_cut_to_four_short_lines(
    with_openai: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    fake_openai: FakeOpenAI,
) -> None:  # fmt: skip
    fake_openai.answer(
        "- <!channel> was told & agreed: <https://evil.example|click here>\n\n"
        "* <@U0ANA> will pay\n"
        "3. " + "long " * 100 + "\n"
        "Fourth line.\nFifth line.\nSixth line."
    )
    session = await place(slack, fake_voximplant, "+14155550100 hello")
    await talk_and_end(fake_voximplant, session)
    await bot.idle()
    lines = summary_of(fake_slack).split("\n")
    assert lines[:2] == [ENDED, HEADING]
    assert lines[2] == "> &lt;!channel&gt; was told &amp; agreed: &lt;https://evil.example|click here&gt;"
    assert lines[3] == "> &lt;@U0ANA&gt; will pay"
    assert lines[4].startswith("> long long") and lines[4].endswith("…") and len(lines[4]) == 2 + 300
    assert lines[5:] == ["> Fourth line."]


async def test_a_long_transcript_is_sent_bounded_keeping_its_start_and_its_end(
    with_openai: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    fake_openai: FakeOpenAI,
) -> None:  # fmt: skip
    session = await place(slack, fake_voximplant, "+14155550100 talk a lot")
    await fake_voximplant.send_event(session, "connected")
    for n in range(60):
        await fake_voximplant.send_event(
            session, "transcript", {"role": "agent", "text": f"turn {n:02d} " + "x" * 2000}
        )
    await fake_voximplant.send_event(session, "disconnected", {"duration_s": 600, "reason": "remote_hangup"})
    await bot.idle()
    [asked] = fake_openai.received
    sent = asked.messages[1]["content"]
    assert len(sent) <= MAX_TRANSCRIPT_CHARS + 100
    assert "Agent: turn 00 " in sent and "Agent: turn 59 " in sent and "turns left out …]" in sent
    assert HEADING in summary_of(fake_slack)


async def test_a_summary_a_stopped_bot_left_pending_keeps_its_lines_without_asking_again(
    tmp_path: Path, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, fake_openai: FakeOpenAI,
    http: httpx.AsyncClient, slack_clock: VirtualClock, database: Path | str,
) -> None:  # fmt: skip
    fake_openai.answer("Ana knows about 3pm.")
    expected = f"{ENDED}\n{HEADING}\n> Ana knows about 3pm."
    server = LocalServer()
    openai: dict[str, Any] = {}
    openai_settings(openai, fake_openai)
    settings = make_settings(tmp_path, fake_slack, fake_voximplant, public_base_url=server.url, shutdown_grace_s=1.0,
                             **where(database), **openai)  # fmt: skip
    async with running_bot(settings, server, slack_clock=slack_clock) as bot:
        sender = SlackSender(http, bot_url=bot.url, signing_secret=SIGNING_SECRET, response_base=fake_slack.url)  # type: ignore[attr-defined]
        session = await place(sender, fake_voximplant, "+14155550100 hello")
        await talk(fake_voximplant, session)
        await bot.idle()
        fake_slack.slow_down("chat.postMessage", 60)  # Slack holds the summary's post, and the bot stops meanwhile
        await end(fake_voximplant, session)
        await eventually(lambda: [c for c in fake_slack.calls_to("chat.postMessage") if c.params["text"] == expected])
    fake_slack.slow_down("chat.postMessage", 0)
    async with running_bot(settings, LocalServer(port=server.port), slack_clock=slack_clock) as bot:
        await eventually(lambda: summary_of(fake_slack) == expected)
        await bot.idle()
        assert await bot.store.calls_with_pending_slack() == []
    assert len(fake_openai.received) == 1
