"""What the fake Discord records and models: Discord's numbers, and the things it keeps.

The constants are Discord's own (API version, gateway opcodes and close codes, interaction
and callback types, limits) plus the identities the fake answers as (bot token, app id);
the dataclasses are what a test reads back (`Call`, `Violation`, `Message`, `Interaction`)
and what it hands the fake to describe users, channels, servers and files. Kept apart from
`FakeDiscord` so its gateway and REST halves share them without importing each other.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

API_PREFIX = "/api/v10"
GATEWAY_VERSION = "10"
TOKEN = "test-token"  # the bot token the fake accepts unless told another
TOKEN_LIFETIME = 15 * 60.0  # Discord's interaction tokens live 15 minutes
ACK_WINDOW = 3.0  # seconds Discord waits for an interaction's first response
HEARTBEAT_INTERVAL_MS = 41_250  # what Discord's HELLO says
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024  # attachment_size_limit of an unboosted server
MAX_CONTENT = 2000
EPHEMERAL = 64
APP_ID = 4242
BOT_ID = 4243
MANAGE_GUILD = 1 << 5
GUILDS_INTENT = 1 << 0
# GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT: need a switch in the developer portal.
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)
KNOWN_INTENTS = (1 << 26) - 1

# Gateway opcodes and the close codes the fake uses, as Discord documents them.
DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT = 0, 1, 2, 6, 7
INVALID_SESSION, HELLO, HEARTBEAT_ACK = 9, 10, 11
CLIENT_OPS_AFTER_IDENTIFY = {3, 4, 8, 31}  # presence, voice state, members, soundboard
UNKNOWN_OPCODE, DECODE_ERROR, NOT_AUTHENTICATED, AUTHENTICATION_FAILED = 4001, 4002, 4003, 4004
ALREADY_AUTHENTICATED, INVALID_SEQ, INVALID_VERSION = 4005, 4007, 4012
INVALID_INTENTS, DISALLOWED_INTENTS = 4013, 4014

# Interaction types and the callback types each may get (Discord answers others with 50035).
PING, APPLICATION_COMMAND, COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
CALLBACK_TYPES: dict[int, set[int]] = {
    1: {PING},  # PONG
    4: {APPLICATION_COMMAND, COMPONENT, MODAL_SUBMIT},  # CHANNEL_MESSAGE_WITH_SOURCE
    5: {APPLICATION_COMMAND, COMPONENT, MODAL_SUBMIT},  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
    6: {COMPONENT},  # DEFERRED_UPDATE_MESSAGE
    7: {COMPONENT},  # UPDATE_MESSAGE
    8: {AUTOCOMPLETE},  # APPLICATION_COMMAND_AUTOCOMPLETE_RESULT
    9: {APPLICATION_COMMAND, COMPONENT},  # MODAL (not in answer to a modal submit)
}
FILE_PART = re.compile(r"files\[(\d+)\]")


@dataclass
class Call:
    """One request the bot made: where, the JSON (or multipart payload_json), the files."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    files: dict[str, tuple[str, bytes]]
    status: int = 200
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Violation:
    """A rule of Discord's the bot broke: which (short name), what exactly, in which call."""

    rule: str
    detail: str
    call: Call | None = None


@dataclass
class Message:
    """A message as the fake holds it: an interaction response, a followup, a channel post."""

    id: int
    channel_id: int
    content: str = ""
    flags: int = 0
    files: list[tuple[str, bytes]] = field(default_factory=list)
    deleted: bool = False
    edits: int = 0
    attachment_ids: list[int] = field(default_factory=list)  # parallel to `files`

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)


@dataclass(frozen=True)
class FakeFile:
    """A file the test uploaded to 'Discord': served at `url`, described by `payload`."""

    id: int
    filename: str
    size: int
    content_type: str | None
    url: str

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.url,
        }
        if self.content_type is not None:
            data["content_type"] = self.content_type
        return data


@dataclass(frozen=True)
class FakeUser:
    id: int
    name: str = "someone"

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.name,
            "global_name": self.name,
            "discriminator": "0",
            "avatar": None,
        }


BOT_USER = FakeUser(BOT_ID, "lipsync-bot")


@dataclass(frozen=True)
class FakeChannel:
    id: int
    name: str = "general"

    def payload(self, guild_id: int | None) -> dict[str, Any]:
        """As an interaction carries it (with the app's permissions there)."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": 0,
            "name": self.name,
            "position": 0,
            "permissions": "0",
        }
        if guild_id is not None:
            data["guild_id"] = str(guild_id)
        return data

    def guild_payload(self, position: int) -> dict[str, Any]:
        """As GUILD_CREATE lists it."""
        return {
            "id": str(self.id),
            "type": 0,
            "name": self.name,
            "position": position,
            "permission_overwrites": [],
            "parent_id": None,
            "topic": None,
            "nsfw": False,
            "rate_limit_per_user": 0,
            "last_message_id": None,
        }


@dataclass(frozen=True)
class FakeGuild:
    """A server the bot is in: announced in READY (unavailable) and then by GUILD_CREATE."""

    id: int
    name: str = "test server"
    channels: tuple[FakeChannel, ...] = (FakeChannel(2000),)

    def payload(self) -> dict[str, Any]:
        everyone = {
            "id": str(self.id),
            "name": "@everyone",
            "permissions": str((1 << 41) - 1 - MANAGE_GUILD - 8),  # no admin, no manage
            "position": 0,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }
        bot_member = {
            "user": {**BOT_USER.payload(), "bot": True},
            "roles": [],
            "joined_at": "2024-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
        }
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "owner_id": "1",
            "unavailable": False,
            "large": False,
            "member_count": 2,
            "joined_at": "2024-01-01T00:00:00+00:00",
            "roles": [everyone],
            "emojis": [],
            "stickers": [],
            "features": [],
            "channels": [c.guild_payload(i) for i, c in enumerate(self.channels)],
            "threads": [],
            "members": [bot_member],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "afk_timeout": 300,
            "afk_channel_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "application_id": None,
        }


@dataclass
class Interaction:
    """What the fake knows about an interaction it handed out: for checks and expiry."""

    id: int
    token: str
    channel_id: int
    created: float  # unix time, from the snowflake
    upload_limit: int
    kind: int = APPLICATION_COMMAND  # the interaction's type
    dispatched: float | None = None  # monotonic time of its INTERACTION_CREATE
    callback: dict[str, Any] | None = None
    original: Message | None = None
    loading: bool = False  # deferred, and neither edited, deleted nor followed up yet
    followups: list[Message] = field(default_factory=list)
