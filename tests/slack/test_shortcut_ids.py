"""The shortcuts the code listens for are the ones the manifest declares."""

from __future__ import annotations

import re
from pathlib import Path

from bot.slack.ids import CallbackId

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"


def test_manifest_declares_the_shortcuts_the_code_handles() -> None:
    declared = dict(
        re.findall(r"- name: (.+)\n\s+type: (?:global|message)\n\s+callback_id: (\S+)", MANIFEST.read_text())
    )
    assert declared == {
        "Place a call": CallbackId.PLACE_CALL_SHORTCUT.value,
        "Call about this": CallbackId.CALL_ABOUT_MESSAGE.value,
    }
