"""What an outbox row asks Slack for."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """A queued write's kind; the call's worker (`outbox.py`) sends them in the order they were queued."""

    PARENT = "parent"  # the call's parent message; its ts is stored before anything else goes (`threads.py`)
    UPDATE = "update"  # the parent re-rendered from the call as it is when sent (`updater.py`)
    REPLY = "reply"  # a thread reply; consecutive transcript lines share one (`replies.py`)
    SUMMARY = "summary"  # the call's final reply, written when it is sent (`replies.py`)
    DM = "dm"  # a message to one person alone (body: user, text), never redirected to the call's conversation
