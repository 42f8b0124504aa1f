"""Talking back to one slash command: live progress, the finished video, or a private error.

A deferred interaction gives us one public message (the "thinking" response) that we may
edit for 15 minutes through the interaction token. This module owns that message:

- progress edits are throttled (Discord rate-limits webhook edits) and skip repeats;
- the MP4 is uploaded when it fits the interaction's `attachment_size_limit` (Discord
  sends the real limit of that server, boosts included), else a link is posted;
- shortly before the token expires we stop using it, and the result goes to the channel
  as a normal bot message that mentions the user, so long queues still deliver;
- errors go to the user alone (an ephemeral followup) and the public message is removed,
  so a bad upload does not leave noise in the channel.

Failing to talk to Discord never fails the job: every HTTP error here is logged and the
next best channel is tried.
"""

from __future__ import annotations

import datetime
import logging
import time
from pathlib import Path

import discord

from bots.discord import texts
from bots.discord.options import DoorOptions
from engine.jobs import Job
from engine.vocabulary import Status

log = logging.getLogger("lipsync.discord")

OUTPUT_NAME = "lipsync.mp4"


async def reply_privately(interaction: discord.Interaction, text: str) -> None:
    """An ephemeral answer, whether or not the interaction was already acknowledged."""
    text = texts.fit(text)
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not answer interaction %s", interaction.id, exc_info=True)


class Delivery:
    """The public response of one deferred command, and how to reach the user after it."""

    def __init__(self, interaction: discord.Interaction, options: DoorOptions) -> None:
        self.interaction = interaction
        self.options = options
        self.header = ""  # shown above every progress line: the price
        self._last_text: str | None = None
        self._last_edit = float("-inf")

    @property
    def upload_limit(self) -> int:
        return self.interaction.filesize_limit or self.options.default_upload_limit

    def token_alive(self) -> bool:
        """Whether the interaction token may still be used, with a safety margin."""
        margin = datetime.timedelta(seconds=self.options.token_margin)
        return discord.utils.utcnow() < self.interaction.expires_at - margin

    async def show(self, text: str, *, force: bool = False) -> None:
        """Edit the public response, at most once per `progress_interval` unless forced."""
        text = texts.fit(text)
        if text == self._last_text or not self.token_alive():
            return
        now = time.monotonic()
        if not force and now - self._last_edit < self.options.progress_interval:
            return
        self._last_edit = now
        try:
            await self.interaction.edit_original_response(content=text)
        except discord.HTTPException:
            log.warning("progress edit failed for %s", self.interaction.id, exc_info=True)
        else:
            self._last_text = text

    async def on_job(self, job: Job) -> None:
        """`service.wait` callback: show the job's stage and percentage under the price."""
        if not job.is_final:
            await self.show(
                self._with_header(texts.progress(job)), force=job.status == Status.QUEUED
            )

    async def deliver(self, text: str, video: Path, url: str | None, retention_days: float) -> None:
        """Post the finished video: uploaded when it fits, else as a link."""
        size = video.stat().st_size
        limit = self.upload_limit
        link = texts.fit(
            f"{text}\n{texts.as_link(size, limit, url or '(no public URL)', retention_days)}"
        )
        if self.token_alive():
            try:
                if size <= limit:
                    file = discord.File(video, filename=OUTPUT_NAME)
                    await self.interaction.edit_original_response(content=text, attachments=[file])
                else:
                    await self.interaction.edit_original_response(content=link, attachments=[])
                return
            except discord.HTTPException as exc:
                log.warning("could not deliver to interaction %s: %s", self.interaction.id, exc)
                if exc.status == 413:  # Discord's limit was lower than it told us
                    size = limit + 1
        await self._to_channel(link if size > limit else text, None if size > limit else video)

    async def refuse(self, text: str) -> None:
        """Tell only the user (ephemeral) and remove the public "thinking" message."""
        text = texts.fit(text)
        if self.token_alive():
            try:
                await self.interaction.delete_original_response()
            except discord.HTTPException:
                log.debug("no original response to delete for %s", self.interaction.id)
            try:
                await self.interaction.followup.send(text, ephemeral=True)
                return
            except discord.HTTPException:
                log.warning("ephemeral reply failed for %s", self.interaction.id, exc_info=True)
        await self._to_channel(text, None)

    async def _to_channel(self, text: str, video: Path | None) -> None:
        """After the token: a normal message in the command's channel, mentioning the user."""
        channel_id = self.interaction.channel_id
        if channel_id is None:
            log.warning("interaction %s has no channel to deliver to", self.interaction.id)
            return
        channel = self.interaction.client.get_partial_messageable(
            channel_id, guild_id=self.interaction.guild_id
        )
        user = self.interaction.user
        content = texts.fit(f"{user.mention} {text}")
        mentions = discord.AllowedMentions(everyone=False, roles=False, users=[user])
        try:
            if video is not None:
                file = discord.File(video, filename=OUTPUT_NAME)
                await channel.send(content, file=file, allowed_mentions=mentions)
            else:
                await channel.send(content, allowed_mentions=mentions)
        except discord.HTTPException:
            log.warning("could not post to channel %s", channel_id, exc_info=True)

    def _with_header(self, line: str) -> str:
        return f"{self.header}\n{line}" if self.header else line
