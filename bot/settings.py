"""Every setting callbot reads, validated once at start and passed down."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import phonenumbers
from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.calls import briefing, launch
from bot.calls.hours import Window
from bot.errors import ConfigError
from bot.store.database import describe, is_postgres_url

SLACK_API_URL = "https://slack.com/api/"
OPENAI_BASE_URL = "https://api.openai.com/v1"
# A small current model (developers.openai.com/api/docs/models/gpt-5.4-mini: "a faster, more efficient model
# designed for high-volume workloads"), asked through Chat Completions (platform.openai.com/docs/api-reference/chat).
OPENAI_MODEL = "gpt-5.4-mini"
VOXIMPLANT_API_URL = "https://api.voximplant.com/platform_api/"

CommaList = Annotated[list[str], NoDecode]
# Destination number types callbot calls unless ALLOWED_NUMBER_TYPES says otherwise: people and businesses.
DEFAULT_NUMBER_TYPES = ("fixed_line", "mobile", "fixed_line_or_mobile", "toll_free", "voip")
NUMBER_TYPE_NAMES = frozenset(name.lower() for name in vars(phonenumbers.PhoneNumberType) if name.isupper())


class Settings(BaseSettings):
    """callbot's configuration: environment variables, then an optional `.env` file."""

    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = SLACK_API_URL

    voximplant_account_id: str | None = None
    voximplant_api_key: SecretStr | None = None
    voximplant_credentials: Path | None = None
    voximplant_rule_id: int | None = None
    voximplant_api_url: str = VOXIMPLANT_API_URL
    voximplant_timeout_s: float = Field(default=10.0, gt=0)

    public_base_url: AnyHttpUrl | None = None
    # How status events reach the bot: Voximplant POSTs them to PUBLIC_BASE_URL (push), or the bot fetches them
    # through each session's access URL (pull: no public URL at all). Default: push when PUBLIC_BASE_URL is set.
    voximplant_events: Literal["push", "pull"] | None = None
    # What `callbot serve` does (`--role`): all of it, or on PostgreSQL, a web or a worker replica's share.
    role: Literal["all", "web", "worker"] = "all"
    database_path: Path = Path("callbot.db")
    # PostgreSQL instead of SQLite, for replicas sharing one database (README, "Outgrowing one machine").
    database_url: SecretStr | None = None
    database_pool_size: int = Field(default=10, ge=2, le=200, description="connections per process (PostgreSQL)")
    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    callbot_admins: CommaList = []
    default_region: str = "US"
    allowed_countries: CommaList = []
    default_caller_id: str | None = None
    max_call_duration_s: int = Field(default=600, ge=30, le=4 * 3600)
    allowed_number_types: CommaList = list(DEFAULT_NUMBER_TYPES)
    workspace_admins_are_admins: bool = False
    allowed_callers: CommaList = []
    membership_cache_s: float = Field(default=30.0, ge=0, le=3600)
    calls_per_user_per_hour: int = Field(default=10, ge=0)
    concurrent_calls_per_user: int = Field(default=2, ge=0)
    concurrent_calls_per_workspace: int = Field(default=10, ge=0)
    calling_hours: str = Field(
        default="08:00-21:00", description="local time at the destination when calls may start; `off` for any time"
    )
    # Spending caps, in the Voximplant account's currency, per UTC day and UTC month (0: no cap).
    spend_per_person_day: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    spend_per_workspace_month: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    # Recording is off until an admin turns it on; then each call is recorded only when its requester asks for it.
    recording_enabled: bool = False
    # The agent's first words on every call, before anything the instructions ask; {requester} is who asked.
    call_disclosure: str = briefing.DEFAULT_DISCLOSURE

    slack_pace_s: float = Field(default=1.0, ge=0, description="one write to a channel per this many seconds")
    slack_burst: int = Field(
        default=10, ge=1, description="writes a channel may take at once above that pace (bot/slack/pacing.py BURST)"
    )
    slack_updates_per_minute: float = Field(
        default=40, gt=0, description="chat.update calls a minute for the whole workspace (Slack's Tier 3: ~50)"
    )
    slack_broadcast_summary: bool = False  # post each call's final summary to the channel too (reply_broadcast)
    slack_parent_timeout_s: float = Field(
        default=15.0, gt=0, description="longest wait for a new call's message in Slack; past it, nothing is dialled"
    )
    reconcile_after_s: float = Field(default=300.0, gt=0, description="silence before asking the call history")
    reconcile_every_s: float = Field(default=30.0, gt=0, description="how often live calls are checked")
    schedule_every_s: float = Field(default=5.0, gt=0, le=60, description="how often scheduled calls due are dialled")
    lease_s: float = Field(
        default=15.0, ge=0.5, le=600, description="replicas: how long a dead replica's work waits before another's"
    )
    # The summary's written lines (bot/summaries/): off without a key. With it, each call's transcript goes to OpenAI.
    openai_api_key: SecretStr | None = None
    openai_base_url: str = OPENAI_BASE_URL
    openai_model: str = Field(default=OPENAI_MODEL, min_length=1)
    openai_timeout_s: float = Field(
        default=10.0, gt=0, le=60, description="the longest a summary waits for its written lines, retries included"
    )
    shutdown_grace_s: float = Field(default=20.0, ge=1, le=600, description="the longest a shutdown may take")

    @field_validator("callbot_admins", "allowed_countries", "allowed_number_types", "allowed_callers", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("allowed_countries", "default_region")
    @classmethod
    def _known_regions(cls, value: str | list[str]) -> str | list[str]:
        regions = [value] if isinstance(value, str) else value
        unknown = [r for r in regions if r.upper() not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"unknown region code(s) {', '.join(unknown)}; use ISO 3166 codes such as US, GB, DE")
        return value.upper() if isinstance(value, str) else [r.upper() for r in value]

    @field_validator("allowed_number_types")
    @classmethod
    def _known_number_types(cls, value: list[str]) -> list[str]:
        names = [name.lower() for name in value]
        unknown = [name for name in names if name not in NUMBER_TYPE_NAMES]
        if unknown:
            raise ValueError(f"unknown number type(s) {', '.join(unknown)}; use {', '.join(sorted(NUMBER_TYPE_NAMES))}")
        return names

    @field_validator("allowed_callers")
    @classmethod
    def _channel_or_group_ids(cls, value: list[str]) -> list[str]:
        wrong = [item for item in value if item[:1] not in {"C", "G", "S"}]
        if wrong:
            raise ValueError(
                f"{', '.join(wrong)}: give channel IDs (C…, G…) or user group IDs (S…), as Slack shows them"
            )
        return value

    @field_validator("calling_hours")
    @classmethod
    def _calling_hours(cls, value: str) -> str:
        if value.strip().lower() in {"off", ""}:
            return "off"
        Window.parse(value)  # ValueError says what it should look like
        return value.strip()

    @property
    def calling_window(self) -> Window | None:
        """CALLING_HOURS read, or None when it is off."""
        return None if self.calling_hours == "off" else Window.parse(self.calling_hours)

    @field_validator("default_caller_id")
    @classmethod
    def _e164_caller_id(cls, value: str | None) -> str | None:
        """The caller ID in E.164, as the allowlist stores numbers; a value that is no number is left for problems()."""
        if value is None:
            return None
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            return value
        if not phonenumbers.is_valid_number(number):
            return value
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    @field_validator("call_disclosure")
    @classmethod
    def _disclosure_template(cls, value: str) -> str:
        problem = briefing.check_template(value)
        if problem is not None:
            raise ValueError(problem)
        return value.strip()

    @field_validator("slack_api_url", "voximplant_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not is_postgres_url(value.get_secret_value()):
            raise ValueError("must be a PostgreSQL URL: postgresql://user:password@host:5432/dbname")
        return value

    @property
    def database(self) -> Path | str:
        """Where the store lives: DATABASE_URL (PostgreSQL) when set, else the SQLite file at DATABASE_PATH."""
        return self.database_url.get_secret_value() if self.database_url is not None else self.database_path

    @property
    def database_name(self) -> str:
        """The database, for messages and logs: DATABASE_PATH, or DATABASE_URL without its password."""
        return (
            describe(self.database_url.get_secret_value()) if self.database_url is not None else str(self.database_path)
        )

    @property
    def base_url(self) -> str | None:
        """PUBLIC_BASE_URL without its trailing slash, as the launch contract joins paths to it."""
        return str(self.public_base_url).rstrip("/") if self.public_base_url is not None else None

    @property
    def events_mode(self) -> Literal["push", "pull"]:
        """VOXIMPLANT_EVENTS, or its default: push when PUBLIC_BASE_URL is set, else pull."""
        if self.voximplant_events is not None:
            return self.voximplant_events
        return "push" if self.public_base_url is not None else "pull"

    @property
    def voximplant_configured(self) -> bool:
        """True when StartScenarios can be called: credentials and a rule (and in push mode, PUBLIC_BASE_URL)."""
        has_auth = self.voximplant_api_key is not None or self.voximplant_credentials is not None
        return (
            bool(self.voximplant_account_id or self.voximplant_credentials)
            and has_auth
            and self.voximplant_rule_id is not None
            and (self.events_mode == "pull" or self.public_base_url is not None)
        )

    def problems(self, *, need_slack: bool = True) -> list[str]:
        """Every missing or contradictory setting, each said in one line."""
        found: list[str] = []
        if self.role != "all" and self.database_url is None:
            found.append(
                f"--role {self.role} shares the work with other replicas through PostgreSQL: set DATABASE_URL "
                "(on SQLite, one `callbot serve` does it all)"
            )
        if need_slack:
            if self.slack_signing_secret is None and self.slack_app_token is None:
                found.append(
                    "SLACK_SIGNING_SECRET is not set (Slack app > Basic Information > Signing Secret), "
                    "nor SLACK_APP_TOKEN for Socket Mode"
                )
            if self.slack_bot_token is None:
                found.append("SLACK_BOT_TOKEN is not set (Slack app > OAuth & Permissions > Bot User OAuth Token)")
            elif not self.slack_bot_token.get_secret_value().startswith("xoxb-"):
                found.append("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
            if self.slack_app_token and not self.slack_app_token.get_secret_value().startswith("xapp-"):
                found.append("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
        if self.voximplant_api_key and self.voximplant_credentials:
            found.append("set VOXIMPLANT_API_KEY or VOXIMPLANT_CREDENTIALS, not both")
        if self.voximplant_api_key and not self.voximplant_account_id:
            found.append("VOXIMPLANT_API_KEY is set but VOXIMPLANT_ACCOUNT_ID is not")
        if self.voximplant_credentials and not self.voximplant_credentials.is_file():
            found.append(f"VOXIMPLANT_CREDENTIALS names {self.voximplant_credentials}, which is not a file")
        elif self.voximplant_credentials and not _is_key_file(self.voximplant_credentials):
            found.append(
                f"VOXIMPLANT_CREDENTIALS names {self.voximplant_credentials}, which is not a Voximplant "
                "service-account key file (JSON with account_id, key_id and private_key)"
            )
        if self.voximplant_events == "push" and self.public_base_url is None:
            found.append(
                "VOXIMPLANT_EVENTS=push needs PUBLIC_BASE_URL, where Voximplant reaches the bot; without a public "
                "address, leave VOXIMPLANT_EVENTS unset (or pull) and the bot fetches each call's news itself"
            )
        if self.base_url is not None and not launch.custom_data_fits(self.base_url):
            found.append(
                f"PUBLIC_BASE_URL is {launch.size(self.base_url)} bytes long; at most {launch.longest_base_url()} "
                f"fit, because Voximplant's custom data holds {launch.MAX_CUSTOM_DATA_BYTES} bytes and carries the "
                f"brief's URL ({self.base_url}{launch.BRIEF_PATH}): use a shorter host name or path"
            )
        if self.default_caller_id is not None:
            try:
                number = phonenumbers.parse(self.default_caller_id, None)
                if not phonenumbers.is_valid_number(number):
                    raise phonenumbers.NumberParseException(0, "invalid")
            except phonenumbers.NumberParseException:
                found.append("DEFAULT_CALLER_ID must be a full number in E.164 form, such as +14155550123")
        return found


def load_settings(*, need_slack: bool = True, **overrides: Any) -> Settings:
    """Build the settings from the environment (and `overrides`), or raise ConfigError listing every problem."""
    try:
        settings = Settings(**overrides)  # the environment first, then these (pydantic-settings validates both)
    except ValidationError as error:
        raise ConfigError(describe_errors(error)) from None
    problems = settings.problems(need_slack=need_slack)
    if problems:
        raise ConfigError(problems)
    return settings


def _is_key_file(path: Path) -> bool:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and all(data.get(key) for key in ("account_id", "key_id", "private_key"))


def describe_errors(error: ValidationError) -> list[str]:
    """Each setting pydantic could not read, one line each, as ConfigError lists them."""
    return [_describe(e) for e in error.errors()]


def _describe(error: object) -> str:
    details = error if isinstance(error, dict) else {}
    name = "_".join(str(part) for part in details.get("loc", ())).upper() or "settings"
    return f"{name}: {details.get('msg', 'invalid value')}"
