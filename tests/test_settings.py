"""Settings: every problem listed at once, in words that name the variable; secrets never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.__main__ import main
from bot.errors import ConfigError
from bot.settings import load_settings


def test_missing_settings_are_all_listed() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(_env_file=None, voximplant_rule_id=5, voximplant_api_key="secret-key-value",
                      voximplant_events="push")  # fmt: skip
    problems = raised.value.problems
    assert any("SLACK_SIGNING_SECRET" in p for p in problems)
    assert any("SLACK_BOT_TOKEN" in p for p in problems)
    assert any("VOXIMPLANT_EVENTS=push needs PUBLIC_BASE_URL" in p for p in problems)
    assert any("VOXIMPLANT_ACCOUNT_ID" in p for p in problems)
    assert "secret-key-value" not in str(raised.value)


def test_bad_values_are_listed_by_variable_without_echoing_them() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(_env_file=None, slack_bot_token="xoxp-user-token-oops", slack_signing_secret="s", port="http",
                      allowed_countries="US,ZZ")  # fmt: skip
    text = str(raised.value)
    assert "PORT" in text and "ALLOWED_COUNTRIES" in text and "ZZ" in text
    assert "xoxp-user-token-oops" not in text


def test_calling_hours_are_read_or_refused_saying_what_they_should_look_like() -> None:
    base = {"_env_file": None, "slack_bot_token": "xoxb-1", "slack_signing_secret": "s"}
    assert str(load_settings(**base).calling_window) == "08:00 and 21:00"  # the default
    assert load_settings(**base, calling_hours="OFF").calling_window is None
    assert str(load_settings(**base, calling_hours=" 09:30 - 18:00 ").calling_window) == "09:30 and 18:00"
    with pytest.raises(ConfigError) as raised:
        load_settings(**base, calling_hours="9am-5pm")
    assert "CALLING_HOURS" in str(raised.value) and "08:00-21:00" in str(raised.value)


def test_contradictions_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(
            _env_file=None, slack_bot_token="xoxb-1", slack_signing_secret="s", voximplant_account_id="1",
            voximplant_api_key="k", voximplant_credentials=tmp_path / "missing.json", default_caller_id="12345",
        )  # fmt: skip
    text = str(raised.value)
    assert "not both" in text and "not a file" in text and "DEFAULT_CALLER_ID" in text


def test_environment_and_lists_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-env")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "sig")
    monkeypatch.setenv("CALLBOT_ADMINS", "U1, U2")
    monkeypatch.setenv("ALLOWED_COUNTRIES", "us,gb")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api")
    settings = load_settings(_env_file=None)
    assert settings.callbot_admins == ["U1", "U2"]
    assert settings.allowed_countries == ["US", "GB"]
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"
    assert not settings.voximplant_configured
    assert "xoxb-from-env" not in repr(settings)


def test_serve_refuses_to_start_and_says_why(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)  # no .env here
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "callbot cannot start" in err and "SLACK_SIGNING_SECRET" in err and "SLACK_BOT_TOKEN" in err
