from __future__ import annotations

import logging

import pytest

from cli.serve import start_doors
from engine.config import Settings


class Door:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.started = False

    async def start(self) -> None:
        if self.error:
            raise self.error
        self.started = True

    async def stop(self) -> None:
        self.started = False


async def test_a_door_that_cannot_start_is_reported_without_its_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings()
    settings.telegram.token = "123456:SECRET-token"
    broken = Door(RuntimeError("The token `123456:SECRET-token` was rejected by the server."))
    fine = Door()
    with caplog.at_level(logging.ERROR):
        started = await start_doors([broken, fine], settings)
    assert started == [fine] and fine.started
    assert "rejected" in caplog.text
    assert "SECRET" not in caplog.text
