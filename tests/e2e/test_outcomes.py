"""How each call ended, end to end: status events posted as the scenario posts them, the summary's first words,
`/call history`, the cost stored, and /metrics counting calls by outcome."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bot.calls.models import CallState, Outcome
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_voximplant import FakeVoximplant
from bot.sandbox.slack_requests import SlackSender
from tests.conftest import DESTINATION, Bot, eventually
from tests.e2e.test_call_flow import place, thread_texts
from tests.e2e.test_reconcile import eventually_async
from tests.ops.test_operations import metrics

CURRENCY = "in your Voximplant account's currency"
Events = list[tuple[str, dict[str, Any]]]
TALK: Events = [("dialing", {}), ("ringing", {}), ("connected", {})]

# (what the scenario reports, the outcome stored, the summary, the words /call history shows for the call)
CASES: dict[str, tuple[Events, Outcome, str, str]] = {
    "talked": (
        [*TALK, ("answered", {"by": "human"}), ("transcript", {"role": "agent", "text": "Hi"}),
         ("disconnected", {"duration_s": 130, "reason": "remote_hangup", "cost": 0.12})],
        Outcome.TALKED,
        f":white_check_mark: *Talked with a person* · 2m 10s · 1 turn · cost 0.12 {CURRENCY}.",
        ":white_check_mark: Talked with a person, 2m 10s · cost 0.12",
    ),
    "left a voicemail": (
        [*TALK, ("answered", {"by": "voicemail"}), ("voicemail", {"left": True, "message_s": 14}),
         ("disconnected", {"duration_s": 25, "cost": 0.0312})],
        Outcome.VOICEMAIL_LEFT,
        f":mailbox_with_mail: *Left a voicemail* · 25s · 0 turns · cost 0.0312 {CURRENCY}."
        " :vhs: Voicemail: left a 14 s message.",
        ":mailbox_with_mail: Left a voicemail, 25s · cost 0.0312",
    ),
    "voicemail, no message": (
        [*TALK, ("voicemail", {"left": False}), ("disconnected", {"duration_s": 6})],
        Outcome.VOICEMAIL_NO_MESSAGE,
        ":mailbox_with_no_mail: *Reached voicemail, left no message* · 6s · 0 turns.",
        ":mailbox_with_no_mail: Reached voicemail, left no message, 6s",
    ),
    "answered by a machine": (
        [*TALK, ("answered", {"by": "voicemail"}), ("disconnected", {"duration_s": 4})],
        Outcome.VOICEMAIL_NO_MESSAGE,
        ":mailbox_with_no_mail: *Reached voicemail, left no message* · 4s · 0 turns.",
        ":mailbox_with_no_mail: Reached voicemail, left no message, 4s",
    ),
    "not answered": (
        [("dialing", {}), ("ringing", {}), ("failed", {"code": 408, "reason": "Request Timeout"})],
        Outcome.NOT_ANSWERED,
        ":no_bell: *Not answered*: nobody answered (408 Request Timeout).",
        ":no_bell: Not answered",
    ),
    "ended unanswered": (
        [("dialing", {}), ("ringing", {}), ("disconnected", {"duration_s": 0})],
        Outcome.NOT_ANSWERED,
        ":no_bell: *Not answered*: the call ended before it was answered.",
        ":no_bell: Not answered",
    ),
    "busy": (
        [("dialing", {}), ("failed", {"code": 486, "reason": "Busy Here"})],
        Outcome.BUSY,
        ":no_entry: *Busy*: the line was busy (486 Busy Here).",
        ":no_entry: Busy",
    ),
    "unavailable": (
        [("dialing", {}), ("failed", {"code": 404, "reason": "Not Found"})],
        Outcome.UNAVAILABLE,
        ":no_mobile_phones: *Unavailable*: the number does not exist or cannot be reached (404 Not Found).",
        ":no_mobile_phones: Unavailable",
    ),
    "declined": (
        [("dialing", {}), ("ringing", {}), ("failed", {"code": 603, "reason": "Decline"})],
        Outcome.DECLINED,
        ":no_entry_sign: *Declined*: the call was declined (603 Decline).",
        ":no_entry_sign: Declined",
    ),
    "failed": (
        [("dialing", {}), ("failed", {"code": 503, "reason": "Service Unavailable"})],
        Outcome.FAILED,
        ":x: *Failed*: the phone network could not carry the call (503 Service Unavailable).",
        ":x: Failed: the phone network could not carry the call (503 Service Unavailable)",
    ),
    "refused before dialling": (
        [("error", {"message": "bad number"}), ("failed", {"code": 0, "reason": "bad number"})],
        Outcome.REFUSED,
        ":x: *Refused before dialling*: the call was never placed (bad number).",
        ":x: Refused before dialling: the call was never placed (bad number)",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
async def test_each_outcome_leads_the_summary_and_shows_in_history(
    case: str, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    events, outcome, summary, in_history = CASES[case]
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    for name, data in events:
        assert (await fake_voximplant.send_event(session, name, data)).status_code == 200
    await bot.idle()
    assert thread_texts(fake_slack)[-1] == summary
    call = await bot.store.call(session.call_id)
    assert call is not None and call.outcome is outcome
    history = (await slack.command("history")).json()["text"]
    assert f"`{session.call_id}`" in history
    line = next(line for line in history.splitlines() if session.call_id in line)
    assert line.endswith(f"· {in_history}")


async def test_a_voicemail_event_arriving_after_the_end_still_corrects_the_outcome(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    for name in ("dialing", "ringing", "connected"):
        await fake_voximplant.send_event(session, name)  # seq 1, 2, 3
    # The scenario sent answered (4) and voicemail (5) before disconnected (6), but 6 arrives first.
    await fake_voximplant.send_event(session, "disconnected", {"duration_s": 30, "cost": 0.05}, seq=6)
    await bot.idle()
    ended = await bot.store.call(session.call_id)
    assert ended is not None and ended.state is CallState.ENDED and ended.outcome is Outcome.TALKED
    await fake_voximplant.send_event(session, "voicemail", {"left": True, "message_s": 20}, seq=5)
    await fake_voximplant.send_event(session, "answered", {"by": "human"}, seq=4)  # later still; moves nothing back
    await bot.idle()
    corrected = await bot.store.call(session.call_id)
    assert corrected is not None and corrected.outcome is Outcome.VOICEMAIL_LEFT
    assert corrected.state is CallState.ENDED and corrected.cost == 0.05
    history = (await slack.command("history")).json()["text"]
    assert ":mailbox_with_mail: Left a voicemail, 30s · cost 0.05" in history


async def test_a_late_voicemail_event_never_changes_a_call_that_did_not_connect(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    await fake_voximplant.send_event(session, "failed", {"code": 486, "reason": "Busy Here"}, seq=3)
    await fake_voximplant.send_event(session, "voicemail", {"left": True, "message_s": 20}, seq=2)
    await fake_voximplant.send_event(session, "answered", {"by": "voicemail"}, seq=1)
    await bot.idle()
    call = await bot.store.call(session.call_id)
    assert call is not None and call.outcome is Outcome.BUSY


@pytest.fixture
def quick_watchdog(bot_settings: dict[str, Any]) -> None:
    bot_settings.update(reconcile_after_s=0.3, reconcile_every_s=0.05)


async def test_the_cost_comes_from_the_call_history_when_the_end_was_never_heard(
    quick_watchdog: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    await fake_voximplant.send_event(session, "connected")
    fake_voximplant.end_session(session, duration=42, successful=True, cost=0.0312)

    async def settled() -> None:
        found = await bot.store.call(session.call_id)
        assert found is not None and found.state is CallState.ENDED
        assert found.cost == 0.0312 and found.outcome is Outcome.TALKED

    await eventually_async(settled)
    summary = f":white_check_mark: *Talked with a person* · 42s · 0 turns · cost 0.0312 {CURRENCY}."
    await eventually(lambda: thread_texts(fake_slack)[-1].startswith(summary))


async def test_a_failed_call_keeps_the_cost_the_call_history_reports(
    quick_watchdog: None, bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    fake_voximplant.end_session(
        session, duration=0, successful=False, cost=0.001, end_reason={"code": 603, "description": "Decline"}
    )

    async def settled() -> None:
        found = await bot.store.call(session.call_id)
        assert found is not None and found.state is CallState.FAILED
        assert found.cost == 0.001 and found.outcome is Outcome.DECLINED

    await eventually_async(settled)


async def test_metrics_count_ended_calls_by_outcome(
    bot: Bot, http: httpx.AsyncClient, slack: SlackSender, fake_voximplant: FakeVoximplant
) -> None:
    for code, reason in ((486, "Busy Here"), (600, "Busy Everywhere"), (603, "Decline")):
        session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
        await fake_voximplant.send_event(session, "failed", {"code": code, "reason": reason})
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    await fake_voximplant.send_event(session, "connected")
    live = await place(slack, fake_voximplant, f"{DESTINATION} hello")  # no outcome while it lives
    await fake_voximplant.send_event(live, "connected")
    await fake_voximplant.send_event(session, "disconnected", {"duration_s": 9})
    await bot.idle()
    found = await metrics(http, bot)

    def count(outcome: str) -> float:
        return found[("callbot_call_outcomes", (("outcome", outcome),))]

    assert count("busy") == 2 and count("declined") == 1 and count("talked") == 1
    assert count("voicemail_left") == 0 and count("refused") == 0
    assert sum(count(outcome.value) for outcome in Outcome) == 4
