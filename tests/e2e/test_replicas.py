"""Two replicas of the bot on one PostgreSQL database, behind one load balancer: any replica may receive any Slack
request or status event, and the guard rails, hang-ups and each call's thread hold as with one."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.sandbox.clock import VirtualClock
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.servers import LocalServer
from bot.sandbox.simulator import ScenarioSimulator
from bot.sandbox.slack_requests import SlackSender
from tests.conftest import DESTINATION, SIGNING_SECRET, Bot, eventually, make_settings, running_bot
from tests.e2e.test_hang_up import press_hang_up

# Headers a proxy does not pass on (RFC 9110, section 7.6.1), and those httpx sets itself.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length", "host"}


class RoundRobin:
    """A load balancer: each request goes to the next replica in turn, as a round-robin balancer sends them."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self.replicas: list[str] = []
        self._next = itertools.count()
        self.sent: list[str] = []  # which replica took each request
        self.paths: list[str] = []  # and the path of each

        self.app = Starlette(routes=[Route("/{path:path}", self._forward, methods=["GET", "POST", "HEAD"])])

    async def _forward(self, request: Request) -> Response:
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        query = f"?{request.url.query}" if request.url.query else ""
        for _ in self.replicas:  # a replica that refuses the connection (gone) is skipped, as nginx does
            target = self.replicas[next(self._next) % len(self.replicas)]
            try:
                upstream = await self._http.request(
                    request.method, target + request.url.path + query, content=body, headers=headers
                )
            except httpx.ConnectError:
                continue
            self.sent.append(target)
            self.paths.append(request.url.path)
            break
        else:
            return Response(status_code=502)
        headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
        return Response(upstream.content, status_code=upstream.status_code, headers=headers)


class Replicas:
    def __init__(self, bots: list[Bot], senders: list[SlackSender], balancer: RoundRobin) -> None:
        self.bots = bots
        self.senders = senders  # one per replica, each posting Slack's requests to its replica
        self.balancer = balancer

    async def idle(self) -> None:
        for _ in range(3):  # a write one replica queues may be taken by the other
            for bot in self.bots:
                await bot.idle()


@pytest.fixture
async def replicas(
    tmp_path: Path, postgres_url: str, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    slack_clock: VirtualClock, http: httpx.AsyncClient, bot_settings: dict[str, Any],
) -> AsyncIterator[Replicas]:  # fmt: skip
    """Two replicas sharing one database; Voximplant reaches them through the load balancer (PUBLIC_BASE_URL)."""
    balancer = RoundRobin(http)
    async with LocalServer(balancer.app) as front:
        bots: list[Bot] = []
        async with contextlib.AsyncExitStack() as stack:
            for name in ("a", "b"):
                settings = make_settings(
                    tmp_path / name, fake_slack, fake_voximplant,
                    **{"public_base_url": front.url, "database_url": postgres_url, **bot_settings},
                )  # fmt: skip
                bot = await stack.enter_async_context(running_bot(settings, LocalServer(), slack_clock=slack_clock))
                bots.append(bot)
            balancer.replicas = [bot.url for bot in bots]
            senders = [
                SlackSender(http, bot_url=bot.url, signing_secret=SIGNING_SECRET, response_base=fake_slack.url)  # type: ignore[attr-defined]
                for bot in bots
            ]
            yield Replicas(bots, senders, balancer)


@pytest.fixture
def slow_membership(bot_settings: dict[str, Any], fake_slack: FakeSlack) -> None:
    """Only members of #callers may call, and Slack takes 0.3 s to list them: requests that arrive together are all
    vetted before any is stored, so they race for the last places when they are stored."""
    bot_settings["allowed_callers"] = ["C0CALLERS"]
    bot_settings["concurrent_calls_per_user"] = 1
    fake_slack.channel_members["C0CALLERS"] = ["U0ANA"]
    fake_slack.slow_down("conversations.members", 0.3)


async def test_a_burst_split_over_two_replicas_places_no_more_calls_than_the_limit(
    slow_membership: None, replicas: Replicas, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    """30 /calls at once from one person, alternating between replicas: exactly the person's limit (1 at once)."""
    responses = await asyncio.gather(
        *(replicas.senders[n % 2].command(f"{DESTINATION} call number {n}") for n in range(30))
    )
    assert [r.status_code for r in responses] == [200] * 30
    await replicas.idle()
    assert len(fake_voximplant.sessions) == 1
    told = [r.json()["text"] for r in responses if r.text] + [r["text"] for r in fake_slack.responses]
    assert len(told) == 29
    assert all("the limit is 1 at once" in text for text in told), told
    for bot in replicas.bots:
        assert await bot.store.count_calls(user_id="U0ANA", live_only=True) == 1


async def test_a_request_replayed_to_the_other_replica_places_nothing(
    replicas: Replicas, fake_voximplant: FakeVoximplant
) -> None:
    first, second = replicas.senders
    body = (
        "team_id=T0SANDBOX&channel_id=C0GENERAL&user_id=U0ANA&command=%2Fcall&api_app_id=A0CALLBOT"
        f"&text={DESTINATION}+hello&response_url=https%3A%2F%2Fhooks.slack.invalid%2Fx&trigger_id=1.2.3"
    ).encode()
    stamp = int(time.time())
    assert (await first.post(body, timestamp=stamp)).status_code == 200
    replayed = await second.post(body, timestamp=stamp)  # the same signature, to the other replica
    assert (replayed.status_code, replayed.text) == (200, "")
    await replicas.idle()
    assert len(fake_voximplant.sessions) == 1


async def test_hang_up_pressed_on_one_replica_reaches_a_call_the_other_started(
    replicas: Replicas, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    first, second = replicas.senders
    assert (await first.command(f"{DESTINATION} hello")).text == ""
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    session = fake_voximplant.sessions[0]
    await fake_voximplant.send_event(session, "connected")  # through the balancer: either replica
    await replicas.idle()

    assert (await press_hang_up(second, fake_slack, "U0ANA")).status_code == 200
    await eventually(lambda: [c.get("action") for c in session.control] == ["hangup"])
    assert json.dumps(fake_slack.responses) == "[]"  # nobody was told something went wrong


@pytest.mark.skipif(shutil.which("node") is None, reason="the VoxEngine simulator needs Node.js")
async def test_a_call_whose_events_alternate_between_replicas_gets_its_thread_once_and_in_order(
    replicas: Replicas, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, simulator: ScenarioSimulator
) -> None:
    first, _ = replicas.senders
    # Slack answers each post late, so a replica is still posting one line when the other stores the next event:
    # both have the call's writes pending at once, and only the lease keeps them from both posting them.
    fake_slack.slow_down("chat.postMessage", 0.15)
    assert (await first.command(f"{DESTINATION} remind Ana about the 3pm review")).text == ""
    await eventually(lambda: len(fake_voximplant.sessions) == 1)
    session = fake_voximplant.sessions[0]
    await eventually(lambda: session.exit_code is not None, timeout=15)
    assert session.exit_code == 0
    await eventually(lambda: any(m.text.startswith(":white_check_mark:") for m in thread_of(fake_slack)), timeout=10)
    await replicas.idle()

    assert set(replicas.balancer.sent) == {bot.url for bot in replicas.bots}  # both replicas took its events
    assert len(fake_slack.parents()) == 1
    lines = [line for m in thread_of(fake_slack) for line in m.text.split("\n")]
    milestones = [
        ":telephone_receiver: Dialing +1 415-555-0100…", ":bell: Ringing…",
        ":large_green_circle: Connected. The agent is talking.",
    ]  # fmt: skip
    assert [line for line in lines if line in milestones] == milestones  # each once, in order
    assert lines[-1].startswith(":white_check_mark: *Talked with a person* ·")
    assert sum(line.startswith(":white_check_mark:") for line in lines) == 1
    transcript = [line for line in lines if line.startswith(("*Agent:*", "*Callee:*"))]
    assert transcript and len(transcript) == len(set(transcript))  # no line twice
    stored = [e for _, e, _ in await replicas.bots[0].store.events(session.call_id) if e == "transcript"]
    assert len(transcript) == len(stored)  # none lost
    for bot in replicas.bots:
        assert await bot.store.slack_outbox_depth() == (0, None)


def thread_of(fake_slack: FakeSlack) -> list[Any]:
    parents = fake_slack.parents()
    return fake_slack.thread(parents[0]) if parents else []
