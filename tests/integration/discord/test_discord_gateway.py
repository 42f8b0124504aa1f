"""Running the Discord door, the gateway, and Discord's rules as the fake enforces them.

The door connects, answers and stops as in `lipsync serve`; the bot identifies with its token
and no privileged intent, and resumes after a reconnect. The tests at the end prove that
`tests.support.fake_discord` refuses what Discord refuses (a late acknowledgement, a wrong
response type, `files[n]` not matching `attachments`, a wrong token, privileged intents) and
notes an ephemeral follow-up right after a public defer, so that the other Discord tests,
which all end with `fake.violations` empty, check that the bot keeps those rules.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest
from discord.http import Route

from bots.discord.run import DiscordDoor, LipsyncClient
from cli.serve import run_bot
from tests.conftest import make_settings
from tests.support.discord_bot import (
    ALICE,
    ART,
    BOB,
    FAST,
    GENERAL,
    SERVER,
    Listener,
    account_of,
    arrive,
    bot,
    connected,
    engine,
    has_video,
    image_command,
    reply_of,
)
from tests.support.fake_discord import (
    ACK_WINDOW,
    APP_ID,
    GUILDS_INTENT,
    PRIVILEGED_INTENTS,
    TOKEN,
    FakeDiscord,
)

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
