"""What manifest.yml asks Slack for, for code that cannot read the file (the Docker image ships without it).

tests/test_doctor.py keeps BOT_SCOPES equal to the manifest's `oauth_config.scopes.bot`.
"""

from __future__ import annotations

BOT_SCOPES: tuple[str, ...] = (
    "commands",
    "chat:write",
    "chat:write.public",
    "users:read",
    "usergroups:read",
    "channels:read",
    "groups:read",
)
