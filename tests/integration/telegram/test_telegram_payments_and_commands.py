"""The Telegram bot's credits end to end: Stars payments, the price quoted against what the
ledger holds and charges, the submission budget, and the commands (/start, /help, /history,
/cancel, the admins' /grant) on a real python-telegram-bot Application polling the local fake
Bot API. Shared fixtures and helpers: tests/support/telegram_bot.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bots.telegram.texts import t
from engine.job_request import JobRequest
from tests.support.fake_telegram import FakeBotApi, FakeUser
from tests.support.media import face_photo_path
from tests.support.telegram_bot import (
    ADMIN,
    STARTER,
    Media,
    account_of,
    answer,
    bot_settings,
    choose_resolution,
    exact_voice_note,
    job_entries,
    panel_edit,
    running_bot,
    said,
)

# -- credits and the price --------------------------------------------------------------------


@pytest.mark.slow
async def test_the_price_quoted_is_exactly_what_the_ledger_holds_and_charges(
    tmp_path: Path, api: FakeBotApi
) -> None:
    # 6.012 s of sound bills as 7 s, while the video is 150 frames at 25 fps (6.0 s): a
    # price worked out again from the rendered length would differ from the quote.
    voice = exact_voice_note("Hello there, my friend. How are you?", 6.012, tmp_path, "voice")
    olga = FakeUser(api, 1301, "Olga", "en")
    async with running_bot(bot_settings(tmp_path, api), render=True) as service:
        mark = api.mark()
        olga.send_photo(face_photo_path())
        await answer(api, olga, mark)
        mark = api.mark()
        olga.send_voice(voice)
        panel = await answer(api, olga, mark)
        price = await choose_resolution(api, olga, panel, "480p")
        found = re.search(r"Price: (\d+) credits\.", price.text)
        assert found, price.text
        quoted = int(found[1])
        # The engine's own estimate (the REST /api/v1/estimate answer) for the same files.
        request = JobRequest(
            model="lipsync-image",
            inputs={"image": str(face_photo_path()), "audio": str(voice)},
            params={"resolution": "480p"},
        )
        estimate = await service.estimate(request, local_dirs=[face_photo_path().parent, tmp_path])
        assert quoted == estimate.credits == 14

        mark = api.mark()
        olga.tap(panel, price.button("go:"))
        await api.reply_to(olga.id, since=mark, methods=("sendVideo",))
        account = await account_of(service, olga)
        (job,) = await service.list_jobs(account)
        assert job.status == "completed" and job.charged is not None
        done = t("en", "done", credits=job.charged, balance=STARTER - job.charged)
        await panel_edit(api, panel, mark, text=done)  # what the user is told was charged
        entries = {e.kind: e for e in await job_entries(service, account)}
        assert sorted(entries) == ["charge", "reserve"]
        assert job.estimate == entries["reserve"].credits == quoted  # held what was quoted
        assert job.charged == entries["charge"].credits == quoted  # and charged it
        assert (await service.get_account(account)).balance == STARTER - quoted


async def test_a_user_over_the_submission_budget_is_told_when_to_retry_and_keeps_the_draft(
    tmp_path: Path, api: FakeBotApi, media: Media
) -> None:
    pia = FakeUser(api, 1401, "Pia", "es")
    async with running_bot(bot_settings(tmp_path, api), render=False) as service:
        service.rate_limiter.limits["free"] = 1  # one job a minute, so the second is refused
        refused = None
        for attempt in range(2):
            mark = api.mark()
            pia.send_photo(media.face)
            await answer(api, pia, mark)
            mark = api.mark()
            pia.send_voice(media.hello)
            panel = await answer(api, pia, mark)
            price = await choose_resolution(api, pia, panel, "480p")
            mark = api.mark()
            pia.tap(panel, price.button("go:"))
            if attempt == 0:  # the panel turns into the job's progress
                await panel_edit(api, panel, mark, text=t("es", "queued"))
            else:  # a new message says why, under the panel that stays as it was
                refused = await said(api, pia, mark)
        account = await account_of(service, pia)
        (job,) = await service.list_jobs(account)  # the refused tap made no job
        balance = (await service.get_account(account)).balance
        # The draft is kept: once the minute has passed, the same ✅ queues it.
        service.rate_limiter.limits["free"] = 2
        mark = api.mark()
        pia.tap(panel, price.button("go:"))
        await panel_edit(api, panel, mark, text=t("es", "queued"))
        assert len(await service.list_jobs(account)) == 2
    assert refused is not None
    assert refused.startswith("Son más vídeos de los que puedes empezar en un minuto (1).")
    assert "Espera" in refused
    assert balance == STARTER - job.estimate  # only the queued job is held


# -- payments ---------------------------------------------------------------------------------


async def test_stars_payment_is_granted_once_even_if_delivered_twice(
    tmp_path: Path, api: FakeBotApi
) -> None:
    erin = FakeUser(api, 401, "Erin", "en")
    async with running_bot(bot_settings(tmp_path, api), render=False) as service:
        mark = api.mark()
        erin.say("/buy")
        packs = await answer(api, erin, mark)
        assert packs.text == t("en", "buy.choose")

        mark = api.mark()
        erin.tap(packs, "buy:50")
        invoice = await api.reply_to(erin.id, since=mark, methods=("sendInvoice",))
        assert invoice.params["currency"] == "XTR"
        assert invoice.params["prices"] == [{"label": "100 credits", "amount": 50}]
        assert "provider_token" not in invoice.params or not invoice.params["provider_token"]

        mark = api.mark()
        erin.pre_checkout(invoice)
        approval = await api.wait_for(lambda c: c.method == "answerPreCheckoutQuery", since=mark)
        assert approval.params["ok"] == "true"

        # An invoice we never made (the amount was changed) is refused before payment.
        mark = api.mark()
        api.push(
            {
                "pre_checkout_query": {
                    "id": "forged",
                    "from": erin.user,
                    "currency": "XTR",
                    "total_amount": 1,
                    "invoice_payload": invoice.params["payload"],
                }
            }
        )
        refusal = await api.wait_for(lambda c: c.method == "answerPreCheckoutQuery", since=mark)
        assert refusal.params["ok"] == "false"
        assert refusal.params["error_message"] == t("en", "offer_gone")

        mark = api.mark()
        erin.paid(invoice, "charge-1")
        thanks = await answer(api, erin, mark)
        assert thanks.text == t("en", "paid", credits=100, balance=STARTER + 100)

        mark = api.mark()
        erin.paid(invoice, "charge-1")  # the same payment, delivered again
        again = await answer(api, erin, mark)
        assert again.text == t("en", "paid_already", balance=STARTER + 100)

        account = await account_of(service, erin)
        assert (await service.get_account(account)).balance == STARTER + 100
        grants = [e for e in await service.ledger_entries(account) if e.kind == "grant"]
        assert sorted(e.amount for e in grants) == [STARTER, 100]


# -- commands ---------------------------------------------------------------------------------


async def test_commands_languages_history_cancel_and_admin_grant(
    tmp_path: Path, api: FakeBotApi, media: Media
) -> None:
    admin = FakeUser(api, ADMIN, "Admin", "tr")
    ivan = FakeUser(api, 801, "Ivan", "fr")  # not one of ours: English
    jin = FakeUser(api, 802, "Jin", "ko-KR")
    async with running_bot(bot_settings(tmp_path, api), render=False) as service:
        menus = {c.params.get("language_code") for c in api.calls_of("setMyCommands")}
        assert menus == {None, "en", "es", "tr", "ko", "ja"}

        mark = api.mark()
        jin.say("/start")
        welcome = (await answer(api, jin, mark)).text
        assert welcome == t("ko", "welcome", name="Jin", balance=50)
        assert "입력하세요" in welcome  # "type it": a typed line works where a voice is awaited

        mark = api.mark()
        ivan.say("/help")
        help_text = (await answer(api, ivan, mark)).text
        assert help_text.startswith("How it works")
        assert "2 credits per second at 480p, 4 at 720p" in help_text
        assert "type what the person should say" in help_text  # no recording needed

        mark = api.mark()
        ivan.say("/history")
        assert (await answer(api, ivan, mark)).text == t("en", "history.empty")

        # /grant: admins only, and says how to use it.
        mark = api.mark()
        ivan.say(f"/grant {ivan.id} 1000")
        assert (await answer(api, ivan, mark)).text == t("en", "admins_only")
        mark = api.mark()
        admin.say("/grant Ivan lots")
        assert (await answer(api, admin, mark)).text == t("tr", "grant.usage")
        mark = api.mark()
        admin.say(f"/grant {ivan.id} 30")
        assert (await answer(api, admin, mark)).text == t(
            "tr", "granted", credits=30, user=ivan.id, balance=80
        )
        ivan_account = await account_of(service, ivan)
        assert (await service.get_account(ivan_account)).balance == 80

        # /cancel forgets a request being put together...
        mark = api.mark()
        ivan.send_photo(media.face)
        await answer(api, ivan, mark)
        mark = api.mark()
        ivan.say("/cancel")
        assert (await answer(api, ivan, mark)).text == t("en", "forgotten")
        mark = api.mark()
        ivan.send_voice(media.hello)
        assert (await answer(api, ivan, mark)).text == t("en", "need_media_first")

        # ...and stops a submitted video (no workers here, so it waits in the queue).
        mark = api.mark()
        ivan.send_photo(media.face)
        await answer(api, ivan, mark)
        mark = api.mark()
        ivan.send_voice(media.hello)
        panel = await answer(api, ivan, mark)
        price = await choose_resolution(api, ivan, panel, "480p")
        mark = api.mark()
        ivan.tap(panel, price.button("go:"))
        await panel_edit(api, panel, mark, text=t("en", "queued"))
        assert (await service.get_account(ivan_account)).balance == 70  # held

        mark = api.mark()
        ivan.say("/cancel")
        assert (await answer(api, ivan, mark)).text == t("en", "stopping", count=1)
        await panel_edit(api, panel, mark, text=t("en", "canceled"))
        assert (await service.get_account(ivan_account)).balance == 80
        assert sorted(e.kind for e in await job_entries(service, ivan_account)) == [
            "refund",
            "reserve",
        ]

        # The ✖ Stop button on the status message does the same for its own video.
        mark = api.mark()
        ivan.send_photo(media.face)
        await answer(api, ivan, mark)
        mark = api.mark()
        ivan.send_voice(media.hello)
        panel = await answer(api, ivan, mark)
        price = await choose_resolution(api, ivan, panel, "480p")
        mark = api.mark()
        ivan.tap(panel, price.button("go:"))
        queued = await panel_edit(api, panel, mark, text=t("en", "queued"))
        mark = api.mark()
        ivan.tap(panel, queued.button("stop:"))
        await panel_edit(api, panel, mark, text=t("en", "canceled"))
        assert (await service.get_account(ivan_account)).balance == 80

        mark = api.mark()
        ivan.say("/history")
        history = (await answer(api, ivan, mark)).text
        assert history.startswith(t("en", "history.head"))
        assert t("en", "status.canceled") in history

        mark = api.mark()
        ivan.say("/cancel")
        assert (await answer(api, ivan, mark)).text == t("en", "nothing_to_cancel")
