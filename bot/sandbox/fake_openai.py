"""A fake OpenAI API, just Chat Completions: checks the key and the request as OpenAI does, answers its shapes.

Point the bot at it with OPENAI_BASE_URL=<url>/v1. Tests script its answers (`answer`, `fail_next`, `delay_s`) and
read what it received (`received`: each request's model and messages). Each behaviour, and where OpenAI says so:

- `POST /v1/chat/completions` answers a chat completion object: `id`, `object` "chat.completion", `created` (Unix
  seconds), `model`, `choices[{index, message{role "assistant", content, refusal, annotations}, logprobs,
  finish_reason "stop"}]`, `usage{prompt_tokens, completion_tokens, total_tokens}`
  (platform.openai.com/docs/api-reference/chat/create, "Returns", and /docs/api-reference/chat/object).
- Every error is `{"error": {"message", "type", "param", "code"}}` (platform.openai.com/docs/guides/error-codes; the
  vendor's Python client reads `type`, `param` and `code` from that object into its APIStatusError).
- 401 "Incorrect API key provided" (code `invalid_api_key`) for a wrong key, "You didn't provide an API key" for
  none: auth is `Authorization: Bearer <key>` (platform.openai.com/docs/api-reference/authentication;
  error-codes, "401 - Incorrect API key provided").
- 429 "Rate limit reached for requests" (code `rate_limit_exceeded`), with the `x-ratelimit-*` headers
  (platform.openai.com/docs/guides/rate-limits, "Rate limits in headers") and `retry-after` / `retry-after-ms`,
  which the vendor's client honours before it retries (openai-python `_base_client.py`,
  `_parse_retry_after_header`); the reference pages do not document those two.
- 500 "The server had an error while processing your request" (error-codes, "500 - The server had an error").
- 400 `invalid_request_error` for a body without `model` ("you must provide a model parameter") or without
  `messages` ("Missing required parameter: 'messages'.", param `messages`): both are required
  (platform.openai.com/docs/api-reference/chat/create, "Request body"); the wording is the API's own answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

API_KEY = "sk-sandbox-openai-key-0000"


@dataclass(frozen=True)
class Received:
    """One request to /v1/chat/completions, whatever was answered."""

    authorized: bool
    body: dict[str, Any]

    @property
    def model(self) -> Any:
        return self.body.get("model")

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.body.get("messages")
        return messages if isinstance(messages, list) else []


@dataclass(frozen=True)
class Fault:
    """The next answer is this HTTP status (401, 429, 500, …) with OpenAI's error body."""

    status: int
    retry_after_s: float | None = None


class FakeOpenAI:
    """The fake's state and its ASGI `app`; `reset()` restores it (tests serve one for many tests)."""

    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.app = Starlette(routes=[Route("/v1/chat/completions", self._chat_completions, methods=["POST"])])
        self.url = ""  # set by whoever serves it
        self.received: list[Received] = []
        self.delay_s = 0.0  # each answer waits this long first (a slow OpenAI)
        self._answers: deque[str] = deque()
        self._faults: deque[Fault] = deque()
        self._ids = itertools.count(1)
        self._released = asyncio.Event()

    def answer(self, text: str) -> None:
        """The next successful answer's content (then the canned one again, made from the transcript sent)."""
        self._answers.append(text)

    def fail_next(self, status: int, *, times: int = 1, retry_after_s: float | None = None) -> None:
        self._faults.extend(Fault(status, retry_after_s) for _ in range(times))

    async def reset(self) -> None:
        """Answer the requests a test left waiting, and forget everything scripted or received."""
        self._released.set()
        await asyncio.sleep(0)
        self._released = asyncio.Event()
        self.received.clear()
        self._answers.clear()
        self._faults.clear()
        self.delay_s = 0.0

    async def _chat_completions(self, request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        authorized = request.headers.get("authorization", "") == f"Bearer {self.api_key}"
        self.received.append(Received(authorized, body if isinstance(body, dict) else {}))
        if self.delay_s:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), self.delay_s)
        given = request.headers.get("authorization", "")
        if not given.startswith("Bearer ") or not given.removeprefix("Bearer ").strip():
            return _error(401, NO_KEY, "invalid_request_error")
        if not authorized:
            key = given.removeprefix("Bearer ").strip()
            shown = key[:3] + "*" * max(0, len(key) - 7) + key[-4:]  # as OpenAI shows it: its ends only
            return _error(401, WRONG_KEY.format(shown=shown), "invalid_request_error", code="invalid_api_key")
        if not isinstance(body, dict):
            return _error(400, BAD_JSON, "invalid_request_error")
        if not body.get("model"):
            return _error(400, "you must provide a model parameter", "invalid_request_error")
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            message = "Missing required parameter: 'messages'."
            return _error(400, message, "invalid_request_error", param="messages", code="missing_required_parameter")
        if self._faults:
            return _fault(self._faults.popleft(), str(body["model"]))
        content = self._answers.popleft() if self._answers else _canned(body["messages"])
        prompt = sum(len(str(m.get("content", ""))) for m in body["messages"] if isinstance(m, dict)) // 4
        completion = len(content) // 4
        return JSONResponse({
            "id": f"chatcmpl-sandbox{next(self._ids):06d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
            "service_tier": "default",
        })  # fmt: skip


NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth "
    "(i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from https://platform.openai.com/account/api-keys."
)
WRONG_KEY = (
    "Incorrect API key provided: {shown}. You can find your API key at https://platform.openai.com/account/api-keys."
)
BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library "
    "correctly.)"
)
SERVER_ERROR = "The server had an error while processing your request. Sorry about that!"


def _canned(messages: list[Any]) -> str:
    """Three lines in the shape asked for, from the transcript's first agent turn and last callee turn (no model)."""
    said = str(messages[-1].get("content", "")) if isinstance(messages[-1], dict) else ""
    turns = [line.split(": ", 1) for line in said.splitlines() if ": " in line]
    agent = next((text for who, text in turns if who == "Agent"), "nothing")
    callee = next((text for who, text in reversed(turns) if who == "Callee"), "nothing")
    short = [text if len(text) <= 120 else text[:119] + "…" for text in (agent, callee)]
    return (
        f"The agent said: {short[0]}\nThe callee answered: {short[1]}\n"
        "Next steps: none stated (a canned summary from the sandbox's fake OpenAI)."
    )


def _error(
    status: int, message: str, kind: str, *, param: str | None = None, code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:  # fmt: skip
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": code}}, status_code=status, headers=headers
    )


def _fault(fault: Fault, model: str) -> JSONResponse:
    if fault.status == 401:
        return _error(401, WRONG_KEY.format(shown="sk-****"), "invalid_request_error", code="invalid_api_key")
    if fault.status == 429:
        wait_s = fault.retry_after_s if fault.retry_after_s is not None else 20.0
        headers = {
            "retry-after": str(max(1, round(wait_s))),
            "retry-after-ms": str(round(wait_s * 1000)),
            "x-ratelimit-limit-requests": "3",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": f"{wait_s:g}s",
        }
        message = (
            f"Rate limit reached for {model} in organization org-sandbox on requests per min (RPM): Limit 3, Used 3, "
            f"Requested 1. Please try again in {wait_s:g}s. Visit https://platform.openai.com/account/rate-limits to "
            "learn more."
        )
        return _error(429, message, "requests", code="rate_limit_exceeded", headers=headers)
    if fault.status >= 500:
        return _error(fault.status, SERVER_ERROR, "server_error")
    return _error(fault.status, "The request was refused.", "invalid_request_error")
