"""Wav2Lip end to end: random weights saved as upstream's training saves them, rendered
through the real job pipeline (the service, a worker's render process, the handlers) and
through `lipsync render`; a damaged checkpoint stops the start with its name and key.

Random weights draw a flat grey face, which is what makes the checks sharp: wherever the
model's face is blended in, the frame turns grey; everywhere else it must stay as it was.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from engine.config import Settings
from engine.errors import ConfigError
from engine.job_request import JobRequest
from engine.lipsync.dubbing.analysis import analyse
from engine.lipsync.dubbing.retime import source_indices
from engine.lipsync.dubbing.tracking import KEY_POINTS, LIPS, columns, key_points
from engine.lipsync.faces import find_face
from engine.lipsync.neural.dub import full_mesh_of, targets
from engine.lipsync.neural.paste import mesh_from_key, redraw
from engine.lipsync.neural.wav2lip import Wav2Lip, face_box, load_wav2lip
from engine.lipsync.portrait.animator import prepare
from engine.media import iter_video_frames, load_audio
from engine.service import Service
from tests.conftest import make_settings
from tests.support.dubbing import BLANK_FRAMES, FACE_FRAMES, FPS, SIZE, make_source, make_speech
from tests.support.espeak_truth import write_wav
from tests.support.media import face_photo_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("neural")


@pytest.fixture(scope="module")
def checkpoint(work: Path) -> Path:
    """wav2lip.pth as upstream's (multi-GPU) training writes it, in torch's old format."""
    torch.manual_seed(5)
    state = Wav2Lip().state_dict()
    path = work / "wav2lip.pth"
    torch.save(
        {
            "state_dict": {f"module.{k}": v for k, v in state.items()},
            "optimizer": None,
            "global_step": 250000,
            "global_epoch": 40,
        },
        path,
        _use_new_zipfile_serialization=False,
    )
    return path


@pytest.fixture(scope="module")
def source(work: Path) -> Path:
    return make_source(work)


@pytest.fixture(scope="module")
def speech(work: Path) -> Path:
    return make_speech(work)[0]


@pytest.fixture(scope="module")
def short_speech(work: Path, speech: Path) -> Path:
    """The first second of the speech (25 frames), where the length does not matter."""
    voice = load_audio(speech, sample_rate=16000)
    path = work / "short.wav"
    write_wav(path, voice[16000 // 5 : 16000 * 6 // 5], 16000)
    return path


@pytest.fixture
def settings(tmp_path: Path, checkpoint: Path) -> Settings:
    return make_settings(
        tmp_path / "data",
        workers={"plugins": []},
        render={"backend": "wav2lip", "wav2lip_checkpoint": str(checkpoint)},
    )


def _lower_face(frame: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A mask of the mouth and chin (where the model's face is blended in at full weight)
    and the Wav2Lip box around the face (outside it, nothing may change)."""
    face = find_face(frame)
    lm = face.landmarks
    mouth = np.zeros(frame.shape[:2], bool)
    x0, x1 = int(lm[61, 0]), int(lm[291, 0])
    y0, y1 = int(lm[0, 1]), int(lm[17, 1]) + 1
    mouth[y0:y1, x0:x1] = True
    return mouth, face_box(lm, frame.shape[:2])


def _tracked_lower_face(
    points: np.ndarray, shape: tuple[int, ...]
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """`_lower_face` from the tracked points the render used (its box exactly)."""
    lips = points[columns(LIPS)]
    mouth = np.zeros(shape[:2], bool)
    (x0, y0), (x1, y1) = lips.min(axis=0).astype(int), lips.max(axis=0).astype(int)
    mouth[y0:y1, x0:x1] = True
    return mouth, face_box(mesh_from_key(points), shape[:2])


def _outside(box: tuple[int, int, int, int], shape: tuple[int, ...], grow: int) -> np.ndarray:
    x0, y0, x1, y1 = box
    outside = np.ones(shape[:2], bool)
    outside[max(0, y0 - grow) : y1 + grow, max(0, x0 - grow) : x1 + grow] = False
    return outside


def test_the_redraw_changes_the_mouth_and_leaves_every_other_pixel(
    checkpoint: Path, source: Path, speech: Path, work: Path
) -> None:
    """In process, before encoding: bit-for-bit outside the model's box, faceless frames
    bit-for-bit, the mouth replaced."""
    generator = load_wav2lip(checkpoint, "cpu")
    voice = load_audio(speech, sample_rate=16000)
    n_out = round(len(voice) / 16000 * FPS)
    features = generator.speech_features(voice, 16000, FPS, n_out)
    analysis = analyse(
        source, SIZE, FPS, n_out, mode="bounce", mask=None, work_dir=work,
        source_frames=FACE_FRAMES + BLANK_FRAMES,
    )  # fmt: skip
    indices = source_indices(n_out, analysis.frames, "bounce")
    originals = list(iter_video_frames(source, fps=FPS, size=SIZE))
    played = ((int(j), originals[j].copy()) for j in indices)
    if analysis.cache is not None:
        analysis.cache.remove()
    rendered = list(redraw(generator, features, targets(analysis, played)))
    assert len(rendered) == n_out
    redrawn = 0
    for frame, j in zip(rendered, indices.tolist(), strict=True):
        original = originals[j]
        if j >= FACE_FRAMES:
            assert np.array_equal(frame, original), f"faceless frame {j} was changed"
            continue
        points = analysis.points(j)
        assert points is not None
        mouth, box = _tracked_lower_face(points, original.shape)
        outside = _outside(box, original.shape, 0)
        assert np.array_equal(frame[outside], original[outside]), f"frame {j} changed outside"
        change = np.abs(frame.astype(int) - original.astype(int)).mean(axis=2)
        weight = float(analysis.weight[j])  # the classic dubbing's confidence in the frame
        if weight == 0.0:
            assert np.array_equal(frame, original), f"frame {j} takes no dub but changed"
        elif weight == 1.0:
            assert change[mouth].mean() > 20, f"frame {j}: the mouth was not redrawn"
            redrawn += 1
    assert redrawn > FACE_FRAMES // 2


async def test_a_video_job_through_the_service_is_dubbed_by_wav2lip(
    service: Service, source: Path, speech: Path, tmp_path: Path
) -> None:
    account = (await service.create_api_key("k", 100)).key.account_id
    await service.start_workers()
    job = await service.submit(
        account,
        JobRequest(model="lipsync-video", inputs={"video": str(source), "audio": str(speech)}),
        local_dirs=[source.parent],
    )
    done = await service.wait(job.id, timeout=180)
    assert done.status == "completed", done.error
    frames = list(iter_video_frames(service.output_path(done)))
    originals = list(iter_video_frames(source, fps=FPS, size=SIZE))
    indices = source_indices(len(frames), len(originals), "bounce")
    assert {"tracking faces", "rendering"} <= set(done.timings)
    for k in (3, 17, 30, len(frames) - 1):
        frame, original = frames[k].astype(int), originals[indices[k]].astype(int)
        diff = np.abs(frame - original).mean(axis=2)
        if indices[k] >= FACE_FRAMES:
            assert diff.mean() < 2.0
            continue
        mouth, box = _lower_face(originals[indices[k]])
        assert diff[mouth].mean() > 20, k  # the grey face of random weights
        assert diff[_outside(box, frame.shape, 4)].mean() < 2.0, k  # encoding noise only


async def test_an_image_job_keeps_the_photo_and_redraws_the_mouth(
    service: Service, short_speech: Path
) -> None:
    speech = short_speech
    account = (await service.create_api_key("k", 100)).key.account_id
    await service.start_workers()
    photo = face_photo_path()
    job = await service.submit(
        account,
        JobRequest(model="lipsync-image", inputs={"image": str(photo), "audio": str(speech)}),
        local_dirs=[photo.parent, speech.parent],
    )
    done = await service.wait(job.id, timeout=180)
    assert done.status == "completed", done.error
    frames = list(iter_video_frames(service.output_path(done)))
    image = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    size = (frames[0].shape[1], frames[0].shape[0])
    still = prepare(image, size, None)[1]  # the photo as the frames place it
    base = still.astype(int)
    mouth, _ = _lower_face(still)
    for k in (0, len(frames) // 2, len(frames) - 1):
        diff = np.abs(frames[k].astype(int) - base).mean(axis=2)
        assert diff[mouth].mean() > 20, k
        corners = np.zeros_like(mouth)
        corners[:60, :60] = corners[:60, -60:] = True  # far from the head: never moves
        assert diff[corners].mean() < 4.0, k  # x264's noise on the flag's stars only


async def test_a_damaged_checkpoint_stops_the_workers_from_starting(
    tmp_path: Path, checkpoint: Path
) -> None:
    broken = tmp_path / "wav2lip_gan.pth"
    broken.write_bytes(checkpoint.read_bytes()[:100_000])
    settings = make_settings(
        tmp_path / "data",
        workers={"plugins": []},
        render={"backend": "wav2lip", "wav2lip_checkpoint": str(broken)},
    )
    service = await Service.open(settings)
    try:
        with pytest.raises(ConfigError, match="not a readable torch checkpoint") as caught:
            await service.start_workers()
        assert str(broken) in str(caught.value)
    finally:
        await service.close()


def _lipsync(args: list[str], env_extra: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIPSYNC_")}
    env.update(env_extra)
    command = [sys.executable, "-m", "cli.main", *args]
    root = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = str(root)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_lipsync_render_video_uses_the_checkpoint_from_the_environment(
    tmp_path: Path, checkpoint: Path, source: Path, short_speech: Path
) -> None:
    speech = short_speech
    env = {
        "LIPSYNC_RENDER_BACKEND": "wav2lip",
        "LIPSYNC_RENDER_WAV2LIP_CHECKPOINT": str(checkpoint),
    }
    out = tmp_path / "dubbed.mp4"
    done = _lipsync(["render", "video", str(source), str(speech), "-o", str(out)], env, tmp_path)
    assert done.returncode == 0, done.stderr
    frames = list(iter_video_frames(out))
    original = next(iter_video_frames(source, fps=FPS, size=SIZE))
    mouth, _ = _lower_face(original)
    assert np.abs(frames[0].astype(int) - original.astype(int)).mean(axis=2)[mouth].mean() > 20

    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state["state_dict"]["module.audio_encoder.0.conv_block.0.weight"] = torch.zeros(32, 2, 3, 3)
    bad = tmp_path / "wav2lip_bad.pth"
    torch.save(state, bad)
    env["LIPSYNC_RENDER_WAV2LIP_CHECKPOINT"] = str(bad)
    failed = _lipsync(["render", "video", str(source), str(speech), "-o", str(out)], env, tmp_path)
    assert failed.returncode != 0
    assert str(bad) in failed.stderr and "'audio_encoder.0.conv_block.0.weight'" in failed.stderr
    assert "Traceback" not in failed.stderr + failed.stdout


def test_models_that_need_every_mesh_point_get_them_in_video() -> None:
    """A model without `key_points_suffice` (MuseTalk's box uses brows and eyelids) gets
    the tracked face re-meshed: all 478 points, tracking's own where it has them."""
    image = cv2.cvtColor(cv2.imread(str(face_photo_path())), cv2.COLOR_BGR2RGB)
    landmarks = find_face(image).landmarks
    tracked = key_points(landmarks) + np.float32(0.25)  # tracking's smoothed points
    mesh = full_mesh_of(image, tracked)
    assert mesh.shape == (478, 2) and np.isfinite(mesh).all()
    assert np.array_equal(mesh[list(KEY_POINTS)], tracked)
    assert np.abs(mesh - landmarks[:478]).max() < 6.0  # the same face, re-meshed
