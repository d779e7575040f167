"""Which way imports go in bot/slack: texts and blocks are plain builders, loaded without Bolt or any listener."""

from __future__ import annotations

import json
import subprocess
import sys

LISTENERS = {
    "bot.slack.listeners",
    "bot.slack.commands",
    "bot.slack.modals",
    "bot.slack.shortcuts",
    "bot.slack.actions",
}


def loaded_after(*modules: str) -> set[str]:
    """The modules a fresh interpreter holds after importing `modules` (this process has loaded everything)."""
    code = "; ".join(f"import {module}" for module in modules)
    code += "; import json, sys; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return set(json.loads(done.stdout))


def test_texts_and_blocks_load_without_bolt_or_the_listeners() -> None:
    loaded = loaded_after("bot.slack.blocks", "bot.slack.texts")
    assert {"bot.slack.blocks", "bot.slack.texts"} <= loaded  # the check itself works
    assert not {name for name in loaded if name == "slack_bolt" or name.startswith("slack_bolt.")}
    assert not LISTENERS & loaded


def test_the_wiring_module_loads_every_listener() -> None:
    assert LISTENERS.issubset(loaded_after("bot.slack.listeners"))
