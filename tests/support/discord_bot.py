"""The harness for the Discord bot's end-to-end tests (`tests/integration/test_discord_*.py`).

The bot connects the way it does in production (`client.start`: REST login, command sync,
then the gateway websocket with HELLO, IDENTIFY, READY and heartbeats) to
`tests.support.fake_discord`, a local fake of Discord's API and gateway. Interactions reach
it as INTERACTION_CREATE dispatches over that websocket, and everything the bot says back
(responses, edits, uploads, channel posts) is recorded by the fake.

The fake also refuses what Discord refuses (a late acknowledgement, a wrong response type,
`files[n]` not matching `attachments`, a wrong token, privileged intents) and notes what
Discord would silently do differently (an ephemeral follow-up right after a public defer is
shown to everyone). Every test ends with `fake.violations` empty, so the whole suite is also
a check that the bot keeps those rules; the tests in `test_discord_gateway.py` prove the fake
enforces them.

Real renders make the happy paths; the scripted handlers (`tests.support.scripted_handlers`,
chosen through the job's prompt) make the timing-sensitive paths (cooldowns, one job at a
time, the 15-minute token) fast and deterministic.

The test modules wrap `make_media`, `fake_discord` and `listening` in fixtures of their own
(`media`, `fake`, `listener`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import cv2
import discord
import numpy as np
import pytest
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bots.discord.options import DoorOptions
from bots.discord.run import LipsyncClient
from engine.media import Mp4Writer, load_image, probe
from engine.service import Service
from tests.conftest import make_settings
from tests.support.fake_discord import (
    EPHEMERAL,
    TOKEN,
    FakeChannel,
    FakeDiscord,
    FakeFile,
    FakeGuild,
    FakeUser,
    Interaction,
)
from tests.support.media import face_photo_path, write_png, write_tone_wav
from tests.support.speech import speak

ADMIN = FakeUser(900, "operator")
ALICE = FakeUser(101, "alice")
BOB = FakeUser(102, "bob")
GENERAL = FakeChannel(2000, "general")
ART = FakeChannel(2001, "art")
SERVER = FakeGuild(1000, "test server", (GENERAL, ART))
FAST = DoorOptions(progress_interval=0.2, default_cooldown_seconds=0, sync_commands=True)


# -- media, made once per module --------------------------------------------------------


def make_media(root: Path) -> dict[str, Path]:
    """The pictures, sounds and video the tests send, written under `root` (once per module:
    the test modules call this from a module-scoped `media` fixture)."""
    face = load_image(face_photo_path(), max_pixels=10_000_000)  # RGB
    small = cv2.resize(face, (256, 300), interpolation=cv2.INTER_AREA)
    duet = np.concatenate([small, small[:, ::-1]], axis=1)
    cv2.imwrite(str(root / "duet.jpg"), cv2.cvtColor(duet, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(root / "face.jpg"), cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
    with Mp4Writer(root / "talk.mp4", 256, 300, 25, audio=np.zeros(48000, np.float32)) as out:
        for _ in range(25):
            out.write(small)
    mask = np.full((300, 256, 3), 255, np.uint8)
    cv2.imwrite(str(root / "mask.png"), mask)
    return {
        "face": root / "face.jpg",
        "duet": root / "duet.jpg",
        "video": root / "talk.mp4",
        "mask": root / "mask.png",
        "hello": speak("Hello there.", "en", root / "hello.wav"),
        "friend": speak("Hi, friend.", "en-us", root / "friend.wav"),
        "blank": write_png(root / "blank.png", 320, 240),
        "tone": write_tone_wav(root / "tone.wav", 1.0),
        "long": write_tone_wav(root / "long.wav", 13.0),
        "noise": write_noise_png(root / "noise.png"),
    }


def write_noise_png(path: Path) -> Path:
    """A picture that does not compress: about 1.1 MB, for the size limit."""
    pixels = np.random.default_rng(7).integers(0, 256, (440, 860, 3), dtype=np.uint8)
    cv2.imwrite(str(path), pixels)
    return path


# -- the engine, the fake Discord and the bot --------------------------------------------


@asynccontextmanager
async def engine(tmp_path: Path, *, real: bool, **overrides: Any) -> AsyncIterator[Service]:
    """A service with workers: real renderer, or the scripted handlers (prompt-driven)."""
    workers = {"plugins": []} if real else {}
    discord = {"admins": [ADMIN.id], **overrides.pop("discord", {})}
    settings = make_settings(tmp_path / "data", workers=workers, discord=discord, **overrides)
    service = await Service.open(settings)
    await service.start_workers()
    try:
        yield service
    finally:
        await service.close()


@asynccontextmanager
async def fake_discord(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FakeDiscord]:
    """Discord, local: REST at `Route.BASE`, the gateway at `DEFAULT_GATEWAY`. A test passes
    only if the bot broke none of Discord's rules (or the test took the breaches it caused)."""
    async with FakeDiscord(tmp_path, token=TOKEN, guilds=(SERVER,)) as server:
        monkeypatch.setattr(Route, "BASE", server.api_base)
        monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url))
        yield server
        assert server.violations == [], server.violations


@asynccontextmanager
async def connected(
    client: discord.Client, fake: FakeDiscord, token: str = TOKEN
) -> AsyncIterator[None]:
    """Run `client.start` (login, sync, gateway) as production does, until READY; then close."""
    running = asyncio.create_task(client.start(token), name="discord-client")
    ready = asyncio.create_task(fake.wait_ready())
    try:
        done, _ = await asyncio.wait({running, ready}, return_when=asyncio.FIRST_COMPLETED)
        if running in done:
            running.result()  # raises what stopped the client
            raise AssertionError("the client stopped before READY")
        ready.result()
        yield
    finally:
        ready.cancel()
        await client.close()
        await asyncio.wait_for(running, 10)


@asynccontextmanager
async def bot(
    fake: FakeDiscord, service: Service, options: DoorOptions = FAST
) -> AsyncIterator[LipsyncClient]:
    """The real bot, logged in (commands synced) and connected to the fake gateway."""
    client = LipsyncClient(service, options)
    async with connected(client, fake):
        yield client


class Listener(discord.Client):
    """A bare discord.py client that hands each interaction to the test: for answering in
    ways the bot never would, to see the fake refuse them."""

    def __init__(self) -> None:
        super().__init__(intents=discord.Intents(guilds=True))
        self.received: asyncio.Queue[discord.Interaction] = asyncio.Queue()

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self.received.put(interaction)


@asynccontextmanager
async def listening(fake: FakeDiscord) -> AsyncIterator[Listener]:
    """A `Listener`, connected to the fake gateway until the block ends."""
    client = Listener()
    async with connected(client, fake):
        yield client


async def arrive(fake: FakeDiscord, listener: Listener, payload: dict) -> discord.Interaction:
    await fake.dispatch(payload)
    return await asyncio.wait_for(listener.received.get(), 5)


def private_reply(it: Interaction) -> str | None:
    """The ephemeral answer: an ephemeral first response, or an ephemeral followup."""
    cb = it.callback
    if cb and cb["type"] == 4 and cb.get("data", {}).get("flags", 0) & EPHEMERAL:
        return cb["data"]["content"]
    return next((m.content for m in it.followups if m.ephemeral), None)


async def reply_of(fake: FakeDiscord, it: Interaction) -> str:
    await fake.wait_for(lambda: private_reply(it) is not None)
    text = private_reply(it)
    assert text is not None
    return text


def has_video(fake: FakeDiscord, payload: dict[str, Any]) -> bool:
    original = fake.interaction(payload).original
    return original is not None and bool(original.files)


def shows(fake: FakeDiscord, payload: dict[str, Any], text: str) -> bool:
    original = fake.interaction(payload).original
    return original is not None and text in original.content


def downloads(fake: FakeDiscord) -> list[str]:
    return [c.path for c in fake.calls if c.path.startswith("/attachments/")]


async def account_of(service: Service, user: FakeUser) -> str:
    return (await service.user_account("discord", user.id)).id


async def job_entries(service: Service, user: FakeUser) -> Counter[str]:
    """Ledger entries of the user's jobs by kind (the starter grant has no job)."""
    entries = await service.ledger_entries(await account_of(service, user))
    return Counter(e.kind for e in entries if e.job_id is not None)


def assert_real_mp4(data: bytes, tmp_path: Path, *, seconds: float) -> None:
    path = tmp_path / "received.mp4"
    path.write_bytes(data)
    info = probe(path)
    assert data[4:8] == b"ftyp"
    assert info.kind == "video" and info.has_audio
    assert info.duration is not None and abs(info.duration - seconds) < 0.3


def image_command(fake: FakeDiscord, image: FakeFile, audio: FakeFile, **kw: Any) -> dict:
    options = {"image": image, "audio": audio, **kw.pop("options", {})}
    return fake.command("lipsync", "image", options=options, **kw)
