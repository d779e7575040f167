"""Slack's Block Kit limits for modal views and messages, as the fake Slack enforces them on views.open, and on
chat.postMessage and chat.update (which answer `invalid_blocks`).

Each problem is worded as Slack words it in `response_metadata.messages` of an `invalid_arguments` error:
`[ERROR] <what> [json-pointer:/view/<path>]`. Limits from Slack's reference for views, blocks, elements and
composition objects; only the parts callbot uses are checked.
"""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

MAX_VIEW_BYTES = 250_000
MAX_BLOCKS = 100
MAX_TITLE = 24  # title, submit and close
MAX_PRIVATE_METADATA = 3000
MAX_ID = 255  # callback_id, block_id, action_id
MAX_LABEL = 2000  # input label and hint
MAX_PLACEHOLDER = 150
MAX_OPTIONS = 100
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_TEXT_INPUT = 3000
MAX_SECTION_TEXT = 3000
MAX_CONTEXT_ELEMENTS = 10
MAX_MESSAGE_BLOCKS = 50  # a message holds up to 50 blocks, a modal 100 (docs.slack.dev/reference/block-kit/blocks)


def view_problems(view: dict[str, Any]) -> list[str]:
    """Every way `view` breaks Slack's limits; empty when Slack would accept it."""
    found: list[str] = []

    def problem(what: str, pointer: str) -> None:
        found.append(f"[ERROR] {what} [json-pointer:/view{pointer}]")

    def text_object(value: Any, pointer: str, limit: int, *, plain_only: bool = True) -> None:
        if not isinstance(value, dict) or not isinstance(value.get("text"), str):
            problem("must be a text object", pointer)
            return
        if plain_only and value.get("type") != "plain_text":
            problem("must be plain_text", pointer + "/type")
        if not value["text"]:
            problem("must be more than 0 characters", pointer + "/text")
        if len(value["text"]) > limit:
            problem(f"must be less than {limit + 1} characters", pointer + "/text")

    if view.get("type") != "modal":
        problem("must be modal", "/type")
    text_object(view.get("title"), "/title", MAX_TITLE)
    for key in ("submit", "close"):
        if key in view:
            text_object(view[key], f"/{key}", MAX_TITLE)
    metadata = view.get("private_metadata", "")
    if not isinstance(metadata, str) or len(metadata) > MAX_PRIVATE_METADATA:
        problem(f"must be a string of at most {MAX_PRIVATE_METADATA} characters", "/private_metadata")
    if len(str(view.get("callback_id", ""))) > MAX_ID:
        problem(f"must be less than {MAX_ID + 1} characters", "/callback_id")
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        problem("must be an array", "/blocks")
        return found
    if len(blocks) > MAX_BLOCKS:
        problem(f"no more than {MAX_BLOCKS} items allowed", "/blocks")
    has_input = False
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"/blocks/{index}"
        before = len(found)
        _view_block_problems(block, where, block_ids, problem, text_object)
        if len(found) == before:  # slack_sdk's models catch what the checks here do not spell out
            found.extend(p.replace("[json-pointer:", "[json-pointer:/view", 1) for p in _sdk_problems(block, where))
        has_input = has_input or block.get("type") == "input"
    if has_input and "submit" not in view:
        problem("a view with input blocks needs submit", "/submit")
    if len(json.dumps(view).encode()) > MAX_VIEW_BYTES:
        problem("view_too_large", "")
    return found


def _view_block_problems(
    block: dict[str, Any], where: str, block_ids: set[str], problem: Any, text_object: Any
) -> None:
    """One view block against the checks spelled out here (problems go to `problem`)."""
    block_id = block.get("block_id")
    if block_id is not None:
        if block_id in block_ids:
            problem("duplicate block_id", where + "/block_id")
        block_ids.add(block_id)
        if len(block_id) > MAX_ID:
            problem(f"must be less than {MAX_ID + 1} characters", where + "/block_id")
    kind = block.get("type")
    if kind == "input":
        text_object(block.get("label"), where + "/label", MAX_LABEL)
        if "hint" in block:
            text_object(block["hint"], where + "/hint", MAX_LABEL)
        _element_problems(block.get("element") or {}, where + "/element", problem, text_object)
    elif kind == "section":
        text_object(block.get("text"), where + "/text", MAX_SECTION_TEXT, plain_only=False)
    elif kind == "context":
        elements = block.get("elements") or []
        if not elements or len(elements) > MAX_CONTEXT_ELEMENTS:
            problem(f"must have 1 to {MAX_CONTEXT_ELEMENTS} elements", where + "/elements")
        for n, element in enumerate(elements):
            text_object(element, f"{where}/elements/{n}", MAX_SECTION_TEXT, plain_only=False)
    elif kind not in {"divider", "header", "actions"}:
        problem(f"unsupported type {kind!r}", where + "/type")


def message_problems(blocks: list[dict[str, Any]]) -> list[str]:
    """Every way a message's `blocks` break Block Kit's limits: at most 50 blocks, unique block_ids, and each
    block's own limits (text, fields and element counts, button, confirm and id lengths) as slack_sdk's models
    check them (`slack_sdk.models.blocks`, which follow docs.slack.dev/reference/block-kit)."""
    found: list[str] = []
    if len(blocks) > MAX_MESSAGE_BLOCKS:
        found.append(f"[ERROR] no more than {MAX_MESSAGE_BLOCKS} items allowed [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"/blocks/{index}"
        block_id = block.get("block_id") if isinstance(block, dict) else None
        if block_id is not None:
            if block_id in block_ids:
                found.append(f"[ERROR] duplicate block_id [json-pointer:{where}/block_id]")
            block_ids.add(block_id)
        own = _text_problems(block, where)
        found.extend(own or _sdk_problems(block, where))
    return found


def _text_problems(block: dict[str, Any], where: str) -> list[str]:
    """Section and context texts over 3,000 characters, worded and located as Slack does."""
    found: list[str] = []
    texts = [(block.get("text"), where + "/text")] if block.get("type") == "section" else []
    if block.get("type") == "context":
        texts = [(element, f"{where}/elements/{n}") for n, element in enumerate(block.get("elements") or [])]
    for text, pointer in texts:
        if isinstance(text, dict) and len(str(text.get("text", ""))) > MAX_SECTION_TEXT:
            limit = f"must be less than {MAX_SECTION_TEXT + 1} characters"
            found.append(f"[ERROR] {limit} [json-pointer:{pointer}/text]")
    return found


def _sdk_problems(block: Any, where: str) -> list[str]:
    """What slack_sdk's Block Kit models find wrong with one block (the first problem; Slack lists each)."""
    parsed = Block.parse(block) if isinstance(block, dict) else None
    if parsed is None:
        return [f"[ERROR] unsupported block [json-pointer:{where}]"]
    try:
        parsed.to_dict()  # validates the block and every element and composition object in it
    except SlackObjectFormationError as error:
        return [f"[ERROR] {error} [json-pointer:{where}]"]
    return []


def _element_problems(element: dict[str, Any], where: str, problem: Any, text_object: Any) -> None:
    kind = element.get("type")
    if len(str(element.get("action_id", ""))) > MAX_ID:
        problem(f"must be less than {MAX_ID + 1} characters", where + "/action_id")
    if "placeholder" in element:
        text_object(element["placeholder"], where + "/placeholder", MAX_PLACEHOLDER)
    if kind == "plain_text_input":
        max_length = element.get("max_length", MAX_TEXT_INPUT)
        if not isinstance(max_length, int) or not 0 < max_length <= MAX_TEXT_INPUT:
            problem(f"must be between 1 and {MAX_TEXT_INPUT}", where + "/max_length")
        elif len(element.get("initial_value", "")) > max_length:
            problem("initial_value must not be longer than max_length", where + "/initial_value")
    elif kind == "static_select":
        options = element.get("options") or []
        if not 0 < len(options) <= MAX_OPTIONS:
            problem(f"must have 1 to {MAX_OPTIONS} items", where + "/options")
        for n, option in enumerate(options):
            text_object(option.get("text"), f"{where}/options/{n}/text", MAX_OPTION_TEXT)
            if not 0 < len(str(option.get("value", ""))) <= MAX_OPTION_VALUE:
                problem(f"must be 1 to {MAX_OPTION_VALUE} characters", f"{where}/options/{n}/value")
        if "initial_option" in element and element["initial_option"] not in options:
            problem("initial_option must match one of the options", where + "/initial_option")
    elif kind == "number_input":
        if not isinstance(element.get("is_decimal_allowed"), bool):
            problem("is_decimal_allowed is required", where + "/is_decimal_allowed")
        low, high = element.get("min_value"), element.get("max_value")
        initial = element.get("initial_value")
        try:
            if low is not None and high is not None and float(low) > float(high):
                problem("min_value must not exceed max_value", where + "/min_value")
            if initial is not None and (
                (low is not None and float(initial) < float(low)) or (high is not None and float(initial) > float(high))
            ):
                problem("initial_value must be between min_value and max_value", where + "/initial_value")
        except ValueError:
            problem("must be a number", where)
    elif kind == "conversations_select":
        pass
    elif kind == "datetimepicker":
        # Unix seconds, 10 digits (docs.slack.dev/reference/block-kit/block-elements/datetime-picker-element)
        initial = element.get("initial_date_time")
        if initial is not None and not (isinstance(initial, int) and len(str(initial)) == 10):
            problem("initial_date_time must be a Unix timestamp in seconds (10 digits)", where + "/initial_date_time")
    else:
        problem(f"unsupported element type {kind!r}", where + "/type")
