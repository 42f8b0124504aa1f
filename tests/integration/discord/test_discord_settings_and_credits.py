"""The Discord bot's server settings and accounts end to end: allowed channels, the cooldown,
the engine's rate limit, one job at a time, `/credits` and `/jobs`.

The harness (the fake Discord, the engine, the connected bot) is `tests.support.discord_bot`;
the scripted handlers keep these timing-sensitive paths fast and deterministic.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from bots.discord.options import DoorOptions
from tests.support.discord_bot import (
    ADMIN,
    ALICE,
    ART,
    BOB,
    GENERAL,
    account_of,
    bot,
    engine,
    has_video,
    image_command,
    job_entries,
    reply_of,
    shows,
)
from tests.support.fake_discord import MANAGE_GUILD, FakeDiscord, FakeUser

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
