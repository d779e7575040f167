"""OpenAIWriter: a call's written summary from OpenAI's Chat Completions API, through the vendor's own client.

`client.chat.completions.create` (platform.openai.com/docs/api-reference/chat/create) with the model, the
instructions and the bounded transcript (prompt.py), and `store: false`, so OpenAI keeps the completion for none
of its products. The whole exchange, the client's retries included (it retries connection errors, 408, 409, 429
honouring `retry-after-ms`/`retry-after`, and 5xx), is held to OPENAI_TIMEOUT_S: past it, the summary goes without
these lines. Errors become `WriteUpFailed` codes; OpenAI's own message is never kept (a 401's names part of the key).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from bot.summaries import Turn, Unavailable, WriteUpFailed
from bot.summaries.prompt import lines_of, request

log = logging.getLogger(__name__)

MAX_RETRIES = 2  # the client's own; the deadline around them all is what bounds the wait


class OpenAIWriter:
    """Asks OpenAI for a call's written summary; one instance per process, closed at shutdown."""

    def __init__(self, api_key: str, *, base_url: str, model: str, timeout_s: float) -> None:
        self._client = AsyncOpenAI(api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=MAX_RETRIES)
        self._model = model
        self._timeout_s = timeout_s

    async def write_up(self, turns: Sequence[Turn]) -> list[str]:
        """2 to 4 lines (at most 4, as the model wrote them, unescaped), or WriteUpFailed saying why there are none."""
        instructions, transcript = request(turns)
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": instructions},
            {"role": "user", "content": transcript},
        ]
        try:
            async with asyncio.timeout(self._timeout_s):
                completion = await self._client.chat.completions.create(
                    model=self._model, messages=messages, store=False
                )
        except (TimeoutError, openai.APITimeoutError):
            raise WriteUpFailed(Unavailable.TIMEOUT) from None
        except openai.APIConnectionError:
            raise WriteUpFailed(Unavailable.UNREACHABLE) from None
        except openai.APIStatusError as error:
            raise WriteUpFailed(_why(error.status_code), error.status_code) from None
        except openai.OpenAIError:  # an answer the client could not read
            raise WriteUpFailed(Unavailable.FAILED) from None
        choice = completion.choices[0] if completion.choices else None
        lines = lines_of(choice.message.content or "") if choice is not None else []
        if not lines:
            raise WriteUpFailed(Unavailable.EMPTY)
        return lines

    async def aclose(self) -> None:
        await self._client.close()


def _why(status: int) -> Unavailable:
    if status == 401:
        return Unavailable.KEY_REFUSED
    if status == 429:
        return Unavailable.RATE_LIMITED
    if status >= 500:
        return Unavailable.SERVER_ERROR
    return Unavailable.REFUSED
