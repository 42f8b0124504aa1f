"""/buy: credits for Telegram Stars (currency XTR), granted once per successful payment.

    /buy -> [pack buttons] -> invoice (XTR) -> pre-checkout query (we check the offer)
         -> successful_payment message -> grant, keyed by telegram_payment_charge_id

Telegram may deliver a `successful_payment` more than once (a retried update, a restart
before the offset was confirmed); the grant carries the charge id as its ledger ref, so the
second delivery adds nothing and the user is told the payment was already credited.
Digital goods sold in a bot must be paid in Stars, which need no payment provider token.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LabeledPrice, Update

from bots.telegram.runtime import Context, runtime
from bots.telegram.texts import language_of, t

log = logging.getLogger("lipsync.telegram")

CURRENCY = "XTR"


@dataclass(frozen=True, order=True)
class StarPack:
    stars: int
    credits: int

    @property
    def payload(self) -> str:
        return f"credits:{self.credits}:stars:{self.stars}"


def star_packs(context: Context) -> tuple[StarPack, ...]:
    """The packs on sale, from config `telegram.star_packs` (stars -> credits)."""
    table = runtime(context).service.settings.telegram.star_packs
    return tuple(sorted(StarPack(int(stars), credits) for stars, credits in table.items()))


_PAYLOAD = re.compile(r"^credits:(\d+):stars:(\d+)$")


def parse_payload(payload: str) -> StarPack | None:
    match = _PAYLOAD.match(payload or "")
    return StarPack(stars=int(match[2]), credits=int(match[1])) if match else None


def on_sale(context: Context, stars: int) -> StarPack | None:
    return next((p for p in star_packs(context) if p.stars == stars), None)


async def buy(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None:
        return
    lang = language_of(update.effective_user)
    buttons = [
        [
            InlineKeyboardButton(
                t(lang, "buy.button", credits=pack.credits, stars=pack.stars),
                callback_data=f"buy:{pack.stars}",
            )
        ]
        for pack in star_packs(context)
    ]
    await message.reply_text(t(lang, "buy.choose"), reply_markup=InlineKeyboardMarkup(buttons))


async def on_pack(update: Update, context: Context) -> None:
    """A pack was tapped: send its invoice in Stars."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    lang = language_of(update.effective_user)
    stars = (query.data or "").partition(":")[2]
    pack = on_sale(context, int(stars)) if stars.isdigit() else None
    if pack is None:
        await query.answer(t(lang, "offer_gone"))
        return
    await query.answer()
    title = t(lang, "invoice.title", credits=pack.credits)
    seconds = runtime(context).service.price_list().seconds_for(pack.credits)
    description = t(lang, "invoice.description", credits=pack.credits, seconds=seconds)
    await context.bot.send_invoice(
        chat_id=query.message.chat.id,
        title=title,
        description=description,
        payload=pack.payload,
        currency=CURRENCY,
        prices=[LabeledPrice(title, pack.stars)],
    )


async def on_pre_checkout(update: Update, context: Context) -> None:
    """Telegram asks whether to take the money: only for an offer we still make, as invoiced."""
    query = update.pre_checkout_query
    if query is None:
        return
    pack = parse_payload(query.invoice_payload)
    valid = (
        pack is not None
        and pack in star_packs(context)
        and query.currency == CURRENCY
        and query.total_amount == pack.stars
    )
    if valid:
        await query.answer(ok=True)
    else:
        await query.answer(ok=False, error_message=t(language_of(query.from_user), "offer_gone"))


async def on_paid(update: Update, context: Context) -> None:
    """The Stars were paid: grant the pack's credits once per charge id."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None or message.successful_payment is None:
        return
    payment = message.successful_payment
    lang = language_of(user)
    pack = parse_payload(payment.invoice_payload)
    if pack is None or payment.currency != CURRENCY or payment.total_amount != pack.stars:
        # Cannot happen for invoices we made; the operator can refund this charge id.
        log.error(
            "payment %s does not match any invoice of ours (payload %r, %s %s)",
            payment.telegram_payment_charge_id,
            payment.invoice_payload,
            payment.total_amount,
            payment.currency,
        )
        await message.reply_text(t(lang, "error"))
        return
    rt = runtime(context)
    account = await rt.account(user)
    entry = await rt.service.grant(
        account.id,
        pack.credits,
        note=f"Telegram Stars payment: {pack.stars} stars",
        ref=f"telegram-stars:{payment.telegram_payment_charge_id}",
    )
    account = await rt.service.get_account(account.id)
    key = "paid" if entry is not None else "paid_already"
    await message.reply_text(t(lang, key, credits=pack.credits, balance=account.balance))
