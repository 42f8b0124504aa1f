"""Shared pieces of the Telegram bot tests (tests/integration/test_telegram_*.py).

The media the scripted users send (made once per test module), the bot on a local fake of
the Bot API (tests/support/fake_telegram.py), and the helpers that read what it sent back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from bots.telegram.limits import Limits
from bots.telegram.run import TelegramDoor
from engine.config import Settings
from engine.ledger import Entry
from engine.media import Mp4Writer, load_audio, load_image
from engine.service import Service
from tests.conftest import make_settings
from tests.support.fake_telegram import TOKEN, Call, FakeBotApi, FakeUser
from tests.support.media import face_photo_path, write_png
from tests.support.speech import speak

ADMIN = 9001
STARTER = 50
# Cloud download limit as on Telegram's servers; progress edited often enough to be seen
# in a one-second render.
TEST_LIMITS = Limits(edit_every=0.2, action_every=0.5)


# -- media, made once ----------------------------------------------------------------------


@dataclass(frozen=True)
class Media:
    face: Path
    two_faces: Path
    no_face: Path
    hello: Path  # an OGG/Opus voice note, as Telegram clients record them
    left: Path
    right: Path
    silent_video: Path  # a face video without sound: a dubbing source
    talking_video: Path  # a video with sound: usable as the voice


def voice_note(text: str, voice: str, folder: Path, name: str) -> Path:
    wav = speak(text, voice, folder / f"{name}.wav")
    ogg = folder / f"{name}.ogg"
    samples = load_audio(wav, sample_rate=48000)
    with av.open(str(ogg), "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=48000, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            (samples * 32767).astype(np.int16)[None, :], format="s16", layout="mono"
        )
        frame.sample_rate = 48000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return ogg


def exact_voice_note(text: str, seconds: float, folder: Path, name: str) -> Path:
    """A voice note whose sound lasts exactly `seconds` (speech, then silence)."""
    speech = load_audio(voice_note(text, "en", folder, f"{name}-speech"), sample_rate=48000)
    samples = np.zeros(round(seconds * 48000), np.float32)
    samples[: len(speech)] = speech[: len(samples)]
    ogg = folder / f"{name}.ogg"
    with av.open(str(ogg), "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=48000, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            (samples * 32767).astype(np.int16)[None, :], format="s16", layout="mono"
        )
        frame.sample_rate = 48000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return ogg


def face_video(path: Path, *, audio: np.ndarray | None, seconds: float = 2.0) -> Path:
    image = load_image(face_photo_path())
    height = 320
    width = round(image.shape[1] * height / image.shape[0] / 2) * 2
    frame = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    with Mp4Writer(path, width, height, 25, audio=audio, audio_rate=48000) as writer:
        for i in range(int(seconds * 25)):
            writer.write(np.roll(frame, i % 3, axis=0))
    return path


def make_media(folder: Path) -> Media:
    """The photos, voice notes and videos the Telegram tests send, written into `folder`.

    Each test module builds them once, in its module-scoped `media` fixture.
    """
    face = load_image(face_photo_path())
    pair = np.hstack([face, face[:, ::-1]])
    two_faces = folder / "two.jpg"
    cv2.imwrite(str(two_faces), cv2.cvtColor(pair, cv2.COLOR_RGB2BGR))
    hello = voice_note("Hello there, my friend.", "en", folder, "hello")
    return Media(
        face=face_photo_path(),
        two_faces=two_faces,
        no_face=write_png(folder / "no-face.png", 320, 240),
        hello=hello,
        left=voice_note("Good morning.", "en", folder, "left"),
        right=voice_note("Buenos días.", "es", folder, "right"),
        silent_video=face_video(folder / "silent.mp4", audio=None),
        talking_video=face_video(
            folder / "talking.mp4", audio=load_audio(hello, sample_rate=48000), seconds=1.6
        ),
    )


# -- a bot on a fake Telegram ---------------------------------------------------------------


@asynccontextmanager
async def fake_bot_api() -> AsyncIterator[FakeBotApi]:
    """The local fake of the Bot API, started; each test module's `api` fixture yields one."""
    fake = FakeBotApi()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def bot_settings(tmp_path: Path, api: FakeBotApi, **overrides: object) -> Settings:
    return make_settings(
        tmp_path / "data",
        workers={"plugins": []},  # the real renderer, not the scripted test handlers
        telegram={"token": TOKEN, "base_url": api.base_url, "admins": [ADMIN]},
        **overrides,
    )


@asynccontextmanager
async def running_bot(
    settings: Settings, *, render: bool, limits: Limits = TEST_LIMITS
) -> AsyncIterator[Service]:
    """The service (with render workers if `render`) and the bot polling the fake API."""
    service = await Service.open(settings)
    door = TelegramDoor(service, limits=limits, poll_timeout=1)
    try:
        if render:
            await service.start_workers()
        await door.start()
        yield service
    finally:
        await door.stop()
        await service.close()


async def account_of(service: Service, user: FakeUser) -> str:
    return (await service.user_account("telegram", user.id)).id


async def job_entries(service: Service, account_id: str) -> list[Entry]:
    return [e for e in await service.ledger_entries(account_id, limit=100) if e.job_id]


async def answer(api: FakeBotApi, user: FakeUser, since: int) -> Call:
    return await api.reply_to(user.id, since=since)


async def said(api: FakeBotApi, user: FakeUser, since: int) -> str:
    """The text of the bot's next message to `user`."""
    return (await answer(api, user, since)).text


async def panel_edit(api: FakeBotApi, panel: Call, since: int, text: str | None = None) -> Call:
    """The next edit of the panel message (with exactly `text`, if given)."""
    return await api.wait_for(
        lambda c: (
            c.method == "editMessageText"
            and c.message_id == panel.message_id
            and (text is None or c.text == text)
        ),
        since=since,
    )


async def choose_resolution(api: FakeBotApi, user: FakeUser, panel: Call, resolution: str) -> Call:
    """Tap a resolution on the panel; returns the edit showing the price and confirm button."""
    mark = api.mark()
    user.tap(panel, button_data(panel, f":{resolution}"))
    return await panel_edit(api, panel, mark)


def button_data(call: Call, suffix: str) -> str:
    matches = [data for _, data in call.buttons() if data.endswith(suffix)]
    assert len(matches) == 1, (suffix, call.buttons())
    return matches[0]


def open_mp4(data: bytes, folder: Path) -> tuple[float, bool, bool]:
    """(seconds, has video, has audio) of an uploaded MP4, decoded with PyAV."""
    path = folder / "uploaded.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        seconds = float(container.duration or 0) / av.time_base
        has_video = bool(container.streams.video)
        has_audio = bool(container.streams.audio)
        frames = sum(1 for _ in container.decode(video=0))
    assert frames > 10
    return seconds, has_video, has_audio
