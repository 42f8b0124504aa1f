"""The Telegram door: a python-telegram-bot `Application` polling inside our event loop.

`lipsync serve` starts a `TelegramDoor` next to the HTTP app when a token is configured
(`telegram.token` or `LIPSYNC_TELEGRAM_TOKEN`); `lipsync bot telegram` runs it alone with
its own render workers (`run_telegram`). Either way the bot shares the process's engine,
so the door only parses chats and formats replies.

The Application's own lifecycle (initialize, start, updater.start_polling; then
updater.stop, stop, shutdown) is used rather than `run_polling`, which would own the loop.
Updates are processed by `PerUserUpdates`: one user's messages run in order, different
users' run side by side, so a slow download for one user never delays another's reply.
Renders are awaited by background deliveries, never by a handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import urllib.parse
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    PreCheckoutQueryHandler,
    filters,
)

from bots import redaction
from bots.shared import Inbox
from bots.telegram import commands, conversation, payments
from bots.telegram.delivery import Recipient, deliver
from bots.telegram.limits import Limits
from bots.telegram.runtime import Context, Runtime
from bots.telegram.texts import language_of, t
from engine.service import Service
from engine.vocabulary import ACTIVE_STATUSES

log = logging.getLogger("lipsync.telegram")

POLL_TIMEOUT_SECONDS = 10.0
# When Telegram cannot be reached at start: first retry after 5 s, then doubling, at most 5 min.
RETRY_FIRST_SECONDS = 5.0
RETRY_MAX_SECONDS = 300.0
MAX_CONCURRENT_UPDATES = 256
# Where the long-poll request lines come from (see _QuietPolls).
POLL_LOGGER = "httpx"
ALLOWED_UPDATES = ["message", "callback_query", "pre_checkout_query"]
MEDIA = (
    filters.PHOTO
    | filters.VIDEO
    | filters.VIDEO_NOTE
    | filters.ANIMATION
    | filters.VOICE
    | filters.AUDIO
    | filters.Document.ALL
    | filters.Sticker.ALL
)


class PerUserUpdates(BaseUpdateProcessor):
    """Process each user's updates in order, and different users' updates concurrently."""

    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        user = update.effective_user if isinstance(update, Update) else None
        if user is None:
            await coroutine
            return
        lock = self._locks.setdefault(user.id, asyncio.Lock())
        self._waiting[user.id] = self._waiting.get(user.id, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._waiting[user.id] -= 1
            if not self._waiting[user.id]:
                del self._waiting[user.id], self._locks[user.id]

    async def initialize(self) -> None:
        """Nothing to set up: locks are made per user on demand."""

    async def shutdown(self) -> None:
        """Nothing to free."""


class _QuietPolls(logging.Filter):
    """Drops the line httpx logs for every long poll (`getUpdates`), which says nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.INFO or "/getUpdates " not in record.getMessage()


def file_url_for(base_url: str) -> str:
    """A Bot API server's file-download URL from its method URL: ".../bot" -> ".../file/bot"."""
    parts = urllib.parse.urlsplit(base_url)
    path = parts.path.rstrip("/")
    head, _, last = path.rpartition("/")
    path = f"{head}/file/{last}" if last.startswith("bot") else f"{path}/file/bot"
    return urllib.parse.urlunsplit(parts._replace(path=path))


def build_application(rt: Runtime) -> Application:
    tg = rt.service.settings.telegram
    builder = (
        ApplicationBuilder()
        .token(tg.token)
        .concurrent_updates(PerUserUpdates())
        .job_queue(None)
        .read_timeout(30)
        .media_write_timeout(600)
    )
    if tg.base_url:
        builder = builder.base_url(tg.base_url).base_file_url(file_url_for(tg.base_url))
    app = builder.build()
    app.bot_data["runtime"] = rt
    add_handlers(app)
    return app


def add_handlers(app: Application) -> None:
    app.add_handler(CommandHandler("start", commands.start))
    app.add_handler(CommandHandler("help", commands.help_))
    app.add_handler(CommandHandler("duet", commands.duet))
    app.add_handler(CommandHandler("balance", commands.balance))
    app.add_handler(CommandHandler("history", commands.history))
    app.add_handler(CommandHandler("cancel", commands.cancel))
    app.add_handler(CommandHandler("grant", commands.grant))
    app.add_handler(CommandHandler("buy", payments.buy))
    app.add_handler(CallbackQueryHandler(conversation.on_order, pattern=r"^order:"))
    app.add_handler(CallbackQueryHandler(conversation.on_resolution, pattern=r"^res:"))
    app.add_handler(CallbackQueryHandler(conversation.on_voice, pattern=r"^voice:"))
    app.add_handler(CallbackQueryHandler(conversation.on_confirm, pattern=r"^go:"))
    app.add_handler(CallbackQueryHandler(conversation.on_drop, pattern=r"^drop:"))
    app.add_handler(CallbackQueryHandler(conversation.on_stop, pattern=r"^stop:"))
    app.add_handler(CallbackQueryHandler(payments.on_pack, pattern=r"^buy:"))
    app.add_handler(PreCheckoutQueryHandler(payments.on_pre_checkout))
    app.add_handler(MessageHandler(filters.SUCCESSFUL_PAYMENT, payments.on_paid))
    app.add_handler(MessageHandler(MEDIA, conversation.on_media))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, conversation.on_text))
    app.add_error_handler(on_error)


async def on_error(update: object, context: Context) -> None:
    """A bug or an outage: log it, and tell the user something friendly rather than nothing."""
    log.error("handling a Telegram update failed", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        lang = language_of(update.effective_user)
        with contextlib.suppress(TelegramError):
            await context.bot.send_message(update.effective_chat.id, t(lang, "error"))


class TelegramDoor:
    """Runs the bot beside the rest of the service, in the caller's event loop."""

    def __init__(
        self,
        service: Service,
        *,
        limits: Limits | None = None,
        poll_timeout: float = POLL_TIMEOUT_SECONDS,
    ) -> None:
        settings = service.settings
        self.runtime = Runtime(
            service=service,
            limits=limits or Limits.for_base_url(settings.telegram.base_url),
            inbox=Inbox(Path(settings.data_path) / "telegram" / "inbox"),
        )
        self.poll_timeout = poll_timeout
        self.app: Application | None = None
        self._retry: asyncio.Task[None] | None = None
        # Bot API URLs contain the token, percent-encoded in file downloads: while the door
        # runs, it is scrubbed from every log line of the process, whichever logger made it.
        self._redact = redaction.Redactor(
            redaction.token_secrets(settings.telegram.token), "<telegram-token>"
        )
        self._quiet = _QuietPolls()

    async def start(self) -> None:
        """Connect, or keep trying in the background while Telegram cannot be reached.

        A Telegram outage at boot must not keep `lipsync serve` (and its REST API) from
        starting; a refused token, a configuration error, still stops it.
        """
        redaction.install(self._redact)
        logging.getLogger(POLL_LOGGER).addFilter(self._quiet)
        self.runtime.inbox.clear()  # drafts of a previous run died with its memory
        try:
            await self._connect()
        except NetworkError as exc:
            log.warning("Telegram is unreachable (%s); retrying in the background", exc)
            self._retry = asyncio.create_task(self._connect_later(), name="telegram-connect")

    async def stop(self) -> None:
        """Stop polling and deliveries; jobs keep rendering and are resumed at the next start."""
        retry, self._retry = self._retry, None
        if retry is not None:
            retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await retry
        app, self.app = self.app, None
        try:
            if app is not None:
                await _halt(app)  # lets handlers in progress finish first
                await self.runtime.deliveries.close()
                await app.shutdown()
        finally:
            logging.getLogger(POLL_LOGGER).removeFilter(self._quiet)
            redaction.uninstall(self._redact)

    async def _connect(self) -> None:
        """getMe, publish the command menus, start polling, resume unfinished deliveries."""
        app = build_application(self.runtime)
        try:
            await app.initialize()
            await self._publish_menus(app)
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(
                timeout=int(self.poll_timeout), allowed_updates=ALLOWED_UPDATES
            )
        except BaseException:
            await _halt(app)
            await app.shutdown()
            raise
        self.app = app
        await self._resume()
        log.info("Telegram bot @%s is polling", app.bot.username)

    async def _connect_later(self) -> None:
        delay = RETRY_FIRST_SECONDS
        while True:
            await asyncio.sleep(delay)
            try:
                await self._connect()
                return
            except InvalidToken:
                log.error("Telegram refused the bot token; the bot stays off")
                return
            except NetworkError as exc:
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                log.warning("Telegram is still unreachable (%s); next try in %.0f s", exc, delay)
            except Exception:
                log.exception("starting the Telegram bot failed; the bot stays off")
                return

    async def _publish_menus(self, app: Application) -> None:
        for lang, menu in commands.menus().items():
            try:
                await app.bot.set_my_commands(menu, language_code=lang)
            except TelegramError as exc:
                log.warning("could not publish the %s command menu: %s", lang or "default", exc)

    async def _resume(self) -> None:
        """Pick up jobs this bot submitted that were still running when it last stopped."""
        assert self.app is not None
        rt = self.runtime
        before: float | None = None
        while True:
            batch = await rt.service.list_jobs(
                None, statuses=tuple(ACTIVE_STATUSES), limit=200, before=before
            )
            for job in batch:
                to = Recipient.from_source(job.source)
                if to is not None:
                    rt.deliveries.start(
                        deliver(rt.service, self.app.bot, rt.limits, job, to),
                        name=f"deliver-{job.id}",
                    )
            if len(batch) < 200:
                return
            before = batch[-1].created_at


async def _halt(app: Application) -> None:
    """Stop polling, then the Application (which waits for the updates it is handling)."""
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
