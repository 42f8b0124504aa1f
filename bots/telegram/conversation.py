"""The conversation that turns chat messages into a job: files in, choices, price, confirm.

    photo  -> "now the voice" -> voice -> [480p | 720p] -> price + balance -> [✅ | ✖]
    video  -> "now the voice" -> voice -> [480p | 720p] -> price + balance -> [✅ | ✖]
    /duet  -> photo -> left voice -> right voice -> [together | left first | right first]
           -> [480p | 720p] -> price + balance -> [✅ | ✖]

A voice may also be typed: the line is spoken by the engine (espeak-ng) with the best voice
for the user's Telegram language, and the price panel then offers a few voices to pick from.

The buttons live on one bot message per request (the panel), which is edited at each step
and finally becomes the job's status message. Callback data carries the draft's id, so a
tap on the buttons of an abandoned or already confirmed request does nothing (a double tap
on ✅ cannot submit twice). Nothing is charged before ✅; the engine then holds the price,
settles it when the video is done and refunds it if the render fails.
"""

from __future__ import annotations

from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bots.shared import inspect_media, megabytes
from bots.telegram.delivery import Recipient, deliver, stop_button
from bots.telegram.drafts import Draft, first_role, place, voice_choices
from bots.telegram.intake import FileTooBig, attachment_of, download, refuse_size
from bots.telegram.limits import Limits
from bots.telegram.runtime import (
    Context,
    current_draft,
    drop_draft,
    runtime,
    set_draft,
)
from bots.telegram.texts import TEXTS, language_of, t
from engine import tts
from engine.errors import (
    Conflict,
    InsufficientCredits,
    InvalidInput,
    LipsyncError,
    MediaError,
    NotFound,
)
from engine.job_request import SpokenText, check_text, input_kinds
from engine.ratelimit import RateLimited
from engine.vocabulary import CHAT_RESOLUTIONS, Order, Resolution, Role

# -- files -----------------------------------------------------------------------------


async def on_media(update: Update, context: Context) -> None:
    """A photo, video or voice arrived: start a request, fill the awaited slot, or explain."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    lang = language_of(user)
    rt = runtime(context)
    item = attachment_of(message)
    if item is None or item.kind is None:
        await message.reply_text(t(lang, "unsupported"))
        return
    if refuse_size(item, rt.limits):
        await message.reply_text(too_big_text(lang, item.size, rt.limits))
        return
    draft = current_draft(context)
    move = place(draft, item.kind)
    if move.hint is not None:
        await message.reply_text(t(lang, move.hint))
        return
    if move.start is not None:
        target = Draft.start(move.start, rt.inbox.new_folder(user.id))
        role = first_role(move.start)
    else:
        assert draft is not None and move.role is not None
        target, role = draft, move.role
    problem: str | None = None
    path: Path | None = None
    try:
        path = await download(context.bot, item, target.folder / role, rt.limits)
        problem = await check_file(path, input_kinds(target.model)[role], lang)
    except FileTooBig as exc:
        problem = too_big_text(lang, exc.size, rt.limits)
    finally:
        if problem is not None or path is None:  # refused, or the download failed
            if move.start is not None:
                rt.inbox.discard(target.folder)
            elif path is not None:
                path.unlink(missing_ok=True)
    if problem is not None or path is None:
        await message.reply_text(problem or t(lang, "error"))
        return
    target.fill(role, path)
    set_draft(context, target)
    await ask_next(message, target, lang)


async def check_file(path: Path, needs: str, lang: str) -> str | None:
    """Why a downloaded file cannot fill a role that `needs` this kind of media (the engine's
    `input_kinds`), in the user's words, or None if it can. Any file with sound is a voice."""
    try:
        info = await inspect_media(path)
    except MediaError as exc:
        return t(lang, "bad_file", reason=exc.message)
    if needs == "audio":
        return None if info.has_audio else t(lang, "no_sound")
    if info.kind != needs:
        return t(lang, "unsupported")
    return None


def too_big_text(lang: str, size: int | None, limits: Limits) -> str:
    """Why a file cannot be fetched; Telegram may leave its size out, and then so do we."""
    key = "too_big.local" if limits.local_server else "too_big.cloud"
    limit = megabytes(limits.download_bytes)
    if size is None:
        return t(lang, f"{key}_unknown", limit=limit)
    return t(lang, key, size=megabytes(size), limit=limit)


async def ask_next(message: Message, draft: Draft, lang: str) -> None:
    """Ask for what the draft waits for; button questions open the request's panel."""
    if draft.step == "voice":
        await message.reply_text(t(lang, f"ask_voice.{draft.kind}"))
    elif draft.step in ("photo", "left", "right"):
        await message.reply_text(t(lang, f"duet.ask_{draft.step}"))
    elif draft.step == "order":
        panel = await message.reply_text(
            t(lang, "duet.ask_order"), reply_markup=order_keyboard(lang, draft)
        )
        draft.panel_id = panel.message_id
    elif draft.step == "resolution":
        panel = await message.reply_text(
            t(lang, "ask_resolution"), reply_markup=resolution_keyboard(lang, draft)
        )
        draft.panel_id = panel.message_id


async def on_text(update: Update, context: Context) -> None:
    """Words instead of files: what to say where a voice is awaited, else a reminder."""
    message = update.effective_message
    if message is None:
        return
    lang = language_of(update.effective_user)
    draft = current_draft(context)
    role = draft.awaited_role if draft is not None else None
    if draft is not None and role is not None and input_kinds(draft.model)[role] == "audio":
        await take_text(message, context, draft, role, message.text or "", lang)
        return
    if draft is None:
        key = "need_media_first"
    elif draft.step == "voice":
        key = f"ask_voice.{draft.kind}"
    elif draft.step == "photo":
        key = "duet.need_photo"
    elif draft.step in ("left", "right"):
        key = f"duet.ask_{draft.step}"
    else:
        key = "use_buttons"
    await message.reply_text(t(lang, key))


async def take_text(
    message: Message, context: Context, draft: Draft, role: Role, text: str, lang: str
) -> None:
    """A typed line as the awaited voice: checked by the engine now, spoken at ✅."""
    voice = draft.voice or tts.choose(language=lang).id
    try:
        check_text(SpokenText(text, voice=voice), runtime(context).service.settings)
    except InvalidInput as exc:
        await message.reply_text(t(lang, "bad_text", reason=exc.message))
        return
    draft.fill_text(role, text.strip(), voice)
    set_draft(context, draft)
    await ask_next(message, draft, lang)


def voice_name(lang: str, voice: tts.Voice) -> str:
    key = f"voice.{voice.language}"
    return t(lang, key) if key in TEXTS["en"] else voice.language


# -- buttons -----------------------------------------------------------------------------


def order_keyboard(lang: str, draft: Draft) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t(lang, f"order.{o}"), callback_data=f"order:{draft.id}:{o}")
                for o in Order
            ]
        ]
    )


def resolution_keyboard(lang: str, draft: Draft) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(r, callback_data=f"res:{draft.id}:{r}") for r in CHAT_RESOLUTIONS]]
    )


def confirm_keyboard(lang: str, draft: Draft) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(t(lang, "button.confirm"), callback_data=f"go:{draft.id}"),
            InlineKeyboardButton(t(lang, "button.cancel"), callback_data=f"drop:{draft.id}"),
        ]
    ]
    if draft.texts:  # typed lines: a small voice picker, the chosen one ticked
        rows.append(
            [
                InlineKeyboardButton(
                    f"🗣 {voice_name(lang, v)}{' ✓' if v.id == draft.voice else ''}",
                    callback_data=f"voice:{draft.id}:{v.id}",
                )
                for v in voice_choices(lang)
            ]
        )
    return InlineKeyboardMarkup(rows)


def _tapped(update: Update, context: Context, step: str | None) -> tuple[Draft | None, list[str]]:
    """The draft a button belongs to, if it is still the user's and at `step` (None: any)."""
    query = update.callback_query
    parts = (query.data or "").split(":") if query else []
    draft = current_draft(context)
    if len(parts) < 2 or draft is None or draft.id != parts[1]:
        return None, parts
    if step is not None and draft.step != step:
        return None, parts
    return draft, parts


async def _stale(update: Update) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer(t(language_of(update.effective_user), "stale"))


async def on_order(update: Update, context: Context) -> None:
    """Duet: who speaks when; then ask for the resolution on the same panel."""
    query = update.callback_query
    draft, parts = _tapped(update, context, "order")
    if query is None or draft is None or len(parts) != 3 or parts[2] not in tuple(Order):
        await _stale(update)
        return
    lang = language_of(update.effective_user)
    await query.answer()
    draft.order = Order(parts[2])
    draft.step = "resolution"
    await query.edit_message_text(
        f"{t(lang, f'order.{draft.order}')} ✓\n{t(lang, 'ask_resolution')}",
        reply_markup=resolution_keyboard(lang, draft),
    )


async def on_resolution(update: Update, context: Context) -> None:
    """Measure the files, then show the price and the balance with a confirm button."""
    query = update.callback_query
    user = update.effective_user
    draft, parts = _tapped(update, context, "resolution")
    if query is None or user is None or draft is None or len(parts) != 3:
        await _stale(update)
        return
    if parts[2] not in CHAT_RESOLUTIONS:
        await _stale(update)
        return
    await query.answer()
    draft.resolution = Resolution(parts[2])
    await show_price(update, context, draft)


async def on_voice(update: Update, context: Context) -> None:
    """Another voice for the typed lines: measured again, since the speech's length (and so
    the price) depends on the voice."""
    query = update.callback_query
    draft, parts = _tapped(update, context, "confirm")
    lang = language_of(update.effective_user)
    voice = ":".join(parts[2:])
    if query is None or draft is None or voice not in [v.id for v in voice_choices(lang)]:
        await _stale(update)
        return
    await query.answer()
    if voice != draft.voice:
        draft.voice = voice
        await show_price(update, context, draft)


async def show_price(update: Update, context: Context, draft: Draft) -> None:
    """Measure the request (speaking any typed line), then show the price and the balance
    with the confirm button (and the voice picker) on the panel."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    lang = language_of(user)
    rt = runtime(context)
    try:
        estimate = await rt.service.estimate(draft.request(""), local_dirs=[draft.folder])
    except LipsyncError as exc:
        drop_draft(context)
        await query.edit_message_text(t(lang, "bad_file", reason=exc.message))
        return
    draft.price = estimate.credits
    draft.step = "confirm"
    account = await rt.account(user)
    text = t(
        lang,
        "confirm",
        what=t(lang, f"what.{draft.kind}"),
        resolution=draft.resolution,
        seconds=f"{estimate.output_seconds:.1f}",
        credits=estimate.credits,
        balance=account.balance,
    )
    if draft.texts and draft.voice:
        name = voice_name(lang, tts.choose(voice=draft.voice))
        text += "\n" + t(lang, "confirm_voice", voice=name)
    if account.balance < estimate.credits:
        text += "\n" + t(lang, "confirm_short", missing=estimate.credits - account.balance)
    await query.edit_message_text(text, reply_markup=confirm_keyboard(lang, draft))


async def on_confirm(update: Update, context: Context) -> None:
    """✅: submit (the engine holds the price now) and hand the job to a background delivery."""
    query = update.callback_query
    user = update.effective_user
    draft, _ = _tapped(update, context, "confirm")
    if query is None or user is None or draft is None or query.message is None:
        await _stale(update)
        return
    lang = language_of(user)
    rt = runtime(context)
    await query.answer()
    account = await rt.account(user)
    to = Recipient(chat_id=query.message.chat.id, panel_id=query.message.message_id, lang=lang)
    try:
        job = await rt.service.submit(
            account.id, draft.request(to.source()), local_dirs=[draft.folder]
        )
    except InsufficientCredits:
        # Keep the draft and its buttons: after /buy, ✅ works again.
        price = draft.price if draft.price is not None else 0
        await query.message.reply_text(
            t(lang, "insufficient", credits=price, balance=account.balance)
        )
        return
    except RateLimited as exc:
        # Keep the draft as well: the same ✅ works once the minute has passed.
        await query.message.reply_text(
            t(lang, "rate_limited", limit=exc.limit, seconds=exc.retry_after)
        )
        return
    except LipsyncError as exc:
        drop_draft(context)
        await query.edit_message_text(t(lang, "failed", reason=exc.message))
        return
    drop_draft(context)  # the engine copied the files; ours can go
    queued = t(lang, "queued")
    await query.edit_message_text(queued, reply_markup=stop_button(lang, job.id))
    rt.deliveries.start(
        deliver(rt.service, context.bot, rt.limits, job, to, shown=queued),
        name=f"deliver-{job.id}",
    )


async def on_drop(update: Update, context: Context) -> None:
    """✖ before confirming: forget the request and its files."""
    query = update.callback_query
    draft, _ = _tapped(update, context, None)
    if query is None or draft is None:
        await _stale(update)
        return
    await query.answer()
    drop_draft(context)
    await query.edit_message_text(t(language_of(update.effective_user), "forgotten"))


async def on_stop(update: Update, context: Context) -> None:
    """✖ on a running job: cancel it (refunded); its delivery task reports the outcome."""
    query = update.callback_query
    user = update.effective_user
    if query is None or user is None:
        return
    job_id = (query.data or "").partition(":")[2]
    rt = runtime(context)
    account = await rt.account(user)
    try:
        await rt.service.cancel(job_id, account_id=account.id)
    except (Conflict, NotFound):
        await _stale(update)
        return
    await query.answer(t(language_of(user), "canceled"))
