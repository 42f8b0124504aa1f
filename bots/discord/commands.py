"""The slash-command tree: what users type, mapped onto the render flow and the engine.

A voice is a sound file or a `text` the engine speaks (espeak-ng), exactly one per voice;
`voice` picks who speaks the text (a language or a voice id, checked by the engine).

Command layout (Discord allows a name to be either a command or a group, not both, and
permissions can only be set per top-level command):

    /lipsync image | video | duet          make a video (anyone, in allowed channels)
    /credits balance | grant               your credits; grant is for the bot's admins
    /jobs                                  your recent videos
    /lipsync-settings show | allow-channel | remove-channel | all-channels | cooldown |
                      max-jobs             per-server settings (Manage Server)

`/credits` is a group rather than a plain command because `/credits grant` must exist
too. `/lipsync-settings` is a top-level group of its own so Discord can hide it from
members without Manage Server (`default_member_permissions`); the bot checks the
permission again itself.
"""

from __future__ import annotations

import logging
from typing import Literal, get_args

import discord
from discord import app_commands

from bots.discord import texts
from bots.discord.attachments import VoiceOption, Wanted
from bots.discord.delivery import reply_privately
from bots.discord.guild_settings import (
    MAX_COOLDOWN_SECONDS,
    MAX_JOBS_LIMIT,
    GuildSettings,
    GuildSettingsStore,
)
from bots.discord.render import PLATFORM, Order, Renderer
from engine.job_request import input_kinds
from engine.service import Service
from engine.vocabulary import CHAT_RESOLUTIONS, Model, Resolution, Role
from engine.vocabulary import Order as DuetOrder

log = logging.getLogger("lipsync.discord")

# discord.py builds an option's choices from a Literal of plain strings (not enum members),
# so the resolutions are spelled here once more, and checked against the engine's.
ResolutionChoice = Literal["480p", "720p"]
assert set(get_args(ResolutionChoice)) == set(CHAT_RESOLUTIONS)
# A duet's order as the user picks it, in this door's words.
ORDER_CHOICES: dict[DuetOrder, str] = {
    DuetOrder.MEANWHILE: "both at once",
    DuetOrder.LEFT_RIGHT: "left first, then right",
    DuetOrder.RIGHT_LEFT: "right first, then left",
}
VOICE_HELP = "Voice for the text: a language (es, ja, tr) or a voice id (espeak:en-gb)"
TEXT_HELP = "Or, instead of a sound file: what the person should say (spoken for you)"
JOBS_SHOWN = 10
MAX_GRANT = 1_000_000


class LipsyncTree(app_commands.CommandTree):
    """The command tree, with one catch-all: a bug answers privately instead of silently."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError, /
    ) -> None:
        log.error("slash command failed", exc_info=error)
        await reply_privately(interaction, texts.INTERNAL_ERROR)


def wanted(model: Model, role: Role, option: str | None = None) -> Wanted:
    """The attachment option that fills `role` of `model` (named after the role unless
    `option` says otherwise), taking the kind of media the engine asks for."""
    return Wanted(option or role.value, role, input_kinds(model)[role])


def _voice(
    model: Model, role: Role, attachment: discord.Attachment | None, text: str | None, name: str
) -> VoiceOption:
    """The voice of `role`: the attachment option named after the role, or the text `name`."""
    return VoiceOption(wanted(model, role), attachment, text, name)


class LipsyncGroup(app_commands.Group):
    """`/lipsync image|video|duet`: parse the options, hand them to the render flow."""

    def __init__(self, renderer: Renderer) -> None:
        super().__init__(name="lipsync", description="Make a lip-synced video")
        self.renderer = renderer

    @app_commands.command(name="image", description="Make a photo talk with your audio")
    @app_commands.describe(
        image="A photo with one clear face (JPEG, PNG or WebP)",
        audio="The voice (MP3, WAV, OGG, M4A, OPUS, or a video with sound)",
        text=TEXT_HELP,
        voice=VOICE_HELP,
        resolution="Output size (720p costs twice as much)",
        prompt="Optional style hint, e.g. 'calm' or 'expressive'",
    )
    async def image(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment,
        audio: discord.Attachment | None = None,
        text: str | None = None,
        voice: str | None = None,
        resolution: ResolutionChoice = Resolution.P480,
        prompt: str | None = None,
    ) -> None:
        params: dict[str, object] = {"resolution": resolution}
        if prompt:
            params["prompt"] = prompt
        files = [(wanted(Model.IMAGE, Role.IMAGE), image)]
        voices = [_voice(Model.IMAGE, Role.AUDIO, audio, text, "text")]
        order = Order(Model.IMAGE, files, params, voices, voice)
        await self.renderer.start(interaction, order)

    @app_commands.command(name="video", description="Re-voice a video: its lips follow your audio")
    @app_commands.describe(
        video="A video showing the speaker's face (MP4, MOV, WebM or MKV)",
        audio="The new voice (MP3, WAV, OGG, M4A, OPUS, or a video with sound)",
        text=TEXT_HELP,
        voice=VOICE_HELP,
        resolution="Output size (720p costs twice as much)",
        mask="Optional black-and-white picture: only the white area may change",
    )
    async def video(
        self,
        interaction: discord.Interaction,
        video: discord.Attachment,
        audio: discord.Attachment | None = None,
        text: str | None = None,
        voice: str | None = None,
        resolution: ResolutionChoice = Resolution.P480,
        mask: discord.Attachment | None = None,
    ) -> None:
        files = [(wanted(Model.VIDEO, Role.VIDEO), video)]
        if mask is not None:
            files.append((wanted(Model.VIDEO, Role.MASK_IMAGE, "mask"), mask))
        voices = [_voice(Model.VIDEO, Role.AUDIO, audio, text, "text")]
        order = Order(Model.VIDEO, files, {"resolution": resolution}, voices, voice)
        await self.renderer.start(interaction, order)

    @app_commands.command(name="duet", description="Two people in one photo, each with a voice")
    @app_commands.describe(
        image="A photo showing exactly two faces",
        order="Both at once, or one after the other",
        left_audio="The voice of the person on the left",
        right_audio="The voice of the person on the right",
        left_text="Or what the person on the left should say (spoken for you)",
        right_text="Or what the person on the right should say (spoken for you)",
        voice=VOICE_HELP,
        resolution="Output size (720p costs twice as much)",
    )
    @app_commands.choices(
        order=[
            app_commands.Choice(name=name, value=order.value)
            for order, name in ORDER_CHOICES.items()
        ]
    )
    async def duet(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment,
        order: app_commands.Choice[str],
        left_audio: discord.Attachment | None = None,
        right_audio: discord.Attachment | None = None,
        left_text: str | None = None,
        right_text: str | None = None,
        voice: str | None = None,
        resolution: ResolutionChoice = Resolution.P480,
    ) -> None:
        model = Model.IMAGE_MULTI
        files = [(wanted(model, Role.IMAGE), image)]
        voices = [
            _voice(model, Role.LEFT_AUDIO, left_audio, left_text, "left_text"),
            _voice(model, Role.RIGHT_AUDIO, right_audio, right_text, "right_text"),
        ]
        params = {"resolution": resolution, "order": order.value}
        await self.renderer.start(interaction, Order(model, files, params, voices, voice))


class CreditsGroup(app_commands.Group):
    """`/credits balance` for everyone, `/credits grant` for the bot's admins (config)."""

    def __init__(self, service: Service) -> None:
        super().__init__(name="credits", description="Your lipsync credits")
        self.service = service

    @app_commands.command(name="balance", description="Show your credits and what videos cost")
    async def balance(self, interaction: discord.Interaction) -> None:
        user = interaction.user
        account = await self.service.user_account(PLATFORM, user.id, user.name)
        prices = self.service.price_list()
        rates = {r: prices.credits_per_second[r] for r in CHAT_RESOLUTIONS}
        text = texts.balance(account.balance, rates, prices.min_seconds)
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="grant", description="Give credits to a user (bot admins only)")
    @app_commands.describe(
        user="Who gets the credits", credits="How many", note="Why (kept in the ledger)"
    )
    async def grant(
        self,
        interaction: discord.Interaction,
        user: discord.User,
        credits: app_commands.Range[int, 1, MAX_GRANT],
        note: str | None = None,
    ) -> None:
        if interaction.user.id not in self.service.settings.discord.admins:
            await reply_privately(interaction, "Only this bot's admins can grant credits.")
            return
        account = await self.service.user_account(PLATFORM, user.id, user.name)
        await self.service.grant(
            account.id, credits, note=note or f"granted on Discord by {interaction.user.id}"
        )
        updated = await self.service.get_account(account.id)
        await reply_privately(
            interaction,
            f"Granted {texts.credits(credits)} to {user.mention}; "
            f"their balance is now {texts.credits(updated.balance)}.",
        )


class SettingsGroup(app_commands.Group):
    """`/lipsync-settings ...`: per-server rules, for members with Manage Server."""

    def __init__(self, store: GuildSettingsStore, admins: list[int]) -> None:
        super().__init__(
            name="lipsync-settings",
            description="Where and how often members may make videos on this server",
            guild_only=True,
            default_permissions=discord.Permissions(manage_guild=True),
        )
        self.store = store
        self.admins = admins

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """Discord hides the group from others, but server admins can change that; check."""
        perms = interaction.permissions
        if interaction.guild_id is None:
            await reply_privately(interaction, "Server settings only exist inside a server.")
            return False
        if perms.administrator or perms.manage_guild or interaction.user.id in self.admins:
            return True
        await reply_privately(interaction, "You need the Manage Server permission for this.")
        return False

    @app_commands.command(name="show", description="Show this server's settings")
    async def show(self, interaction: discord.Interaction) -> None:
        await self._answer(interaction, self.store.get(interaction.guild_id))

    @app_commands.command(name="allow-channel", description="Allow videos in a channel")
    @app_commands.describe(channel="A channel where members may make videos")
    async def allow_channel(
        self, interaction: discord.Interaction, channel: app_commands.AppCommandChannel
    ) -> None:
        current = self.store.get(interaction.guild_id).channels
        channels = current if channel.id in current else (*current, channel.id)
        await self._update(interaction, channels=channels)

    @app_commands.command(name="remove-channel", description="Stop allowing videos in a channel")
    @app_commands.describe(channel="The channel to remove from the allowed list")
    async def remove_channel(
        self, interaction: discord.Interaction, channel: app_commands.AppCommandChannel
    ) -> None:
        current = self.store.get(interaction.guild_id).channels
        await self._update(interaction, channels=tuple(c for c in current if c != channel.id))

    @app_commands.command(name="all-channels", description="Allow videos in every channel")
    async def all_channels(self, interaction: discord.Interaction) -> None:
        await self._update(interaction, channels=())

    @app_commands.command(name="cooldown", description="Seconds a member waits between videos")
    @app_commands.describe(seconds="0 turns the cooldown off")
    async def cooldown(
        self,
        interaction: discord.Interaction,
        seconds: app_commands.Range[int, 0, MAX_COOLDOWN_SECONDS],
    ) -> None:
        await self._update(interaction, cooldown_seconds=seconds)

    @app_commands.command(name="max-jobs", description="Videos one member may have in progress")
    @app_commands.describe(count="Jobs at once per member (1 = one at a time)")
    async def max_jobs(
        self, interaction: discord.Interaction, count: app_commands.Range[int, 1, MAX_JOBS_LIMIT]
    ) -> None:
        await self._update(interaction, max_jobs=count)

    async def _update(self, interaction: discord.Interaction, **changes: object) -> None:
        assert interaction.guild_id is not None  # guild_only, and checked above
        settings = await self.store.update(interaction.guild_id, **changes)
        await self._answer(interaction, settings, saved=True)

    async def _answer(
        self, interaction: discord.Interaction, settings: GuildSettings, *, saved: bool = False
    ) -> None:
        where = ", ".join(f"<#{c}>" for c in settings.channels) or "every channel"
        text = (
            f"{'Saved. ' if saved else ''}Videos may be made in: {where}. "
            f"Cooldown per member: {settings.cooldown_seconds} s. "
            f"Videos in progress per member: {settings.max_jobs}."
        )
        await reply_privately(interaction, text)


def jobs_command(service: Service) -> app_commands.Command[None, ..., None]:
    """`/jobs`: the user's recent videos, privately."""

    async def jobs(interaction: discord.Interaction) -> None:
        user = interaction.user
        account = await service.user_account(PLATFORM, user.id, user.name)
        recent = await service.list_jobs(account.id, limit=JOBS_SHOWN)
        if not recent:
            text = "You have not made any videos yet. Try `/lipsync image`."
        else:
            lines = [texts.job_line(job, service.output_url(job)) for job in recent]
            text = "Your recent videos:\n" + "\n".join(lines)
        await reply_privately(interaction, text)

    return app_commands.Command(
        name="jobs", description="Your recent videos and their state", callback=jobs
    )


def install(
    tree: app_commands.CommandTree,
    service: Service,
    renderer: Renderer,
    store: GuildSettingsStore,
) -> None:
    """Add every command to the tree (syncing it with Discord is the client's job)."""
    tree.add_command(LipsyncGroup(renderer))
    tree.add_command(CreditsGroup(service))
    tree.add_command(jobs_command(service))
    tree.add_command(SettingsGroup(store, service.settings.discord.admins))
