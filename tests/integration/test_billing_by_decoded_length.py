"""A job is priced on the sound its audio really holds, and never renders more than that.

The attack: a container whose header says 4 s over a minute of sound. Probing believes
the header, so a price from the probe would be a tenth of the render. These tests send
such files through the real service (fetch, probe, decode, hold, render, settle).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import pytest

from engine import pricing
from engine.config import Settings
from engine.errors import MediaError
from engine.handlers import JobContext, JobSpec, get_handler, load_handlers
from engine.job_request import JobRequest, normalize_params
from engine.jobs import Job
from engine.media import probe
from engine.service import Service
from tests.conftest import make_settings
from tests.support.lying_media import matroska_claiming, mp4_claiming
from tests.support.media import face_photo_path, write_tone_wav

LIARS: dict[str, Callable[[Path, float, float], Path]] = {
    "mka": matroska_claiming,
    "m4a": mp4_claiming,
}


def _portrait(audio: Path) -> JobRequest:
    return JobRequest(
        model="lipsync-image", inputs={"image": str(face_photo_path()), "audio": str(audio)}
    )


@pytest.mark.parametrize("suffix", sorted(LIARS))
async def test_a_container_that_claims_4_s_over_a_minute_of_sound_is_priced_for_the_minute(
    service: Service, settings: Settings, tmp_path: Path, suffix: str
) -> None:
    audio = LIARS[suffix](tmp_path / f"liar.{suffix}", 59.5, 4.0)
    assert abs((probe(audio).duration or 0) - 4.0) < 0.1  # the lie works on the header

    estimate = await service.estimate(
        _portrait(audio), local_dirs=[tmp_path, face_photo_path().parent]
    )

    assert 59.5 <= estimate.output_seconds <= 59.6  # AAC pads its last frame
    assert estimate.credits == pricing.quote(59.5, "480p", settings.pricing).credits
    assert estimate.credits > pricing.quote(4.0, "480p", settings.pricing).credits * 5


async def test_a_lying_file_over_the_limit_is_refused_at_submit_and_costs_nothing(
    tmp_path: Path,
) -> None:
    service = await Service.open(make_settings(tmp_path / "d", limits={"max_media_seconds": 20}))
    try:
        account = (await service.create_api_key("k", 1000)).key.account_id
        audio = mp4_claiming(tmp_path / "liar.m4a", 60.0, 4.0)
        with pytest.raises(MediaError, match="lasts more than 20 s"):
            await service.submit(
                account, _portrait(audio), local_dirs=[tmp_path, face_photo_path().parent]
            )
        assert (await service.get_account(account)).balance == 1000
        assert await service.list_jobs(account) == []
    finally:
        await service.close()


async def _render(tmp_path: Path, audio: Path) -> tuple[Job, Job, Service]:
    """Submit a portrait of `audio` to a real service and render it: (as queued, as done)."""
    service = await Service.open(make_settings(tmp_path / "d", workers={"plugins": []}))
    account = (await service.create_api_key("k", 1000)).key.account_id
    await service.start_workers()
    job = await service.submit(
        account, _portrait(audio), local_dirs=[tmp_path, face_photo_path().parent]
    )
    done = await service.wait(job.id, timeout=180)
    assert done.status == "completed", done.error
    return job, done, service


@pytest.mark.slow
async def test_the_lying_file_is_rendered_and_charged_for_what_it_holds(tmp_path: Path) -> None:
    job, done, service = await _render(tmp_path, matroska_claiming(tmp_path / "liar.mka", 9.0, 1.0))
    try:
        credits = pricing.quote(9.0, "480p", service.settings.pricing).credits
        assert job.estimate == done.charged == credits
        with av.open(str(service.output_path(done))) as out:
            frames = sum(1 for _ in out.decode(video=0))
        assert abs(frames - 9.0 * 25) <= 1
    finally:
        await service.close()


def test_a_render_never_outlasts_what_was_priced(tmp_path: Path) -> None:
    """Whatever the file holds at render time, the output stops at the held length."""
    settings = make_settings(tmp_path / "d", workers={"plugins": []})
    load_handlers([])
    handler = get_handler("lipsync-image")
    assert handler is not None
    voice = write_tone_wav(tmp_path / "voice.wav", 4.0)
    out = tmp_path / "out.mp4"
    spec = JobSpec(
        id="t",
        model="lipsync-image",
        params=normalize_params("lipsync-image", {"fps": 24}, settings),
        inputs={"image": face_photo_path(), "audio": voice},
        work_dir=tmp_path,
        output_path=out,
        settings=settings,
        max_output_seconds=1.5,
    )
    result = handler(spec, JobContext(report=lambda stage, fraction: None))
    assert result.output_seconds == pytest.approx(1.5, abs=0.1)
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 36
        assert container.streams.audio[0].duration * container.streams.audio[0].time_base < 1.6


@pytest.mark.slow
async def test_the_charge_is_the_quote_when_the_last_frame_ends_short_of_the_sound(
    tmp_path: Path,
) -> None:
    # 3.012 s of sound: 75 frames at 25 fps (3.0 s) show it, the soundtrack runs on. Priced
    # from its frames the video would bill 3 s, the quote (and the file) 4 s.
    job, done, service = await _render(tmp_path, write_tone_wav(tmp_path / "t.wav", 3.012))
    try:
        credits = pricing.quote(4, "480p", service.settings.pricing).credits
        assert job.estimate == done.charged == credits
        assert done.output_seconds is not None and done.output_seconds > 3.0
    finally:
        await service.close()
