"""The fake OpenAI answers as OpenAI does: read by the vendor's own client, and by plain HTTP for the raw shapes."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai import AsyncOpenAI

from bot.sandbox.fake_openai import API_KEY, FakeOpenAI

MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "Transcript:\nAgent: Hi"}]


def client(fake: FakeOpenAI, key: str = API_KEY, *, retries: int = 0) -> AsyncOpenAI:
    return AsyncOpenAI(api_key=key, base_url=f"{fake.url}/v1", max_retries=retries, timeout=5.0)


async def test_a_completion_is_read_by_the_vendors_client_into_its_types(fake_openai: FakeOpenAI) -> None:
    fake_openai.answer("They spoke.")
    async with client(fake_openai) as openai_client:
        completion = await openai_client.chat.completions.create(model="gpt-x", messages=MESSAGES)
    assert completion.object == "chat.completion" and completion.model == "gpt-x"
    assert completion.id.startswith("chatcmpl-") and completion.created > 1_700_000_000
    [choice] = completion.choices
    assert (choice.index, choice.finish_reason, choice.message.role) == (0, "stop", "assistant")
    assert choice.message.content == "They spoke."
    assert completion.usage is not None and completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    [received] = fake_openai.received
    assert received.authorized and received.model == "gpt-x" and received.messages == MESSAGES


async def test_a_wrong_key_is_refused_with_openais_401(fake_openai: FakeOpenAI) -> None:
    async with client(fake_openai, "sk-wrong-0123456789") as openai_client:
        with pytest.raises(openai.AuthenticationError) as refused:
            await openai_client.chat.completions.create(model="gpt-x", messages=MESSAGES)
    assert refused.value.status_code == 401 and refused.value.code == "invalid_api_key"
    assert refused.value.type == "invalid_request_error" and refused.value.param is None
    assert "Incorrect API key provided: sk-" in refused.value.message  # its ends only, as OpenAI shows it
    assert "sk-wrong-0123456789" not in str(refused.value)
    assert fake_openai.received[0].authorized is False


async def test_no_key_at_all_is_a_401_too(fake_openai: FakeOpenAI, http: httpx.AsyncClient) -> None:
    response = await http.post(f"{fake_openai.url}/v1/chat/completions", json={"model": "gpt-x", "messages": MESSAGES})
    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith("You didn't provide an API key.")
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize(
    ("body", "message", "param"),
    [
        ({"messages": MESSAGES}, "you must provide a model parameter", None),
        ({"model": "gpt-x"}, "Missing required parameter: 'messages'.", "messages"),
    ],
)
async def test_a_request_without_model_or_messages_is_a_400(
    fake_openai: FakeOpenAI, http: httpx.AsyncClient, body: dict[str, object], message: str, param: str | None
) -> None:
    response = await http.post(
        f"{fake_openai.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["message"], error["type"], error["param"]) == (message, "invalid_request_error", param)


async def test_a_429_carries_retry_after_and_the_rate_limit_headers(fake_openai: FakeOpenAI) -> None:
    fake_openai.fail_next(429, retry_after_s=20)
    async with client(fake_openai) as openai_client:
        with pytest.raises(openai.RateLimitError) as limited:
            await openai_client.chat.completions.create(model="gpt-x", messages=MESSAGES)
    headers = limited.value.response.headers
    assert (headers["retry-after"], headers["retry-after-ms"]) == ("20", "20000")
    assert headers["x-ratelimit-remaining-requests"] == "0" and headers["x-ratelimit-reset-requests"] == "20s"
    assert limited.value.code == "rate_limit_exceeded" and "Rate limit reached for gpt-x" in limited.value.message


async def test_the_vendors_client_waits_out_a_short_retry_after_and_tries_again(fake_openai: FakeOpenAI) -> None:
    fake_openai.fail_next(429, retry_after_s=0.05)
    fake_openai.answer("Second time lucky.")
    async with client(fake_openai, retries=1) as openai_client:
        completion = await openai_client.chat.completions.create(model="gpt-x", messages=MESSAGES)
    assert completion.choices[0].message.content == "Second time lucky."
    assert len(fake_openai.received) == 2


async def test_a_500_is_openais_server_error(fake_openai: FakeOpenAI) -> None:
    fake_openai.fail_next(500)
    async with client(fake_openai) as openai_client:
        with pytest.raises(openai.InternalServerError) as failed:
            await openai_client.chat.completions.create(model="gpt-x", messages=MESSAGES)
    assert failed.value.status_code == 500 and failed.value.type == "server_error"
