"""`callbot doctor` against the fake Slack and the fake Voximplant: every check's ✔, and each ✘ with its fix."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from bot.__main__ import main
from bot.calls.models import Channel
from bot.doctor import CHECKS, SECRET_NAME
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.fake_socket_mode import FakeSocketMode
from bot.sandbox.fake_voximplant import ACCOUNT_ID, API_KEY, FakeVoximplant
from bot.setup import SCENARIO_NAME, run_setup
from bot.slack.manifest import BOT_SCOPES
from bot.store import Store
from bot.voximplant import ApiKeyAuth, VoximplantClient
from tests.conftest import BOT_TOKEN, CALLER_ID, SIGNING_SECRET

ROOT = Path(__file__).resolve().parents[1]
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Deployment:
    """A deployment that passes every check; each test breaks one thing."""

    slack: FakeSlack
    voximplant: FakeVoximplant
    env: dict[str, str]
    monkeypatch: pytest.MonkeyPatch
    database: Path

    def set(self, **env: str | None) -> None:
        for name, value in env.items():
            if value is None:
                self.monkeypatch.delenv(name, raising=False)
            else:
                self.monkeypatch.setenv(name, value)


@pytest.fixture
async def deployment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_slack: FakeSlack, fake_voximplant: FakeVoximplant
) -> AsyncIterator[Deployment]:
    async with httpx.AsyncClient(timeout=5) as http:
        vox = VoximplantClient(
            http, base_url=f"{fake_voximplant.url}/platform_api/", auth=ApiKeyAuth(ACCOUNT_ID, API_KEY)
        )
        report = await run_setup(vox)
    [app] = fake_voximplant.applications
    fake_voximplant.add_secret(app["application_id"], SECRET_NAME)
    fake_voximplant.add_caller_id(CALLER_ID)
    fake_voximplant.add_phone_number("+442079460123", country="GB")
    database = tmp_path / "callbot.db"
    store = await Store.open(database)
    for number in (CALLER_ID, "+442079460123"):
        await store.add_caller_id(number, label="", channels=frozenset({Channel.PSTN}), added_by="cli", at=AT)
    await store.add_caller_id("+14155550999", label="WA", channels=frozenset({Channel.WHATSAPP}), added_by="cli", at=AT)
    await store.close()
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": f"{fake_slack.url}/api/",  # type: ignore[attr-defined]
        "VOXIMPLANT_ACCOUNT_ID": ACCOUNT_ID,
        "VOXIMPLANT_API_KEY": API_KEY,
        "VOXIMPLANT_API_URL": f"{fake_voximplant.url}/platform_api/",
        "VOXIMPLANT_RULE_ID": str(report.rule_id),
        "PUBLIC_BASE_URL": "https://callbot.example.com",
        "DATABASE_PATH": str(database),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield Deployment(fake_slack, fake_voximplant, env, monkeypatch, database)


async def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    """Run `callbot doctor` as a person would (in a thread: it runs its own event loop)."""
    code = await asyncio.to_thread(main, ["doctor", *args])
    captured = capsys.readouterr()
    for secret in (BOT_TOKEN, SIGNING_SECRET, API_KEY, "xapp-1-sandbox"):
        assert secret not in captured.out + captured.err
    return code, captured.out.splitlines()


def failures(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("✘")]


async def test_a_healthy_deployment_passes_every_check(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = await doctor(capsys)
    assert code == 0, lines
    assert len(lines) == len(CHECKS) + 1 and all(line.startswith("✔ ") for line in lines[:-1])
    assert lines[-1] == f"all {len(CHECKS)} checks passed"
    assert lines[0] == "✔ Slack takes SLACK_BOT_TOKEN: bot callbot in workspace Sandbox"
    assert f"✔ the bot token has every scope manifest.yml asks for ({len(BOT_SCOPES)})" in lines
    assert f"✔ the application callbot.sandbox.n1.voximplant.com has the secret {SECRET_NAME}" in lines
    assert "✔ every caller ID for phone calls on the allowlist (2) is verified or bought in Voximplant" in lines
    assert any(line.startswith("✔ PUBLIC_BASE_URL https://callbot.example.com is HTTPS") for line in lines)
    assert any(f"runs one scenario, {SCENARIO_NAME}, the same as outbound_call.js" in line for line in lines)


async def test_socket_mode_passes_with_an_app_token_slack_takes(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    deployment.slack.socket_mode = await FakeSocketMode().start()
    try:
        deployment.set(SLACK_SIGNING_SECRET=None, SLACK_APP_TOKEN=deployment.slack.app_token)
        code, lines = await doctor(capsys)
    finally:
        await deployment.slack.socket_mode.stop()
    assert code == 0, lines
    assert "✔ Slack takes SLACK_APP_TOKEN and opens Socket Mode connections for it" in lines
    assert [call.method for call in deployment.slack.calls] == ["auth.test", "apps.connections.open"]


def _other_scenario_bound(d: Deployment) -> None:
    [rule] = d.voximplant.rules
    d.voximplant.scenarios.append({
        "scenario_id": 29_999, "scenario_name": "old_dialer", "scenario_script": "", "modified": "2026-01-01 00:00:00",
        "parent": False, "application_id": rule["application_id"],
    })  # fmt: skip
    rule["scenario_ids"].append(29_999)


def _scenario_changed(d: Deployment) -> None:
    d.voximplant.scenarios[0]["scenario_script"] = "// an older version"


def _secret_missing(d: Deployment) -> None:
    d.voximplant.secrets.clear()


def _secrets_unreadable(d: Deployment) -> None:
    d.voximplant.fail_method("GetSecrets", 102, "Access denied")


def _caller_id_unknown(d: Deployment) -> None:
    d.voximplant.caller_ids.clear()


def _bought_number_is_a_test_number(d: Deployment) -> None:
    d.voximplant.phone_numbers.clear()
    d.voximplant.add_phone_number("+442079460123", country="GB", test=True)


def _missing_scope(d: Deployment) -> None:
    d.slack.scopes.remove("groups:read")


BREAKAGES: dict[str, tuple[Callable[[Deployment], None] | dict[str, str | None], list[str]]] = {
    "bot token refused": (
        {"SLACK_BOT_TOKEN": "xoxb-revoked"},
        ["✘ Slack refuses SLACK_BOT_TOKEN (invalid_auth): copy the current Bot User OAuth Token",
         "✘ the bot token's scopes cannot be checked until Slack takes SLACK_BOT_TOKEN"],
    ),
    "bot token missing": (
        {"SLACK_BOT_TOKEN": None},
        ["✘ SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-…)",
         "✘ the bot token's scopes cannot be checked until Slack takes SLACK_BOT_TOKEN"],
    ),
    "a scope missing": (
        _missing_scope, ["✘ the bot token lacks groups:read: give the app every scope manifest.yml asks for"],
    ),
    "no signing secret": ({"SLACK_SIGNING_SECRET": None}, ["✘ SLACK_SIGNING_SECRET is not set (HTTP mode)"]),
    "app token refused": (
        {"SLACK_APP_TOKEN": "xapp-1-revoked"},
        ["✘ Slack refuses SLACK_APP_TOKEN for Socket Mode (invalid_auth): create an app-level token"],
    ),
    "voximplant key refused": (
        {"VOXIMPLANT_API_KEY": "rotated"},
        ["✘ Voximplant refuses the credentials (Voximplant error 100: Authorization failed)",
         "cannot be checked: Voximplant refuses the credentials (Voximplant error 100",
         f"✘ the secret {SECRET_NAME} cannot be checked: Voximplant refuses the credentials",
         "✘ could not read the account's caller IDs and numbers from Voximplant"],
    ),
    "no voximplant credentials": (
        {"VOXIMPLANT_API_KEY": None, "VOXIMPLANT_ACCOUNT_ID": None},
        ["✘ no Voximplant credentials: set VOXIMPLANT_ACCOUNT_ID and VOXIMPLANT_API_KEY",
         "cannot be checked without Voximplant credentials (see above)",
         f"✘ the secret {SECRET_NAME} cannot be checked without Voximplant credentials",
         "✘ the caller IDs cannot be checked without Voximplant credentials"],
    ),
    "no rule id": ({"VOXIMPLANT_RULE_ID": None}, ["✘ VOXIMPLANT_RULE_ID is not set: run callbot setup"]),
    "another application's rule": ({"VOXIMPLANT_RULE_ID": "999"}, ["has no rule 999: run callbot setup"]),
    "two scenarios on the rule": (_other_scenario_bound, ["runs 2 scenarios (outbound_call, old_dialer)"]),
    "scenario differs": (
        _scenario_changed,
        ["whose text differs from outbound_call.js here (it declares no launch contract (older than v2), this bot "
         "v2): run callbot setup"],
    ),
    "secret missing": (_secret_missing, [f"has no secret {SECRET_NAME}, so no call can reach the Voice AI"]),
    "secrets unreadable": (
        _secrets_unreadable,
        ["✘ could not list the application's secrets (Voximplant error 102: Access denied): check by hand"],
    ),
    "caller ID not verified": (
        _caller_id_unknown,
        ["✘ not a verified caller ID nor a usable number bought in this Voximplant account: +1 415-555-0123;"],
    ),
    "a test number on the allowlist": (
        _bought_number_is_a_test_number,
        ["✘ not a verified caller ID nor a usable number bought in this Voximplant account: +44 20 7946 0123;"],
    ),
    "public URL not set": ({"PUBLIC_BASE_URL": None, "VOXIMPLANT_EVENTS": "push"}, ["✘ PUBLIC_BASE_URL is not set"]),
    "public URL not HTTPS": ({"PUBLIC_BASE_URL": "http://callbot.example.com"}, ["is not HTTPS"]),
    "public URL too long": (
        {"PUBLIC_BASE_URL": "https://callbot.example.com/" + "p" * 150},
        ["is too long: a call's custom data would take"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("breakage", list(BREAKAGES))
async def test_each_problem_fails_its_check_with_the_fix(
    deployment: Deployment, capsys: pytest.CaptureFixture[str], breakage: str
) -> None:
    change, expected = BREAKAGES[breakage]
    if callable(change):
        change(deployment)
    else:
        deployment.set(**change)
    code, lines = await doctor(capsys)
    assert code == 1
    failed = failures(lines)
    assert len(failed) == len(expected), lines
    for line, wanted in zip(failed, expected, strict=True):
        assert wanted in line, (wanted, lines)
    rule = deployment.env["VOXIMPLANT_RULE_ID"]
    assert all(f"✘ the rule {rule} " in line for line in failed if "rule" in line and "cannot be checked" in line)
    assert len(lines) == len(CHECKS) + 1 and lines[-1] == f"{len(expected)} of {len(CHECKS)} checks failed"


async def test_no_allowlist_yet_fails_and_the_database_is_not_created(
    deployment: Deployment, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.db"
    deployment.set(DATABASE_PATH=str(missing))
    code, lines = await doctor(capsys)
    assert code == 1
    assert failures(lines) == [
        f"✘ no caller ID for phone calls is on the allowlist in {missing}: run callbot callerids sync, or "
        'callbot callerids add +14155550123 "Support line"'
    ]
    assert not missing.exists()


async def test_the_application_can_be_named(deployment: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = await doctor(capsys, "--application", "support-bot")
    assert code == 1
    rule = deployment.env["VOXIMPLANT_RULE_ID"]
    assert failures(lines) == [
        f"✘ {subject} cannot be checked: the Voximplant account has no application support-bot; run callbot setup "
        "(or name yours with callbot doctor --application)"
        for subject in (f"the rule {rule}", f"the secret {SECRET_NAME}")
    ]


def test_the_scopes_the_doctor_expects_are_the_manifests() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert list(BOT_SCOPES) == manifest["oauth_config"]["scopes"]["bot"]
