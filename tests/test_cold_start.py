"""A cold start with Slack failing (auth.test answering 429, 5xx, nothing, or refusing the token): the bot serves,
answers /call honestly while Slack cannot confirm its token, never says "reinstall", and places calls once it can."""

from __future__ import annotations

import pytest

from bot.sandbox.clock import VirtualClock
from bot.sandbox.fake_slack import FakeSlack, Fault
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.slack_requests import SlackSender
from bot.slack import texts
from bot.slack_token import TokenCheckWaits
from bot.state import state_of
from tests.conftest import Bot, eventually


@pytest.fixture
def between_tries() -> VirtualClock:
    """The token check's sleeps between tries: held while Slack fails, released by the test once Slack is back."""
    clock = VirtualClock()
    clock.hold()
    return clock


@pytest.fixture
def token_waits(between_tries: VirtualClock) -> TokenCheckWaits:
    """Slack fails through each of these waits whatever their length: shorter than in production, same outcome."""
    return TokenCheckWaits(first_try_s=0.1, attempt_s=0.2, per_request_s=0.1, sleep=between_tries.sleep)


@pytest.fixture(params=["429", "503", "no answer"])
def slack_failing(request: pytest.FixtureRequest, fake_slack: FakeSlack, token_waits: TokenCheckWaits) -> str:
    """Slack fails before the bot starts (the fixture runs first: the tests name it before `bot`)."""
    if request.param == "429":
        fake_slack.outage = Fault(status=429, retry_after=1)
    elif request.param == "503":
        fake_slack.outage = Fault(status=503)
    else:
        fake_slack.slow_down("auth.test", 30 * token_waits.attempt_s)  # far past the check's wait for one try
    return str(request.param)


async def test_call_says_slack_is_not_answering_and_works_once_it_is(
    slack_failing: str, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    between_tries: VirtualClock,
) -> None:  # fmt: skip
    response = await slack.command("+14155550100 hello")
    assert response.status_code == 200
    assert response.json() == {"response_type": "ephemeral", "text": texts.SLACK_NOT_CONFIRMED}
    assert "reinstall" not in response.text.lower()
    assert fake_voximplant.requests == []
    assert fake_slack.calls_to("auth.test")  # the check asked, and was not answered

    fake_slack.outage = None
    fake_slack.slow_down("auth.test", 0)
    between_tries.release()  # the check's next try comes now
    await eventually(lambda: state_of(bot.app).slack_token.result is not None, timeout=20)
    response = await slack.command("+14155550100 hello")
    assert (response.status_code, response.text) == (200, "")
    await eventually(lambda: len(fake_voximplant.sessions) == 1)


@pytest.fixture
def token_refused(fake_slack: FakeSlack) -> None:
    fake_slack.bot_token = "xoxb-another-token"  # Slack answers invalid_auth to the bot's token


async def test_a_refused_token_is_said_so_without_asking_anyone_to_reinstall(
    token_refused: None, bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant
) -> None:
    response = await slack.command("+14155550100 hello")
    assert response.json() == {"response_type": "ephemeral", "text": texts.SLACK_TOKEN_REFUSED}
    assert "reinstall" not in response.text.lower()
    assert fake_voximplant.requests == []
