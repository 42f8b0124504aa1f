"""Text in, talking video out, through every door: seed 004's TTS endpoints, `text` in both
REST dialects, and the MCP tools' text arguments, over the real app and the real renderer."""

from __future__ import annotations

import base64
import io
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import av
import httpx
import pytest

from engine import tts
from engine.job_request import SpokenText
from engine.service import Service
from engine.vocabulary import Plan
from tests.conftest import make_settings
from tests.integration.test_mcp import Door, check_finished, open_door, text_of
from tests.support.http import api_client
from tests.support.media import face_photo_path
from tests.support.speech import SENTENCES


def face_uri() -> str:
    return "data:image/jpeg;base64," + base64.b64encode(face_photo_path().read_bytes()).decode()


def seconds_of(data: bytes | Path) -> float:
    with av.open(io.BytesIO(data) if isinstance(data, bytes) else str(data)) as media:
        return float(media.duration or 0) / av.time_base


def playable_seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data)) as mp4:
        assert mp4.streams.video[0].codec_context.name == "h264"
        assert mp4.streams.audio[0].codec_context.name == "aac"
        assert sum(1 for _ in mp4.decode(video=0)) > 10
    return seconds_of(data)


@pytest.fixture
async def renderer(tmp_path: Path) -> AsyncIterator[Service]:
    service = await Service.open(make_settings(tmp_path / "data", workers={"plugins": []}))
    await service.start_workers()
    yield service
    await service.close()


async def headers_for(service: Service, credits: int = 1000) -> dict[str, str]:
    key = await service.create_api_key("text", credits, Plan.PRO)
    return {"Authorization": f"Bearer {key.secret}"}


async def finished_video(client: httpx.AsyncClient, service: Service, job_id: str) -> bytes:
    """Wait for the job, then read it through the studio dialect and fetch its MP4."""
    await service.wait(job_id, 240)
    job = (await client.get(f"/api/v1/jobs/{job_id}")).json()
    assert job["status"] == "completed", job
    video = await client.get(job["output"])
    assert video.status_code == 200
    return video.content


def spoken_seconds(service: Service, job_id_inputs: dict[str, str], role: str = "audio") -> float:
    """How long the job's text for `role` lasts: the job keeps the text (it is spoken when
    the job runs), so say it again here with the voice it resolved to."""
    planned = json.loads((service.storage.root / job_id_inputs[role]).read_text("utf-8"))
    spoken = SpokenText(**planned)
    return tts.speak(spoken.text, tts.choose(spoken.voice), speed=spoken.speed).seconds


@pytest.mark.slow
async def test_text_jobs_in_five_languages_through_both_dialects(renderer: Service) -> None:
    headers = await headers_for(renderer)
    async with api_client(renderer) as client:
        client.headers.update(headers)
        submitted: list[str] = []
        # LipSync.dev dialect: `text` instead of `audioUrl`.
        for language in ("en", "ja"):
            r = await client.post(
                "/api/v1/lipsync/generate",
                json={
                    "text": SENTENCES[language],
                    "language": language,
                    "imageUrl": face_uri(),
                    "settings": {"resolution": "480p"},
                },
            )
            assert r.status_code == 200, r.text
            submitted.append(r.json()["data"]["jobId"])
        # lipsync.studio dialect: `formState.text`, with a language or a named voice.
        for form in ({"language": "es"}, {"voice": "espeak:ko"}):
            language = form.get("language") or "ko"
            r = await client.post(
                "/api/v1/lipsync-image",
                json={"formState": {"image": face_uri(), "text": SENTENCES[language], **form}},
            )
            assert r.status_code == 200, r.text
            submitted.append(r.json()["id"])
        for job_id in submitted:
            job = await renderer.get_job(job_id)
            speech = spoken_seconds(renderer, job.inputs)
            assert speech > 0.8
            video = await finished_video(client, renderer, job_id)
            assert playable_seconds(video) == pytest.approx(speech, abs=0.15)


@pytest.mark.slow
async def test_a_dialogue_from_two_texts_in_turkish(renderer: Service, tmp_path: Path) -> None:
    import cv2
    import numpy as np

    face = cv2.imread(str(face_photo_path()))
    duo = tmp_path / "duo.jpg"
    cv2.imwrite(str(duo), np.concatenate([face, face[:, ::-1]], axis=1))
    uri = "data:image/jpeg;base64," + base64.b64encode(duo.read_bytes()).decode()
    async with api_client(renderer) as client:
        client.headers.update(await headers_for(renderer))
        r = await client.post(
            "/api/v1/lipsync-image-multi",
            json={
                "formState": {
                    "image": uri,
                    "left_text": SENTENCES["tr"],
                    "right_text": "Evet, çok güzel.",
                    "language": "tr",
                    "order": "left_right",
                    "resolution": "480p",
                }
            },
        )
        assert r.status_code == 200, r.text
        job = await renderer.get_job(r.json()["id"])
        left = spoken_seconds(renderer, job.inputs, "left_audio")
        right = spoken_seconds(renderer, job.inputs, "right_audio")
        video = await finished_video(client, renderer, job.id)
        assert playable_seconds(video) == pytest.approx(left + right, abs=0.25)


@pytest.mark.slow
async def test_tts_generate_makes_a_voice_a_job_can_use(renderer: Service) -> None:
    async with api_client(renderer) as client:
        client.headers.update(await headers_for(renderer, credits=500))
        r = await client.post(
            "/api/v1/tts/generate", json={"text": SENTENCES["es"], "language": "es"}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["success"] is True
        data = body["data"]
        assert data["voice"].startswith("espeak:es") and data["language"].startswith("es")
        assert data["creditsUsed"] >= 1 and 1.0 < data["duration"] < 6.0
        balance = (await client.get("/api/v1/balance")).json()
        assert balance["balance"] == 500 - data["creditsUsed"], balance
        wav = await client.get(data["audioUrl"])
        assert wav.status_code == 200
        assert seconds_of(wav.content) == pytest.approx(data["duration"], abs=0.05)
        r = await client.post(
            "/api/v1/lipsync/generate",
            json={
                "audioUrl": data["audioUrl"],
                "imageUrl": face_uri(),
                "settings": {"resolution": "480p"},
            },
        )
        assert r.status_code == 200, r.text
        video = await finished_video(client, renderer, r.json()["data"]["jobId"])
        assert playable_seconds(video) == pytest.approx(data["duration"], abs=0.15)


async def test_voices_are_listed_and_filtered(service: Service) -> None:
    async with api_client(service) as client:
        client.headers.update(await headers_for(service))
        voices = (await client.get("/api/v1/tts/voices")).json()["data"]["voices"]
        assert len(voices) > 50
        assert set(voices[0]) == {"id", "language", "languages", "engine", "gender"}
        assert "espeak:en-us" in {v["id"] for v in voices}
        spanish = (await client.get("/api/v1/tts/voices?language=es")).json()["data"]["voices"]
        assert spanish and all(any(t.startswith("es") for t in v["languages"]) for v in spanish)
        # JSON can carry what no text is (a lone surrogate): refused, never a 500.
        for path, raw in (
            ("/api/v1/tts/generate", b'{"text": "\\ud800"}'),
            ("/api/v1/tts/generate", b'{"text": "Hi", "voice": "\\ud800"}'),
            ("/api/v1/lipsync-image", b'{"formState": {"image": "x", "text": "\\ud800"}}'),
        ):
            r = await client.post(path, content=raw, headers={"Content-Type": "application/json"})
            assert r.status_code == 422 and "Unicode" in r.json()["error"]["message"], r.text


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/api/v1/tts/generate", {"text": "Hi", "voice": "espeak:xx"}, "for example espeak:"),
        ("/api/v1/tts/generate", {"text": "Hi", "language": "xx"}, "no voice speaks 'xx'"),
        ("/api/v1/tts/generate", {"text": "a" * 3001}, "at most 3000"),
        ("/api/v1/tts/generate", {"text": "Hi", "speed": 9}, "speed"),
        ("/lipsync/generate", {"text": "Hi", "audioUrl": "https://x.test/a.mp3"}, "exactly one"),
        ("/lipsync/generate", {"imageUrl": "https://x.test/a.jpg"}, "exactly one"),
        ("/lipsync/generate", {"text": "Hi", "voice": "espeak:xx"}, "for example espeak:"),
        ("/lipsync/generate", {"text": "Hi", "language": "xx"}, "no voice speaks"),
        ("/lipsync/generate", {"text": "a" * 3001}, "at most 3000"),
        ("/api/v1/lipsync-image", {"text": "Hi", "audio": "https://x.test/a.mp3"}, "not both"),
        ("/api/v1/lipsync-image", {"text": "Hi", "voice": "espeak:xx"}, "for example espeak:"),
        ("/api/v1/lipsync-image", {"text": "Hi", "language": "xx"}, "no voice speaks"),
        ("/api/v1/lipsync-image", {"text": "a" * 3001}, "at most 3000"),
        ("/api/v1/lipsync-image", {"voice": "espeak:es"}, "go with a text"),
        ("/api/v1/lipsync-image-multi", {"left_text": "Hi", "right_text": "Yo"}, None),
    ],
)
async def test_bad_text_is_refused_with_what_exists(
    service: Service, path: str, body: dict, words: str | None
) -> None:
    if path == "/lipsync/generate":
        path = "/api/v1/lipsync/generate"
        body = {"imageUrl": "https://x.test/a.jpg", **body}
    elif path.startswith("/api/v1/lipsync-image"):
        body = {"formState": {"image": "https://x.test/a.jpg", **body}}
    async with api_client(service) as client:
        client.headers.update(await headers_for(service, credits=100))
        r = await client.post(path, json=body)
        if words is None:  # well formed: refused only for its unreachable image
            assert r.status_code == 422 and r.json()["error"]["code"] != "invalid_request"
            return
        assert r.status_code == 422, r.text
        assert words in r.json()["error"]["message"], r.json()
        assert (await service.list_jobs(None)) == []
    account = (await service.list_api_keys())[0].account_id
    assert (await service.get_account(account)).balance == 100


async def test_estimate_prices_a_text(service: Service) -> None:
    async with api_client(service) as client:
        client.headers.update(await headers_for(service))
        r = await client.post(
            "/api/v1/estimate",
            json={
                "model": "lipsync-image",
                "formState": {"image": face_uri(), "text": SENTENCES["en"], "language": "en"},
            },
        )
        assert r.status_code == 200, r.text
        assert 1.0 < r.json()["outputSeconds"] < 6.0 and r.json()["credits"] > 0


# -- MCP ---------------------------------------------------------------------------------


@pytest.fixture
async def door(tmp_path: Path) -> AsyncIterator[Door]:
    folder = tmp_path / "inputs"
    folder.mkdir()
    shutil.copy(face_photo_path(), folder / "face.jpg")
    settings = make_settings(tmp_path / "data", workers={"plugins": []})
    async for opened in open_door(settings, folder, credits=1000):
        yield opened


@pytest.mark.slow
async def test_mcp_text_jobs_in_english_and_korean(door: Door) -> None:
    for language in ("en", "ko"):
        result = await door.call(
            "lipsync_image",
            image=str(door.files / "face.jpg"),
            text=SENTENCES[language],
            language=language,
            resolution="480p",
            wait_seconds=240,
        )
        job = check_finished(result)
        stored = await door.service.get_job(job["job_id"])
        speech = spoken_seconds(door.service, stored.inputs)
        assert job["duration_seconds"] == pytest.approx(speech, abs=0.15)
        assert seconds_of(Path(job["local_path"])) == pytest.approx(speech, abs=0.15)


async def test_mcp_voices_estimate_and_refusals(door: Door) -> None:
    tools = {t.name: t for t in (await door.client.list_tools()).tools}
    assert tools["list_voices"].annotations.read_only_hint
    assert "text" in tools["lipsync_image"].input_schema["properties"]
    assert "audio" not in tools["lipsync_image"].input_schema.get("required", [])
    listed = await door.call("list_voices", language="ja")
    assert not listed.is_error and listed.structured_content["voices"]
    assert all(
        any(t.startswith("ja") for t in v["languages"]) for v in listed.structured_content["voices"]
    )
    assert (await door.call("list_voices", language="xx")).is_error
    estimate = await door.call(
        "estimate_cost", model="lipsync-image", image=str(door.files / "face.jpg"), text="Hello."
    )
    assert not estimate.is_error and estimate.structured_content["credits"] > 0
    face = str(door.files / "face.jpg")
    refusals = [
        ({"text": "Hi", "voice": "espeak:xx"}, "for example espeak:"),
        ({"text": "Hi", "language": "xx"}, "no voice speaks 'xx'"),
        ({"text": "a" * 3001}, "at most 3000"),
        ({"text": "Hi", "audio": face}, "not both"),
        ({}, "'audio' is required"),
        ({"voice": "espeak:es"}, "go with a text"),
    ]
    for arguments, words in refusals:
        result = await door.call("lipsync_image", image=face, **arguments)
        assert result.is_error and words in text_of(result), (arguments, text_of(result))
    assert await door.balance() == 1000
