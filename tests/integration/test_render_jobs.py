"""Real renders through engine.service: portrait and duet jobs, their errors and charges."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from engine.config import Settings
from engine.errors import MediaError
from engine.job_request import JobRequest
from engine.lipsync.faces import detect_faces
from engine.service import Service
from tests.conftest import make_settings
from tests.support.media import decode_mp4, face_photo_path, write_png
from tests.support.speech import speak

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", workers={"plugins": []})


@pytest.fixture
def voice(tmp_path: Path) -> Path:
    return speak("Bob bought a map.", "en", tmp_path / "voice.wav")


def duet_photo(path: Path) -> Path:
    photo = cv2.imread(str(face_photo_path()))
    cv2.imwrite(str(path), np.hstack([photo, cv2.flip(photo, 1)]))
    return path


async def run(service: Service, account: str, request: JobRequest, folder: Path):
    job = await service.submit(account, request, local_dirs=[folder, face_photo_path().parent])
    return await service.wait(job.id, timeout=180)


async def test_portrait_job_renders_a_playable_mp4_charged_at_the_seed_price(
    service: Service, tmp_path: Path, voice: Path
) -> None:
    account = (await service.create_api_key("k", 100)).key.account_id
    await service.start_workers()
    done = await run(
        service,
        account,
        JobRequest(
            model="lipsync-image",
            inputs={"image": str(face_photo_path()), "audio": str(voice)},
            params={"resolution": "720p", "seed": 3},
        ),
        tmp_path,
    )
    assert done.status == "completed", done.error
    frames, info = decode_mp4(service.output_path(done))
    assert info["codec"] == "h264" and info["audio_codec"] == "aac"
    assert info["pix_fmt"] == "yuv420p" and min(info["size"]) == 720
    audio_seconds = av.open(str(voice)).duration / 1e6
    assert abs(len(frames) - audio_seconds * 25) <= 1
    assert done.charged == 20  # under 5 s: billed as 5 s at 4 credits/s
    assert {"decoding", "finding faces", "analysing speech", "rendering"} <= set(done.timings)
    assert (await service.get_account(account)).balance == 80


async def test_duet_job_animates_two_faces_in_turn(
    service: Service, tmp_path: Path, voice: Path
) -> None:
    account = (await service.create_api_key("k", 100)).key.account_id
    other = speak("Maybe.", "es", tmp_path / "other.wav")
    await service.start_workers()
    done = await run(
        service,
        account,
        JobRequest(
            model="lipsync-image-multi",
            inputs={
                "image": str(duet_photo(tmp_path / "two.jpg")),
                "left_audio": str(voice),
                "right_audio": str(other),
            },
            params={"order": "left_right"},
        ),
        tmp_path,
    )
    assert done.status == "completed", done.error
    frames, _ = decode_mp4(service.output_path(done))
    left_seconds = av.open(str(voice)).duration / 1e6
    right_seconds = av.open(str(other)).duration / 1e6
    assert abs(len(frames) - (left_seconds + right_seconds) * 25) <= 1
    split = round(left_seconds * 25)
    left_mouth, right_mouth = _mouth_boxes(frames[0])

    def moving(part: list[np.ndarray], box: tuple[slice, slice]) -> float:
        crops = np.stack([frame[box] for frame in part]).astype(np.int16)
        return float(np.abs(np.diff(crops, axis=0)).mean())

    # While the left person talks their mouth moves more than the listener's, then the
    # reverse (mouths only: head motion and blinks move both halves alike).
    first, second = frames[:split], frames[split + 3 :]
    assert moving(first, left_mouth) > 2 * moving(first, right_mouth)
    assert moving(second, right_mouth) > 2 * moving(second, left_mouth)


def _mouth_boxes(frame: np.ndarray) -> list[tuple[slice, slice]]:
    """Each face's lips and a margin around them, left face first."""
    faces = sorted(detect_faces(frame, max_faces=2), key=lambda face: face.box[0])
    assert len(faces) == 2
    boxes = []
    for face in faces:
        lips = face.landmarks[[61, 291, 0, 17]]
        (x0, y0), (x1, y1) = lips.min(axis=0), lips.max(axis=0)
        pad = 0.5 * (x1 - x0)
        boxes.append(
            (slice(int(y0 - pad), int(y1 + pad)), slice(int(x0 - pad / 2), int(x1 + pad / 2)))
        )
    return boxes


async def test_no_face_fails_clearly_and_is_refunded(
    service: Service, tmp_path: Path, voice: Path
) -> None:
    account = (await service.create_api_key("k", 100)).key.account_id
    await service.start_workers()
    done = await run(
        service,
        account,
        JobRequest(
            model="lipsync-image",
            inputs={"image": str(write_png(tmp_path / "wall.png", 320, 240)), "audio": str(voice)},
        ),
        tmp_path,
    )
    assert done.status == "failed"
    assert done.error.startswith("no face found in the image")
    assert done.error_code == "no_face"
    assert (await service.get_account(account)).balance == 100


async def test_duet_with_one_face_says_how_many_were_found(
    service: Service, tmp_path: Path, voice: Path
) -> None:
    account = (await service.create_api_key("k", 100)).key.account_id
    await service.start_workers()
    done = await run(
        service,
        account,
        JobRequest(
            model="lipsync-image-multi",
            inputs={
                "image": str(face_photo_path()),
                "left_audio": str(voice),
                "right_audio": str(voice),
            },
        ),
        tmp_path,
    )
    assert done.status == "failed"
    assert "two people" in done.error and "found 1 face" in done.error
    assert (await service.get_account(account)).balance == 100


async def test_a_too_long_audio_is_refused_at_submit(tmp_path: Path, voice: Path) -> None:
    service = await Service.open(make_settings(tmp_path / "d", limits={"max_media_seconds": 1.0}))
    try:
        account = (await service.create_api_key("k", 100)).key.account_id
        with pytest.raises(MediaError, match="the limit is 1 s"):
            await service.submit(
                account,
                JobRequest(
                    model="lipsync-image",
                    inputs={"image": str(face_photo_path()), "audio": str(voice)},
                ),
                local_dirs=[tmp_path, face_photo_path().parent],
            )
        assert (await service.get_account(account)).balance == 100
    finally:
        await service.close()


def test_same_seed_same_frames_other_seed_other_frames(
    tmp_path: Path, voice: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seed fixes the frames the renderer hands to the encoder. Not the MP4's bytes:
    libx264 here, fed identical frames, sometimes makes different (equally valid) choices
    when the machine is busy, even single-threaded (seen in CI and reproduced under load),
    so the frames are compared where the seed decides them."""
    from engine.media.encode import Mp4Writer
    from scripts.quality import render_local

    written: list[np.ndarray] = []
    encode_frame = Mp4Writer.write

    def keep(writer: Mp4Writer, frame: np.ndarray) -> None:
        written.append(frame.copy())
        encode_frame(writer, frame)

    monkeypatch.setattr(Mp4Writer, "write", keep)
    outputs = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        written.clear()
        out = tmp_path / f"{name}.mp4"
        render_local(
            "lipsync-image", {"image": face_photo_path(), "audio": voice}, {"seed": seed}, out
        )
        outputs[name] = np.stack(written)
        assert len(decode_mp4(out)[0]) == len(written)  # what was rendered is what was encoded
    assert np.array_equal(outputs["a"], outputs["b"])
    assert not np.array_equal(outputs["a"], outputs["c"])
