"""Fixtures of the Telegram door's tests: real media, and the Bot API faked on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.fake_telegram import FakeBotApi
from tests.support.telegram_bot import Media, fake_bot_api, make_media


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    return make_media(tmp_path_factory.mktemp("telegram-media"))


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with fake_bot_api() as fake:
        yield fake
