"""`callbot sandbox`, run as a person runs it (the README's first command): a typed /call produces a full thread."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="the VoxEngine simulator needs Node.js"),
    pytest.mark.slow,  # `callbot sandbox` as a subprocess
]


async def run_sandbox(tmp_path: Path, typed: str) -> str:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "VOXIMPLANT_")) and "PROXY" not in k}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "sandbox", "--port", "0", "--database", str(tmp_path / "sandbox.db"),
        "--time-scale", "0.1", "--terminal", cwd=tmp_path, env=environ,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(typed.encode()), timeout=90)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_a_typed_call_fills_its_thread(tmp_path: Path) -> None:
    out = await run_sandbox(tmp_path, "/call +14155550100 say hello\n")
    assert "callbot sandbox: the bot listens on http://127.0.0.1:" in out
    lines = out.splitlines()
    thread = [line for line in lines if line.startswith("    └ [Call to +1 415-555-0100]")]
    texts = [line.split("] ", 1)[1] for line in thread]
    assert texts[0] == ":telephone_receiver: Dialing +1 415-555-0100…"
    assert ":bell: Ringing…" in texts
    assert ":large_green_circle: Connected. The agent is talking." in texts
    assert any(t.startswith("*Agent:*") and "say hello" in t for t in texts)
    assert texts[-1].startswith(":white_check_mark: *Talked with a person* ·")
    assert ":memo: _In short (written by OpenAI from the transcript):_\n> The agent said: " in out  # the fake OpenAI
    assert any(
        line.startswith(
            "#C0GENERAL (updated) Call to +1 415-555-0100: :white_check_mark: Talked with a person · ended after"
        )
        for line in lines
    )


async def test_a_busy_number_and_a_refusal_are_shown(tmp_path: Path) -> None:
    out = await run_sandbox(tmp_path, "/call +14155550186 hi\n/call 911 hi\n/dance\n")
    assert ":no_entry: *Busy*: the line was busy" in out
    assert "(only you see this)" in out and "emergency" in out.lower()
    assert "Only /call is known here" in out


def test_the_sandbox_names_every_outcome_the_simulator_scripts() -> None:
    from bot.sandbox.run import OUTCOMES

    scripted = re.findall(r"digits: '(\d{4})'", (ROOT / "scenarios" / "simulator" / "outcomes.js").read_text())
    assert len(scripted) >= 9, scripted  # the simulator's table was read
    assert [digits for digits in scripted if f"…{digits}" not in OUTCOMES] == []
