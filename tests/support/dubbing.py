"""A small real-photo talking video, new speech for it, and the `lipsync-video` job run on
them: what the fast dubbing unit tests (their clear errors) and the end-to-end dubbing
tests (`tests/integration/test_dubbing_jobs.py`) share.

The source is made here: the portrait renderer animates a real photo with a scripted
mouth (so the video has its own, unrelated mouth motion and an atlas of shapes), then the
video cuts to a face-less gradient for its last frames.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from engine.config import Settings, load_settings
from engine.handlers import JobContext, JobSpec, get_handler, load_handlers
from engine.job_request import normalize_params
from engine.lipsync.dubbing import job as dubbing
from engine.lipsync.faces import find_face
from engine.lipsync.portrait.animator import MouthFrame, PortraitAnimator, PortraitStyle
from engine.media import Mp4Writer
from tests.support.espeak_truth import TruthPhone, synthesize_array, write_wav
from tests.support.media import face_photo_path

FPS = 25
SIZE = (480, 562)  # the photo's aspect at 480p, so the job does not rescale
FACE_FRAMES, BLANK_FRAMES = 44, 8
PAD_S = 0.3


def gradient() -> np.ndarray:
    frame = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    frame[:, :, 0] = np.linspace(30, 220, SIZE[0], dtype=np.uint8)[None, :]
    frame[:, :, 2] = np.linspace(200, 40, SIZE[1], dtype=np.uint8)[:, None]
    return frame


def write_frames(path: Path, frames: list[np.ndarray]) -> Path:
    with Mp4Writer(path, SIZE[0], SIZE[1], FPS, crf=16) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def make_source(work: Path) -> Path:
    """1.76 s of a talking photo (its own open/close rhythm), then 0.32 s without a face."""
    photo = cv2.cvtColor(cv2.imread(str(face_photo_path())), cv2.COLOR_BGR2RGB)
    animator = PortraitAnimator(
        photo, find_face(photo), SIZE, style=PortraitStyle(head_motion=0.0, blink_rate=0.0)
    )
    frames = []
    for i in range(FACE_FRAMES):
        opening = max(0.0, math.sin(i / FACE_FRAMES * 5 * 2 * math.pi)) ** 0.7
        frames.append(animator.frame(i, FPS, MouthFrame(opening, 0.0, 0.6, 1.0)))
    frames += [gradient() for _ in range(BLANK_FRAMES)]
    return write_frames(work / "source.mp4", frames)


def make_speech(work: Path) -> tuple[Path, list[TruthPhone], float]:
    """New words, padded with silence: (wav, espeak's phone timings, seconds)."""
    audio, rate, phones = synthesize_array("Bob bought a big map.", "en")
    pad = np.zeros(int(PAD_S * rate), audio.dtype)
    padded = np.concatenate([pad, audio, pad])
    path = work / "speech.wav"
    write_wav(path, padded, rate)
    return path, phones, len(padded) / rate


def _settings(root: Path) -> Settings:
    return load_settings(path=None, env={}, overrides={"data_dir": str(root / "data")})


def run_dub(work: Path, inputs: dict[str, Path], out: Path, **params: object) -> float:
    settings = _settings(work)
    load_handlers([])
    handler = get_handler("lipsync-video")
    assert handler is dubbing.render_dub
    spec = JobSpec(
        id="t",
        model="lipsync-video",
        params=normalize_params("lipsync-video", params, settings),
        inputs=inputs,
        work_dir=out.parent,
        output_path=out,
        settings=settings,
    )
    stages: list[str] = []
    result = handler(spec, JobContext(report=lambda stage, fraction: stages.append(stage)))
    assert "tracking faces" in stages and "rendering" in stages
    return result.output_seconds
