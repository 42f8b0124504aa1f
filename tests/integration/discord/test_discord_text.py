"""The Discord bot's render commands with a typed voice: `text` instead of the audio
attachment, spoken by the engine (espeak-ng) with the voice or language in `voice`.
Driven through discord.py's real client against the local fake (tests.support.discord_bot).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.support.discord_bot import (
    ALICE,
    account_of,
    assert_real_mp4,
    bot,
    downloads,
    engine,
    job_entries,
    reply_of,
)
from tests.support.fake_discord import FakeDiscord


@pytest.mark.slow
async def test_image_with_text_speaks_it_and_uploads_a_real_mp4(
    tmp_path: Path, fake: FakeDiscord, media: dict[str, Path]
) -> None:
    async with engine(tmp_path, real=True) as service, bot(fake, service):
        options = {
            "image": fake.add_file(media["face"]),
            "text": "Hola, me llamo Alicia y hoy hace muy buen tiempo.",
            "voice": "es",
        }
        payload = fake.command("lipsync", "image", options=options, user=ALICE)
        await fake.dispatch(payload)
        it = fake.interaction(payload)
        await fake.wait_for(lambda: bool(it.original and it.original.files), timeout=120)
        [job] = await service.list_jobs(await account_of(service, ALICE))
        entries = await job_entries(service, ALICE)
    # the text is kept and spoken in the job; held on its bound, charged on its speech
    assert job.status == "completed" and job.inputs["audio"].endswith(".speech.json")
    assert 2.0 < (job.output_seconds or 0) <= job.estimate_seconds
    assert job.charged is not None and job.charged <= job.estimate
    [(name, data)] = it.original.files
    assert name == "lipsync.mp4"
    assert_real_mp4(data, tmp_path, seconds=job.output_seconds)
    assert entries == Counter({"reserve": 1, "charge": 1})


@pytest.mark.parametrize(
    ("command", "options", "expected"),
    [
        ("image", {"text": "Hello", "voice": "espeak:xx-nowhere"}, "unknown voice 'espeak:xx-"),
        ("image", {"text": "Hello", "voice": "xx"}, "no voice speaks 'xx'"),
        ("image", {"text": "a" * 3001}, "the text is 3001 characters; at most 3000"),
        ("image", {}, "Give `audio` (a sound file) or `text` (what to say)."),
        ("image", {"text": "Hi", "audio": "tone"}, "Give either `audio` (a sound file) or"),
        ("image", {"voice": "es", "audio": "tone"}, "`voice` is for `text`"),
        ("duet", {"left_text": "Hi", "order": "meanwhile"}, "Give `right_audio`"),
    ],
)
async def test_a_bad_text_or_voice_gets_a_private_reply_and_costs_nothing(
    tmp_path: Path,
    fake: FakeDiscord,
    media: dict[str, Path],
    command: str,
    options: dict[str, Any],
    expected: str,
) -> None:
    async with engine(tmp_path, real=False) as service, bot(fake, service):
        options = {
            "image": fake.add_file(media["duet" if command == "duet" else "face"]),
            **{k: fake.add_file(media[v]) if k == "audio" else v for k, v in options.items()},
        }
        payload = fake.command("lipsync", command, options=options, user=ALICE)
        await fake.dispatch(payload)
        it = fake.interaction(payload)
        text = await reply_of(fake, it)
        await asyncio.sleep(0.2)
        jobs = await service.list_jobs(None)
        account = await service.user_account("discord", ALICE.id)
    assert expected in text and "Traceback" not in text
    assert jobs == [] and account.balance == 50
    assert downloads(fake) == []  # refused before any byte was fetched
    assert it.callback is not None and it.callback["type"] == 4  # no public "thinking"
