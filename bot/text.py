"""Plain-text helpers shared by the domain, the Voximplant client and the Slack builders."""

from __future__ import annotations


def shorten(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, ending in … when cut (no markup awareness: see blocks.clip for mrkdwn)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
