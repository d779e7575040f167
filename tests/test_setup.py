"""`callbot setup` against the fake Management API, with API-key and service-account (JWT) auth."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.sandbox.fake_voximplant import ACCOUNT_ID, API_KEY, FakeVoximplant
from bot.setup import RULE_NAME, SCENARIO_FILE, SCENARIO_NAME, run_setup
from bot.voximplant import ApiKeyAuth, ServiceAccountAuth, VoximplantClient

ROOT = Path(__file__).resolve().parents[1]
KEY_ID = "6f1c2a9e-0000-4000-8000-00000000abcd"


@pytest.fixture(scope="module")
def key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture
def credentials_file(tmp_path: Path, key_pair: tuple[str, str], fake_voximplant: FakeVoximplant) -> Path:
    """A key file shaped like the one Voximplant's control panel hands out for a service account."""
    fake_voximplant.add_service_account(KEY_ID, key_pair[1])
    path = tmp_path / "voximplant-credentials.json"
    path.write_text(json.dumps({"account_id": int(ACCOUNT_ID), "key_id": KEY_ID, "private_key": key_pair[0]}))
    return path


@pytest.fixture
async def client(fake_voximplant: FakeVoximplant) -> AsyncIterator[VoximplantClient]:
    async with httpx.AsyncClient(timeout=5) as http:
        yield VoximplantClient(
            http, base_url=f"{fake_voximplant.url}/platform_api/", auth=ApiKeyAuth(ACCOUNT_ID, API_KEY)
        )


async def cli(fake: FakeVoximplant, *args: str, **env: str) -> tuple[int, str, str]:
    """Run `python -m bot setup …` as a person would, with settings only in the environment."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("VOXIMPLANT_", "SLACK_"))}
    environ.update(VOXIMPLANT_API_URL=f"{fake.url}/platform_api/", NO_PROXY="*", **env)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "setup", *args, cwd=ROOT, env=environ,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


API_KEY_ENV = {"VOXIMPLANT_ACCOUNT_ID": ACCOUNT_ID, "VOXIMPLANT_API_KEY": API_KEY}
CLI = pytest.mark.slow  # runs `python -m bot setup` as a subprocess


@CLI
async def test_first_run_creates_application_scenario_and_rule_and_prints_the_rule_id(
    fake_voximplant: FakeVoximplant,
) -> None:
    code, out, err = await cli(fake_voximplant, **API_KEY_ENV)
    assert code == 0, err
    assert fake_voximplant.writes() == ["AddApplication", "AddScenario", "AddRule"]
    [app], [scenario], [rule] = fake_voximplant.applications, fake_voximplant.scenarios, fake_voximplant.rules
    assert app["application_name"].startswith("callbot.")
    assert scenario["scenario_name"] == SCENARIO_NAME and scenario["scenario_script"] == SCENARIO_FILE.read_text()
    assert rule["rule_name"] == RULE_NAME and rule["scenario_ids"] == [scenario["scenario_id"]]
    assert out.strip().splitlines()[-1] == f"VOXIMPLANT_RULE_ID={rule['rule_id']}"
    assert API_KEY not in out + err


@CLI
async def test_second_run_changes_nothing_and_says_so(fake_voximplant: FakeVoximplant) -> None:
    await cli(fake_voximplant, **API_KEY_ENV)
    first = len(fake_voximplant.writes())
    code, out, _ = await cli(fake_voximplant, **API_KEY_ENV)
    assert code == 0
    assert len(fake_voximplant.writes()) == first  # only reads the second time
    assert "Nothing to change" in out
    assert out.strip().splitlines()[-1] == f"VOXIMPLANT_RULE_ID={fake_voximplant.rules[0]['rule_id']}"


@CLI
async def test_dry_run_shows_the_plan_and_writes_nothing(fake_voximplant: FakeVoximplant) -> None:
    code, out, _ = await cli(fake_voximplant, "--dry-run", **API_KEY_ENV)
    assert code == 0
    assert fake_voximplant.writes() == []
    assert "would create the application callbot" in out
    assert f"would upload outbound_call.js as the scenario {SCENARIO_NAME}" in out
    assert f"would create the rule {RULE_NAME}" in out
    assert "Dry run: nothing was changed" in out


async def test_a_changed_scenario_is_updated_and_an_unbound_rule_is_bound(
    fake_voximplant: FakeVoximplant, client: VoximplantClient
) -> None:
    await run_setup(client, script="// old version")
    fake_voximplant.rules[0]["scenario_ids"].clear()
    plan = await run_setup(client, dry_run=True)
    assert any(step.startswith("would update the scenario") for step in plan.steps)
    assert any(step.startswith("would bind the scenario") for step in plan.steps)
    writes = len(fake_voximplant.writes())
    report = await run_setup(client)
    assert fake_voximplant.writes()[writes:] == ["SetScenarioInfo", "BindScenario"]
    assert fake_voximplant.scenarios[0]["scenario_script"] == SCENARIO_FILE.read_text()
    assert report.changed and report.rule_id == fake_voximplant.rules[0]["rule_id"]


@CLI
async def test_an_api_error_stops_setup_with_voximplants_message(fake_voximplant: FakeVoximplant) -> None:
    fake_voximplant.fail_method("AddScenario", 102, "Access denied: the service account's role cannot add scenarios")
    code, out, err = await cli(fake_voximplant, **API_KEY_ENV)
    assert code == 1
    assert "Voximplant refused the setup" in err and "cannot add scenarios" in err and "102" in err
    assert "VOXIMPLANT_RULE_ID=" not in out


@CLI
async def test_wrong_credentials_are_refused(fake_voximplant: FakeVoximplant) -> None:
    code, _, err = await cli(fake_voximplant, VOXIMPLANT_ACCOUNT_ID=ACCOUNT_ID, VOXIMPLANT_API_KEY="wrong")
    assert code == 1 and "Authorization failed" in err and "wrong" not in err


@CLI
async def test_setup_without_credentials_says_what_to_set(fake_voximplant: FakeVoximplant) -> None:
    code, _, err = await cli(fake_voximplant)
    assert code == 2 and "VOXIMPLANT_CREDENTIALS" in err and "VOXIMPLANT_API_KEY" in err


# -- service-account JWT --------------------------------------------------------------------------------------------


@CLI
async def test_setup_works_with_a_service_account_key_file(
    fake_voximplant: FakeVoximplant, credentials_file: Path
) -> None:
    code, out, err = await cli(fake_voximplant, VOXIMPLANT_CREDENTIALS=str(credentials_file))
    assert code == 0, err
    assert "VOXIMPLANT_RULE_ID=" in out
    methods = [r["method"] for r in fake_voximplant.requests]
    assert len(fake_voximplant.tokens) == len(methods)  # every request carried a valid token
    assert all("api_key" not in r and "account_id" not in r for r in fake_voximplant.requests)


def test_the_token_matches_voximplants_service_account_scheme(key_pair: tuple[str, str]) -> None:
    auth = ServiceAccountAuth(
        account_id=ACCOUNT_ID, key_id=KEY_ID, private_key=key_pair[0], clock=lambda: 1_800_000_000
    )
    token = auth.headers()["Authorization"].removeprefix("Bearer ")
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "typ": "JWT", "kid": KEY_ID}
    claims = jwt.decode(token, key_pair[1], algorithms=["RS256"], options={"verify_exp": False, "verify_iat": False})
    assert claims == {"iss": ACCOUNT_ID, "iat": 1_800_000_000 - 5, "exp": 1_800_000_000 + 24}
    assert isinstance(claims["iss"], str)
    assert KEY_ID in repr(auth) and "PRIVATE KEY" not in repr(auth)


def test_each_request_gets_a_fresh_token(key_pair: tuple[str, str]) -> None:
    now = [1_800_000_000.0]
    auth = ServiceAccountAuth(account_id=ACCOUNT_ID, key_id=KEY_ID, private_key=key_pair[0], clock=lambda: now[0])
    first = auth.headers()["Authorization"]
    now[0] += 30
    assert auth.headers()["Authorization"] != first


async def test_the_fake_refuses_a_token_signed_with_another_key(
    fake_voximplant: FakeVoximplant, credentials_file: Path
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    forged = ServiceAccountAuth(account_id=ACCOUNT_ID, key_id=KEY_ID, private_key=pem)
    async with httpx.AsyncClient(timeout=5) as http:
        client = VoximplantClient(http, base_url=f"{fake_voximplant.url}/platform_api/", auth=forged)
        with pytest.raises(Exception, match="Authorization failed"):
            await client.get_applications(application_name="callbot")
    assert fake_voximplant.tokens == []


async def test_start_scenarios_works_with_a_service_account(
    fake_voximplant: FakeVoximplant, credentials_file: Path
) -> None:
    auth = ServiceAccountAuth.from_file(credentials_file)
    async with httpx.AsyncClient(timeout=5) as http:
        client = VoximplantClient(http, base_url=f"{fake_voximplant.url}/platform_api/", auth=auth)
        result = await client.start_scenarios(rule_id=next(iter(fake_voximplant.rule_ids)), custom_data="{}")
    assert result.call_session_history_id == fake_voximplant.sessions[0].history_id
    assert fake_voximplant.tokens[0]["claims"]["iss"] == ACCOUNT_ID


def test_a_broken_key_file_is_reported_without_its_content(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"account_id": 1, "private_key": "-----BEGIN PRIVATE KEY----- secret"}')
    with pytest.raises(Exception, match="not a Voximplant service-account key file") as raised:
        ServiceAccountAuth.from_file(path)
    assert "secret" not in str(raised.value)


def test_a_broken_key_file_stops_the_start_with_one_clear_problem(tmp_path: Path) -> None:
    from bot.errors import ConfigError
    from bot.settings import load_settings

    path = tmp_path / "key.json"
    path.write_text('{"account_id": 1}')
    with pytest.raises(ConfigError) as raised:
        load_settings(need_slack=False, voximplant_credentials=path, _env_file=None)
    assert raised.value.problems == [
        f"VOXIMPLANT_CREDENTIALS names {path}, which is not a Voximplant service-account key file "
        "(JSON with account_id, key_id and private_key)"
    ]


async def test_setup_leaves_only_its_scenario_bound_to_the_rule_and_says_what_it_unbound(
    fake_voximplant: FakeVoximplant, client: VoximplantClient
) -> None:
    await run_setup(client)
    [app], [rule] = fake_voximplant.applications, fake_voximplant.rules
    leftover = await client.add_scenario(
        application_id=app["application_id"], scenario_name="old_dialer", scenario_script="VoxEngine.terminate();"
    )
    await client.bind_scenario(application_id=app["application_id"], rule_id=rule["rule_id"], scenario_id=leftover)
    ours = next(s["scenario_id"] for s in fake_voximplant.scenarios if s["scenario_name"] == SCENARIO_NAME)
    assert rule["scenario_ids"] == [ours, leftover]

    plan = await run_setup(client, dry_run=True)
    assert f"would unbind the scenario old_dialer (id {leftover}) from the rule {RULE_NAME}: " in "\n".join(plan.steps)
    assert rule["scenario_ids"] == [ours, leftover]  # a dry run changes nothing

    writes = len(fake_voximplant.writes())
    report = await run_setup(client)
    assert rule["scenario_ids"] == [ours]
    assert fake_voximplant.writes()[writes:] == ["BindScenario"]
    [unbind] = [r for r in fake_voximplant.requests if r["method"] == "BindScenario"][-1:]
    assert unbind["bind"] == "false" and unbind["scenario_id"] == str(leftover)
    assert any(step.startswith(f"unbound the scenario old_dialer (id {leftover})") for step in report.steps)
    assert report.changed
    again = await run_setup(client)
    assert not again.changed and "Nothing to change" in "\n".join(again.lines())
