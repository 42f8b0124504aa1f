"""The flow behind `/lipsync image|video|duet`: check, defer, fetch, price, submit, follow.

Fast refusals come first and are answered privately as the interaction's first response
(wrong channel, wrong kind of file, too large, cooldown, a job already running), because
they need no download and fit Discord's 3-second window. Everything slow happens after
`defer()` in a task of its own, so one render never holds up other users' commands.

The engine does the real work: `estimate` measures the inputs and prices them (the price is
shown before the job exists), `submit` holds the credits and queues the job, the worker pool
renders it, and the charge or refund happens in the engine's ledger. This door never
computes a price and never touches a credit itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import discord

from bots.discord import texts
from bots.discord.attachments import AttachmentRefused, VoiceOption, Wanted, check, download
from bots.discord.delivery import Delivery, reply_privately
from bots.discord.guild_settings import Claim, Gate, GuildSettingsStore, Refused
from bots.discord.options import DoorOptions
from engine.config import Settings
from engine.errors import LipsyncError
from engine.job_request import JobRequest, SpokenText, check_text
from engine.jobs import Job
from engine.service import Service
from engine.vocabulary import Model, Role, Status

log = logging.getLogger("lipsync.discord")

PLATFORM = "discord"
INCOMING_MAX_AGE = 3600.0  # a download folder older than this belongs to no live command


@dataclass(frozen=True)
class Order:
    """One render command as typed: which model, which files for which roles, which params;
    each voice a file or a text (`voices`), spoken with `voice` (a voice id or a language)."""

    model: Model
    files: Sequence[tuple[Wanted, discord.Attachment]]
    params: dict[str, Any]
    voices: Sequence[VoiceOption] = ()
    voice: str | None = None
    speech: Mapping[Role, SpokenText] = field(default_factory=dict)

    def resolved(self, settings: Settings) -> Order:
        """The voices sorted into files and texts, each text checked by the engine (length,
        voice, language). Raises `AttachmentRefused` or the engine's `InvalidInput`."""
        files = list(self.files)
        speech: dict[Role, SpokenText] = {}
        for option in self.voices:
            chosen = option.chosen()
            if isinstance(chosen, str):
                speech[option.wanted.role] = spoken(chosen, self.voice)
                check_text(speech[option.wanted.role], settings)
            else:
                files.append((option.wanted, chosen))
        if self.voice and not speech:
            names = " or ".join(f"`{o.text_option}`" for o in self.voices)
            raise AttachmentRefused(f"`voice` is for {names}; leave it out with a sound file.")
        return replace(self, files=files, voices=(), speech=speech)


def spoken(text: str, voice: str | None) -> SpokenText:
    """`voice` as typed: a voice id ("espeak:es") or a language ("es", "ja")."""
    if voice and ":" in voice:
        return SpokenText(text, voice=voice.strip())
    return SpokenText(text, language=voice.strip() if voice else None)


class Renderer:
    """Runs render commands; one instance per bot, shared by all servers."""

    def __init__(
        self, service: Service, options: DoorOptions, store: GuildSettingsStore, gate: Gate
    ) -> None:
        self.service = service
        self.options = options
        self.store = store
        self.gate = gate
        self.incoming = service.settings.data_path / "discord" / "incoming"
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self, interaction: discord.Interaction, order: Order) -> None:
        """Refuse at once, or defer and leave the rest to a background task."""
        settings = self.store.get(interaction.guild_id)
        if not settings.allows(interaction.channel_id):
            await reply_privately(interaction, texts.wrong_channel(settings.channels))
            return
        try:
            order = order.resolved(self.service.settings)
            for wanted, attachment in order.files:
                check(attachment, wanted, self.options.max_attachment_bytes)
        except AttachmentRefused as exc:
            await reply_privately(interaction, str(exc))
            return
        except LipsyncError as exc:  # a text the engine will not speak
            await reply_privately(interaction, texts.rejected(exc.message))
            return
        user = interaction.user
        account = await self.service.user_account(PLATFORM, user.id, user.name)
        try:
            claim = await self.gate.claim(account.id, settings)
        except Refused as exc:
            await reply_privately(interaction, str(exc))
            return
        try:
            await interaction.response.defer(thinking=True)
        except discord.HTTPException:
            claim.release()
            log.warning("could not defer interaction %s", interaction.id, exc_info=True)
            return
        task = asyncio.create_task(
            self._run(interaction, order, account.id, claim), name=f"discord-{interaction.id}"
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def sweep_incoming(self, max_age: float = INCOMING_MAX_AGE) -> None:
        """Remove download folders left behind by a crash (normally each removes its own)."""
        if not self.incoming.is_dir():
            return
        cutoff = time.time() - max_age
        for folder in self.incoming.iterdir():
            with contextlib.suppress(OSError):
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)

    async def stop(self) -> None:
        """Stop following jobs (they keep rendering; `/jobs` lists them)."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _run(
        self, interaction: discord.Interaction, order: Order, account_id: str, claim: Claim
    ) -> None:
        delivery = Delivery(interaction, self.options)
        try:
            job = await self._submit(delivery, order, account_id, claim)
            if job is not None:
                await self._follow(delivery, job, account_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("discord render flow failed for interaction %s", interaction.id)

    async def _submit(
        self, delivery: Delivery, order: Order, account_id: str, claim: Claim
    ) -> Job | None:
        """Download, price, show the price, queue. None (and a private reply) on refusal."""
        self.incoming.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f"{delivery.interaction.id}-", dir=self.incoming))
        try:
            inputs: dict[str, str] = {}
            for wanted, attachment in order.files:
                path = await download(
                    attachment,
                    wanted,
                    folder,
                    max_bytes=self.options.max_attachment_bytes,
                    timeout=self.options.download_timeout,
                )
                inputs[wanted.role] = str(path)
            request = JobRequest(
                model=order.model,
                inputs=inputs,
                params=order.params,
                source=PLATFORM,
                speech=order.speech,
            )
            estimate = await self.service.estimate(request, local_dirs=[folder])
            account = await self.service.get_account(account_id)
            if account.balance < estimate.credits:
                await delivery.refuse(texts.too_few_credits(estimate, account.balance))
                return None
            delivery.header = texts.price(estimate, account.balance)
            await delivery.show(f"{delivery.header}\n⏳ Queuing…", force=True)
            return await self.service.submit(account_id, request, local_dirs=[folder])
        except AttachmentRefused as exc:
            await delivery.refuse(str(exc))
        except LipsyncError as exc:
            await delivery.refuse(texts.rejected(exc.message))
        except Exception:
            log.exception("could not submit for interaction %s", delivery.interaction.id)
            await delivery.refuse(texts.INTERNAL_ERROR)
        finally:
            claim.release()  # from here on the job itself (in the database) counts
            shutil.rmtree(folder, ignore_errors=True)
        return None

    async def _follow(self, delivery: Delivery, job: Job, account_id: str) -> None:
        """Show progress until the job ends, then deliver the video or say why not."""
        final = await self.service.wait(
            job.id, self.options.job_timeout, account_id=account_id, on_change=delivery.on_job
        )
        if final.status == Status.COMPLETED:
            video = self.service.output_path(final)
            account = await self.service.get_account(account_id)
            if video is None or not video.is_file():
                await delivery.show(texts.done(final, account.balance), force=True)
                return
            await delivery.deliver(
                texts.done(final, account.balance),
                video,
                self.service.output_url(final),
                self.service.settings.retention_days,
            )
        elif final.is_final:
            await delivery.refuse(texts.failed(final))
        else:
            await delivery.show(texts.still_running(final), force=True)
