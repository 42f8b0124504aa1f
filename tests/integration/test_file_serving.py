"""Stored files come back typed by what they hold, never as active content (real ASGI app)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.service import Service
from tests.support.http import api_client
from tests.support.lying_media import mp4_claiming


@pytest.mark.parametrize("name", ["x.html", "x.svg", "x.xhtml", "x", "x.wav.html"])
async def test_a_wav_uploaded_under_an_active_name_is_served_as_a_wav_download(
    service: Service, tone: Path, name: str
) -> None:
    key = (await service.create_api_key("k", 0)).secret
    async with api_client(service) as client:
        up = await client.post(
            "/api/v1/files",
            headers={"X-API-Key": key},
            files={"file": (name, tone.read_bytes(), "text/html")},
        )
        assert up.status_code == 201, up.text
        url = up.json()["url"]
        assert url.endswith(".wav")
        r = await client.get(url)
    assert r.status_code == 200 and r.content == tone.read_bytes()
    assert r.headers["content-type"] == "audio/wav"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"].startswith("attachment")


async def test_each_kind_gets_the_type_probing_found(
    service: Service, picture: Path, tmp_path: Path
) -> None:
    key = (await service.create_api_key("k", 0)).secret
    m4a = mp4_claiming(tmp_path / "voice.m4a", 1.0, 1.0)
    async with api_client(service) as client:
        found = {}
        for path, sent_as in ((picture, "photo.svg"), (m4a, "voice.html")):
            up = await client.post(
                "/api/v1/files",
                headers={"X-API-Key": key},
                files={"file": (sent_as, path.read_bytes())},
            )
            r = await client.get(up.json()["url"])
            found[path.suffix] = r.headers["content-type"]
    assert found == {".png": "image/png", ".m4a": "audio/mp4"}


async def test_only_a_jobs_own_output_plays_inline(service: Service) -> None:
    output = service.storage.output_path(service.storage.new_output_name())
    output.write_bytes(b"\x00\x00\x00\x18ftypisom")
    stray = service.storage.output_path("stray.html")  # never named so by us: still harmless
    stray.write_bytes(b"<script>alert(1)</script>")
    async with api_client(service) as client:
        video = await client.get(service.storage.output_url(output.name))
        html = await client.get(service.storage.output_url(stray.name))
    assert video.headers["content-type"] == "video/mp4"
    assert video.headers["content-disposition"].startswith("inline")
    assert video.headers["x-content-type-options"] == "nosniff"
    assert html.headers["content-type"] == "application/octet-stream"
    assert html.headers["content-disposition"].startswith("attachment")


async def test_a_name_longer_than_any_file_system_takes_is_simply_not_found(
    service: Service,
) -> None:
    assert service.storage.resolve_public("outputs/" + "a" * 300 + ".mp4") is None
