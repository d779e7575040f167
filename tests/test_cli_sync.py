"""`callbot callerids sync` against the fake Management API, and `callbot audit`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.calls.models import Channel
from bot.sandbox.fake_voximplant import ACCOUNT_ID, API_KEY, FakeVoximplant
from bot.store import Store

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_voximplant: FakeVoximplant) -> Path:
    path = tmp_path / "callbot.db"
    monkeypatch.setenv("DATABASE_PATH", str(path))
    monkeypatch.setenv("VOXIMPLANT_ACCOUNT_ID", ACCOUNT_ID)
    monkeypatch.setenv("VOXIMPLANT_API_KEY", API_KEY)
    monkeypatch.setenv("VOXIMPLANT_API_URL", f"{fake_voximplant.url}/platform_api/")
    return path


async def callbot(*argv: str) -> int:
    """Run the CLI as a person would; in a thread, because it runs its own event loop."""
    return await asyncio.to_thread(main, list(argv))


async def test_sync_adds_what_voximplant_offers_and_removes_what_it_no_longer_does(
    database: Path, fake_voximplant: FakeVoximplant, capsys: pytest.CaptureFixture[str]
) -> None:
    store = await Store.open(database)
    await store.add_caller_id(
        "+14155550123", label="Support", channels=frozenset({Channel.PSTN}), added_by="cli", at=AT
    )
    await store.add_caller_id("+14155550124", label="", channels=frozenset({Channel.PSTN}), added_by="voximplant-sync",
                              at=AT)  # fmt: skip
    await store.close()
    for n in range(130):  # more than one page of GetCallerIDs
        fake_voximplant.add_caller_id(f"+1415555{n:04d}" if n != 124 else "+12125550100")
    fake_voximplant.add_caller_id("+14155559998", active=False)  # not verified: never allowed
    fake_voximplant.add_caller_id("+14155559997", verified_until="2020-01-01")  # verification expired
    fake_voximplant.add_phone_number("+442079460123", country="GB")
    fake_voximplant.add_phone_number("+442079460124", country="GB", canceled=True)

    assert await callbot("callerids", "sync", "--dry-run") == 0
    dry = capsys.readouterr().out
    assert "would add\t+44 20 7946 0123\tVoximplant number (geographic)" in dry
    assert "would remove\t+1 415-555-0124\tno longer in Voximplant" in dry
    assert "+1 415-555-9998" not in dry and "+1 415-555-9997" not in dry and "+44 20 7946 0124" not in dry
    assert dry.splitlines()[-1] == "dry run, nothing changed: would add 130, would remove 1, 1 already allowed"
    store = await Store.open(database)
    assert [e.number for e in await store.caller_ids()] == ["+14155550123", "+14155550124"]
    await store.close()

    assert await callbot("callerids", "sync") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "added 130, removed 1, 1 already allowed"
    store = await Store.open(database)
    numbers = {e.number: e for e in await store.caller_ids()}
    assert len(numbers) == 131 and "+14155550124" not in numbers and "+12125550100" in numbers
    assert numbers["+14155550123"].label == "Support"  # added by hand: kept as it was
    assert numbers["+442079460123"].added_by == "voximplant-sync"
    await store.close()
    methods = [r["method"] for r in fake_voximplant.requests]
    # two runs, paged; each reads the real numbers and the test numbers apart
    assert methods.count("GetCallerIDs") == 4 and methods.count("GetPhoneNumbers") == 4

    assert await callbot("audit", "--limit", "2") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[1:5] for line in lines] == [
        ["voximplant-sync", "done", "callerid.add", "+442079460123"],
        ["voximplant-sync", "done", "callerid.remove", "+14155550124"],
    ]


async def test_sync_does_not_allow_numbers_that_cannot_place_real_calls_and_says_why(
    database: Path, fake_voximplant: FakeVoximplant, capsys: pytest.CaptureFixture[str]
) -> None:
    store = await Store.open(database)
    await store.add_caller_id("+14155550142", label="Lab", channels=frozenset({Channel.PSTN}), added_by="cli", at=AT)
    await store.add_caller_id("+14155550143", label="", channels=frozenset({Channel.PSTN}), added_by="voximplant-sync",
                              at=AT)  # fmt: skip
    await store.close()
    fake_voximplant.add_phone_number("+14155550140")
    fake_voximplant.add_phone_number("+14155550141", test=True)
    fake_voximplant.add_phone_number("+14155550142", test=True)  # on the list by hand: kept, and said
    fake_voximplant.add_phone_number("+14155550143", can_be_used=False)  # added by an earlier sync: removed
    fake_voximplant.add_phone_number("+14155550144", can_be_used=False)

    assert await callbot("callerids", "sync") == 0
    out = capsys.readouterr().out.splitlines()
    assert "add\t+1 415-555-0140\tVoximplant number (geographic)" in out
    assert "skip\t+1 415-555-0141\ta Voximplant test number: it cannot place real calls; not added" in out
    assert (
        "keep\t+1 415-555-0142\tadded by hand, but a Voximplant test number: it cannot place real calls; "
        "to stop calling from it: callbot callerids remove +14155550142"
    ) in out
    assert "remove\t+1 415-555-0143\tVoximplant says it cannot be used until the account is verified" in out
    assert "skip\t+1 415-555-0144\tVoximplant says it cannot be used until the account is verified; not added" in out
    assert out[-1] == "added 1, removed 1, 0 already allowed, 4 not usable as caller IDs"
    store = await Store.open(database)
    assert [e.number for e in await store.caller_ids()] == ["+14155550140", "+14155550142"]
    await store.close()


async def test_sync_says_when_voximplant_refuses(
    database: Path, fake_voximplant: FakeVoximplant, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_voximplant.api_key = "rotated"
    assert await callbot("callerids", "sync") == 1
    err = capsys.readouterr().err
    assert "could not read from Voximplant" in err and "Authorization failed" in err and API_KEY not in err


async def test_audit_shows_refused_attempts(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = await Store.open(database)
    await store.audit(actor="U0EVE", action="deny.add", target="+1900", detail="refused: not an admin", allowed=False,
                      at=AT)  # fmt: skip
    await store.close()
    assert await callbot("audit") == 0
    assert capsys.readouterr().out == "2026-03-02 09:00:00Z\tU0EVE\tREFUSED\tdeny.add\t+1900\trefused: not an admin\n"
