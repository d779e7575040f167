"""manifest.yml: valid against Slack's manifest schema, and in step with what the code registers and calls."""

from __future__ import annotations

import ast
import inspect
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import ids

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "tests" / "data" / "slack-manifest.schema.1.0.0.json").read_text())

# Bot scopes each Slack Web API method needs (api.slack.com/methods/<method>, "Required scopes"). A method the code
# calls that is missing here fails `test_every_web_api_method_the_code_calls_is_mapped_to_its_scopes`: add it.
METHOD_SCOPES: dict[str, set[str]] = {
    "auth_test": set(),
    "apps_connections_open": set(),  # callbot doctor: takes the app-level token (connections:write), no bot scope
    "chat_postMessage": {"chat:write"},
    "chat_update": {"chat:write"},
    "chat_postEphemeral": {"chat:write"},
    "chat_delete": {"chat:write"},
    "views_open": set(),
    "views_update": set(),
    "views_push": set(),
    "users_info": {"users:read"},
    "conversations_info": {"channels:read", "groups:read", "im:read", "mpim:read"},
    "conversations_open": {"im:write"},
    "conversations_members": {"channels:read", "groups:read", "im:read", "mpim:read"},
    "usergroups_users_list": {"usergroups:read"},
}
# Scopes no single method needs, each with the reason it is requested.
CAPABILITY_SCOPES = {
    "commands": "the /call command and the shortcuts",
    "chat:write.public": "post a call's thread in a public channel callbot was not invited to",
}
# A method may need any one of several scopes (conversations.info: whichever kind of conversation it is).
ANY_OF = {"conversations_info", "conversations_members"}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _registrations() -> dict[str, set[str]]:
    """Every `app.command/shortcut/view/action(<id>)` in bot/, with the id resolved (literal or ids.py enum)."""
    found: dict[str, set[str]] = {"command": set(), "shortcut": set(), "view": set(), "action": set()}
    for path in (ROOT / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in found or not isinstance(node.func.value, ast.Name) or not node.args:
                continue
            if node.func.value.id != "app":
                continue
            found[node.func.attr].add(_resolve(node.args[0], path))
    return found


def _resolve(arg: ast.expr, path: Path) -> str:
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name) and hasattr(ids, arg.value.id):
        return str(getattr(getattr(ids, arg.value.id), arg.attr))
    raise AssertionError(f"{path}: register listeners with a string or a bot/slack/ids.py id, not {ast.dump(arg)}")


# Every Web API method of the client (`chat_update` for chat.update); `api_call` is the generic door, not one.
WEB_API_METHODS = frozenset(
    name
    for name, value in vars(AsyncWebClient).items()
    if inspect.iscoroutinefunction(value) and not name.startswith("_") and name != "api_call"
)


def _web_api_methods() -> set[str]:
    """Web API methods the bot's own code (bot/, the fakes aside) uses, however it names them."""
    called: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        if "sandbox" not in path.parts:  # the fakes name methods too; only the bot's own calls count
            called |= _methods_named_in(path.read_text())
    return called


def _methods_named_in(source: str) -> set[str]:
    """Web API methods a module names: as an attribute, called or passed on (`client.chat_update`), or as a string
    (`getattr(client, "chat_update")`, `client.api_call("chat.update")`). Docstrings do not count."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in WEB_API_METHODS:
            found.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            name = node.value.replace(".", "_")
            if name in WEB_API_METHODS:
                found.add(name)
    return found


def _readme_scopes() -> dict[str, str]:
    """The README's bot scope table: {scope: why}."""
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index("| Scope | Why |")
    rows: dict[str, str] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        scope, why = (cell.strip() for cell in line.strip().strip("|").split("|", 1))
        rows[scope.strip("`")] = why
    return rows


def test_the_manifest_is_valid_against_slacks_schema(manifest: dict[str, Any]) -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    errors = sorted(jsonschema.Draft7Validator(SCHEMA).iter_errors(manifest), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_the_schema_catches_what_slack_would_refuse(manifest: dict[str, Any]) -> None:
    """The validator really checks: a too-long name, a bad shortcut type and a URL without scheme are refused."""
    broken = json.loads(json.dumps(manifest))
    broken["display_information"]["name"] = "x" * 36
    broken["features"]["shortcuts"][0]["type"] = "sideways"
    broken["settings"]["interactivity"]["request_url"] = "callbot.example.com/slack/events"
    messages = [e.message for e in jsonschema.Draft7Validator(SCHEMA).iter_errors(broken)]
    assert len(messages) == 3, messages


def test_display_information_follows_slacks_rules(manifest: dict[str, Any]) -> None:
    info = manifest["display_information"]
    # The schema spells this rule with a non-standard `regex` keyword that validators ignore, so check it here.
    assert re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", info["background_color"])
    assert manifest["features"]["bot_user"]["display_name"]


def test_every_url_points_at_the_slack_events_route(manifest: dict[str, Any]) -> None:
    urls = [c["url"] for c in manifest["features"]["slash_commands"]]
    urls.append(manifest["settings"]["interactivity"]["request_url"])
    assert all(re.fullmatch(r"https://[a-z0-9.-]+/slack/events", url) for url in urls), urls


def test_every_command_the_code_registers_is_declared(manifest: dict[str, Any]) -> None:
    declared = {c["command"] for c in manifest["features"]["slash_commands"]}
    registered = _registrations()["command"]
    assert registered, "found no app.command(...) in bot/: the scan is broken"
    assert registered <= declared, f"registered but not in manifest.yml: {registered - declared}"
    assert all(c.get("usage_hint") and c.get("should_escape") for c in manifest["features"]["slash_commands"])


def test_every_shortcut_the_code_registers_is_declared(manifest: dict[str, Any]) -> None:
    declared = {s["callback_id"] for s in manifest["features"].get("shortcuts", [])}
    registered = _registrations()["shortcut"]
    assert registered <= declared, f"registered but not in manifest.yml: {registered - declared}"
    kinds = {s["callback_id"]: s["type"] for s in manifest["features"]["shortcuts"]}
    assert kinds == {"place_call": "global", "call_about_message": "message"}


def test_interactivity_is_on_when_the_code_has_buttons_views_or_shortcuts(manifest: dict[str, Any]) -> None:
    found = _registrations()
    needs = bool(found["action"] or found["view"] or found["shortcut"] or manifest["features"].get("shortcuts"))
    assert manifest["settings"]["interactivity"]["is_enabled"] is needs


def test_every_web_api_method_the_code_calls_is_mapped_to_its_scopes() -> None:
    called = _web_api_methods()
    assert {"chat_postMessage", "chat_update", "users_info"} <= called, f"the scan is broken: it found {called}"
    missing = called - set(METHOD_SCOPES)
    assert not missing, f"add these methods and their scopes to METHOD_SCOPES: {missing}"


def test_the_manifest_requests_every_scope_the_code_needs_and_no_more(manifest: dict[str, Any]) -> None:
    requested = set(manifest["oauth_config"]["scopes"]["bot"])
    called = _web_api_methods()
    needed: set[str] = set()
    for method in called:
        scopes = METHOD_SCOPES[method]
        if method in ANY_OF:
            assert scopes & requested, f"{method} needs one of {scopes}"
            needed |= scopes & requested
        else:
            needed |= scopes
    assert needed <= requested, f"the code calls methods needing {needed - requested}"
    unexplained = requested - needed - set(CAPABILITY_SCOPES)
    assert not unexplained, f"requested but nothing needs them: {unexplained}"
    assert "commands" in requested


def test_the_scan_sees_methods_named_by_attribute_or_by_string_but_not_in_docstrings() -> None:
    source = """
def send(client, method):
    \"\"\"Calls chat.delete and chat_postEphemeral, in words only.\"\"\"
    later = client.chat_update
    getattr(client, "views_publish")(view={})
    client.api_call("reactions.add")
    return client.users_info(user="U1"), method.__name__
"""
    assert _methods_named_in(source) == {"chat_update", "views_publish", "reactions_add", "users_info"}


def test_every_scope_the_manifest_requests_is_justified_in_the_readme_and_no_other(manifest: dict[str, Any]) -> None:
    requested = set(manifest["oauth_config"]["scopes"]["bot"])
    justified = _readme_scopes()
    assert set(justified) == requested, {
        "requested, not in README": requested - set(justified),
        "in README, not requested": set(justified) - requested,
    }
    assert all(len(why) > 10 for why in justified.values()), justified


POSTING_METHODS = {"chat_postMessage", "chat_postEphemeral"}


def _posts_to_a_user_id(source: str) -> bool:
    """Whether a module posts to a user ID: a `channel=` that is a user ID (`….user_id`, `user_id`) given to
    chat_postMessage or chat_postEphemeral, directly or through a helper that is handed the method."""
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        named = {a.attr for a in [node.func, *node.args] if isinstance(a, ast.Attribute)}
        if not named & POSTING_METHODS:
            continue
        for keyword in node.keywords:
            value = keyword.value
            if keyword.arg == "channel" and (
                (isinstance(value, ast.Attribute) and value.attr == "user_id")
                or (isinstance(value, ast.Name) and value.id == "user_id")
            ):
                return True
    return False


def test_the_messages_tab_is_on_whenever_the_code_posts_to_a_user_id(manifest: dict[str, Any]) -> None:
    # Posting to a user ID is a DM from the app, which Slack refuses (messages_tab_disabled) unless App Home's
    # Messages tab is on (docs.slack.dev/reference/app-manifest: features.app_home).
    posting = [
        p for p in (ROOT / "bot").rglob("*.py") if "sandbox" not in p.parts and _posts_to_a_user_id(p.read_text())
    ]
    assert posting, "found no post to a user ID in bot/: the scan is broken (or the DM fallback is gone)"
    app_home = manifest["features"].get("app_home", {})
    assert app_home.get("messages_tab_enabled") is True, f"{[p.name for p in posting]} post to user IDs"


def test_the_user_id_scan_tells_a_dm_from_a_channel_post() -> None:
    assert _posts_to_a_user_id("client.chat_postMessage(channel=origin.user_id, text='x')")
    assert _posts_to_a_user_id("send(where, client.chat_postMessage, channel=user_id, text='x')")
    assert not _posts_to_a_user_id("client.chat_postEphemeral(channel=origin.conversation_id, user=origin.user_id)")
    assert not _posts_to_a_user_id("client.chat_update(channel=origin.user_id, ts='1')")


def test_the_scan_resolves_enum_ids() -> None:
    tree = ast.parse("app.action(ActionId.HANG_UP)")
    call = tree.body[0].value  # type: ignore[attr-defined]
    assert _resolve(call.args[0], Path("x.py")) == "call_hang_up"
