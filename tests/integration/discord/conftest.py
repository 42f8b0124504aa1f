"""Fixtures of the Discord door's tests: real media, Discord faked on loopback (REST and
gateway), and a listener that sees what the gateway sends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.discord_bot import Listener, fake_discord, listening, make_media
from tests.support.fake_discord import FakeDiscord


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_media(tmp_path_factory.mktemp("discord-media"))


@pytest.fixture
async def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    """Discord, local (`tests.support.discord_bot.fake_discord`); a test passes only if the
    bot broke none of Discord's rules (or the test took the breaches it caused)."""
    async with fake_discord(tmp_path, monkeypatch) as server:
        yield server


@pytest.fixture
async def listener(fake: FakeDiscord) -> AsyncIterator[Listener]:
    async with listening(fake) as client:
        yield client
