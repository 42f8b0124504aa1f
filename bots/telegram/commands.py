"""Slash commands: /start /help /duet /balance /history /cancel /grant.

Each one answers from the engine (accounts, jobs, ledger) in the user's language. /buy and
the payment updates live in `payments`; the media conversation in `conversation`.
"""

from __future__ import annotations

import time

from telegram import BotCommand, Update

from bots.telegram.drafts import KIND_OF_MODEL, Draft
from bots.telegram.runtime import Context, drop_draft, runtime, set_draft
from bots.telegram.texts import LANGUAGES, language_of, t
from engine.errors import Conflict, NotFound
from engine.jobs import Job
from engine.vocabulary import ACTIVE_STATUSES, Resolution, Status

COMMANDS = ("start", "help", "duet", "balance", "history", "buy", "cancel")
HISTORY_SIZE = 10
STATUS_ICONS: dict[Status, str] = {
    Status.QUEUED: "⏳",
    Status.PROCESSING: "⏳",
    Status.COMPLETED: "✅",
    Status.FAILED: "❌",
}


def command_menu(lang: str) -> list[BotCommand]:
    """The command list Telegram shows in its menu, described in `lang`."""
    return [BotCommand(name, t(lang, f"cmd.{name}")) for name in COMMANDS]


def menus() -> dict[str | None, list[BotCommand]]:
    """The menu per language code (None: everyone else, in English)."""
    return {None: command_menu("en"), **{lang: command_menu(lang) for lang in LANGUAGES}}


def prices_text(context: Context, lang: str) -> str:
    prices = runtime(context).service.price_list()
    return t(
        lang,
        "prices",
        rate_480=prices.credits_per_second[Resolution.P480],
        rate_720=prices.credits_per_second[Resolution.P720],
        min_seconds=prices.min_seconds,
    )


async def start(update: Update, context: Context) -> None:
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return
    account = await runtime(context).account(user)
    lang = language_of(user)
    await message.reply_text(t(lang, "welcome", name=user.first_name, balance=account.balance))


async def help_(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None:
        return
    lang = language_of(update.effective_user)
    await message.reply_text(t(lang, "help", prices=prices_text(context, lang)))


async def duet(update: Update, context: Context) -> None:
    """Start a duet: the photo comes first, then the two voices."""
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return
    rt = runtime(context)
    set_draft(context, Draft.start("duet", rt.inbox.new_folder(user.id)))
    await message.reply_text(t(language_of(user), "duet.ask_photo"))


async def balance(update: Update, context: Context) -> None:
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return
    lang = language_of(user)
    account = await runtime(context).account(user)
    await message.reply_text(
        t(lang, "balance", balance=account.balance) + "\n" + prices_text(context, lang)
    )


def history_line(lang: str, job: Job) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(job.created_at))
    what = t(lang, f"what.{KIND_OF_MODEL.get(job.model, 'portrait')}")
    status = t(lang, f"status.{job.status}", credits=job.charged or 0)
    return f"{STATUS_ICONS.get(job.status, '✖')} {when} · {what} · {status}"


async def history(update: Update, context: Context) -> None:
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return
    lang = language_of(user)
    rt = runtime(context)
    account = await rt.account(user)
    jobs = await rt.service.list_jobs(account.id, limit=HISTORY_SIZE)
    if not jobs:
        await message.reply_text(t(lang, "history.empty"))
        return
    lines = [t(lang, "history.head"), *(history_line(lang, job) for job in jobs)]
    await message.reply_text("\n".join(lines))


async def cancel(update: Update, context: Context) -> None:
    """Forget the request being put together, and stop this user's renders in progress."""
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return
    lang = language_of(user)
    rt = runtime(context)
    replies = []
    if drop_draft(context) is not None:
        replies.append(t(lang, "forgotten"))
    account = await rt.account(user)
    stopped = 0
    for job in await rt.service.list_jobs(account.id, statuses=tuple(ACTIVE_STATUSES)):
        try:
            await rt.service.cancel(job.id, account_id=account.id)
            stopped += 1
        except (Conflict, NotFound):
            pass  # it finished meanwhile
    if stopped:
        replies.append(t(lang, "stopping", count=stopped))
    await message.reply_text("\n".join(replies) or t(lang, "nothing_to_cancel"))


async def grant(update: Update, context: Context) -> None:
    """/grant <telegram user id> <credits>, for the admins listed in config."""
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return
    lang = language_of(user)
    rt = runtime(context)
    if user.id not in rt.admins:
        await message.reply_text(t(lang, "admins_only"))
        return
    args = context.args or []
    if len(args) != 2 or not args[0].lstrip("-").isdigit() or not args[1].isdigit():
        await message.reply_text(t(lang, "grant.usage"))
        return
    target, credits = int(args[0]), int(args[1])
    if credits <= 0:
        await message.reply_text(t(lang, "grant.usage"))
        return
    account = await rt.service.user_account("telegram", target)
    # Keyed by the message (ids are never reused in a chat): a redelivered /grant is a no-op.
    await rt.service.grant(
        account.id,
        credits,
        note=f"granted by Telegram admin {user.id}",
        ref=f"telegram-grant:{message.chat_id}:{message.message_id}",
    )
    account = await rt.service.get_account(account.id)
    await message.reply_text(
        t(lang, "granted", credits=credits, user=target, balance=account.balance)
    )
