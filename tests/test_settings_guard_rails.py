"""The guard-rail settings: read from the environment's comma lists, and refused with a reason when wrong."""

from __future__ import annotations

import pytest

from bot.errors import ConfigError
from bot.settings import load_settings


def test_guard_rail_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_NUMBER_TYPES", "Mobile, fixed_line")
    monkeypatch.setenv("ALLOWED_CALLERS", "C012CALLERS, S034AGENTS")
    monkeypatch.setenv("CALLBOT_ADMINS", "U0ADMIN,U0BOSS")
    monkeypatch.setenv("WORKSPACE_ADMINS_ARE_ADMINS", "true")
    monkeypatch.setenv("CALLS_PER_USER_PER_HOUR", "0")
    settings = load_settings(need_slack=False, _env_file=None)
    assert settings.allowed_number_types == ["mobile", "fixed_line"]
    assert settings.allowed_callers == ["C012CALLERS", "S034AGENTS"]
    assert settings.callbot_admins == ["U0ADMIN", "U0BOSS"]
    assert settings.workspace_admins_are_admins is True
    assert settings.calls_per_user_per_hour == 0
    assert (settings.concurrent_calls_per_user, settings.concurrent_calls_per_workspace) == (2, 10)


def test_wrong_guard_rail_settings_are_each_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_NUMBER_TYPES", "mobile,premium")
    monkeypatch.setenv("ALLOWED_CALLERS", "#general")
    monkeypatch.setenv("CONCURRENT_CALLS_PER_USER", "-1")
    with pytest.raises(ConfigError) as failed:
        load_settings(need_slack=False, _env_file=None)
    problems = "\n".join(failed.value.problems)
    assert "ALLOWED_NUMBER_TYPES" in problems and "unknown number type(s) premium" in problems
    assert "ALLOWED_CALLERS" in problems and "#general: give channel IDs" in problems
    assert "CONCURRENT_CALLS_PER_USER" in problems
