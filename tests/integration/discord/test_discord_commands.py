"""The Discord bot's render commands end to end: what is registered, real renders and
uploads, delivery over the upload limit or after the token, and bad input refused privately.

The harness (the fake Discord, the engine, the connected bot) is `tests.support.discord_bot`;
its docstring tells how the tests drive discord.py's real client and command tree.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bots.discord.options import DoorOptions
from engine import handlers
from engine.media import probe
from tests.support.discord_bot import (
    ALICE,
    BOB,
    GENERAL,
    account_of,
    assert_real_mp4,
    bot,
    downloads,
    engine,
    image_command,
    job_entries,
    reply_of,
)
from tests.support.fake_discord import MANAGE_GUILD, FakeDiscord

# -- registration ---------------------------------------------------------------------


async def test_commands_are_registered_as_discord_allows(tmp_path: Path, fake: FakeDiscord) -> None:
    async with engine(tmp_path, real=False) as service, bot(fake, service):
        commands = {c["name"]: c for c in fake.synced_commands}
    assert set(commands) == {"lipsync", "credits", "jobs", "lipsync-settings"}
    subs = {c: [o["name"] for o in commands[c].get("options", [])] for c in commands}
    assert subs["lipsync"] == ["image", "video", "duet"]
    assert subs["credits"] == ["balance", "grant"]
    image = commands["lipsync"]["options"][0]["options"]
    # A voice is a sound file or a text to speak (exactly one, checked by the bot), so
    # both are optional to Discord; `voice` picks who speaks the text.
    assert [(o["name"], o["type"], o["required"]) for o in image] == [
        ("image", 11, True),
        ("audio", 11, False),
        ("text", 3, False),
        ("voice", 3, False),
        ("resolution", 3, False),
        ("prompt", 3, False),
    ]
    assert [c["value"] for c in image[4]["choices"]] == ["480p", "720p"]
    video = commands["lipsync"]["options"][1]["options"]
    assert [(o["name"], o["required"]) for o in video] == [
        ("video", True),
        ("audio", False),
        ("text", False),
        ("voice", False),
        ("resolution", False),
        ("mask", False),
    ]
    duet = commands["lipsync"]["options"][2]["options"]
    assert [(o["name"], o["required"]) for o in duet] == [
        ("image", True),
        ("order", True),  # Discord lists required options first
        ("left_audio", False),
        ("right_audio", False),
        ("left_text", False),
        ("right_text", False),
        ("voice", False),
        ("resolution", False),
    ]
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
