"""A real `callbot serve` process killed with SIGKILL mid-call delivers, once restarted, every write left pending."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import TypeAdapter

from bot.app import create_app
from bot.calls.models import Call, CallRequest, CallState, Channel, Origin, StatusEvent
from bot.calls.outcomes import judge
from bot.calls.recovery import SESSION_OVERRUN_S, START_MARGIN_S
from bot.calls.states import transition_for
from bot.sandbox.clock import VirtualClock
from bot.sandbox.fake_slack import FakeSlack, Fault, Message
from bot.sandbox.fake_voximplant import ACCOUNT_ID, API_KEY, RULE_ID, FakeVoximplant, Session
from bot.sandbox.servers import LocalServer
from bot.sandbox.simulator import ScenarioSimulator
from bot.sandbox.slack_requests import SlackSender
from bot.slack.texts import reason as reason_words
from bot.state import state_of
from bot.store import Store
from tests.conftest import BOT_TOKEN, CALLER_ID, SIGNING_SECRET, Bot, eventually, make_settings
from tests.e2e.test_call_flow import place as place_call
from tests.e2e.test_call_flow import thread_texts as thread_lines

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class BotProcess:
    """`python -m bot serve` configured only through its environment, as in production."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.url = f"http://127.0.0.1:{env['PORT']}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=self.env, stdout=out, stderr=out
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    async def ready(self, http: httpx.AsyncClient) -> None:
        async def healthy() -> bool:
            assert self.process is not None and self.process.poll() is None, self.log.read_text()
            try:
                return (await http.get(f"{self.url}/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        stop = time.monotonic() + 20.0
        while not await healthy():
            assert time.monotonic() < stop, self.log.read_text()
            await asyncio.sleep(0.05)


# A call's events while Slack holds its channel (the first reply met a 429 with an hour's Retry-After), and the
# thread lines they make once delivered.
PENDING_EVENTS = [
    ("connected", {}),
    ("transcript", {"role": "agent", "text": "Hello, this is the agent."}),
    ("transcript", {"role": "callee", "text": "Hi there."}),
    ("transcript", {"role": "agent", "text": "The review moved to 3pm."}),
]
PENDING_LINES = [
    ":large_green_circle: Connected. The agent is talking.",
    "*Agent:* Hello, this is the agent.",
    "*Callee:* Hi there.",
    "*Agent:* The review moved to 3pm.",
]


async def place_and_hold(
    http: httpx.AsyncClient, bot_url: str, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> tuple[Session, Message]:
    """Place a call through the bot at `bot_url`; then Slack holds the channel for an hour at the call's first reply,
    so that PENDING_EVENTS, sent meanwhile, leave their writes waiting in the outbox. The session, and its parent."""
    slack = SlackSender(http, bot_url=bot_url, signing_secret=SIGNING_SECRET,
                        response_base=fake_slack.url)  # type: ignore[attr-defined]  # fmt: skip
    assert (await slack.command("+14155550100 hello")).status_code == 200
    await eventually(lambda: len(fake_voximplant.sessions) == 1, timeout=10)
    session = fake_voximplant.sessions[0]
    [parent] = fake_slack.parents("C0GENERAL")
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=3600)
    for event, data in PENDING_EVENTS:
        assert (await fake_voximplant.send_event(session, event, data)).status_code == 200
    await eventually(lambda: any(c.params.get("thread_ts") for c in fake_slack.calls_to("chat.postMessage")))
    assert fake_slack.thread(parent) == []
    return session, parent


def serve_env(
    home: Path, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, *, port: int, **more: str
) -> dict[str, str]:
    """`callbot serve`'s whole environment, on `port`, against the fakes; `more` adds or overrides settings."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": f"{fake_slack.url}/api/",  # type: ignore[attr-defined]
        "VOXIMPLANT_ACCOUNT_ID": ACCOUNT_ID,
        "VOXIMPLANT_API_KEY": API_KEY,
        "VOXIMPLANT_RULE_ID": str(RULE_ID),
        "VOXIMPLANT_API_URL": f"{fake_voximplant.url}/platform_api/",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "SLACK_PACE_S": "0.02",
        "LOG_LEVEL": "WARNING",
        "CALLING_HOURS": "off",  # tests run at any hour
        **more,
    }


@pytest.fixture
async def bot_process(
    tmp_path: Path, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> AsyncIterator[BotProcess]:
    database = tmp_path / "callbot.db"
    store = await Store.open(database)
    await store.add_caller_id(
        CALLER_ID, label="Support line", channels=frozenset({Channel.PSTN}), added_by="test", at=datetime.now(UTC)
    )
    await store.close()
    port = free_port()
    env = serve_env(tmp_path, fake_slack, fake_voximplant, port=port, DATABASE_PATH=str(database))
    process = BotProcess(env, tmp_path / "bot.log")
    yield process
    if process.process is not None and process.process.poll() is None:
        process.process.terminate()
        process.process.wait(timeout=10)


@pytest.mark.slow  # `callbot serve` as a subprocess, killed and started again
async def test_killed_mid_call_and_restarted_delivers_what_was_pending(
    bot_process: BotProcess, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, http: httpx.AsyncClient
) -> None:
    bot_process.start()
    await bot_process.ready(http)
    session, parent = await place_and_hold(http, bot_process.url, fake_slack, fake_voximplant)

    bot_process.kill()
    bot_process.start()
    await bot_process.ready(http)

    expected = PENDING_LINES

    def lines() -> list[str]:
        return [line for m in fake_slack.thread(parent) for line in m.text.split("\n")]

    await eventually(lambda: lines() == expected, timeout=15)
    # Resumed together, the three pending transcript lines went out as one grouped reply.
    assert [m.text.count("\n") + 1 for m in fake_slack.thread(parent)] == [1, 3]
    response = await fake_voximplant.send_event(session, "disconnected", {"duration_s": 61, "reason": "remote_hangup"})
    assert response.status_code == 200
    await eventually(
        lambda: lines() == [*expected, ":white_check_mark: *Talked with a person* · 1m 01s · 3 turns."], timeout=15
    )
    await eventually(lambda: "ended after 1m 01s" in parent.text, timeout=15)
    assert len(fake_slack.parents()) == 1  # the parent was not posted again


async def test_a_call_stranded_before_its_message_was_queued_still_tells_the_requester(
    tmp_path: Path, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, slack_clock: VirtualClock
) -> None:
    settings = make_settings(tmp_path, fake_slack, fake_voximplant)
    store = await Store.open(settings.database)
    request = CallRequest(
        destination="+14155550100", caller_id=CALLER_ID, max_duration_s=600,
        origin=Origin(team_id="T0SANDBOX", user_id="U0ANA", conversation_id="C0GENERAL"),
    )  # fmt: skip
    now = datetime.now(UTC)
    call = Call(id="stranded1", request=request, state=CallState.REQUESTED, state_reason="", created_at=now,
                updated_at=now)  # fmt: skip
    await store.insert_call(call, brief_token_hash="0" * 64)  # the bot died right after storing it
    await store.close()

    app = create_app(settings, slack_clock=slack_clock)
    async with LocalServer(app):
        await eventually(lambda: [len(fake_slack.thread(p)) for p in fake_slack.parents("C0GENERAL")] == [1])
        [parent] = fake_slack.parents("C0GENERAL")
        assert "Refused before dialling: the bot restarted before placing it" in parent.text
        assert [m.text for m in fake_slack.thread(parent)] == [
            ":x: *Refused before dialling*: the bot restarted before placing it; nothing was dialled."
        ]
    assert fake_voximplant.requests == []


async def test_an_event_stored_just_before_a_crash_is_still_shown(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place_call(slack, fake_voximplant, "+14155550100 hello")
    await fake_voximplant.briefed(session)  # the scenario reports only once it has its brief
    adapter = TypeAdapter[StatusEvent](StatusEvent)

    def event(seq: int, name: str, data: dict[str, object]) -> StatusEvent:
        return adapter.validate_python(
            {"v": 1, "call_id": session.call_id, "seq": seq, "event": name, "at": datetime.now(UTC), "data": data}
        )

    # What the bot does with an event up to the moment it dies: stored, state moved, nothing queued for Slack.
    for stored in [event(1, "connected", {}), event(2, "transcript", {"role": "agent", "text": "Hi!"})]:
        await bot.store.record_event(stored, received_at=datetime.now(UTC), decide=transition_for, judge=judge)

    # The scenario never got its answer for seq 1, so it sends it again: the repeat is a duplicate, yet shown.
    again = await fake_voximplant.send_event(session, "connected", seq=1)
    assert again.json() == {"ok": True, "duplicate": True}
    # Seq 2 is picked up by what the next start runs.
    assert await state_of(bot.app).calls.recovery.reannounce_stranded() == 1
    assert await state_of(bot.app).calls.recovery.reannounce_stranded() == 0
    await bot.idle()
    assert thread_lines(fake_slack) == [":large_green_circle: Connected. The agent is talking.", "*Agent:* Hi!"]
    assert "Connected" in fake_slack.parents()[0].text


def stored_call(call_id: str, state: CallState, *, sent_at: datetime, max_duration_s: int = 600) -> Call:
    """A call as the store holds it, last moved at `sent_at`."""
    request = CallRequest(
        destination="+14155550100", caller_id=CALLER_ID, max_duration_s=max_duration_s,
        origin=Origin(team_id="T0SANDBOX", user_id="U0ANA", conversation_id="C0GENERAL"),
    )  # fmt: skip
    return Call(id=call_id, request=request, state=state, state_reason="", created_at=sent_at, updated_at=sent_at)


async def test_a_call_left_starting_by_a_bot_that_stopped_fails_once_its_start_is_surely_over(
    tmp_path: Path, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, slack_clock: VirtualClock
) -> None:
    # A bot killed during StartScenarios leaves its call `starting`, with no call-history id and nothing heard.
    settings = make_settings(tmp_path, fake_slack, fake_voximplant, voximplant_timeout_s=0.5, reconcile_every_s=0.05)
    start_over_s = settings.voximplant_timeout_s + START_MARGIN_S  # past this, no StartScenarios can still be waiting
    now = datetime.now(UTC)
    store = await Store.open(settings.database)
    await store.insert_call(stored_call("killed1", CallState.STARTING, sent_at=now - timedelta(minutes=5)),
                            brief_token_hash="0" * 64)  # fmt: skip
    young_sent_at = now - timedelta(seconds=start_over_s - 1.5)  # its start is over only 1.5 s from now
    await store.insert_call(
        stored_call("killed2", CallState.STARTING, sent_at=young_sent_at), brief_token_hash="1" * 64
    )
    await store.close()

    words = "the bot stopped while starting this call; if the phone rang, the call was real (it was not retried)"
    app = create_app(settings, slack_clock=slack_clock)
    async with LocalServer(app):
        await eventually(lambda: [len(fake_slack.thread(p)) for p in fake_slack.parents()] == [1, 1], timeout=10)
        for parent in fake_slack.parents("C0GENERAL"):
            assert f"Failed: {words}" in parent.text
            assert [m.text for m in fake_slack.thread(parent)] == [f":x: *Failed*: {words}."]
        store = state_of(app).store
        old, young = await store.call("killed1"), await store.call("killed2")
        assert old is not None and old.state is CallState.FAILED and reason_words(old.state_reason) == words
        # The young one was left alone until its StartScenarios could no longer be waiting, then the watchdog took it.
        assert young is not None and young.state is CallState.FAILED
        assert young.updated_at >= young_sent_at + timedelta(seconds=start_over_s)
    assert fake_voximplant.requests == []  # neither was started again


async def test_an_unconfirmed_call_whose_end_was_never_heard_is_settled_after_its_session_surely_ended(
    tmp_path: Path, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, slack_clock: VirtualClock
) -> None:
    # StartScenarios' answer was lost, the call's own events came (so it stayed live), then its last event was lost.
    settings = make_settings(tmp_path, fake_slack, fake_voximplant)
    long_ago = datetime.now(UTC) - timedelta(seconds=60 + SESSION_OVERRUN_S + 5)
    store = await Store.open(settings.database)
    await store.insert_call(stored_call("lost1", CallState.STARTING, sent_at=long_ago, max_duration_s=60),
                            brief_token_hash="0" * 64)  # fmt: skip
    connected = TypeAdapter[StatusEvent](StatusEvent).validate_python(
        {"v": 1, "call_id": "lost1", "seq": 3, "event": "connected", "at": long_ago, "data": {}}
    )
    await store.record_event(connected, received_at=long_ago, decide=transition_for, judge=judge)
    await store.mark_announced("lost1", 3)
    await store.close()

    app = create_app(settings, slack_clock=slack_clock)
    async with LocalServer(app):
        call = await state_of(app).store.call("lost1")
        assert call is not None and call.state is CallState.FAILED  # settled at start, before any request
        assert reason_words(call.state_reason).startswith(
            "its end was never heard, and Voximplant never confirmed the call"
        )
        await eventually(lambda: [len(fake_slack.thread(p)) for p in fake_slack.parents("C0GENERAL")] == [1])
        [parent] = fake_slack.parents("C0GENERAL")
        assert fake_slack.thread(parent)[0].text.startswith(":x: *Failed*: its end was never heard")
    assert fake_voximplant.requests == []  # no call history was asked: there is no id to ask with


@pytest.mark.slow  # `callbot serve` as a subprocess, killed and started again, and a call at half speed
@pytest.mark.skipif(shutil.which("node") is None, reason="the VoxEngine simulator needs Node.js")
@pytest.mark.parametrize("mode", ["push", "pull"])
async def test_a_restart_mid_call_loses_no_status_event_and_posts_nothing_twice(
    tmp_path: Path, bot_process: BotProcess, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant,
    http: httpx.AsyncClient, mode: str,
) -> None:  # fmt: skip
    # The real scenario at half speed. Push: its callbacks retry with backoff for 120 s of its time, so a bot away
    # while the whole conversation happens finds every event waiting when it is back. Pull: the scenario keeps its
    # events queued until the bot, back, asks its session for them.
    if mode == "pull":
        del bot_process.env["PUBLIC_BASE_URL"]
    runner = ScenarioSimulator(time_scale=0.5)
    fake_voximplant.runner = runner
    try:
        bot_process.start()
        await bot_process.ready(http)
        slack = SlackSender(http, bot_url=bot_process.url, signing_secret=SIGNING_SECRET,
                            response_base=fake_slack.url)  # type: ignore[attr-defined]  # fmt: skip
        fake_voximplant.hold_starts = asyncio.Event()
        assert (await slack.command("+14155550177 stay on the line")).status_code == 200  # answers, stays on
        await eventually(lambda: fake_voximplant.starting == 1, timeout=10)  # the call's message is in Slack
        # Until the restart Slack answers every write 503, so none is taken by Slack yet still unconfirmed when the
        # bot is killed (such a write is sent again after a restart, by design: it would show twice).
        fake_slack.outage = Fault(status=503)
        fake_voximplant.hold_starts.set()
        await eventually(lambda: len(fake_voximplant.sessions) == 1, timeout=10)
        session = fake_voximplant.sessions[0]
        await eventually(lambda: "callPSTN" in [entry.get("api") for entry in session.api_log], timeout=10)
        database = Path(bot_process.env["DATABASE_PATH"])
        await eventually(lambda: _stored_access_url(database, session.call_id), timeout=10)

        bot_process.kill()
        away_from = len(session.api_log)
        # Connected while the bot is away: the agent is set up and hears the callee.
        await eventually(lambda: {"sessionUpdate", "sendMediaBetween"} <= _called(session, away_from), timeout=15)
        if mode == "push":
            # The first event sent since is tried a fifth time 7.5 s of the scenario's time after its first try
            # (backoff 0.5, 1, 2, 4 s): past the conversation's last line, 3.3 s after it began.
            await eventually(lambda: _tries(session, away_from) >= 5, timeout=30)
        fake_slack.outage = None
        bot_process.start()
        await bot_process.ready(http)

        [parent] = fake_slack.parents("C0GENERAL")

        def lines() -> list[str]:
            return [line for m in fake_slack.thread(parent) for line in m.text.split("\n")]

        await eventually(lambda: len([line for line in lines() if line.startswith("*")]) >= 2, timeout=30)
        button = next(e for b in parent.blocks if b.get("type") == "actions" for e in b["elements"])
        message = {"type": "message", "ts": parent.ts, "text": parent.text, "blocks": parent.blocks}
        pressed = await slack.block_action(action_id=button["action_id"], value=button["value"],
                                           block_id=parent.blocks[-1]["block_id"], message=message,
                                           channel_id=parent.channel)  # fmt: skip
        assert pressed.status_code == 200
        await eventually(lambda: session.exit_code is not None, timeout=30)
        assert session.exit_code == 0
        await eventually(
            lambda: any(line.startswith(":white_check_mark: *Talked with a person*") for line in lines()), timeout=15
        )
    finally:
        await runner.aclose()
    thread = lines()
    assert thread[:3] == [
        ":telephone_receiver: Dialing +1 415-555-0177…",
        ":bell: Ringing…",
        ":large_green_circle: Connected. The agent is talking.",
    ]
    assert len(thread) == len(set(thread)), thread  # nothing was posted twice
    assert len(fake_slack.parents()) == 1
    db = sqlite3.connect(database)
    try:
        seqs = [row[0] for row in db.execute("SELECT seq FROM call_events WHERE call_id = ? ORDER BY seq",
                                             (session.call_id,))]  # fmt: skip
        state = db.execute("SELECT state, state_reason FROM calls WHERE id = ?", (session.call_id,)).fetchone()
    finally:
        db.close()
    assert seqs == list(range(1, len(seqs) + 1))  # every event the scenario sent arrived: no gap in seq
    assert state == ("ended", "hangup_requested")


def _called(session: Session, since: int) -> set[str]:
    """The VoxEngine API the simulated scenario called since its `since`th call."""
    return {str(entry.get("api")) for entry in session.api_log[since:]}


def _tries(session: Session, since: int) -> int:
    """How many status-event requests the simulated scenario made since its `since`th API call."""
    return sum(entry.get("api") == "httpRequestAsync" for entry in session.api_log[since:])


def _stored_access_url(database: Path, call_id: str) -> bool:
    """The bot has stored StartScenarios' answer (so Hang up can reach the session after a restart)."""
    db = sqlite3.connect(database)
    try:
        row = db.execute("SELECT access_url FROM calls WHERE id = ?", (call_id,)).fetchone()
    finally:
        db.close()
    return row is not None and row[0] is not None
