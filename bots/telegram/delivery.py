"""Watching a render and handing over its result: progress, chat action, video or link.

Each submitted job gets one background task (see `Runtime.deliveries`) that edits a single
status message (the "panel" the user confirmed on) with the stage and percentage, keeps the
"sending video" chat action alive, and at the end sends the MP4 as a playable video, or a
link to it when it is over what a bot may upload. Telegram hiccups while reporting progress
never stop a delivery: the final result is what matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ChatAction
from telegram.error import BadRequest, TelegramError

from bots.shared import inspect_media, megabytes
from bots.telegram.drafts import KIND_OF_MODEL
from bots.telegram.limits import Limits
from bots.telegram.texts import stage_name, t
from engine.errors import LipsyncError
from engine.jobs import Job
from engine.service import Service
from engine.vocabulary import Status

log = logging.getLogger("lipsync.telegram")

WATCH_TIMEOUT_SECONDS = 24 * 3600.0
UPLOAD_TIMEOUT_SECONDS = 600.0
SOURCE_PREFIX = "telegram"


@dataclass(frozen=True)
class Recipient:
    """Where a job's news goes; stored in the job's `source` so a restart can resume it."""

    chat_id: int
    panel_id: int
    lang: str

    def source(self) -> str:
        return f"{SOURCE_PREFIX}:{self.chat_id}:{self.panel_id}:{self.lang}"

    @classmethod
    def from_source(cls, source: str) -> Recipient | None:
        parts = source.split(":")
        if len(parts) != 4 or parts[0] != SOURCE_PREFIX:
            return None
        try:
            return cls(chat_id=int(parts[1]), panel_id=int(parts[2]), lang=parts[3])
        except ValueError:
            return None


def stop_button(lang: str, job_id: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t(lang, "button.stop"), callback_data=f"stop:{job_id}")]]
    )


def progress_text(lang: str, job: Job) -> str:
    if job.status == Status.QUEUED:
        return t(lang, "queued")
    return t(lang, "progress", stage=stage_name(lang, job.stage), percent=round(job.progress * 100))


def failure_text(lang: str, job: Job) -> str:
    """Why a job did not produce a video, in the user's words; always says nothing was charged."""
    if job.status == Status.CANCELED:
        return t(lang, "canceled")
    if job.error_code == "no_face":
        return t(lang, f"no_face.{job.model}")
    return t(lang, "failed", reason=job.error or job.error_code)


class Panel:
    """The one status message of a job, edited in place and not more often than allowed."""

    def __init__(
        self, bot: Bot, to: Recipient, job_id: str, limits: Limits, shown: str = ""
    ) -> None:
        self.bot = bot
        self.to = to
        self.job_id = job_id
        self.limits = limits
        self._shown = shown  # what the message says now, so an identical edit is skipped
        self._last = 0.0

    async def progress(self, job: Job) -> None:
        if job.is_final:
            return  # the final word is `finish`'s
        text = progress_text(self.to.lang, job)
        now = time.monotonic()
        if text == self._shown or now - self._last < self.limits.edit_every:
            return
        await self._edit(text, stop_button(self.to.lang, self.job_id))
        self._last = now

    async def finish(self, text: str) -> None:
        await self._edit(text, None)

    async def _edit(self, text: str, markup: InlineKeyboardMarkup | None) -> None:
        try:
            await self.bot.edit_message_text(
                text, chat_id=self.to.chat_id, message_id=self.to.panel_id, reply_markup=markup
            )
            self._shown = text
        except BadRequest as exc:  # "message is not modified", or the user deleted it
            log.debug("panel edit refused: %s", exc.message)
        except TelegramError as exc:
            log.warning("panel edit failed: %s", exc)


async def keep_action(bot: Bot, chat_id: int, every: float) -> None:
    """Show "sending video" in the chat until cancelled (Telegram clears it after 5 s)."""
    while True:
        with contextlib.suppress(TelegramError):
            await bot.send_chat_action(chat_id, ChatAction.UPLOAD_VIDEO)
        await asyncio.sleep(every)


async def deliver(
    service: Service, bot: Bot, limits: Limits, job: Job, to: Recipient, *, shown: str = ""
) -> None:
    """Follow `job` to its end, reporting on the panel, then send the video or say why not."""
    panel = Panel(bot, to, job.id, limits, shown)
    action = asyncio.create_task(keep_action(bot, to.chat_id, limits.action_every))
    try:
        job = await service.wait(
            job.id, WATCH_TIMEOUT_SECONDS, account_id=job.account_id, on_change=panel.progress
        )
    finally:
        action.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await action
    if job.status == Status.COMPLETED:
        await send_result(service, bot, limits, job, to)
        account = await service.get_account(job.account_id)
        await panel.finish(t(to.lang, "done", credits=job.charged or 0, balance=account.balance))
    elif job.is_final:
        await panel.finish(failure_text(to.lang, job))
    else:
        await panel.finish(t(to.lang, "timeout"))


async def send_result(service: Service, bot: Bot, limits: Limits, job: Job, to: Recipient) -> None:
    """Upload the MP4 as a streamable video; fall back to its link when it cannot go up."""
    path = service.output_path(job)
    url = service.output_url(job) or ""
    if path is None or not path.is_file():
        await bot.send_message(to.chat_id, url)
        return
    size = path.stat().st_size
    if size > limits.upload_bytes:
        await _send_link(bot, to, size, limits.upload_bytes, url)
        return
    what = t(to.lang, f"what.{KIND_OF_MODEL.get(job.model, 'portrait')}")
    seconds = round(job.output_seconds or 0)
    width = height = None
    with contextlib.suppress(LipsyncError):
        info = await inspect_media(path)
        width, height = info.width, info.height
    try:
        with path.open("rb") as video:
            await bot.send_video(
                to.chat_id,
                video,
                duration=seconds or None,
                width=width,
                height=height,
                supports_streaming=True,
                caption=t(to.lang, "caption", what=what, seconds=seconds),
                filename="lipsync.mp4",
                write_timeout=UPLOAD_TIMEOUT_SECONDS,
                read_timeout=UPLOAD_TIMEOUT_SECONDS,
            )
    except TelegramError as exc:
        log.warning("uploading the video of job %s failed (%s); sending its link", job.id, exc)
        await _send_link(bot, to, size, limits.upload_bytes, url)


async def _send_link(bot: Bot, to: Recipient, size: int, limit: int, url: str) -> None:
    text = t(to.lang, "link", size=megabytes(size), limit=megabytes(limit), url=url)
    await bot.send_message(to.chat_id, text)
