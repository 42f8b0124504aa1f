from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.config import Settings, load_settings
from engine.service import Service
from tests.support.media import write_png, write_tone_wav

SCRIPTED = "tests.support.scripted_handlers"


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    base: dict[str, object] = {
        "data_dir": str(data_dir),
        "workers": {
            "count": 1,
            "lease_seconds": 3.0,
            "heartbeat_seconds": 0.5,
            "poll_seconds": 0.05,
            "plugins": [SCRIPTED],
        },
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}  # type: ignore[dict-item]
        else:
            base[key] = value
    return load_settings(path=None, env={}, overrides=base)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[Service]:
    svc = await Service.open(settings)
    yield svc
    await svc.close()


@pytest.fixture
def tone(tmp_path: Path) -> Path:
    """Three seconds of sound: the seeds' pricing example."""
    return write_tone_wav(tmp_path / "tone.wav", 3.0)


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    return write_png(tmp_path / "picture.png")
