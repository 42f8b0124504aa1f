"""How the Telegram bot delivers and keeps running: videos over the upload limit sent as a
link, files of unknown size, a render delivered after a restart, logs that never hold the
token, `lipsync bot telegram` stopping on SIGTERM, an outage at start; then the pieces (texts
in every language, sizes, local Bot API server limits, per-user update order).
Shared fixtures and helpers: tests/support/telegram_bot.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import urllib.parse
from pathlib import Path

import pytest

from bots.shared import MB, megabytes
from bots.telegram import run as telegram_run
from bots.telegram import texts
from bots.telegram.limits import Limits
from bots.telegram.run import TelegramDoor, file_url_for
from bots.telegram.texts import t
from engine.service import Service
from tests.conftest import make_settings
from tests.support.fake_telegram import TOKEN, FakeBotApi, FakeUser
from tests.support.telegram_bot import (
    STARTER,
    TEST_LIMITS,
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

REPO = Path(__file__).resolve().parents[2]


# -- delivery and limits ----------------------------------------------------------------------


@pytest.mark.slow
async def test_a_video_over_the_upload_limit_is_sent_as_a_link(
    tmp_path: Path, api: FakeBotApi, media: Media
) -> None:
    hana = FakeUser(api, 701, "Hana", "ko")
    limits = Limits(upload_bytes=1000, edit_every=0.2, action_every=0.5)
    async with running_bot(bot_settings(tmp_path, api), render=True, limits=limits) as service:
        mark = api.mark()
        hana.send_photo(media.face)
        await answer(api, hana, mark)
        mark = api.mark()
        hana.send_voice(media.hello)
        panel = await answer(api, hana, mark)
        price = await choose_resolution(api, hana, panel, "480p")
        mark = api.mark()
        hana.tap(panel, price.button("go:"))
        link = await answer(api, hana, mark)

        account = await account_of(service, hana)
        (job,) = await service.list_jobs(account)
        url = service.output_url(job)
        assert url and url in link.text
        size = megabytes(service.output_path(job).stat().st_size)  # type: ignore[union-attr]
        assert link.text == t("ko", "link", size=size, limit="0.1", url=url)
        assert " 0 MB" not in link.text and "0.0 MB" not in link.text
        assert api.calls_of("sendVideo", hana.id) == []
        assert job.status == "completed"


async def test_a_file_of_unknown_size_is_fetched_and_never_said_to_be_0_mb(
    tmp_path: Path, api: FakeBotApi, media: Media
) -> None:
    nina = FakeUser(api, 1401, "Nina", "en")
    async with running_bot(bot_settings(tmp_path, api), render=False):
        # Telegram sometimes leaves `file_size` out: the bot tries the download, and when
        # Telegram refuses the file as too big, says so without a size.
        big = api.add_file(media.silent_video.read_bytes(), size=25 * MB, suffix=".mp4")
        del big["file_size"]
        mark = api.mark()
        nina._message(video={**big, "width": 640, "height": 480, "duration": 2})
        text = await said(api, nina, mark)
        assert text == t("en", "too_big.cloud_unknown", limit="20")
        assert " 0 MB" not in text and "20 MB" in text
        assert len(api.calls_of("getFile", since=mark)) == 1  # it was tried

        # A small one without a size is simply fetched.
        small = api.add_file(media.face.read_bytes(), suffix=".jpg")
        del small["file_size"]
        mark = api.mark()
        nina._message(photo=[{**small, "width": 640, "height": 480}])
        assert await said(api, nina, mark) == t("en", "ask_voice.portrait")


@pytest.mark.slow
async def test_a_render_in_flight_is_delivered_after_the_bot_restarts(
    tmp_path: Path, api: FakeBotApi, media: Media
) -> None:
    kim = FakeUser(api, 901, "Kim", "en")
    settings = bot_settings(tmp_path, api)
    async with running_bot(settings, render=False):
        mark = api.mark()
        kim.send_photo(media.face)
        await answer(api, kim, mark)
        mark = api.mark()
        kim.send_voice(media.hello)
        panel = await answer(api, kim, mark)
        price = await choose_resolution(api, kim, panel, "480p")
        mark = api.mark()
        kim.tap(panel, price.button("go:"))
        await panel_edit(api, panel, mark, text=t("en", "queued"))
    # The bot stopped with the job still queued; a new one, now with workers, delivers it.
    mark = api.mark()
    async with running_bot(settings, render=True):
        upload = await api.reply_to(kim.id, since=mark, methods=("sendVideo",))
        assert open_mp4(upload.files["video"], tmp_path)[1]
        await panel_edit(api, panel, mark, text=t("en", "done", credits=10, balance=40))


# -- logging, start and stop ------------------------------------------------------------------


async def test_no_log_line_holds_the_token_not_even_url_encoded_in_a_download(
    tmp_path: Path, api: FakeBotApi, media: Media, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # python-telegram-bot and httpx log their URLs
    mia = FakeUser(api, 1201, "Mia", "en")
    async with running_bot(bot_settings(tmp_path, api), render=False):
        mark = api.mark()
        mia.send_photo(media.face)
        assert await said(api, mia, mark) == t("en", "ask_voice.portrait")
    formatter = logging.Formatter("%(name)s: %(message)s")
    lines = [formatter.format(record) for record in caplog.records]
    # The download URL is percent-encoded by python-telegram-bot ("123456%3ATEST-...").
    assert all("/file/bot<telegram-token>" in line for line in lines if "/file/bot" in line)
    downloads = [line for line in lines if line.startswith("httpx: HTTP Request: GET")]
    assert [line for line in downloads if "/file/bot<telegram-token>/files/file-" in line]
    secret = TOKEN.split(":")[1]
    for line in lines:
        assert secret not in urllib.parse.unquote(urllib.parse.unquote(line)), line
    assert not [line for line in lines if line.startswith("httpx") and "/getUpdates " in line]


async def test_lipsync_bot_telegram_answers_then_stops_cleanly_on_sigterm(
    tmp_path: Path, api: FakeBotApi, media: Media
) -> None:
    env = {
        **os.environ,
        "LIPSYNC_TELEGRAM_TOKEN": TOKEN,
        "LIPSYNC_TELEGRAM_BASE_URL": api.base_url,
        "LIPSYNC_DATA_DIR": str(tmp_path / "data"),
        "LIPSYNC_WORKERS_COUNT": "1",
        "LIPSYNC_LOG_LEVEL": "debug",  # python-telegram-bot logs its API URL at debug level
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", "bot", "telegram",
        cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        zoe = FakeUser(api, 1001, "Zoe", "es")
        zoe.say("/start")
        welcome = await api.reply_to(zoe.id, since=0)
        assert welcome.text == t("es", "welcome", name="Zoe", balance=STARTER)
        mark = api.mark()
        zoe.send_photo(media.face)  # a download: its URL holds the token, percent-encoded
        assert (await api.reply_to(zoe.id, since=mark)).text == t("es", "ask_voice.portrait")
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, output.decode(errors="replace")[-2000:]
    logged = output.decode(errors="replace")
    assert "Set Bot API URL" in logged and TOKEN not in logged  # the token is never logged
    assert "/file/bot<telegram-token>/files/" in logged  # the download was logged, redacted
    assert urllib.parse.quote(TOKEN) not in logged and TOKEN.split(":")[1] not in logged


async def test_a_telegram_outage_at_start_is_retried_in_the_background(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telegram_run, "RETRY_FIRST_SECONDS", 0.2)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = FakeBotApi()
    settings = make_settings(
        tmp_path / "data",
        telegram={"token": TOKEN, "base_url": f"http://127.0.0.1:{port}/bot"},
    )
    service = await Service.open(settings)
    door = TelegramDoor(service, limits=TEST_LIMITS, poll_timeout=1)
    try:
        await door.start()  # nothing listens yet: start() returns rather than fail `serve`
        assert door.app is None
        await api.start(port=port)
        lena = FakeUser(api, 1101, "Lena", "en")
        lena.say("/balance")
        reply = await api.reply_to(lena.id, since=0)
        assert reply.text.startswith(t("en", "balance", balance=STARTER))
    finally:
        await door.stop()
        await api.stop()
        await service.close()


# -- pieces -----------------------------------------------------------------------------------


def test_every_text_exists_in_every_language_with_the_same_placeholders() -> None:
    import string

    def fields(template: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}

    for lang in texts.LANGUAGES:
        table = texts.TEXTS[lang]
        assert set(table) == set(texts.EN), lang
        for key, template in table.items():
            assert fields(template) == fields(texts.EN[key]), (lang, key)


def test_sizes_read_sensibly_and_an_unknown_size_is_never_0_mb() -> None:
    from bots.telegram.conversation import too_big_text

    assert megabytes(25 * MB) == "25"
    assert megabytes(round(24.6 * MB)) == "24.6"
    assert megabytes(300 * 1024) == "0.3"
    assert megabytes(1000) == "0.1"  # under 0.1 MB, but not nothing
    assert megabytes(2000 * MB) == "2000"
    cloud, local = Limits(), Limits.for_base_url("http://127.0.0.1:8081/bot")
    for lang in texts.LANGUAGES:
        for limits, limit in ((cloud, "20"), (local, "2000")):
            unknown = too_big_text(lang, None, limits)
            assert f"{limit} MB" in unknown and " 0 MB" not in unknown, (lang, unknown)
            assert unknown != too_big_text(lang, 0, limits)
        assert "0.5 MB" in too_big_text(lang, MB // 2, Limits(download_bytes=MB // 4))


def test_local_bot_api_server_urls_and_limits() -> None:
    assert file_url_for("http://127.0.0.1:8081/bot") == "http://127.0.0.1:8081/file/bot"
    assert file_url_for("https://tg.example/api/bot") == "https://tg.example/api/file/bot"
    assert Limits.for_base_url("").download_bytes == 20 * MB
    assert Limits.for_base_url("").upload_bytes == 50 * MB
    local = Limits.for_base_url("http://127.0.0.1:8081/bot")
    assert local.local_server and local.download_bytes == local.upload_bytes == 2000 * MB


async def test_one_users_updates_run_in_order_and_users_run_side_by_side() -> None:
    from telegram import Update

    from bots.telegram.run import PerUserUpdates

    processor = PerUserUpdates()
    log: list[str] = []
    release = asyncio.Event()

    def update(user_id: int, n: int) -> Update:
        return Update.de_json(
            {
                "update_id": n,
                "message": {
                    "message_id": n,
                    "date": 0,
                    "chat": {"id": user_id, "type": "private"},
                    "from": {"id": user_id, "is_bot": False, "first_name": "U"},
                    "text": "hi",
                },
            },
            None,
        )

    async def slow(name: str) -> None:
        log.append(f"{name} start")
        await release.wait()
        log.append(f"{name} end")

    async def quick(name: str) -> None:
        log.append(name)

    first = asyncio.create_task(processor.process_update(update(1, 1), slow("a1")))
    second = asyncio.create_task(processor.process_update(update(1, 2), quick("a2")))
    other = asyncio.create_task(processor.process_update(update(2, 3), quick("b1")))
    await asyncio.wait_for(other, 2)
    assert log == ["a1 start", "b1"]  # user 2 is not held up by user 1
    release.set()
    await asyncio.gather(first, second)
    assert log == ["a1 start", "b1", "a1 end", "a2"]  # user 1's updates keep their order
