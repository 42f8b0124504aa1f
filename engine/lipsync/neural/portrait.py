"""`lipsync-image` with a neural model: the classic portrait's life, the model's mouth.

A still photo gives a neural model nothing to move but the mouth, which looks dead. So
the frames come from the classic portrait animator (`PortraitAnimator`) with the mouth
held closed: its seeded head motion (livelier while the voice speaks) and blinks. Each
frame's face is where the animator moved it (the photo's landmarks through the frame's
head pose), cut, redrawn by the model for the speech at that frame, and blended back as
in video (`paste`). The duet (`lipsync-image-multi`) stays classic.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from engine.lipsync.dubbing.atlas import apply
from engine.lipsync.dubbing.tracking import key_points
from engine.lipsync.job_media import ANALYSIS_RATE
from engine.lipsync.neural.generator import FaceGenerator
from engine.lipsync.neural.paste import Target, redraw
from engine.lipsync.portrait.animator import PortraitAnimator, prepare, smooth_track
from engine.lipsync.portrait.inputs import MouthFrame
from engine.lipsync.speech.phonemes import FRAME_S
from engine.lipsync.speech.visemes import measure_loudness, speech_activity

if TYPE_CHECKING:  # the job module imports this one when a neural backend is set
    from engine.lipsync.portrait.jobs import PhotoSource


def speaking(voice: np.ndarray, fps: float, n_frames: int) -> np.ndarray:
    """Voice activity per video frame (0..1, smoothed over ~0.25 s like the classic
    portrait's), which makes the head livelier while the person speaks."""
    active = speech_activity(measure_loudness(voice)).astype(np.float32)
    if active.size == 0:
        return np.zeros(n_frames, np.float32)
    grid = np.clip(np.round(np.arange(n_frames) / fps / FRAME_S).astype(int), 0, active.size - 1)
    return smooth_track(active[grid], fps, 0.25)


class NeuralPortrait:
    """The `lipsync-image` painter with `generator` drawing the mouth (`portrait.jobs.animate`
    runs everything else as for the classic portrait)."""

    def __init__(self, generator: FaceGenerator) -> None:
        self._generator = generator

    def listen(self, source: PhotoSource) -> None:
        voice, fps, n = source.voice, source.fps, source.n_frames
        self._features = self._generator.speech_features(voice, ANALYSIS_RATE, fps, n)
        self._talking = speaking(voice, fps, n)

    def paint(self, source: PhotoSource, animator: PortraitAnimator) -> Iterator[np.ndarray]:
        # The mask in output pixels: the same fit to the frame as the photo's.
        mask = source.mask
        out_mask = prepare(source.image, source.size, mask)[2] if mask is not None else None
        frames = _frames(animator, source.fps, self._talking)
        return redraw(self._generator, self._features, frames, out_mask)


def _frames(
    animator: PortraitAnimator, fps: float, talking: np.ndarray
) -> Iterator[tuple[np.ndarray, Target]]:
    mesh = animator.face.landmarks.astype(np.float32)
    for i, level in enumerate(talking.tolist()):
        mouth = MouthFrame(open=0.0, width=0.0, teeth=0.0, speaking=float(level))
        frame = animator.frame(i, fps, mouth)
        moved = apply(animator.head_pose(i, fps, mouth), mesh)
        yield frame, Target(index=i, points=key_points(moved), mesh=moved)
