"""`callbot doctor`: check a deployment against its real Slack and Voximplant accounts, one line per check.

Each check is one function in CHECKS that returns a Result: ✔ with what it found, or ✘ with what is wrong and what
to do about it. Checks only read: nothing is created, changed or sent (a Socket Mode check asks Slack for a
connection URL and does not use it). `run_doctor` runs them in order; a check that fails does not stop the rest.

`callbot doctor --call +1…` then places one real test call (bot/doctor_call.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from bot.calls.launch import (
    CONTRACT_VERSION,
    MAX_CUSTOM_DATA_BYTES,
    custom_data_fits,
    largest_custom_data,
    longest_base_url,
    scenario_contract,
)
from bot.calls.models import CallerId, Channel
from bot.calls.numbers import format_international
from bot.errors import VoximplantError
from bot.settings import Settings
from bot.setup import APPLICATION_NAME, SCENARIO_FILE
from bot.slack.manifest import BOT_SCOPES
from bot.voximplant import Application, VoximplantClient

SECRET_NAME = "OPENAI_API_KEY"  # the scenario reads it with VoxEngine.getSecretValue


@dataclass(frozen=True, slots=True)
class Result:
    """One check's outcome: `text` says what was found, and on a failure what to do."""

    ok: bool
    text: str

    def line(self) -> str:
        return f"{'✔' if self.ok else '✘'} {self.text}"


def passed(text: str) -> Result:
    return Result(True, text)


def failed(text: str) -> Result:
    return Result(False, text)


@dataclass
class Deployment:
    """What the checks look at: the settings, HTTP and Voximplant clients, the allowlist, the local scenario."""

    settings: Settings
    http: httpx.AsyncClient
    voximplant: VoximplantClient | None  # None when no Voximplant credentials are set
    caller_ids: Sequence[CallerId]
    scenario_script: str
    application_name: str = APPLICATION_NAME
    today: date = field(default_factory=date.today)
    _auth_test: httpx.Response | None = None
    _application: Application | None = None

    async def auth_test(self) -> httpx.Response:
        """Slack's answer to auth.test with the bot token, asked once."""
        if self._auth_test is None:
            self._auth_test = await _slack(self, "auth.test", _secret(self.settings.slack_bot_token))
        return self._auth_test

    async def application(self) -> Application | None:
        """The Voximplant application callbot setup made, or None when the account has none by that name."""
        if self._application is None and self.voximplant is not None:
            listed = await self.voximplant.get_applications(application_name=self.application_name)
            self._application = next(
                (a for a in listed if a.application_name.split(".")[0] == self.application_name), None
            )
        return self._application


Check = Callable[[Deployment], Awaitable[Result]]


# -- Slack --------------------------------------------------------------------------------------------------------


async def slack_token(deployment: Deployment) -> Result:
    """SLACK_BOT_TOKEN is set and Slack takes it (auth.test)."""
    if deployment.settings.slack_bot_token is None:
        return failed("SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-…) from your Slack app's "
                      "OAuth & Permissions page")  # fmt: skip
    body = _json(await deployment.auth_test())
    if not body.get("ok"):
        return failed(f"Slack refuses SLACK_BOT_TOKEN ({body.get('error', 'no reason given')}): copy the current "
                      "Bot User OAuth Token from your Slack app's OAuth & Permissions page")  # fmt: skip
    return passed(f"Slack takes SLACK_BOT_TOKEN: bot {body.get('user', '?')} in workspace {body.get('team', '?')}")


async def slack_scopes(deployment: Deployment) -> Result:
    """The bot token holds every bot scope manifest.yml asks for (the `x-oauth-scopes` header of auth.test)."""
    if deployment.settings.slack_bot_token is None or not _json(await deployment.auth_test()).get("ok"):
        return failed("the bot token's scopes cannot be checked until Slack takes SLACK_BOT_TOKEN (see above)")
    header = (await deployment.auth_test()).headers.get("x-oauth-scopes")
    if header is None:
        return failed("Slack did not say which scopes the bot token has: compare your Slack app's OAuth & "
                      f"Permissions page with manifest.yml ({', '.join(BOT_SCOPES)})")  # fmt: skip
    granted = {scope.strip() for scope in header.split(",") if scope.strip()}
    missing = [scope for scope in BOT_SCOPES if scope not in granted]
    if missing:
        return failed(f"the bot token lacks {', '.join(missing)}: give the app every scope manifest.yml asks for "
                      "(paste it again), then reinstall the app to the workspace and set the new "
                      "SLACK_BOT_TOKEN")  # fmt: skip
    return passed(f"the bot token has every scope manifest.yml asks for ({len(BOT_SCOPES)})")


async def slack_front_door(deployment: Deployment) -> Result:
    """HTTP mode: SLACK_SIGNING_SECRET is set. Socket Mode: Slack takes SLACK_APP_TOKEN (apps.connections.open)."""
    app_token = deployment.settings.slack_app_token
    if app_token is None:
        if deployment.settings.slack_signing_secret is None:
            return failed("SLACK_SIGNING_SECRET is not set (HTTP mode): copy the Signing Secret from your Slack "
                          "app's Basic Information page, or set SLACK_APP_TOKEN to use Socket Mode")  # fmt: skip
        return passed("SLACK_SIGNING_SECRET is set (HTTP mode; Slack's first signed request proves it matches)")
    body = _json(await _slack(deployment, "apps.connections.open", app_token.get_secret_value()))
    if not body.get("ok"):
        return failed(f"Slack refuses SLACK_APP_TOKEN for Socket Mode ({body.get('error', 'no reason given')}): "
                      "create an app-level token with connections:write on your Slack app's Basic Information "
                      "page and set it as SLACK_APP_TOKEN")  # fmt: skip
    return passed("Slack takes SLACK_APP_TOKEN and opens Socket Mode connections for it")


# -- Voximplant ---------------------------------------------------------------------------------------------------


async def voximplant_credentials(deployment: Deployment) -> Result:
    """Voximplant credentials are set and the Management API takes them."""
    if deployment.voximplant is None:
        return failed("no Voximplant credentials: set VOXIMPLANT_ACCOUNT_ID and VOXIMPLANT_API_KEY, or "
                      "VOXIMPLANT_CREDENTIALS (a service-account key file)")  # fmt: skip
    try:
        await deployment.application()
    except VoximplantError as error:
        return failed(f"Voximplant refuses the credentials ({error}): check VOXIMPLANT_ACCOUNT_ID and "
                      "VOXIMPLANT_API_KEY, or the key file in VOXIMPLANT_CREDENTIALS")  # fmt: skip
    return passed("Voximplant takes the credentials")


async def voximplant_rule(deployment: Deployment) -> Result:
    """VOXIMPLANT_RULE_ID names a rule of the application that runs exactly one scenario: this checkout's."""
    rule_id = deployment.settings.voximplant_rule_id
    if rule_id is None:
        return failed("VOXIMPLANT_RULE_ID is not set: run callbot setup and set it to the ID it prints")
    found = await _voximplant_application(deployment, f"the rule {rule_id}")
    if isinstance(found, Result):
        return found
    voximplant, app = found
    try:
        rule = await voximplant.get_rule(application_id=app.application_id, rule_id=rule_id)
        if rule is None:
            return failed(f"the application {app.application_name} has no rule {rule_id}: run callbot setup and "
                          "set VOXIMPLANT_RULE_ID to the ID it prints")  # fmt: skip
        if len(rule.scenarios) != 1:
            names = ", ".join(s.scenario_name for s in rule.scenarios) or "none"
            return failed(f"the rule {rule.rule_name} ({rule_id}) runs {len(rule.scenarios)} scenarios ({names}), "
                          "and each would run in every call: run callbot setup, which leaves exactly one")  # fmt: skip
        [bound] = rule.scenarios
        listed = await voximplant.get_scenarios(
            application_id=app.application_id, scenario_id=bound.scenario_id, with_script=True
        )
    except VoximplantError as error:
        return failed(f"could not read the rule {rule_id} from Voximplant ({error})")
    script = listed[0].scenario_script if listed else None
    if script != deployment.scenario_script:
        spoken = scenario_contract(script or "")
        speaks = (f"it speaks launch contract v{spoken[0]}" if spoken else "it declares no launch contract (older "
                  "than v2)") + f", this bot v{CONTRACT_VERSION}"  # fmt: skip
        return failed(f"the rule {rule.rule_name} ({rule_id}) runs the scenario {bound.scenario_name}, whose text "
                      f"differs from {SCENARIO_FILE.name} here ({speaks}): run callbot setup to upload this "
                      "one")  # fmt: skip
    return passed(f"the rule {rule.rule_name} ({rule_id}) runs one scenario, {bound.scenario_name}, the same as "
                  f"{SCENARIO_FILE.name}")  # fmt: skip


async def openai_secret(deployment: Deployment) -> Result:
    """The application's secret storage holds OPENAI_API_KEY (GetSecrets lists secret names, never values)."""
    found = await _voximplant_application(deployment, f"the secret {SECRET_NAME}")
    if isinstance(found, Result):
        return found
    voximplant, app = found
    by_hand = f"check by hand: control panel > the application {app.application_name} > Secrets"
    try:
        secrets = await voximplant.get_secrets(application_id=app.application_id, secret_name_part=SECRET_NAME)
    except VoximplantError as error:
        return failed(f"could not list the application's secrets ({error}): {by_hand}")
    if not any(secret.secret_name == SECRET_NAME for secret in secrets):
        return failed(f"the application {app.application_name} has no secret {SECRET_NAME}, so no call can "
                      f"reach the Voice AI: add your OpenAI API key under that name in the control panel > the "
                      "application > Secrets")  # fmt: skip
    return passed(f"the application {app.application_name} has the secret {SECRET_NAME}")


async def caller_ids(deployment: Deployment) -> Result:
    """Each allow-listed caller ID for phone calls is a verified caller ID or a usable number bought in Voximplant."""
    phone = [entry.number for entry in deployment.caller_ids if Channel.PSTN in entry.channels]
    if not phone:
        return failed(f"no caller ID for phone calls is on the allowlist in {deployment.settings.database_name}: "
                      'run callbot callerids sync, or callbot callerids add +14155550123 "Support line"')  # fmt: skip
    if deployment.voximplant is None:
        return failed("the caller IDs cannot be checked without Voximplant credentials (see above)")
    try:
        verified = {
            c.e164 for c in await deployment.voximplant.get_caller_ids()
            if c.active and (c.verified_until is None or c.verified_until >= deployment.today)
        }  # fmt: skip
        bought = {
            n.e164 for n in await deployment.voximplant.get_phone_numbers()
            if not (n.deactivated or n.canceled or n.test_number) and n.can_be_used
        }  # fmt: skip
    except VoximplantError as error:
        return failed(f"could not read the account's caller IDs and numbers from Voximplant ({error})")
    unknown = [number for number in phone if number not in verified | bought]
    if unknown:
        shown = ", ".join(format_international(number) for number in unknown)
        return failed(f"not a verified caller ID nor a usable number bought in this Voximplant account: {shown}; "
                      "Voximplant will refuse calls from them: verify them in the control panel (Caller IDs), "
                      "or take them off with callbot callerids remove <number>")  # fmt: skip
    return passed(f"every caller ID for phone calls on the allowlist ({len(phone)}) is verified or bought in "
                  "Voximplant")  # fmt: skip


# -- the bot's own address ----------------------------------------------------------------------------------------


async def public_base_url(deployment: Deployment) -> Result:
    """PUBLIC_BASE_URL is HTTPS, and the largest custom data a launch from it makes fits Voximplant's 200 bytes."""
    url = deployment.settings.public_base_url
    if deployment.settings.events_mode == "pull":
        return passed("status events: pull (no public URL): the bot brings each call's brief and fetches its events "
                      "through the call's session, one request per live call every 0.5 to 3 s")  # fmt: skip
    if url is None:
        return failed("PUBLIC_BASE_URL is not set: set it to the HTTPS address where Voximplant reaches this bot")
    base = str(url).rstrip("/")
    if url.scheme != "https":
        return failed(f"PUBLIC_BASE_URL {base} is not HTTPS: each call's brief and status reports travel on it, "
                      "so put the bot behind HTTPS and set the https:// address")  # fmt: skip
    size = largest_custom_data(base)
    if not custom_data_fits(base):
        return failed(f"PUBLIC_BASE_URL {base} is too long: a call's custom data would take {size} bytes, over "
                      f"Voximplant's {MAX_CUSTOM_DATA_BYTES}; use an address of at most {longest_base_url()} "
                      "bytes")  # fmt: skip
    return passed(f"PUBLIC_BASE_URL {base} is HTTPS, and a call's custom data takes at most {size} of "
                  f"Voximplant's {MAX_CUSTOM_DATA_BYTES} bytes")  # fmt: skip


CHECKS: tuple[Check, ...] = (
    slack_token,
    slack_scopes,
    slack_front_door,
    voximplant_credentials,
    voximplant_rule,
    openai_secret,
    caller_ids,
    public_base_url,
)


async def run_doctor(deployment: Deployment, checks: Sequence[Check] = CHECKS) -> list[Result]:
    """Run every check in order; one that fails does not stop the others."""
    return [await check(deployment) for check in checks]


def read_scenario(path: Path = SCENARIO_FILE) -> str:
    return path.read_text()


# -- helpers ------------------------------------------------------------------------------------------------------


async def _voximplant_application(
    deployment: Deployment, subject: str
) -> tuple[VoximplantClient, Application] | Result:
    """The Voximplant client and the application, or the failed Result that says why `subject` cannot be checked."""
    if deployment.voximplant is None:
        return failed(f"{subject} cannot be checked without Voximplant credentials (see above)")
    try:
        app = await deployment.application()
    except VoximplantError as error:
        return failed(f"{subject} cannot be checked: Voximplant refuses the credentials ({error})")
    if app is None:
        return failed(f"{subject} cannot be checked: the Voximplant account has no application "
                      f"{deployment.application_name}; run callbot setup (or name yours with callbot doctor "
                      "--application)")  # fmt: skip
    return deployment.voximplant, app


async def _slack(deployment: Deployment, method: str, token: str | None) -> httpx.Response:
    """POST one Web API method with `token` as a bearer token (never in the URL or the body)."""
    url = deployment.settings.slack_api_url.rstrip("/") + "/" + method
    try:
        return await deployment.http.post(url, headers={"Authorization": f"Bearer {token or ''}"})
    except httpx.TransportError as error:
        return httpx.Response(200, json={"ok": False, "error": f"could not reach Slack: {type(error).__name__}"})


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"ok": False, "error": f"HTTP {response.status_code}, not Slack's JSON"}
    return body if isinstance(body, dict) else {"ok": False, "error": "an answer that is not Slack's JSON"}


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None
