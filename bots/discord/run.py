"""Running the Discord bot: inside `lipsync serve`, or alone with `lipsync bot discord`.

`DiscordDoor` runs discord.py's client in the caller's event loop (a task around
`client.start`), next to the HTTP API and the worker pool, sharing one `Service`. Slash
commands need no privileged intents and no message content: only interactions.

The token comes from `[discord] token` in config.toml or `LIPSYNC_DISCORD_TOKEN`; it is
handed to discord.py and never logged: while the door runs, every log line of the process is
scrubbed of it (raw or percent-encoded; see `bots.redaction`). discord.py sends it only in
the Authorization header and the gateway's IDENTIFY/RESUME payloads, never base64-encoded,
so those are the forms there are to catch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import discord

from bots import redaction
from bots.discord import commands
from bots.discord.guild_settings import Gate, GuildSettings, GuildSettingsStore
from bots.discord.options import DoorOptions
from bots.discord.render import Renderer
from engine.service import Service

log = logging.getLogger("lipsync.discord")

STOP_TIMEOUT = 10.0


class LipsyncClient(discord.Client):
    """A discord.py client that only answers slash commands, with our tree installed."""

    def __init__(self, service: Service, options: DoorOptions | None = None) -> None:
        super().__init__(intents=discord.Intents(guilds=True))
        self.options = options or DoorOptions()
        defaults = GuildSettings(
            cooldown_seconds=self.options.default_cooldown_seconds,
            max_jobs=self.options.default_max_jobs,
        )
        self.guild_settings = GuildSettingsStore(
            service.settings.data_path / "discord" / "guilds.json", defaults
        )
        self.renderer = Renderer(service, self.options, self.guild_settings, Gate(service))
        self.tree = commands.LipsyncTree(self)
        commands.install(self.tree, service, self.renderer, self.guild_settings)

    async def setup_hook(self) -> None:
        """Register the commands with Discord (global commands reach every server)."""
        await asyncio.to_thread(self.renderer.sweep_incoming)
        if self.options.sync_commands:
            synced = await self.tree.sync()
            log.info("registered %d slash commands with Discord", len(synced))

    async def close(self) -> None:
        await self.renderer.stop()
        await super().close()


class DiscordDoor:
    """The bot as a door of `lipsync serve`: `start()` returns at once, `stop()` cleans up."""

    def __init__(
        self, service: Service, *, options: DoorOptions | None = None, token: str | None = None
    ) -> None:
        self.service = service
        self.options = options
        self.token = token or service.settings.discord.token
        self.client: LipsyncClient | None = None
        self.task: asyncio.Task[None] | None = None
        # The bot token, and the per-interaction tokens that answer as the bot for 15 minutes.
        self._redact = redaction.Redactor(
            redaction.token_secrets(self.token or ""),
            "<discord-token>",
            patterns=redaction.DISCORD_SECRET_PATTERNS,
        )

    async def start(self) -> None:
        if not self.token:
            raise ValueError("no Discord token: set [discord] token or LIPSYNC_DISCORD_TOKEN")
        redaction.install(self._redact)
        self.client = LipsyncClient(self.service, self.options)
        self.task = asyncio.create_task(self._run(self.client), name="discord-bot")

    async def _run(self, client: LipsyncClient) -> None:
        try:
            await client.start(self.token)
        except discord.LoginFailure:
            log.error("Discord refused the bot token; the Discord bot is not running")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the Discord bot stopped")

    async def stop(self) -> None:
        try:
            if self.client is not None and not self.client.is_closed():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.client.close(), STOP_TIMEOUT)
            if self.task is not None:
                if not self.task.done():
                    self.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self.task
        finally:
            redaction.uninstall(self._redact)
