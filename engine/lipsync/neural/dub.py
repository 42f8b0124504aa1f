"""`lipsync-video` with a neural model: the classic dubbing's passes, the model's mouths.

Everything but the mouth is the classic job's (`engine.lipsync.dubbing.job`): the same
decoding and frame rate, the same pass 1 (`analysis`: faces tracked through cuts, the
speaker of each shot, what covers the mouth, how much dub each frame can take), the same
fit of the video to the new audio (`retime`), the same encoding. Instead of choosing and
warping mouths from an atlas, each output frame's speaker is cut where the model wants
the box, redrawn by the model for the speech at that frame, and blended back under the
classic rules (`paste`). The classic mouth track (phone recognition) is not needed: the
model listens to the audio itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from engine.handlers import HandlerResult, JobContext, JobSpec
from engine.lipsync.dubbing.analysis import Analysis, analyse
from engine.lipsync.dubbing.job import fill_cache, output_rate, user_mask, video_info
from engine.lipsync.dubbing.render import cover_of
from engine.lipsync.dubbing.retime import plays_backwards, replay, source_indices
from engine.lipsync.dubbing.tracking import KEY_POINTS
from engine.lipsync.faces import mesh_crop
from engine.lipsync.job_media import ANALYSIS_RATE, encode, frame_count, load_voice, short_side
from engine.lipsync.neural.generator import FaceGenerator
from engine.lipsync.neural.paste import Target, mesh_from_key, redraw
from engine.media import fit_resolution, iter_video_frames
from engine.vocabulary import Stage, SyncMode


def render_dub_neural(spec: JobSpec, ctx: JobContext, generator: FaceGenerator) -> HandlerResult:
    """The `lipsync-video` job (same inputs, parameters, stages and output as the classic
    one) with `generator` drawing the mouths."""
    mode = spec.params.get("sync_mode") or SyncMode.BOUNCE
    video_path = spec.inputs["video"]
    with ctx.stage(Stage.DECODING):
        info = video_info(video_path)
        rate = output_rate(info, spec.params.get("fps"))
        fps = float(rate)
        voice, soundtrack = load_voice(spec.inputs["audio"], spec)
        assert info.width is not None and info.height is not None
        size = fit_resolution(info.width, info.height, short_side(spec))
        mask = user_mask(spec, size)
        n_out = frame_count(len(voice), ANALYSIS_RATE, fps)
    with ctx.stage(Stage.ANALYSING_SPEECH):
        features = generator.speech_features(voice, ANALYSIS_RATE, fps, n_out)
    source_frames = math.ceil((info.duration or n_out / fps) * fps)
    with ctx.stage(Stage.TRACKING_FACES):
        analysis = analyse(
            video_path,
            size,
            fps,
            n_out,
            mode=mode,
            mask=mask,
            work_dir=spec.work_dir,
            source_frames=source_frames,
            progress=ctx.progress,
        )
    try:
        indices = source_indices(n_out, analysis.frames, mode)
        if plays_backwards(indices) and analysis.cache is None:
            analysis.cache = fill_cache(video_path, size, fps, analysis.frames, spec.work_dir)
        if analysis.cache is not None:
            frames = analysis.cache.play(indices)
        else:

            def reopen() -> Iterator[np.ndarray]:
                return iter_video_frames(video_path, fps=fps, size=size, max_seconds=n_out / fps)

            frames = replay(reopen, indices)
        with ctx.stage(Stage.RENDERING):
            full = not getattr(generator, "key_points_suffice", False)
            rendered = redraw(generator, features, targets(analysis, frames, full), mask)
            seconds = encode(
                spec, ctx, size, rendered, n_out, soundtrack, crf=spec.settings.render.dub_crf,
                fps=rate,
            )  # fmt: skip
    finally:
        if analysis.cache is not None:
            analysis.cache.remove()
    return HandlerResult(output_seconds=seconds)


def targets(
    analysis: Analysis, frames: Iterator[tuple[int, np.ndarray]], full_mesh: bool = False
) -> Iterator[tuple[np.ndarray, Target | None]]:
    """Each output frame with its dubbed face, or None where the classic dubbing would
    leave it alone too (no speaker, no landmarks, a weight of 0). With `full_mesh`, each
    face also gets all 478 points (`full_mesh_of`), for models whose box needs them."""
    for i, (j, frame) in enumerate(frames):
        who = analysis.speaker[j] if j < len(analysis.speaker) else -1
        points = analysis.points(j) if j < len(analysis.raw) else None
        strength = float(analysis.weight[j]) if j < len(analysis.weight) else 0.0
        if who < 0 or points is None or strength <= 0.0:
            yield frame, None
            continue
        cover = cover_of(analysis, j, frame.shape)
        mesh = full_mesh_of(frame, points) if full_mesh else None
        yield frame, Target(index=i, points=points, strength=strength, cover=cover, mesh=mesh)


def full_mesh_of(frame: np.ndarray, points: np.ndarray) -> np.ndarray:
    """All 478 points of the tracked face: the face re-meshed on a crop around where
    tracking put it, with tracking's own (smoothed) points kept where it has them; just
    tracking's, NaN elsewhere, if the mesh does not find the face again."""
    known = mesh_from_key(points)
    x0, y0 = np.floor(points.min(axis=0)).astype(int)
    x1, y1 = np.ceil(points.max(axis=0)).astype(int)
    found = mesh_crop(frame, (int(x0), int(y0), int(x1), int(y1)))
    if found is None or len(found) < len(known):
        return known
    mesh = found[: len(known)].astype(np.float32)
    kept = list(KEY_POINTS)
    mesh[kept] = known[kept]
    return mesh
