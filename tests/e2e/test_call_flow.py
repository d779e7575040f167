"""Whole calls over HTTP: signed /call in, StartScenarios out, status events in, the Slack thread out."""

from __future__ import annotations

import itertools
import json

import httpx
import pytest

from bot.calls.models import CallState
from bot.sandbox.fake_slack import FakeSlack, Message
from bot.sandbox.fake_voximplant import RULE_ID, FakeVoximplant, Session
from bot.sandbox.slack_requests import SlackSender
from tests.conftest import CALLER_ID, DESTINATION, Bot, eventually


async def place(slack: SlackSender, fake_voximplant: FakeVoximplant, text: str) -> Session:
    """Send `/call text`, expect an empty ack, and return the session Voximplant started for it."""
    before = len(fake_voximplant.sessions)
    response = await slack.command(text)
    assert response.status_code == 200
    assert response.text == ""  # acknowledged silently: the parent message is what people see
    await eventually(lambda: len(fake_voximplant.sessions) == before + 1)
    return fake_voximplant.sessions[-1]


def parent_of(fake_slack: FakeSlack) -> Message:
    parents = fake_slack.parents("C0GENERAL")
    assert len(parents) == 1, parents
    return parents[0]


def thread_texts(fake_slack: FakeSlack) -> list[str]:
    """The thread's lines, in order; transcript lines may share a reply, so each reply is split into its lines."""
    return [line for m in fake_slack.thread(parent_of(fake_slack)) for line in m.text.split("\n")]


async def test_answered_call_fills_the_thread(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} tell Ana the review moved to 3pm")

    parent = parent_of(fake_slack)
    assert "Call to +1 415-555-0100" in parent.text
    rendered = json.dumps(parent.blocks)
    assert "<@U0ANA>" in rendered and "+1 415-555-0123" in rendered and "Dialing" in rendered
    assert "tell Ana the review moved to 3pm" in rendered

    start = fake_voximplant.requests[-1]
    assert start["method"] == "StartScenarios" and start["rule_id"] == str(RULE_ID)
    # Launch contract v2: custom data is only a reference to the brief, within Voximplant's 200 bytes.
    assert len(start["script_custom_data"].encode()) <= 200
    data = json.loads(start["script_custom_data"])
    assert data == {"v": 2, "id": session.call_id, "u": f"{bot.url}/voximplant/brief", "t": data["t"]}
    assert len(data["t"]) >= 22
    brief = await fake_voximplant.briefed(session)
    assert brief == {
        "v": 2,
        "call_id": session.call_id,
        "destination": DESTINATION,
        "caller_id": CALLER_ID,
        "channel": "pstn",
        "instructions": "tell Ana the review moved to 3pm",
        "max_duration_s": 600,
        "callback_url": f"{bot.url}/voximplant/events",
        "callback_token": brief["callback_token"],
        "control_secret": brief["control_secret"],
        # Apart from the instructions: the agent's first words, and what to do at a voicemail greeting (issue 15).
        "disclosure": "Hello, this is an automated assistant calling for u0ana.",
        "voicemail": "leave",
        "record": False,
        "amd_model": "US",
    }
    assert len(brief["callback_token"]) >= 32 and len(brief["control_secret"]) >= 32
    assert brief["callback_token"] not in start["script_custom_data"]

    for event, payload in [
        ("started", {}),
        ("dialing", {}),
        ("ringing", {}),
        ("connected", {}),
        ("transcript", {"role": "agent", "text": "Hi Ana, the review moved to 3pm."}),
        ("transcript", {"role": "callee", "text": "Thanks, <b>got it</b>."}),
        ("disconnected", {"duration_s": 72, "reason": "remote_hangup"}),
    ]:
        response = await fake_voximplant.send_event(session, event, payload)
        assert response.status_code == 200, response.text

    await eventually(lambda: len(thread_texts(fake_slack)) == 6)
    assert thread_texts(fake_slack) == [
        ":telephone_receiver: Dialing +1 415-555-0100…",
        ":bell: Ringing…",
        ":large_green_circle: Connected. The agent is talking.",
        "*Agent:* Hi Ana, the review moved to 3pm.",
        "*Callee:* Thanks, &lt;b&gt;got it&lt;/b&gt;.",
        ":white_check_mark: *Talked with a person* · 1m 12s · 2 turns.",
    ]
    await eventually(lambda: "ended after 1m 12s" in parent_of(fake_slack).text)
    call = await bot.store.call(session.call_id)
    assert call is not None and call.state is CallState.ENDED and call.duration_s == 72
    assert call.access_url == session.access_url and call.history_id == session.history_id
    assert [t[1] for t in await bot.store.transitions(call.id)] == [
        "starting", "dialing", "ringing", "connected", "ended"
    ]  # fmt: skip
    # The parent is updated only when what it shows changes: starting and dialing read "Dialing…" as posted.
    await bot.idle()
    shown = [fake_slack.calls_to("chat.postMessage")[0].params["text"]]
    shown += [update.params["text"] for update in fake_slack.calls_to("chat.update")]
    assert shown[0].endswith("Dialing…") and shown[-1].endswith("ended after 1m 12s")
    assert all(before != after for before, after in itertools.pairwise(shown)), shown


async def test_each_call_gets_its_own_callback_token(
    bot: Bot, slack: SlackSender, fake_voximplant: FakeVoximplant
) -> None:
    first = await place(slack, fake_voximplant, f"{DESTINATION} one")
    second = await place(slack, fake_voximplant, f"{DESTINATION} two")
    assert first.call_id != second.call_id
    first_brief, second_brief = await fake_voximplant.briefed(first), await fake_voximplant.briefed(second)
    assert first.custom_data["t"] != second.custom_data["t"]
    assert first_brief["callback_token"] != second_brief["callback_token"]
    assert first_brief["control_secret"] != second_brief["control_secret"]
    # One call's token does not open another call's record.
    response = await fake_voximplant.send_event(second, "ringing", token=first_brief["callback_token"])
    assert response.status_code == 401


async def test_busy_line_fails_with_plain_words(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    await fake_voximplant.send_event(session, "dialing")
    await fake_voximplant.send_event(session, "ringing")
    await fake_voximplant.send_event(session, "failed", {"code": 486, "reason": "Busy Here"})
    await eventually(lambda: len(thread_texts(fake_slack)) == 3)
    assert thread_texts(fake_slack)[-1] == ":no_entry: *Busy*: the line was busy (486 Busy Here)."
    await eventually(lambda: "Busy: the line was busy" in parent_of(fake_slack).text)
    call = await bot.store.call(session.call_id)
    assert call is not None and call.state is CallState.FAILED


async def test_a_failure_reason_from_a_sip_server_cannot_ping_the_channel(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    # The reason is whatever the remote SIP server put in its response: shown, never read as Slack markup.
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    reason = "Busy <!channel> <@U0BOSS> & <https://evil.example|click>"
    await fake_voximplant.send_event(session, "failed", {"code": 486, "reason": reason})
    await bot.idle()
    escaped = "Busy &lt;!channel&gt; &lt;@U0BOSS&gt; &amp; &lt;https://evil.example|click&gt;"
    assert thread_texts(fake_slack)[-1] == f":no_entry: *Busy*: the line was busy (486 {escaped})."
    parent = parent_of(fake_slack)
    assert parent.text.endswith(f":no_entry: Busy: the line was busy (486 {escaped})")  # the fallback text
    assert f"Busy: the line was busy (486 {escaped})" in json.dumps(parent.blocks, ensure_ascii=False)
    sent = [json.dumps(c.params, ensure_ascii=False) for c in fake_slack.calls if c.method.startswith("chat.")]
    assert not [s for s in sent if "<!channel>" in s or "<@U0BOSS>" in s or "<https://evil" in s]


async def test_no_answer_fails_with_plain_words(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    await fake_voximplant.send_event(session, "ringing")
    await fake_voximplant.send_event(session, "failed", {"code": 480, "reason": "Temporarily Unavailable"})
    await eventually(lambda: len(thread_texts(fake_slack)) == 2)
    assert thread_texts(fake_slack)[-1] == (
        ":no_mobile_phones: *Unavailable*: the person was unavailable (the phone may be off or out of reach) "
        "(480 Temporarily Unavailable)."
    )


async def test_a_terminal_call_never_moves_again(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    await fake_voximplant.send_event(session, "failed", {"code": 603, "reason": "Decline"})
    response = await fake_voximplant.send_event(session, "connected")
    assert response.status_code == 200
    await bot.idle()
    call = await bot.store.call(session.call_id)
    assert call is not None and call.state is CallState.FAILED
    assert thread_texts(fake_slack) == [":no_entry_sign: *Declined*: the call was declined (603 Decline)."]


async def test_duplicate_events_are_stored_and_shown_once(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    await fake_voximplant.send_event(session, "connected", seq=4)
    # A transcript line is shown every time it is announced (unlike a milestone, which a repeat cannot move again),
    # so only the duplicate check keeps the repeat out of the thread.
    line = {"role": "agent", "text": "Hello Ana."}
    first = await fake_voximplant.send_event(session, "transcript", line, seq=5)
    again = await fake_voximplant.send_event(session, "transcript", line, seq=5)
    assert first.json() == {"ok": True, "duplicate": False}
    assert again.status_code == 200 and again.json() == {"ok": True, "duplicate": True}
    await bot.idle()
    assert thread_texts(fake_slack) == [":large_green_circle: Connected. The agent is talking.", "*Agent:* Hello Ana."]
    assert [seq for seq, _, _ in await bot.store.events(session.call_id)] == [4, 5]


async def test_out_of_order_events_never_move_a_call_backwards(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    await fake_voximplant.send_event(session, "connected", seq=4)
    await fake_voximplant.send_event(session, "ringing", seq=3)  # late
    await fake_voximplant.send_event(session, "dialing", seq=2)  # later still
    await bot.idle()
    call = await bot.store.call(session.call_id)
    assert call is not None and call.state is CallState.CONNECTED
    assert [seq for seq, _, _ in await bot.store.events(session.call_id)] == [2, 3, 4]  # all kept
    assert thread_texts(fake_slack) == [":large_green_circle: Connected. The agent is talking."]


async def test_disconnect_arriving_before_connect_still_ends_the_call(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    await fake_voximplant.send_event(session, "disconnected", {"duration_s": 31, "reason": "remote_hangup"}, seq=6)
    await fake_voximplant.send_event(session, "connected", seq=5)
    await bot.idle()
    call = await bot.store.call(session.call_id)
    assert call is not None and call.state is CallState.ENDED and call.duration_s == 31


async def test_forged_unknown_and_malformed_callbacks_are_refused(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, http: httpx.AsyncClient
) -> None:
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    url = f"{bot.url}/voximplant/events"
    good = {"v": 1, "call_id": session.call_id, "seq": 1, "event": "connected", "at": "2026-11-25T10:00:00Z"}

    forged = await http.post(url, json=good, headers={"Authorization": "Bearer not-the-token"})
    missing = await http.post(url, json=good)
    unknown = await http.post(url, json={**good, "call_id": "nosuchcall"}, headers={"Authorization": "Bearer whatever"})
    token = {"Authorization": f"Bearer {(await fake_voximplant.briefed(session))['callback_token']}"}
    malformed = [
        await http.post(url, content=b"{not json", headers=token),
        await http.post(url, json={**good, "event": "teleported"}, headers=token),
        await http.post(url, json={**good, "seq": 0}, headers=token),
        await http.post(url, json={**good, "v": 2}, headers=token),
        await http.post(url, json={**good, "event": "failed", "data": {"reason": "no code"}}, headers=token),
    ]
    assert forged.status_code == 401 and missing.status_code == 401
    assert unknown.status_code == 401 and unknown.json() == forged.json()  # no hint of which call ids exist
    assert [r.status_code for r in malformed] == [422] * 5
    assert forged.json() == {"ok": False, "error": "bad callback token"}
    assert (await fake_voximplant.briefed(session))["callback_token"] not in forged.text + missing.text + unknown.text
    await bot.idle()
    call = await bot.store.call(session.call_id)
    assert call is not None and call.state is CallState.STARTING
    assert await bot.store.events(session.call_id) == []
    assert thread_texts(fake_slack) == []


async def test_over_long_texts_are_clipped_not_refused(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> None:
    # A refusal is final for the scenario: an over-long last event would be lost, and the call left live.
    session = await place(slack, fake_voximplant, f"{DESTINATION} hello")
    sent = [
        ("connected", {}),
        ("transcript", {"role": "callee", "text": "a" * 12_000}),
        ("error", {"message": "e" * 3_000}),
        ("disconnected", {"duration_s": 9, "reason": "r" * 150}),
    ]
    for event, data in sent:
        response = await fake_voximplant.send_event(session, event, data)
        assert response.status_code == 200, response.text
    stored = {name: data for _, name, data in await bot.store.events(session.call_id)}
    assert stored["transcript"]["text"] == "a" * 9_999 + "…"
    assert stored["error"]["message"] == "e" * 1_999 + "…"
    assert stored["disconnected"]["reason"] == "r" * 99 + "…"
    call = await bot.store.call(session.call_id)
    assert call is not None and call.state is CallState.ENDED and call.state_reason == "r" * 99 + "…"
    await eventually(
        lambda: thread_texts(fake_slack)[-1:] == [":white_check_mark: *Talked with a person* · 9s · 1 turn."]
    )
    # Whole, in replies of at most 3,000 characters (the error line has a reply of its own).
    replies = [m.text for m in fake_slack.thread(parent_of(fake_slack))]
    assert "".join(r for r in replies if r.startswith(("*Callee:* ", "a"))) == f"*Callee:* {'a' * 9_999}…"
    assert all(len(r) <= 3_000 for r in replies)


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("&amp;" * 2_899, "&" * 2_899),  # Slack escapes `&` in command text; each is `&amp;` again in the message
        ("a\n" * 1_449, "a\n" * 1_449),  # 1,449 short lines, each quoted with "> "
    ],
    ids=["ampersands", "short-lines"],
)
async def test_instructions_that_grow_when_quoted_still_fit_the_message(
    bot: Bot, slack: SlackSender, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant, typed: str, said: str
) -> None:
    # Under Slack's 3,000-character limit as typed, far over it once escaped and quoted: clipped after quoting.
    session = await place(slack, fake_voximplant, f"{DESTINATION} {typed}")
    assert (await fake_voximplant.briefed(session))["instructions"] == said.strip()  # the agent gets all of it
    quote = parent_of(fake_slack).blocks[1]["text"]["text"]
    assert quote.startswith("> ") and quote.endswith("…") and len(quote) <= 3_000
    assert "&am…" not in quote and not quote.endswith("&…")  # never half an escape
