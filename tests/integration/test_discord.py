"""The Discord bot end to end: discord.py's real client and command tree, real workers.

The bot connects the way it does in production (`client.start`: REST login, command sync,
then the gateway websocket with HELLO, IDENTIFY, READY and heartbeats) to
`tests.support.fake_discord`, a local fake of Discord's API and gateway. Interactions reach
it as INTERACTION_CREATE dispatches over that websocket, and everything the bot says back
(responses, edits, uploads, channel posts) is recorded by the fake.

The fake also refuses what Discord refuses (a late acknowledgement, a wrong response type,
`files[n]` not matching `attachments`, a wrong token, privileged intents) and notes what
Discord would silently do differently (an ephemeral follow-up right after a public defer is
shown to everyone). Every test ends with `fake.violations` empty, so the whole suite is also
a check that the bot keeps those rules; the tests at the end prove the fake enforces them.

Real renders make the happy paths; the scripted handlers (`tests.support.scripted_handlers`,
chosen through the job's prompt) make the timing-sensitive paths (cooldowns, one job at a
time, the 15-minute token) fast and deterministic.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import cv2
import discord
import numpy as np
import pytest
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bots.discord.options import DoorOptions
from bots.discord.run import DiscordDoor, LipsyncClient
from cli.serve import run_bot
from engine import handlers
from engine.media import Mp4Writer, load_image, probe
from engine.service import Service
from tests.conftest import make_settings
from tests.support.fake_discord import (
    ACK_WINDOW,
    APP_ID,
    EPHEMERAL,
    GUILDS_INTENT,
    MANAGE_GUILD,
    PRIVILEGED_INTENTS,
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


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("discord-media")
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


@pytest.fixture
async def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
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


@pytest.fixture
async def listener(fake: FakeDiscord) -> AsyncIterator[Listener]:
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


# -- registration ---------------------------------------------------------------------


async def test_commands_are_registered_as_discord_allows(tmp_path: Path, fake: FakeDiscord) -> None:
    async with engine(tmp_path, real=False) as service, bot(fake, service):
        commands = {c["name"]: c for c in fake.synced_commands}
    assert set(commands) == {"lipsync", "credits", "jobs", "lipsync-settings"}
    subs = {c: [o["name"] for o in commands[c].get("options", [])] for c in commands}
    assert subs["lipsync"] == ["image", "video", "duet"]
    assert subs["credits"] == ["balance", "grant"]
    image = commands["lipsync"]["options"][0]["options"]
    assert [(o["name"], o["type"], o["required"]) for o in image] == [
        ("image", 11, True),
        ("audio", 11, True),
        ("resolution", 3, False),
        ("prompt", 3, False),
    ]
    assert [c["value"] for c in image[2]["choices"]] == ["480p", "720p"]
    duet = commands["lipsync"]["options"][2]["options"]
    order = next(o for o in duet if o["name"] == "order")
    assert order["required"] and [c["value"] for c in order["choices"]] == [
        "meanwhile",
        "left_right",
        "right_left",
    ]
    server = commands["lipsync-settings"]
    assert int(server["default_member_permissions"]) == MANAGE_GUILD
    assert server["dm_permission"] is False  # servers only


# -- the three render commands, real renders -------------------------------------------


@pytest.mark.slow
async def test_image_shows_the_price_then_progress_and_uploads_a_real_mp4(
    tmp_path: Path, fake: FakeDiscord, media: dict[str, Path]
) -> None:
    async with engine(tmp_path, real=True) as service, bot(fake, service):
        image, audio = fake.add_file(media["face"]), fake.add_file(media["hello"])
        payload = image_command(fake, image, audio, user=ALICE, options={"prompt": "calm"})
        await fake.dispatch(payload)
        it = fake.interaction(payload)
        await fake.wait_for(lambda: bool(it.original and it.original.files), timeout=120)
        [job] = await service.list_jobs(await account_of(service, ALICE))
        entries = await job_entries(service, ALICE)
        balance = (await service.user_account("discord", ALICE.id)).balance
        leftovers = list((service.settings.data_path / "discord" / "incoming").iterdir())
    # Deferred publicly at once, before any download.
    assert it.callback == {"type": 5}
    first = fake.calls.index(next(c for c in fake.calls if c.path.endswith("/callback")))
    assert all(not c.path.startswith("/attachments/") for c in fake.calls[:first])
    edits = [c.body["content"] for c in fake.calls if c.method == "PATCH"]
    # The price comes first, before the job exists (no stage/percentage yet) ...
    assert edits[0].startswith("This talking photo costs **10 credits** (5 s at 480p)")
    assert "balance is 50 credits" in edits[0] and "%" not in edits[0]
    # ... then live progress with the stage and a percentage, under the price ...
    progress = [e for e in edits[1:-1] if e.rstrip().endswith("%")]
    assert progress and all(e.startswith("This talking photo costs") for e in progress)
    # ... then the MP4 itself, uploaded into the response.
    assert "ready" in edits[-1] and "Charged 10 credits; balance 40 credits" in edits[-1]
    [(name, data)] = it.original.files
    assert name == "lipsync.mp4"
    assert_real_mp4(data, tmp_path, seconds=job.output_seconds)
    assert job.status == "completed" and job.params["prompt"] == "calm"
    assert entries == Counter({"reserve": 1, "charge": 1}) and balance == 40
    assert fake.rejected() == [] and leftovers == []  # the downloads were cleaned up


@pytest.mark.slow
async def test_duet_renders_two_voices_one_after_the_other(
    tmp_path: Path, fake: FakeDiscord, media: dict[str, Path]
) -> None:
    async with engine(tmp_path, real=True) as service, bot(fake, service):
        options = {
            "image": fake.add_file(media["duet"]),
            "left_audio": fake.add_file(media["hello"]),
            "right_audio": fake.add_file(media["friend"]),
            "order": "left_right",
        }
        payload = fake.command("lipsync", "duet", options=options, user=BOB)
        await fake.dispatch(payload)
        it = fake.interaction(payload)
        await fake.wait_for(lambda: bool(it.original and it.original.files), timeout=120)
        [job] = await service.list_jobs(await account_of(service, BOB))
        entries = await job_entries(service, BOB)
    left, right = probe(media["hello"]).duration, probe(media["friend"]).duration
    assert job.model == "lipsync-image-multi" and job.params["order"] == "left_right"
    assert job.output_seconds == pytest.approx(left + right, abs=0.2)  # one after the other
    [(_, data)] = it.original.files
    assert_real_mp4(data, tmp_path, seconds=job.output_seconds)
    assert "duet is ready" in it.original.content
    assert entries == Counter({"reserve": 1, "charge": 1})


async def test_video_refuses_a_picture_as_the_video(
    tmp_path: Path, fake: FakeDiscord, media: dict[str, Path]
) -> None:
    async with engine(tmp_path, real=False) as service, bot(fake, service):
        options = {"video": fake.add_file(media["face"]), "audio": fake.add_file(media["hello"])}
        payload = fake.command("lipsync", "video", options=options, user=ALICE)
        await fake.dispatch(payload)
        it = fake.interaction(payload)
        text = await reply_of(fake, it)
        jobs = await service.list_jobs(None)
    assert text.startswith("`video` must be a video (MP4, MOV, WebM or MKV)")
    assert "`face.jpg` (image/jpeg) is not" in text
    assert jobs == [] and downloads(fake) == []


@pytest.mark.slow
async def test_video_with_mask_uploads_a_real_mp4(
    tmp_path: Path, fake: FakeDiscord, media: dict[str, Path]
) -> None:
    handlers.load_handlers([])
    if handlers.get_handler("lipsync-video") is None:
        pytest.skip("lipsync-video has no renderer yet (engine/lipsync/dubbing.py is a stub)")
    async with engine(tmp_path, real=True) as service, bot(fake, service):
        options = {
            "video": fake.add_file(media["video"]),
            "audio": fake.add_file(media["hello"]),
            "mask": fake.add_file(media["mask"]),
        }
        payload = fake.command("lipsync", "video", options=options, user=ALICE)
        await fake.dispatch(payload)
        it = fake.interaction(payload)
        await fake.wait_for(lambda: bool(it.original and it.original.files), timeout=180)
        [job] = await service.list_jobs(await account_of(service, ALICE))
        entries = await job_entries(service, ALICE)
    assert set(job.inputs) == {"video", "audio", "mask_image"}
    [(_, data)] = it.original.files
    assert_real_mp4(data, tmp_path, seconds=job.output_seconds)
    assert entries == Counter({"reserve": 1, "charge": 1})


# -- delivery: over the upload limit, after the token -----------------------------------


async def test_over_the_upload_limit_the_video_comes_as_a_link(
    tmp_path: Path, fake: FakeDiscord, media: dict[str, Path]
) -> None:
    async with engine(tmp_path, real=False) as service, bot(fake, service):
        payload = image_command(
            fake,
            fake.add_file(media["face"]),
            fake.add_file(media["tone"]),
            user=ALICE,
            upload_limit=16,  # the scripted output is larger than 16 bytes
        )
        await fake.dispatch(payload)
        it = fake.interaction(payload)
        await fake.wait_for(lambda: bool(it.original and "ready" in it.original.content))
        [job] = await service.list_jobs(await account_of(service, ALICE))
        url = service.output_url(job)
        entries = await job_entries(service, ALICE)
    assert url and url in it.original.content and "over this server's" in it.original.content
    assert it.original.files == [] and fake.rejected() == []
    assert entries == Counter({"reserve": 1, "charge": 1})


async def test_a_job_outliving_the_token_is_delivered_to_the_channel(
    tmp_path: Path, fake: FakeDiscord, media: dict[str, Path]
) -> None:
    options = DoorOptions(progress_interval=0.2, token_margin=1.0, default_cooldown_seconds=0)
    async with engine(tmp_path, real=False) as service, bot(fake, service, options):
        payload = image_command(
            fake,
            fake.add_file(media["face"]),
            fake.add_file(media["tone"]),
            user=ALICE,
            age_seconds=15 * 60 - 3.0,  # 3 s of token left; the job takes 4
            options={"prompt": "sleep:4"},
        )
        await fake.dispatch(payload)
        await fake.wait_for(lambda: bool(fake.channel_messages), timeout=60)
        [job] = await service.list_jobs(await account_of(service, ALICE))
        output = service.output_path(job)
        assert output is not None
        expected = output.read_bytes()
    [message] = fake.channel_messages
    assert message.channel_id == GENERAL.id
    assert message.content.startswith(f"<@{ALICE.id}> ✅ Your talking photo is ready")
    assert message.files == [("lipsync.mp4", expected)]
    posted = next(c for c in fake.calls if c.path == f"/channels/{GENERAL.id}/messages")
    assert [int(u) for u in posted.body["allowed_mentions"]["users"]] == [ALICE.id]
    assert fake.rejected() == []  # the dead token was never used
    assert time.time() > fake.interaction(payload).created + 15 * 60


# -- bad input: an ephemeral reply, no charge --------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("wrong type", "`audio` must be a sound file (MP3, WAV, OGG, M4A, OPUS)"),
        ("too large", "`image` is 1.1 MB; files up to 1.0 MB are accepted"),
        ("not really sound", "Your video could not be made: 'audio' has no sound."),
        ("too few credits", "Not enough credits: this talking photo costs 52 credits"),
    ],
)
async def test_bad_input_gets_a_private_reply_and_costs_nothing(
    tmp_path: Path, fake: FakeDiscord, media: dict[str, Path], kind: str, expected: str
) -> None:
    options = DoorOptions(max_attachment_bytes=1024 * 1024, default_cooldown_seconds=0)
    image, audio = fake.add_file(media["face"]), fake.add_file(media["tone"])
    extra: dict[str, Any] = {}
    if kind == "wrong type":
        audio = fake.add_file(media["face"])
    elif kind == "too large":
        image = fake.add_file(media["noise"])
    elif kind == "not really sound":
        audio = fake.add_file(media["blank"], content_type="audio/wav", filename="voice.wav")
    elif kind == "too few credits":
        audio = fake.add_file(media["long"])
        extra = {"resolution": "720p"}  # 13 s at 720p = 52 credits; the starter gives 50
    async with engine(tmp_path, real=False) as service, bot(fake, service, options):
        payload = image_command(fake, image, audio, user=ALICE, options=extra)
        await fake.dispatch(payload)
        it = fake.interaction(payload)
        text = await reply_of(fake, it)
        await asyncio.sleep(0.2)
        jobs = await service.list_jobs(None)
        account = await service.user_account("discord", ALICE.id)
        entries = await job_entries(service, ALICE)
    assert expected in text and "Traceback" not in text
    assert jobs == [] and account.balance == 50 and not entries
    if kind in ("wrong type", "too large"):
        assert downloads(fake) == []  # refused before any byte was fetched
        assert it.callback is not None and it.callback["type"] == 4  # no public "thinking"
    else:
        assert text.endswith("Nothing was charged.")
        assert it.original is not None and it.original.deleted  # no public trace left


@pytest.mark.slow
async def test_a_photo_without_a_face_is_refused_privately_and_refunded(
    tmp_path: Path, fake: FakeDiscord, media: dict[str, Path]
) -> None:
    async with engine(tmp_path, real=True) as service, bot(fake, service):
        payload = image_command(
            fake, fake.add_file(media["blank"]), fake.add_file(media["hello"]), user=ALICE
        )
        await fake.dispatch(payload)
        it = fake.interaction(payload)
        text = await reply_of(fake, it)
        [job] = await service.list_jobs(await account_of(service, ALICE))
        entries = await job_entries(service, ALICE)
        balance = (await service.user_account("discord", ALICE.id)).balance
    assert job.status == "failed" and job.error_code == "no_face"
    assert text.startswith("Your video could not be made:") and "face" in text
    assert text.endswith("Nothing was charged.")
    assert it.original is not None and it.original.deleted
    assert entries == Counter({"reserve": 1, "refund": 1}) and balance == 50


# -- server settings: channels, cooldown, one job at a time ------------------------------


async def test_server_admins_set_channels_and_members_cannot(
    tmp_path: Path, fake: FakeDiscord, media: dict[str, Path]
) -> None:
    async with engine(tmp_path, real=False) as service, bot(fake, service):
        member = fake.command("lipsync-settings", "cooldown", options={"seconds": 0}, user=BOB)
        await fake.dispatch(member)
        refused = await reply_of(fake, fake.interaction(member))
        admin = fake.command(
            "lipsync-settings",
            "allow-channel",
            options={"channel": ART},
            user=ALICE,
            permissions=MANAGE_GUILD,
        )
        await fake.dispatch(admin)
        saved = await reply_of(fake, fake.interaction(admin))
        elsewhere = image_command(
            fake,
            fake.add_file(media["face"]),
            fake.add_file(media["tone"]),
            user=BOB,
            channel=GENERAL,
        )
        await fake.dispatch(elsewhere)
        wrong_channel = await reply_of(fake, fake.interaction(elsewhere))
        here = image_command(
            fake,
            fake.add_file(media["face"]),
            fake.add_file(media["tone"]),
            user=BOB,
            channel=ART,
        )
        await fake.dispatch(here)
        it = fake.interaction(here)
        await fake.wait_for(lambda: bool(it.original and it.original.files))
        stored = json.loads((service.settings.data_path / "discord" / "guilds.json").read_text())
    assert refused == "You need the Manage Server permission for this."
    assert saved.startswith("Saved. Videos may be made in: <#2001>.")
    assert wrong_channel == "Videos can be made only in <#2001> on this server."
    assert stored == {"1000": {"channels": [ART.id], "cooldown_seconds": 0, "max_jobs": 1}}
    assert fake.interaction(elsewhere).callback["type"] == 4  # refused without deferring


async def test_cooldown_holds_per_user(
    tmp_path: Path, fake: FakeDiscord, media: dict[str, Path]
) -> None:
    async with engine(tmp_path, real=False) as service, bot(fake, service):
        setting = fake.command(
            "lipsync-settings",
            "cooldown",
            options={"seconds": 60},
            user=ADMIN,
            permissions=0,  # a bot admin (config) may also change settings
        )
        await fake.dispatch(setting)
        assert "Cooldown per member: 60 s" in await reply_of(fake, fake.interaction(setting))

        def order(user: FakeUser) -> dict[str, Any]:
            return image_command(
                fake, fake.add_file(media["face"]), fake.add_file(media["tone"]), user=user
            )

        first = order(ALICE)
        await fake.dispatch(first)
        await fake.wait_for(lambda: has_video(fake, first))
        second = order(ALICE)
        await fake.dispatch(second)
        text = await reply_of(fake, fake.interaction(second))
        other = order(BOB)  # someone else is not slowed down by Alice
        await fake.dispatch(other)
        await fake.wait_for(lambda: has_video(fake, other))
        alice_jobs = await service.list_jobs(await account_of(service, ALICE))
    assert text.startswith("Slow down: this server has a 60 s cooldown.")
    match = re.search(r"another video in (\d+) s\.$", text)
    assert match and 50 <= int(match[1]) <= 60
    assert len(alice_jobs) == 1 and fake.interaction(second).callback["type"] == 4


async def test_the_engine_rate_limit_holds_per_user_in_every_server(
    tmp_path: Path, fake: FakeDiscord, media: dict[str, Path]
) -> None:
    options = DoorOptions(default_cooldown_seconds=0)  # no server cooldown: the engine's own
    async with engine(tmp_path, real=False) as service, bot(fake, service, options):
        service.rate_limiter.limits["free"] = 1  # one job a minute per user

        def order(user: FakeUser) -> dict[str, Any]:
            return image_command(
                fake, fake.add_file(media["face"]), fake.add_file(media["tone"]), user=user
            )

        first = order(ALICE)
        await fake.dispatch(first)
        await fake.wait_for(lambda: has_video(fake, first))
        second = order(ALICE)
        await fake.dispatch(second)
        text = await reply_of(fake, fake.interaction(second))
        other = order(BOB)
        await fake.dispatch(other)
        await fake.wait_for(lambda: has_video(fake, other))
        alice_jobs = await service.list_jobs(await account_of(service, ALICE))
        entries = await job_entries(service, ALICE)
    assert text.startswith("Your video could not be made: too many jobs")
    assert re.search(r"retry in \d+ s\. Nothing was charged\.$", text), text
    assert len(alice_jobs) == 1 and entries == Counter({"reserve": 1, "charge": 1})


async def test_one_job_at_a_time_and_others_are_not_blocked(
    tmp_path: Path, fake: FakeDiscord, media: dict[str, Path]
) -> None:
    async with engine(tmp_path, real=False) as service, bot(fake, service):
        face, tone = fake.add_file(media["face"]), fake.add_file(media["tone"])
        slow = image_command(fake, face, tone, user=ALICE, options={"prompt": "sleep:3"})
        await fake.dispatch(slow)
        await fake.wait_for(lambda: shows(fake, slow, "%"))
        again = image_command(fake, face, tone, user=ALICE)
        await fake.dispatch(again)
        busy = await reply_of(fake, fake.interaction(again))
        balance = fake.command("credits", "balance", user=BOB)
        await fake.dispatch(balance)
        other = await reply_of(fake, fake.interaction(balance))
        [running] = await service.list_jobs(await account_of(service, ALICE))
        await fake.wait_for(lambda: has_video(fake, slow))
        later = image_command(fake, face, tone, user=ALICE)
        await fake.dispatch(later)
        await fake.wait_for(lambda: has_video(fake, later))
        jobs = await service.list_jobs(await account_of(service, ALICE))
    assert busy.startswith("You already have a video in progress")
    assert "one video at a time" in busy
    assert other.startswith("You have **50 credits**")
    assert running.status == "processing"  # Bob was answered while Alice's job rendered
    assert [j.status for j in jobs] == ["completed", "completed"]


# -- credits and jobs --------------------------------------------------------------------


async def test_credits_balance_and_admin_only_grant(tmp_path: Path, fake: FakeDiscord) -> None:
    async with engine(tmp_path, real=False) as service, bot(fake, service):
        mine = fake.command("credits", "balance", user=ALICE)
        await fake.dispatch(mine)
        balance = await reply_of(fake, fake.interaction(mine))
        sneaky = fake.command(
            "credits",
            "grant",
            options={"user": ALICE, "credits": 500},
            user=ALICE,
            permissions=MANAGE_GUILD,  # a server admin is not a bot admin
        )
        await fake.dispatch(sneaky)
        refused = await reply_of(fake, fake.interaction(sneaky))
        grant = fake.command(
            "credits",
            "grant",
            options={"user": BOB, "credits": 100, "note": "prize"},
            user=ADMIN,
        )
        await fake.dispatch(grant)
        granted = await reply_of(fake, fake.interaction(grant))
        alice = await service.user_account("discord", ALICE.id)
        bob = await service.user_account("discord", BOB.id)
        bob_entries = await service.ledger_entries(bob.id)
    assert balance.startswith("You have **50 credits**. Videos cost 480p: 2 credits/s")
    assert refused == "Only this bot's admins can grant credits."
    assert granted == f"Granted 100 credits to <@{BOB.id}>; their balance is now 150 credits."
    assert alice.balance == 50 and bob.balance == 150
    assert ("grant", 100, "prize") in [(e.kind, e.credits, e.note) for e in bob_entries]


async def test_jobs_lists_recent_videos_with_their_links(
    tmp_path: Path, fake: FakeDiscord, media: dict[str, Path]
) -> None:
    async with engine(tmp_path, real=False) as service, bot(fake, service):
        empty = fake.command("jobs", user=ALICE)
        await fake.dispatch(empty)
        nothing = await reply_of(fake, fake.interaction(empty))
        made = image_command(
            fake, fake.add_file(media["face"]), fake.add_file(media["tone"]), user=ALICE
        )
        await fake.dispatch(made)
        await fake.wait_for(lambda: has_video(fake, made))
        listing = fake.command("jobs", user=ALICE)
        await fake.dispatch(listing)
        text = await reply_of(fake, fake.interaction(listing))
        [job] = await service.list_jobs(await account_of(service, ALICE))
    assert nothing.startswith("You have not made any videos yet")
    assert text.startswith("Your recent videos:\n• <t:")
    assert f"`{job.id[:8]}` — done, 10 credits — [video]({service.output_url(job)})" in text


# -- running the door ---------------------------------------------------------------------


async def test_door_connects_answers_and_stops_cleanly(tmp_path: Path, fake: FakeDiscord) -> None:
    async with engine(tmp_path, real=False, discord={"token": TOKEN}) as service:
        door = DiscordDoor(service)
        await door.start()
        # As in `lipsync serve`: log in, register the commands, open the gateway ...
        await fake.wait_ready()
        # ... and answer what arrives over it.
        balance = fake.command("credits", "balance", user=ALICE)
        await fake.dispatch(balance)
        text = await reply_of(fake, fake.interaction(balance))
        await asyncio.wait_for(door.stop(), 15)
        assert door.task is not None and door.task.done() and door.task.exception() is None
        assert door.client is not None and door.client.is_closed()
    assert fake.calls[0].path == "/users/@me"
    assert fake.synced_commands  # registered with Discord on start
    assert text.startswith("You have **50 credits**")
    # The client hung up (with 4000, not 1000: aiohttp wakes discord.py's reader first, and
    # that closes with its reconnect code), and nothing was refused along the way.
    assert [who for who, _ in fake.closes] == ["client"]


async def test_download_folders_left_by_a_crash_are_swept_on_start(
    tmp_path: Path, fake: FakeDiscord
) -> None:
    async with engine(tmp_path, real=False) as service:
        incoming = service.settings.data_path / "discord" / "incoming"
        old, fresh = incoming / "1-old", incoming / "2-fresh"
        for folder in (old, fresh):
            folder.mkdir(parents=True)
            (folder / "audio.wav").write_bytes(b"partial")
        os.utime(old, (time.time() - 7200, time.time() - 7200))
        async with bot(fake, service):
            pass
    assert not old.exists() and fresh.exists()


async def test_standalone_bot_needs_a_token(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    assert await run_bot(settings, "discord") == 2


# -- the gateway, and Discord's rules as the fake enforces them -----------------------------


async def test_the_bot_identifies_with_its_token_and_no_privileged_intent(
    tmp_path: Path, fake: FakeDiscord
) -> None:
    async with engine(tmp_path, real=False) as service:
        client = LipsyncClient(service, FAST)
        # discord.py announces READY `guild_ready_timeout` (2 s) after the last GUILD_CREATE;
        # shortened here so the test need not wait for nothing.
        client._connection.guild_ready_timeout = 0.05
        async with connected(client, fake):
            await asyncio.wait_for(client.wait_until_ready(), 5)
            guild = client.get_guild(SERVER.id)
            channels = sorted(c.id for c in guild.text_channels) if guild else []
            user = client.user
            latency = client.latency
    [identify] = fake.identified
    assert identify["token"] == TOKEN
    assert identify["intents"] == GUILDS_INTENT  # slash commands need no more
    assert not identify["intents"] & PRIVILEGED_INTENTS
    [opened] = [c for c in fake.calls if c.path == "/gateway"]
    assert opened.query == {"v": "10", "encoding": "json", "compress": "zlib-stream"}
    assert user is not None and user.bot
    assert channels == [GENERAL.id, ART.id]  # from GUILD_CREATE
    assert fake.heartbeats >= 1 and latency < 5  # the first heartbeat was acknowledged


async def test_the_gateway_refuses_a_wrong_token_and_privileged_intents(
    tmp_path: Path, fake: FakeDiscord
) -> None:
    async with engine(tmp_path, real=False, discord={"token": "not-the-token"}) as service:
        # A wrong token stops the door at login (REST answers 401 -> LoginFailure) ...
        door = DiscordDoor(service)
        await door.start()
        assert door.task is not None
        await asyncio.wait_for(door.task, 10)
        await door.stop()
        login = fake.take_violations()
        # ... and a token reset between login and IDENTIFY is closed with 4004.
        client = LipsyncClient(service, FAST)
        await client.login(TOKEN)
        fake.token = "reset-in-the-developer-portal"
        with pytest.raises(discord.ConnectionClosed) as closed:
            await asyncio.wait_for(client.connect(), 10)
        await client.close()
        fake.token = TOKEN
        # Asking for a privileged intent the app was not granted is closed with 4014.
        nosy = discord.Client(intents=discord.Intents(guilds=True, members=True))
        with pytest.raises(discord.PrivilegedIntentsRequired):
            await asyncio.wait_for(nosy.start(TOKEN), 10)
        await nosy.close()
    gateway = fake.take_violations()
    assert [(v.rule, v.call.path if v.call else None) for v in login] == [("401 0", "/users/@me")]
    assert door.client is not None and door.client.user is None  # it never got in
    assert closed.value.code == 4004
    assert [c for c in fake.closes if c[0] == "fake"] == [("fake", 4004), ("fake", 4014)]
    assert [v.rule for v in gateway] == ["gateway", "gateway"]
    assert fake.identified == []  # no session was ever opened


async def test_a_reconnect_resumes_and_replays_what_was_missed(
    tmp_path: Path, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with engine(tmp_path, real=False) as service, bot(fake, service) as client:
        await fake.reconnect()  # op 7, as Discord does before moving a session
        missed = fake.command("credits", "balance", user=ALICE)
        await fake.dispatch(missed)  # goes out while the client is hanging up
        await fake.wait_for(lambda: fake.resumes == 1, 10)
        text = await reply_of(fake, fake.interaction(missed))
        resumed = len(fake.identified)
        # A session Discord no longer knows cannot be resumed: op 9, then a new IDENTIFY.
        fake.forget_sessions()

        async def at_once(shard_id: int | None, *, initial: bool = False) -> None:
            """discord.py's hook waits 5 s before identifying again (Discord's identify
            rate limit); no need to here."""

        monkeypatch.setattr(client, "before_identify_hook", at_once)
        await fake.reconnect()
        await fake.wait_for(lambda: len(fake.identified) == 2, 10)
        later = fake.command("credits", "balance", user=BOB)
        await fake.dispatch(later)
        again = await reply_of(fake, fake.interaction(later))
    assert text.startswith("You have **50 credits**") and again.startswith("You have")
    assert resumed == 1 and fake.resumes == 1  # resumed first, not identified again
    paths = [c.path for c in fake.calls if c.status == 101]
    # READY's resume_gateway_url was used to resume (discord.py identifies there too after
    # op 9, which Discord accepts).
    assert paths == ["/gateway", "/resume-gateway", "/resume-gateway", "/resume-gateway"]


async def test_an_acknowledgement_after_three_seconds_is_refused(
    tmp_path: Path, fake: FakeDiscord, media: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with engine(tmp_path, real=False) as service, bot(fake, service) as client:
        fake.ack_window = 0.3  # Discord's 3 s, shortened so the test need not sleep 3 s
        gate = client.renderer.gate
        claim = gate.claim

        async def slow_claim(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(0.6)
            return await claim(*args, **kwargs)

        monkeypatch.setattr(gate, "claim", slow_claim)
        face, tone = fake.add_file(media["face"]), fake.add_file(media["tone"])
        late = image_command(fake, face, tone, user=ALICE)
        it = await fake.dispatch(late)
        await fake.wait_for(lambda: bool(fake.rejected()), 10)
        await asyncio.sleep(0.2)  # anything the bot would still do with the dead interaction
        [refused] = fake.take_violations()
        # The same user right after, in time: the late one kept no place in line.
        monkeypatch.setattr(gate, "claim", claim)
        fake.ack_window = ACK_WINDOW
        again = image_command(fake, face, tone, user=ALICE)
        await fake.dispatch(again)
        await fake.wait_for(lambda: has_video(fake, again))
        jobs = await service.list_jobs(await account_of(service, ALICE))
    assert refused.rule == "404 10062" and refused.call is not None
    assert refused.call.path == f"/interactions/{it.id}/{it.token}/callback"
    assert "after INTERACTION_CREATE" in refused.detail
    assert it.callback is None and it.original is None and it.followups == []
    assert len(jobs) == 1 and jobs[0].status == "completed"
    # Nothing else was tried with the dead interaction: no edit, no follow-up.
    assert [c for c in fake.calls if it.token in c.path] == [refused.call]


async def test_callback_types_must_suit_the_interaction(
    fake: FakeDiscord, listener: Listener
) -> None:
    payload = fake.command("jobs", user=ALICE)
    interaction = await arrive(fake, listener, payload)
    route = Route(
        "POST",
        "/interactions/{interaction_id}/{interaction_token}/callback",
        interaction_id=interaction.id,
        interaction_token=interaction.token,
    )
    # PONG answers only PING; UPDATE_MESSAGE only components; autocomplete results only
    # autocomplete; 42 is no type at all.
    for kind in (1, 7, 8, 42):
        with pytest.raises(discord.HTTPException) as refused:
            await listener.http.request(route, json={"type": kind, "data": {"content": "x"}})
        assert (refused.value.status, refused.value.code) == (400, 50035)
    await interaction.response.send_message("fine", ephemeral=True)  # type 4 is
    violations = fake.take_violations()
    assert [v.call.body["type"] for v in violations if v.call] == [1, 7, 8, 42]
    assert {v.rule for v in violations} == {"400 50035"}
    answer = fake.interaction(payload).callback
    assert answer is not None and answer["type"] == 4  # the refusals did not count as one


async def test_every_file_part_must_be_listed_in_attachments(
    fake: FakeDiscord, listener: Listener
) -> None:
    payload = fake.command("jobs", user=ALICE)
    interaction = await arrive(fake, listener, payload)
    await interaction.response.send_message("working on it", ephemeral=True)
    url = f"{fake.api_base}/webhooks/{APP_ID}/{interaction.token}"

    async def post(body: dict[str, Any], parts: list[str]) -> tuple[int, int]:
        form = aiohttp.FormData()
        form.add_field("payload_json", json.dumps(body))
        for name in parts:
            form.add_field(name, b"data", filename="a.txt", content_type="text/plain")
        async with aiohttp.ClientSession() as session, session.post(url, data=form) as answer:
            return answer.status, (await answer.json())["code"]

    one = [{"id": 0, "filename": "a.txt"}]
    cases = [
        ({"content": "a", "attachments": []}, ["files[0]"]),  # a part nobody listed
        ({"content": "a", "attachments": [*one, {"id": 1}]}, ["files[0]"]),  # listed, not sent
        ({"content": "a", "attachments": [{"id": 1}]}, ["files[0]"]),  # the wrong n
        ({"content": "a"}, ["files[0]"]),  # no attachments at all
        ({"content": "a", "attachments": one}, ["file"]),  # not files[n]
    ]
    answers = [await post(body, parts) for body, parts in cases]
    # discord.py's own uploads match, and go through.
    upload = discord.File(io.BytesIO(b"hello"), filename="hello.txt")
    await interaction.followup.send("here", file=upload, ephemeral=True)
    violations = fake.take_violations()
    assert answers == [(400, 50035)] * len(cases)
    assert [v.rule for v in violations] == ["400 50035"] * len(cases)
    assert [m.files for m in fake.interaction(payload).followups] == [[("hello.txt", b"hello")]]


async def test_the_first_follow_up_after_a_public_defer_is_public(
    fake: FakeDiscord, listener: Listener
) -> None:
    public = fake.command("jobs", user=ALICE)
    interaction = await arrive(fake, listener, public)
    await interaction.response.defer(thinking=True)  # everyone sees "thinking..."
    first = await interaction.followup.send("meant for Alice", ephemeral=True, wait=True)
    second = await interaction.followup.send("for Alice alone", ephemeral=True, wait=True)
    [leak] = fake.take_violations()
    # Once the "thinking" message is gone (or edited), a private follow-up is private:
    # what the bot does when it refuses a deferred command.
    removed = fake.command("jobs", user=BOB)
    other = await arrive(fake, listener, removed)
    await other.response.defer(thinking=True)
    await other.delete_original_response()
    await other.followup.send("for Bob alone", ephemeral=True)
    it, it2 = fake.interaction(public), fake.interaction(removed)
    assert leak.rule == "ephemeral ignored" and leak.call is not None
    assert it.original is not None and first.id == it.original.id
    assert (it.original.content, it.original.ephemeral) == ("meant for Alice", False)
    assert [(m.id, m.content, m.ephemeral) for m in it.followups] == [
        (second.id, "for Alice alone", True)
    ]
    assert it2.original is not None and it2.original.deleted
    assert [(m.content, m.ephemeral) for m in it2.followups] == [("for Bob alone", True)]
