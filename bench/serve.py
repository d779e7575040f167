"""One server under test, in its own process: `python -m bench.serve ROLE`.

Roles: `fakes` (FakeSlack and FakeVoximplant), `bot` (callbot, settings from the environment as `callbot serve`
reads them), `bolt` / `bolt-pbr` (a bare Bolt AsyncApp whose /call listener only acks, with Bolt's default
`process_before_response=False` or with `True`), `starlette` (a bare endpoint that parses the JSON and answers 200).
Every role is served by uvicorn through `bot.sandbox.servers.LocalServer` on a loopback port the OS picks.

The process prints one JSON line when it listens (`{"url": ..., "pid": ...}`), then answers JSON commands read one a
line from stdin with one JSON line each. It stops when stdin closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.sandbox.servers import LocalServer
from bot.state import state_of

Handler = Callable[[dict[str, Any]], Awaitable[Any]]
CALLER_ID = "+14155550123"


async def main(role: str) -> None:
    if role == "fakes":
        await _serve_fakes()
    elif role == "bot":
        await _serve_bot()
    elif role in {"bolt", "bolt-pbr"}:
        await _serve_bolt(process_before_response=role == "bolt-pbr")
    elif role == "starlette":
        await _serve(bare_starlette(), {})
    else:
        raise SystemExit(f"unknown role {role!r}")


def bare_starlette() -> Starlette:
    """The baseline for status intake: parse the JSON body, answer 200."""

    async def events(request: Request) -> Response:
        json.loads(await request.body())
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/voximplant/events", events, methods=["POST"])])


async def _serve(app: Any, commands: dict[str, Handler], server: LocalServer | None = None, **ready: str) -> None:
    server = server or LocalServer(app)
    server.app = app
    async with server:
        _say({"url": server.url, "pid": os.getpid(), **ready})
        while line := await asyncio.to_thread(sys.stdin.readline):
            request = json.loads(line)
            handler = commands.get(request.get("cmd", ""))
            try:
                answer = await handler(request) if handler else {"error": f"unknown command {request.get('cmd')}"}
            except Exception as error:  # the driver shows it; the server keeps serving
                answer = {"error": repr(error)}
            _say(answer)


def _say(value: object) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


# -- the fakes ---------------------------------------------------------------------------------------------------


# A started call's first events in the launch section: (seconds after the previous one, event, data).
TALK = (
    (0.3, "ringing", {}),
    (0.7, "connected", {}),
    (0.5, "transcript", {"role": "agent", "text": "Hello, this is a call from the bench."}),
    (0.5, "transcript", {"role": "callee", "text": "Hello?"}),
)


async def _serve_fakes() -> None:
    import httpx

    from bot.sandbox.fake_slack import RATE_LIMITS, FakeSlack
    from bot.sandbox.fake_voximplant import FakeVoximplant

    # Slack not limiting (as for the bot, bench/stack.py): the bench measures callbot, not Slack's tiers; the launch
    # section turns Slack's limits on (`configure` with `slack_limits`).
    slack = FakeSlack(bot_token=os.environ["BENCH_BOT_TOKEN"], rate_limits={})
    channel_rule, slack.channel_burst = slack.channel_burst, None
    voximplant = FakeVoximplant()
    start_times: dict[str, float] = {}  # call id -> time.monotonic() its StartScenarios arrived (calls that talk)
    talking: set[asyncio.Task[None]] = set()
    http = httpx.AsyncClient(timeout=10.0)

    async def talk(session: Any) -> None:
        """A scenario's first moments: fetch the brief, then report ringing, connected and two lines, as a call does
        (its thread's lines then share the channel with the next calls' messages). The bot may have stopped before
        a call is done talking: the section is over then."""
        with contextlib.suppress(httpx.HTTPError):
            brief = await voximplant.briefed(session)
            headers = {"Authorization": f"Bearer {brief['callback_token']}"}
            for seq, (after_s, event, data) in enumerate(TALK, 1):
                await asyncio.sleep(after_s)
                body = {"v": 1, "call_id": session.call_id, "seq": seq, "event": event,
                        "at": datetime.now(UTC).isoformat(), "data": data}  # fmt: skip
                await http.post(brief["callback_url"], json=body, headers=headers)

    async def runner(session: Any) -> None:
        start_times[session.call_id] = time.monotonic()
        task = asyncio.create_task(talk(session))
        talking.add(task)
        task.add_done_callback(talking.discard)

    async def configure(request: dict[str, Any]) -> Any:
        voximplant.answer_delay_s = float(request.get("answer_delay_s", voximplant.answer_delay_s))
        if "talk" in request:  # StartScenarios noted, and each call talks (the launch section)
            voximplant.runner = runner if request["talk"] else None
        if "slack_limits" in request:  # Slack's tiers and its per-channel pace, as bot/sandbox/fake_slack.py has them
            slack.rate_limits = dict(RATE_LIMITS) if request["slack_limits"] else {}
            slack.channel_burst = channel_rule if request["slack_limits"] else None
        return {"ok": True}

    async def launches(request: dict[str, Any]) -> Any:
        """For each marker in a started call's instructions, when its StartScenarios arrived; and Slack's 429s."""
        pattern = re.compile(request["pattern"])
        found: dict[str, float] = {}
        for session in voximplant.sessions:
            if session.brief is not None and session.call_id in start_times:
                for marker in pattern.findall(str(session.brief.get("instructions", ""))):
                    found[marker] = start_times[session.call_id]
        return {"started": found, "rate_limited": len(slack.rate_limited)}

    async def sessions(request: dict[str, Any]) -> Any:
        start = int(request.get("since", 0))
        started = voximplant.sessions[start:]
        # As each scenario fetches it; in pull mode the bot hands it over, and no events are posted.
        briefs = [None if s.pulled else await voximplant.briefed(s) for s in started]
        return [
            {"call_id": s.call_id, "token": brief["callback_token"] if brief else "",
             "url": brief["callback_url"] if brief else ""}
            for s, brief in zip(started, briefs, strict=True)
        ]  # fmt: skip

    async def containing(request: dict[str, Any]) -> Any:
        """How many Slack writes so far carry `text` in their text."""
        return {"count": sum(request["text"] in str(call.params.get("text", "")) for call in slack.calls)}

    async def queue(request: dict[str, Any]) -> Any:
        """Pull mode: queue status events in their sessions, as the scenario does, for the bot to fetch."""
        by_call = {s.call_id: s for s in voximplant.sessions}
        for item in request["items"]:
            voximplant.queue_event(by_call[item["call_id"]], item["event"], item.get("data"))
        return {"queued": len(request["items"])}

    async def counts(_: dict[str, Any]) -> Any:
        methods: dict[str, int] = {}
        for call in slack.calls:
            methods[call.method] = methods.get(call.method, 0) + 1
        return {"sessions": len(voximplant.sessions), "slack": methods}

    async def marks(request: dict[str, Any]) -> Any:
        """For each marker found in a Slack write's text, the monotonic time the first write carrying it arrived."""
        pattern = re.compile(request["pattern"])
        first: dict[str, float] = {}
        for call in slack.calls:
            for found in pattern.findall(str(call.params.get("text", "")) + str(call.params.get("blocks", ""))):
                first.setdefault(found, call.received_at)
        return first

    async def last_write(_: dict[str, Any]) -> Any:
        """When the last Slack write arrived: CLOCK_MONOTONIC, comparable with the bench process's time.monotonic()."""
        return {"at": slack.calls[-1].received_at if slack.calls else None}

    async def forget(_: dict[str, Any]) -> Any:
        slack.calls.clear()
        slack.messages.clear()
        return {"ok": True}

    async with LocalServer(voximplant.app) as vox_server:
        voximplant.url = vox_server.url
        commands = {"configure": configure, "sessions": sessions, "counts": counts, "marks": marks, "forget": forget,
                    "queue": queue, "containing": containing, "launches": launches,
                    "last_write": last_write}  # fmt: skip
        await _serve(slack.app, commands, voximplant_url=vox_server.url)
    for task in talking:
        task.cancel()
    await asyncio.gather(*talking, return_exceptions=True)
    await http.aclose()
    await voximplant.aclose()


# -- callbot -----------------------------------------------------------------------------------------------------


async def _serve_bot() -> None:
    from bot.app import create_app
    from bot.calls.models import Channel
    from bot.logs import setup_logging
    from bot.settings import load_settings

    # Bound first: the callback URL names the bot's own port (PORT when given: a worker started beside it knows it).
    server = LocalServer(port=int(os.environ.get("PORT", "0")))
    pull = os.environ.get("VOXIMPLANT_EVENTS") == "pull"  # then no public URL: the bot fetches the events
    # Voximplant's callbacks come here, unless PUBLIC_BASE_URL names another replica (a worker's: the web replica's)
    here = os.environ.get("PUBLIC_BASE_URL") or server.url
    settings = load_settings(**({} if pull else {"public_base_url": here}))
    setup_logging(settings.log_level)
    app = create_app(settings)

    async def idle(request: dict[str, Any]) -> Any:
        """Wait until calls are launched and every Slack write queued so far has been sent; with `within_s`, at most
        that long, then say how much work is still under way (a task that never ends would otherwise hang the
        bench: docs/benchmarks.md, 2026-12-01, issue 14)."""
        try:
            state = state_of(app)
        except RuntimeError:  # not started yet
            return {"idle": "unknown"}

        async def settled() -> None:
            await state.background.idle()
            await state.delivery.idle()

        within = request.get("within_s")
        try:
            await asyncio.wait_for(settled(), None if within is None else float(within))
        except TimeoutError:
            return {"idle": False, "background": state.background.pending, "delivering": len(state.delivery._workers)}
        return {"idle": True}

    async def allow_caller_id(request: dict[str, Any]) -> Any:
        new = await state_of(app).store.add_caller_id(
            request.get("number", CALLER_ID), label="bench", channels=frozenset({Channel.PSTN}), added_by="bench",
            at=datetime.now(UTC),
        )  # fmt: skip
        return {"added": new}

    await _serve(app, {"idle": idle, "allow_caller_id": allow_caller_id}, server)


# -- the bare Bolt baseline --------------------------------------------------------------------------------------


async def _serve_bolt(*, process_before_response: bool) -> None:
    import logging

    import aiohttp
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    session = aiohttp.ClientSession()
    client = AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"], session=session)
    bolt = AsyncApp(
        client=client,
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        process_before_response=process_before_response,
        logger=logging.getLogger("bench.bolt"),
    )

    @bolt.command("/call")
    async def only_ack(ack: AsyncAck) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(bolt)

    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    app = Starlette(routes=[Route("/slack/events", slack_events, methods=["POST"])])
    try:
        await _serve(app, {})
    finally:
        await session.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
