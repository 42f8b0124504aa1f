"""`lipsync-video` with a neural model: the classic dubbing's passes, the model's mouths.

Everything but the mouth is the classic job's (`engine.lipsync.dubbing.job.dub`): the same
decoding and frame rate, the same pass 1 (`analysis`: faces tracked through cuts, the
speaker of each shot, what covers the mouth, how much dub each frame can take), the same
fit of the video to the new audio (`retime`), the same encoding. Instead of choosing and
warping mouths from an atlas, each output frame's speaker is cut where the model wants
the box, redrawn by the model for the speech at that frame, and blended back under the
classic rules (`paste`). The classic mouth track (phone recognition) is not needed: the
model listens to the audio itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from engine.handlers import JobContext
from engine.lipsync.dubbing.analysis import Analysis
from engine.lipsync.dubbing.job import DubSource, Mask
from engine.lipsync.dubbing.render import cover_of
from engine.lipsync.dubbing.tracking import KEY_POINTS
from engine.lipsync.faces import mesh_crop
from engine.lipsync.job_media import ANALYSIS_RATE
from engine.lipsync.neural.generator import FaceGenerator
from engine.lipsync.neural.paste import Target, mesh_from_key, redraw


class NeuralMouths:
    """The `lipsync-video` painter with `generator` drawing the mouths (`dubbing.job.dub`
    runs everything else as for the classic dub)."""

    def __init__(self, generator: FaceGenerator) -> None:
        self._generator = generator

    def listen(self, source: DubSource) -> None:
        self._features = self._generator.speech_features(
            source.voice, ANALYSIS_RATE, source.fps, source.n_out
        )

    def prepare(self, analysis: Analysis, indices: list[int], ctx: JobContext) -> None:
        """Nothing to choose: the model draws each frame from the speech at that frame."""

    def paint(
        self, analysis: Analysis, frames: Iterator[tuple[int, np.ndarray]], mask: Mask
    ) -> Iterator[np.ndarray]:
        full = not getattr(self._generator, "key_points_suffice", False)
        return redraw(self._generator, self._features, targets(analysis, frames, full), mask)


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
