"""compose.yaml and deploy/nginx.conf against the code: the services, the settings they name, the commands they
run and the health checks they ask, so that the file cannot drift from what callbot is."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from bot.__main__ import _parser
from bot.app import create_app
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SETTING_NAMES = {name.upper() for name in Settings.model_fields}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def routes() -> set[str]:
    app = create_app(Settings(_env_file=None))  # type: ignore[call-arg]
    return {route.path for route in app.routes}  # type: ignore[attr-defined]


def test_the_services_are_the_database_a_migration_the_replicas_and_a_balancer(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "callbot", "balancer"}
    assert services["callbot"]["deploy"]["replicas"] >= 2
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["callbot"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["balancer"]["depends_on"]["callbot"]["condition"] == "service_healthy"
    for name in ("migrate", "callbot"):  # built here from the Dockerfile, never pulled
        assert services[name]["build"] == "." and services[name]["image"] == "callbot"


def test_every_environment_name_is_a_setting_and_the_database_url_is_valid(compose: dict[str, Any]) -> None:
    for name in ("migrate", "callbot"):
        environment = compose["services"][name]["environment"]
        assert set(environment) <= SETTING_NAMES, set(environment) - SETTING_NAMES
        url = environment["DATABASE_URL"].replace("${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}", "pw")
        settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
        parts = urlsplit(url)
        database = compose["services"]["postgres"]["environment"]
        assert (parts.username, parts.hostname, parts.path) == (
            database["POSTGRES_USER"], "postgres", "/" + database["POSTGRES_DB"],
        )  # fmt: skip
        assert settings.database_name == f"postgresql://callbot@postgres:5432/{database['POSTGRES_DB']}"
    example = ROOT / ".env.example"  # what `cp .env.example callbot.env` gives the replicas
    names = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example.read_text(), re.MULTILINE))
    assert names and names <= SETTING_NAMES, names - SETTING_NAMES


def test_the_commands_are_callbots_own(compose: dict[str, Any]) -> None:
    for name in ("migrate", "callbot"):
        command = compose["services"][name]["command"]
        assert command[0] == "callbot"
        _parser().parse_args(command[1:])  # exits (fails the test) on a command callbot does not have
    assert compose["services"]["callbot"]["command"] == ["callbot", "serve"]


def test_the_health_checks_ask_what_the_code_serves(compose: dict[str, Any]) -> None:
    services = compose["services"]
    served = routes()
    port = services["callbot"]["environment"]["PORT"]
    asked = re.search(r"http://127\.0\.0\.1:(\d+)(/\w+)", " ".join(services["callbot"]["healthcheck"]["test"]))
    assert asked is not None and asked.group(1) == port and asked.group(2) in served
    assert services["callbot"]["environment"]["HOST"] == "0.0.0.0"  # reachable from the balancer
    through = re.search(r"http://127\.0\.0\.1(/\w+)", " ".join(services["balancer"]["healthcheck"]["test"]))
    assert through is not None and through.group(1) == "/healthz" and "/healthz" in served
    assert services["postgres"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    grace = float(services["callbot"]["stop_grace_period"].removesuffix("s"))
    assert grace > Settings.model_fields["shutdown_grace_s"].default  # a stopping replica finishes its work


def test_the_balancer_sends_every_path_to_the_replicas_port(compose: dict[str, Any]) -> None:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    port = compose["services"]["callbot"]["environment"]["PORT"]
    assert re.search(rf"server callbot:{port}\b", conf)
    assert "location / {" in conf and "proxy_pass http://callbot;" in conf
    mount = compose["services"]["balancer"]["volumes"][0]
    assert mount.startswith("./deploy/nginx.conf:")
    assert compose["services"]["balancer"]["ports"] == [f"{port}:80"]
