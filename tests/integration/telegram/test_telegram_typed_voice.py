"""The Telegram bot with a typed voice: where it waits for a voice, a line of text is spoken
by the engine in the user's language (a neural voice where one speaks it, else espeak-ng),
with a small voice picker on the price panel. A real python-telegram-bot Application
against the local fake Bot API."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.telegram.texts import t
from tests.support.fake_telegram import FakeBotApi, FakeUser
from tests.support.telegram_bot import (
    Media,
    account_of,
    answer,
    bot_settings,
    choose_resolution,
    open_mp4,
    panel_edit,
    running_bot,
    said,
)


@pytest.mark.slow
async def test_a_typed_spanish_line_becomes_a_talking_portrait(
    tmp_path: Path, api: FakeBotApi, media: Media
) -> None:
    lucia = FakeUser(api, 301, "Lucía", "es")
    async with running_bot(bot_settings(tmp_path, api), render=True) as service:
        mark = api.mark()
        lucia.send_photo(media.face)
        assert (await answer(api, lucia, mark)).text == t("es", "ask_voice.portrait")

        mark = api.mark()
        lucia.say("Hola, me llamo Lucía y hoy hace muy buen tiempo.")
        panel = await answer(api, lucia, mark)
        assert panel.text == t("es", "ask_resolution")

        price = await choose_resolution(api, lucia, panel, "480p")
        assert t("es", "confirm_voice", voice=t("es", "voice.es")) in price.text
        voices = [(label, data) for label, data in price.buttons() if data.startswith("voice:")]
        assert [label for label, _ in voices] == [
            f"🗣 {t('es', 'voice.es')} ✓",
            f"🗣 {t('es', 'voice.en-us')}",
        ]
        assert voices[0][1].endswith(":espeak:es")

        mark = api.mark()
        lucia.tap(panel, price.button("go:"))
        assert (await panel_edit(api, panel, mark)).text == t("es", "queued")
        upload = await api.reply_to(lucia.id, since=mark, methods=("sendVideo",))
        seconds, has_video, has_audio = open_mp4(upload.files["video"], tmp_path)
        assert has_video and has_audio

        (job,) = await service.list_jobs(await account_of(service, lucia))
        # held on the bound read from the text, charged on the speech the job made
        assert job.status == "completed" and job.charged <= job.estimate
        assert 2.0 < job.output_seconds <= job.estimate_seconds
        assert seconds == pytest.approx(job.output_seconds, abs=0.15)


async def test_a_typed_line_too_long_is_refused_in_the_users_language(
    tmp_path: Path, api: FakeBotApi, media: Media
) -> None:
    kemal = FakeUser(api, 302, "Kemal", "tr")
    async with running_bot(bot_settings(tmp_path, api), render=False) as service:
        mark = api.mark()
        kemal.send_photo(media.face)
        assert (await answer(api, kemal, mark)).text == t("tr", "ask_voice.portrait")

        limit = service.settings.tts.max_chars
        mark = api.mark()
        kemal.say("a" * (limit + 1))
        reason = f"the text is {limit + 1} characters; at most {limit}"
        assert await said(api, kemal, mark) == t("tr", "bad_text", reason=reason)
        assert await service.list_jobs(await account_of(service, kemal)) == []


@pytest.mark.slow
async def test_a_typed_japanese_line_dubs_a_video_note_in_a_neural_voice(
    tmp_path: Path, api: FakeBotApi, media: Media
) -> None:
    hana = FakeUser(api, 303, "Hana", "ja")
    async with running_bot(bot_settings(tmp_path, api), render=True) as service:
        mark = api.mark()
        hana.send_video_note(media.silent_video)
        assert (await answer(api, hana, mark)).text == t("ja", "ask_voice.dub")

        mark = api.mark()
        hana.say("こんにちは、私はパンを食べます。")
        panel = await answer(api, hana, mark)
        assert panel.text == t("ja", "ask_resolution")
        price = await choose_resolution(api, hana, panel, "480p")
        assert price.text.startswith(t("ja", "what.dub"))
        assert t("ja", "confirm_voice", voice=t("ja", "voice.ja")) in price.text
        voices = [data for _, data in price.buttons() if data.startswith("voice:")]
        assert voices[0].endswith(":kokoro:jf_alpha")  # Kokoro's Japanese, not espeak-ng's

        mark = api.mark()
        hana.tap(panel, price.button("go:"))
        upload = await api.reply_to(hana.id, since=mark, methods=("sendVideo",))
        seconds, has_video, has_audio = open_mp4(upload.files["video"], tmp_path)
        assert has_video and has_audio

        (job,) = await service.list_jobs(await account_of(service, hana))
        assert job.model == "lipsync-video" and job.status == "completed"
        assert job.charged <= job.estimate
        assert 1.5 < job.output_seconds <= job.estimate_seconds
        assert seconds == pytest.approx(job.output_seconds, abs=0.15)
