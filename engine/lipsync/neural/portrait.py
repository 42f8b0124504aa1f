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

import numpy as np

from engine.handlers import HandlerResult, JobContext, JobSpec
from engine.lipsync.dubbing.atlas import apply
from engine.lipsync.dubbing.tracking import key_points
from engine.lipsync.faces import find_face
from engine.lipsync.job_media import (
    ANALYSIS_RATE,
    encode,
    frame_count,
    load_mask,
    load_voice,
    short_side,
)
from engine.lipsync.neural.generator import FaceGenerator
from engine.lipsync.neural.paste import Target, redraw
from engine.lipsync.portrait.animator import PortraitAnimator, prepare, smooth_track
from engine.lipsync.portrait.inputs import MouthFrame
from engine.lipsync.portrait.mouth_rig import require_closable
from engine.lipsync.speech.phonemes import FRAME_S
from engine.lipsync.speech.visemes import measure_loudness, speech_activity
from engine.lipsync.style import style_from_prompt
from engine.media import fit_resolution, load_image
from engine.vocabulary import Stage


def speaking(voice: np.ndarray, fps: float, n_frames: int) -> np.ndarray:
    """Voice activity per video frame (0..1, smoothed over ~0.25 s like the classic
    portrait's), which makes the head livelier while the person speaks."""
    active = speech_activity(measure_loudness(voice)).astype(np.float32)
    if active.size == 0:
        return np.zeros(n_frames, np.float32)
    grid = np.clip(np.round(np.arange(n_frames) / fps / FRAME_S).astype(int), 0, active.size - 1)
    return smooth_track(active[grid], fps, 0.25)


def render_portrait_neural(
    spec: JobSpec, ctx: JobContext, generator: FaceGenerator
) -> HandlerResult:
    """The `lipsync-image` job (same inputs, parameters, stages and output as the classic
    one) with `generator` drawing the mouth."""
    fps = float(spec.params["fps"])
    style = style_from_prompt(spec.params.get("prompt", ""))
    with ctx.stage(Stage.DECODING):
        image = load_image(spec.inputs["image"], max_pixels=spec.settings.limits.max_image_pixels)
        voice, soundtrack = load_voice(spec.inputs["audio"], spec)
        mask = load_mask(spec, image.shape[:2])
    with ctx.stage(Stage.FINDING_FACES):
        face = find_face(image)
        require_closable(face)
    with ctx.stage(Stage.ANALYSING_SPEECH):
        n_frames = frame_count(len(voice), ANALYSIS_RATE, fps)
        features = generator.speech_features(voice, ANALYSIS_RATE, fps, n_frames)
        talking = speaking(voice, fps, n_frames)
    size = fit_resolution(image.shape[1], image.shape[0], short_side(spec))
    with ctx.stage(Stage.RENDERING):
        animator = PortraitAnimator(
            image, face, size, seed=spec.params["seed"], style=style, mask=mask
        )
        # The mask in output pixels: the same fit to the frame as the photo's.
        out_mask = prepare(image, size, mask)[2] if mask is not None else None
        frames = _frames(animator, fps, talking)
        rendered = redraw(generator, features, frames, out_mask)
        seconds = encode(spec, ctx, size, rendered, n_frames, soundtrack)
    return HandlerResult(output_seconds=seconds)


def _frames(
    animator: PortraitAnimator, fps: float, talking: np.ndarray
) -> Iterator[tuple[np.ndarray, Target]]:
    mesh = animator.face.landmarks.astype(np.float32)
    for i, level in enumerate(talking.tolist()):
        mouth = MouthFrame(open=0.0, width=0.0, teeth=0.0, speaking=float(level))
        frame = animator.frame(i, fps, mouth)
        moved = apply(animator.head_pose(i, fps, mouth), mesh)
        yield frame, Target(index=i, points=key_points(moved), mesh=moved)
