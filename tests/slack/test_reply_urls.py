"""A request's response_url is known only while its call's launch runs, and forgotten however the launch ends."""

from __future__ import annotations

import pytest

from bot.slack.reply_urls import ReplyUrls

URL = "https://hooks.slack.com/commands/T1/1/abc"


async def test_the_url_is_known_during_the_launch_and_forgotten_after() -> None:
    urls = ReplyUrls()
    seen: list[str | None] = []

    async def launch() -> str:
        seen.append(urls.get("c1"))
        return "launched"

    assert await urls.while_launching("c1", URL, launch()) == "launched"
    assert seen == [URL]
    assert urls.get("c1") is None and len(urls) == 0


async def test_a_launch_that_fails_forgets_the_url_too() -> None:
    urls = ReplyUrls()

    async def launch() -> None:
        assert urls.get("c2") == URL
        raise RuntimeError("Voximplant said no")

    with pytest.raises(RuntimeError):
        await urls.while_launching("c2", URL, launch())
    assert len(urls) == 0


async def test_a_request_without_a_url_records_nothing() -> None:
    urls = ReplyUrls()

    async def launch() -> int:
        return len(urls)

    assert await urls.while_launching("c3", None, launch()) == 0
