"""Each new call's response_url, in memory only, while the call's launch may still need it.

Slack gives a slash command (and a form whose conversation select sets `response_url_enabled`) a URL through which the
app may answer the person who asked, to them alone, for 30 minutes. It can post as the bot, so it is never stored or
logged, and it is Slack's, not the call's: the domain's `Origin` does not carry it. The launch needs it once, when the
call's message can be posted nowhere (`Delivery.tell_requester`), and that happens before the launch returns.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class ReplyUrls:
    """call id → the response_url of the request that created the call, for as long as its launch runs."""

    def __init__(self) -> None:
        self._urls: dict[str, str] = {}

    def get(self, call_id: str) -> str | None:
        return self._urls.get(call_id)

    async def while_launching(self, call_id: str, url: str | None, launch: Awaitable[T]) -> T:
        """Run `launch` with `url` known for `call_id`, and forget it once the launch is over, however it ends."""
        if url:
            self._urls[call_id] = url
        try:
            return await launch
        finally:
            self._urls.pop(call_id, None)

    def __len__(self) -> int:
        return len(self._urls)
