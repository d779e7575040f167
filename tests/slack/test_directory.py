"""SlackDirectory against the fake Web API: paging, the short cache, and Slack's errors."""

from __future__ import annotations

import asyncio

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import DirectoryError
from bot.sandbox.fake_slack import FakeSlack
from bot.slack.directory import STALE_S, SlackDirectory
from tests.conftest import BOT_TOKEN, eventually


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def client(fake_slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=f"{fake_slack.url}/api/")  # type: ignore[attr-defined]


async def test_member_lists_are_reused_for_the_ttl_only(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    fake_slack.usergroups["S0SUPPORT"] = ["U0BEN"]
    ticks = Ticks()
    directory = SlackDirectory(client, ttl_s=30, clock=ticks)
    assert await directory.is_member("S0SUPPORT", "U0BEN")
    fake_slack.usergroups["S0SUPPORT"] = []  # Ben leaves the group
    ticks.now += 29
    assert await directory.is_member("S0SUPPORT", "U0BEN")  # still the cached list
    assert len(fake_slack.calls_to("usergroups.users.list")) == 1
    ticks.now += 1
    await refreshed(directory)
    assert not await directory.is_member("S0SUPPORT", "U0BEN")
    assert len(fake_slack.calls_to("usergroups.users.list")) == 2


async def refreshed(directory: SlackDirectory) -> None:
    """Ask once past the expiry (given the expired answer; a refresh starts), then wait for that refresh."""
    await directory.is_member("S0SUPPORT", "U0BEN")
    await asyncio.gather(*directory._lookups.values())


async def test_an_expired_list_is_given_while_its_refresh_runs(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    # A big channel's list takes many pages: the first /call after an expiry must not wait for them all.
    fake_slack.usergroups["S0SUPPORT"] = ["U0BEN"]
    ticks = Ticks()
    directory = SlackDirectory(client, ttl_s=30, clock=ticks)
    assert await directory.is_member("S0SUPPORT", "U0BEN")
    fake_slack.usergroups["S0SUPPORT"] = ["U0ANA"]
    fake_slack.slow_down("usergroups.users.list", 30)  # the refresh will not finish while anyone waits
    ticks.now += 31
    answers = await asyncio.wait_for(
        asyncio.gather(*(directory.is_member("S0SUPPORT", u) for u in ("U0BEN", "U0ANA"))), timeout=10
    )
    assert answers == [True, False]  # the expired list, at once
    await eventually(lambda: len(fake_slack.calls_to("usergroups.users.list")) == 2)  # one refresh for both
    await directory.aclose()


async def test_a_list_long_expired_is_not_given_the_lookup_is_waited_for(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    fake_slack.usergroups["S0SUPPORT"] = ["U0BEN"]
    ticks = Ticks()
    directory = SlackDirectory(client, ttl_s=30, clock=ticks)
    assert await directory.is_member("S0SUPPORT", "U0BEN")
    fake_slack.usergroups["S0SUPPORT"] = []
    ticks.now += 30 + STALE_S
    assert not await directory.is_member("S0SUPPORT", "U0BEN")


async def test_without_a_cache_slack_is_asked_every_time(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    fake_slack.channel_members["C0CALLERS"] = ["U0ANA"]
    directory = SlackDirectory(client, ttl_s=0)
    for _ in range(3):
        assert await directory.is_member("C0CALLERS", "U0ANA")
    assert len(fake_slack.calls_to("conversations.members")) == 3


async def test_admins_and_owners(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    fake_slack.add_user("U0ADMIN", admin=True)
    fake_slack.add_user("U0PRIMARY", primary_owner=True)
    fake_slack.add_user("U0GONE", admin=True, deleted=True)
    fake_slack.add_user("U0ANA")
    directory = SlackDirectory(client)
    assert [await directory.is_workspace_admin(u) for u in ("U0ADMIN", "U0PRIMARY", "U0GONE", "U0ANA")] == [
        True, True, False, False,
    ]  # fmt: skip
    with pytest.raises(DirectoryError) as failed:
        await directory.is_workspace_admin("U0NOBODY")
    assert failed.value.code == "user_not_found"


async def test_slack_errors_become_directory_errors(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    directory = SlackDirectory(client)
    with pytest.raises(DirectoryError, match="no_such_subteam"):
        await directory.is_member("S0NONE", "U0ANA")
    with pytest.raises(DirectoryError, match="channel_not_found"):
        await directory.is_member("C0NONE", "U0ANA")


async def test_questions_asked_at_once_share_one_lookup(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    fake_slack.channel_members["C0CALLERS"] = ["U0ANA"]
    fake_slack.slow_down("conversations.members", 0.2)
    directory = SlackDirectory(client, ttl_s=0)
    answers = await asyncio.gather(*(directory.is_member("C0CALLERS", user) for user in ("U0ANA", "U0BEN", "U0ANA")))
    assert answers == [True, False, True]
    assert len(fake_slack.calls_to("conversations.members")) == 1


async def test_a_lookup_whose_asker_stopped_waiting_still_fills_the_cache(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    fake_slack.usergroups["S0SUPPORT"] = ["U0BEN"]
    fake_slack.slow_down("usergroups.users.list", 0.3)
    directory = SlackDirectory(client)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await directory.is_member("S0SUPPORT", "U0BEN")
    fake_slack.slow_down("usergroups.users.list", 0)
    assert await directory.is_member("S0SUPPORT", "U0BEN")  # joins the lookup still under way
    assert await directory.is_member("S0SUPPORT", "U0BEN")  # and then from the cache
    assert len(fake_slack.calls_to("usergroups.users.list")) == 1
    await directory.aclose()
