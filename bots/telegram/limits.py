"""What Telegram lets a bot move, and how often the bot may touch a chat.

The cloud Bot API lets a bot download files of at most 20 MB and upload at most 50 MB; a
local Bot API server (`telegram-bot-api --local`, configured as `telegram.base_url`) lifts
both to 2000 MB. These numbers are Telegram's, not the operator's, so they live here as
constants rather than in config.toml; tests pass smaller `Limits` to exercise the edges.
"""

from __future__ import annotations

from dataclasses import dataclass

from bots.shared import MB

CLOUD_DOWNLOAD_BYTES = 20 * MB
CLOUD_UPLOAD_BYTES = 50 * MB
LOCAL_SERVER_BYTES = 2000 * MB

# Telegram throttles bots that edit one message more than about once a second, and a chat
# action shows for five seconds: refreshing it every four keeps "sending video" on screen.
EDIT_EVERY_SECONDS = 2.0
ACTION_EVERY_SECONDS = 4.0


@dataclass(frozen=True)
class Limits:
    download_bytes: int = CLOUD_DOWNLOAD_BYTES
    upload_bytes: int = CLOUD_UPLOAD_BYTES
    local_server: bool = False
    edit_every: float = EDIT_EVERY_SECONDS
    action_every: float = ACTION_EVERY_SECONDS

    @classmethod
    def for_base_url(cls, base_url: str) -> Limits:
        """Cloud limits for Telegram's own servers, the local server's for any other URL."""
        if not base_url or "api.telegram.org" in base_url:
            return cls()
        return cls(
            download_bytes=LOCAL_SERVER_BYTES, upload_bytes=LOCAL_SERVER_BYTES, local_server=True
        )
