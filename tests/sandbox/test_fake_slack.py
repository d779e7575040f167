"""The fake Slack refuses what Slack refuses, so tests see the failures the bot must survive."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.fake_slack import CHANNEL_BURST, FakeSlack, Fault, load_manifest
from bot.sandbox.slack_requests import SlackSender
from tests.conftest import BOT_TOKEN, eventually


@pytest.fixture
async def client(fake_slack: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    async with aiohttp.ClientSession() as session:
        yield AsyncWebClient(token=BOT_TOKEN, base_url=f"{fake_slack.url}/api/", session=session)  # type: ignore[attr-defined]


def section(length: int) -> list[dict[str, object]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * length}}]


async def test_a_section_over_3000_characters_is_invalid_blocks(client: AsyncWebClient, fake_slack: FakeSlack) -> None:
    posted = await client.chat_postMessage(channel="C0GENERAL", text="fits", blocks=section(3_000))
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel="C0GENERAL", text="too long", blocks=section(3_001))
    assert refused.value.response["error"] == "invalid_blocks"
    assert refused.value.response["response_metadata"]["messages"] == [
        "[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
    ]
    with pytest.raises(SlackApiError) as update_refused:
        await client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="too long", blocks=section(3_001))
    assert update_refused.value.response["error"] == "invalid_blocks"
    assert [m.text for m in fake_slack.messages] == ["fits"]  # nothing refused was kept


@pytest.mark.parametrize("app_home", [None, {"messages_tab_enabled": False}, {"home_tab_enabled": True}])
async def test_without_the_messages_tab_a_post_to_a_user_is_messages_tab_disabled(
    client: AsyncWebClient, fake_slack: FakeSlack, app_home: dict[str, bool] | None
) -> None:
    features = {"bot_user": {"display_name": "callbot"}} | ({"app_home": app_home} if app_home is not None else {})
    fake_slack.manifest = {"features": features}
    for send in (
        client.chat_postMessage(channel="U0ANA", text="hello"),
        client.chat_postEphemeral(channel="U0ANA", user="U0ANA", text="hello"),
    ):
        with pytest.raises(SlackApiError) as refused:
            await send
        assert refused.value.response["error"] == "messages_tab_disabled"
    assert fake_slack.messages == [] and fake_slack.ephemeral == []
    await client.chat_postMessage(channel="C0GENERAL", text="channels are not affected")


async def test_with_the_messages_tab_on_a_post_to_a_user_opens_their_dm(
    client: AsyncWebClient, fake_slack: FakeSlack
) -> None:
    fake_slack.manifest = {"features": {"app_home": {"messages_tab_enabled": True}}}
    posted = await client.chat_postMessage(channel="U0ANA", text="hello")
    assert posted["channel"] == "D0ANA"
    assert FakeSlack().messages_tab_enabled is False  # no manifest: Slack's default, the tab is off


async def test_a_text_over_40000_characters_is_cut_without_a_word(
    client: AsyncWebClient, fake_slack: FakeSlack
) -> None:
    posted = await client.chat_postMessage(channel="C0GENERAL", text="x" * 40_000 + "lost")
    assert posted["ok"] is True
    assert fake_slack.messages[0].text == "x" * 40_000


def button(**changes: object) -> dict[str, object]:
    element: dict[str, object] = {
        "type": "button", "action_id": "call_hang_up", "text": {"type": "plain_text", "text": "Hang up"},
        "value": "c1",
        "confirm": {
            "title": {"type": "plain_text", "text": "Hang up this call?"},
            "text": {"type": "mrkdwn", "text": "The call ends for everyone."},
            "confirm": {"type": "plain_text", "text": "Hang up"}, "deny": {"type": "plain_text", "text": "Keep"},
        },
    }  # fmt: skip
    return {"type": "actions", "block_id": "call_actions", "elements": [{**element, **changes}]}


LONG_TITLE = {
    "title": {"type": "plain_text", "text": "t" * 101}, "text": {"type": "mrkdwn", "text": "The call ends."},
    "confirm": {"type": "plain_text", "text": "Hang up"}, "deny": {"type": "plain_text", "text": "Keep"},
}  # fmt: skip


@pytest.mark.parametrize(
    ("blocks", "problem"),
    [
        ([button(text={"type": "plain_text", "text": "x" * 76})], "text attribute cannot exceed 75 characters"),
        ([button(action_id="a" * 256)], "action_id attribute cannot exceed 255 characters"),
        ([button(confirm=LONG_TITLE)], "title attribute cannot exceed 100 characters"),
        ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * 11}], "cannot exceed 10 elements"),
        (section(1) * 51, "no more than 50 items allowed"),
        ([{**section(1)[0], "block_id": "same"}, {**section(1)[0], "block_id": "same"}], "duplicate block_id"),
    ],
    ids=["button text", "action_id", "confirm title", "context elements", "51 blocks", "duplicate block_id"],
)
async def test_block_kit_limits_are_invalid_blocks(
    client: AsyncWebClient, fake_slack: FakeSlack, blocks: list[dict[str, object]], problem: str
) -> None:
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel="C0GENERAL", text="fallback", blocks=blocks)
    assert refused.value.response["error"] == "invalid_blocks"
    assert any(problem in message for message in refused.value.response["response_metadata"]["messages"])
    await client.chat_postMessage(channel="C0GENERAL", text="fallback", blocks=[button()])  # within every limit
    assert [m.text for m in fake_slack.messages] == ["fallback"]


async def test_chat_update_past_tier_3_is_a_429_with_retry_after(client: AsyncWebClient, fake_slack: FakeSlack) -> None:
    now = [0.0]
    fake_slack.clock = lambda: now[0]
    posted = await client.chat_postMessage(channel="C0GENERAL", text="v0")
    for n in range(50):  # 50 in one minute: Tier 3's "50+"
        now[0] = n * 0.5
        await client.chat_update(channel="C0GENERAL", ts=posted["ts"], text=f"v{n + 1}")
    with pytest.raises(SlackApiError) as limited:
        await client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="one too many")
    assert limited.value.response.status_code == 429 and limited.value.response["error"] == "ratelimited"
    assert limited.value.response.headers["Retry-After"] == "36"  # the first of the 50 leaves the minute then
    assert fake_slack.messages[0].text == "v50" and len(fake_slack.rate_limited) == 1
    now[0] = 60.0
    await client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="later")


async def test_posts_to_one_channel_past_a_burst_are_a_429_with_retry_after_then_one_a_second(
    client: AsyncWebClient, fake_slack: FakeSlack
) -> None:
    now = [100.0]
    fake_slack.clock = lambda: now[0]
    for n in range(CHANNEL_BURST):  # Slack's "short bursts >1 allowed": all at once
        await client.chat_postMessage(channel="C0GENERAL", text=f"burst {n}")
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel="C0GENERAL", text="one too many")
    assert limited.value.response.status_code == 429 and limited.value.response["error"] == "ratelimited"
    assert limited.value.response.headers["Retry-After"] == "1"
    with pytest.raises(SlackApiError) as reply_limited:  # a thread reply is a message in the channel too
        await client.chat_postMessage(channel="C0GENERAL", thread_ts=fake_slack.messages[0].ts, text="a reply")
    assert reply_limited.value.response.status_code == 429
    assert len(fake_slack.rate_limited) == 2
    await client.chat_postMessage(channel="C0OTHER", text="another channel has its own bucket")
    now[0] += 1.0  # "1 per second": one more a second, and no more
    await client.chat_postMessage(channel="C0GENERAL", text="a second later")
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel="C0GENERAL", text="too soon again")
    now[0] += 0.5  # half a second early
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel="C0GENERAL", text="a moment too soon")
    now[0] += 0.5
    await client.chat_postMessage(channel="C0GENERAL", text="just in time")
    now[0] += 60.0  # the bucket fills up again: a whole burst
    for n in range(CHANNEL_BURST):
        await client.chat_postMessage(channel="C0GENERAL", text=f"burst again {n}")
    posted = [m.text for m in fake_slack.messages if m.channel == "C0GENERAL"]
    assert len(posted) == 2 * CHANNEL_BURST + 2 and {"one too many", "too soon again", "a moment too soon"}.isdisjoint(
        posted
    )


async def test_a_view_block_is_checked_by_slack_sdks_models_too(client: AsyncWebClient, fake_slack: FakeSlack) -> None:
    fake_slack.now = lambda: 1_700_000_000.0
    view = {
        "type": "modal", "title": {"type": "plain_text", "text": "Place a call"},
        "blocks": [button(text={"type": "plain_text", "text": "x" * 76})],
    }  # fmt: skip
    with pytest.raises(SlackApiError) as refused:
        await client.views_open(trigger_id="12345.1700000000.abcdef", view=view)
    assert refused.value.response["error"] == "invalid_arguments"
    assert refused.value.response["response_metadata"]["messages"] == [
        "[ERROR] text attribute cannot exceed 75 characters [json-pointer:/view/blocks/0]"
    ]


# -- reset(): tests share one served fake ---------------------------------------------------------------------------

SERVING = {"app", "url", "_setup", "_requests", "_resetting"}  # how the fake is served, which reset() keeps


def state(fake: FakeSlack) -> dict[str, object]:
    return {name: value for name, value in vars(fake).items() if name not in SERVING}


async def test_reset_gives_back_a_new_fake_and_answers_a_held_request_at_once(
    client: AsyncWebClient, fake_slack: FakeSlack
) -> None:
    new = state(FakeSlack(bot_token=BOT_TOKEN, manifest=load_manifest()))  # as the served one was made
    assert state(fake_slack) == new
    # Everything a test can set or leave behind: faults, an outage, channels' settings, users, clocks, a held request.
    await client.chat_postMessage(channel="C0GENERAL", text="hello")
    fake_slack.fail_next("chat.update", "internal_error")
    fake_slack.outage = Fault(status=503)
    fake_slack.channel_errors["C0GONE"] = "channel_not_found"
    fake_slack.thread_only.add("C0THREADS")
    fake_slack.add_user("U0ANA", admin=True)
    fake_slack.usergroups["S0SUPPORT"] = ["U0ANA"]
    fake_slack.manifest["features"]["app_home"]["messages_tab_enabled"] = False  # in place
    fake_slack.scopes.remove("chat:write")
    fake_slack.bot_token = "xoxb-rotated"
    fake_slack.clock = lambda: 42.0
    fake_slack.channel_burst = None
    fake_slack.slow_down("auth.test", 3600)
    async with httpx.AsyncClient() as http:
        held = asyncio.create_task(http.post(f"{fake_slack.url}/api/auth.test", data={"token": BOT_TOKEN}))  # type: ignore[attr-defined]
        await eventually(lambda: fake_slack.calls_to("auth.test"))
        assert state(fake_slack) != new
        await fake_slack.reset()
        answer = await held
    assert (answer.status_code, answer.json()) == (503, {"ok": False, "error": "fake_slack_reset"})
    assert state(fake_slack) == new  # and the held request changed nothing on its way out
    assert load_manifest()["features"]["app_home"]["messages_tab_enabled"] is True


async def test_a_response_url_takes_five_messages(fake_slack: FakeSlack, http: httpx.AsyncClient) -> None:
    url = f"{fake_slack.url}/commands/T0SANDBOX/1/hook"
    answers = [(await http.post(url, json={"text": f"n{n}"})).status_code for n in range(6)]
    assert answers == [200] * 5 + [404]
    assert [r["text"] for r in fake_slack.responses] == [f"n{n}" for n in range(5)]
    assert (await http.post(f"{fake_slack.url}/commands/T0SANDBOX/2/hook", json={"text": "x"})).status_code == 200


@pytest.mark.parametrize(("minutes_ago", "status"), [(29, 200), (31, 404)])
async def test_a_response_url_lasts_thirty_minutes(
    fake_slack: FakeSlack, http: httpx.AsyncClient, minutes_ago: int, status: int
) -> None:
    issued = time.time() - minutes_ago * 60
    sender = SlackSender(http, bot_url="http://unused", signing_secret="s", response_base=fake_slack.url,
                         clock=lambda: issued)  # fmt: skip
    answer = await http.post(sender.response_url(), json={"text": "late"})
    assert (answer.status_code, answer.text) == (status, "ok" if status == 200 else "expired_url")
    assert [r["text"] for r in fake_slack.responses] == (["late"] if status == 200 else [])
