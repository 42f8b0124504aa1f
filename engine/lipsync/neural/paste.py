"""Frames through a neural model and back: cut each face, batch, redraw, blend it home.

Both neural pipelines (video dubbing and the talking photo) end here. They hand over
their frames in output order, each with the face to redraw (or none); this module asks
the model for its crop box, resizes the crops to the model's size, runs them through
`FaceGenerator.generate` a batch at a time, and pastes each result back with the classic
dubbing's rules:

* only the lower face changes: the same region as the classic blend (`blend.region_polygon`:
  under the nose, the cheeks beside the mouth and the jaw down to just inside the chin,
  with the lips), feathered by the same `FEATHER` (across the region's edge, so the chin
  follows the redrawn jaw) and faded out before the crop's own edge, so no seam of the
  model's square shows;
* at the frame's dubbing `strength` (0..1, from `confidence`: an extreme pose, a tiny or
  blurred face fades the effect out), never over what covers the mouth (`Cover`: a hand,
  a microphone) and only inside the user's `mask_image`;
* everything else in the frame, and every frame without a face, stays bit-for-bit as it was.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from engine.lipsync.dubbing.blend import FEATHER, Cover, region_polygon
from engine.lipsync.dubbing.tracking import KEY_POINTS, LIPS, columns, eye_frame
from engine.lipsync.neural.generator import FaceGenerator

_LIPS = columns(LIPS)
_MESH_SIZE = 478


@dataclass(frozen=True)
class Target:
    """The face to redraw in one output frame.

    `index` is the frame's place on the new audio's timeline (what the speech features
    are indexed by); `points` are its `KEY_POINTS` landmarks in frame pixels; `mesh` all
    478 where they are known (a photo), else they are rebuilt from `points` with NaN for
    the ones tracking does not keep."""

    index: int
    points: np.ndarray
    strength: float = 1.0
    cover: Cover | None = None
    mesh: np.ndarray | None = None


def mesh_from_key(points: np.ndarray) -> np.ndarray:
    """(478, 2) mesh-indexed landmarks from `KEY_POINTS` ones, NaN where not kept."""
    mesh = np.full((_MESH_SIZE, 2), np.nan, np.float32)
    mesh[list(KEY_POINTS)] = points
    return mesh


def _box(
    generator: FaceGenerator, target: Target, shape: tuple[int, ...]
) -> tuple[int, int, int, int] | None:
    """The model's crop box for this face, or None where it cannot be cut (a box that is
    not finite, empty, or too small to hold a face)."""
    mesh = target.mesh if target.mesh is not None else mesh_from_key(target.points)
    try:
        box = generator.face_box(mesh, (int(shape[0]), int(shape[1])))
    except (ValueError, OverflowError):  # NaN corners: points the model needs are unknown
        return None
    x0, y0, x1, y1 = (int(v) for v in box)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    return x0, y0, x1, y1


def region_weight(points: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """0..1 per pixel of `box`: how much of the model's face replaces the frame's. The
    classic dubbing's lower-face region (with the lips), feathered across its edge, and 0
    well before the box's edge."""
    x0, y0, x1, y1 = box
    local = np.asarray(points, np.float32) - np.array([x0, y0], np.float32)
    union = np.zeros((y1 - y0, x1 - x0), np.uint8)
    polygon = np.round(region_polygon(local) * 4).astype(np.int32)
    cv2.fillPoly(union, [polygon], 255, lineType=cv2.LINE_AA, shift=2)
    lips = cv2.convexHull(np.round(local[_LIPS] * 4).astype(np.int32))
    cv2.fillConvexPoly(union, lips, 255, lineType=cv2.LINE_AA, shift=2)
    _, _, unit = eye_frame(points)
    sigma = max(FEATHER * unit, 0.8)
    # Feathered across the region's edge rather than inside it (as the classic blend
    # does): a model redraws the jaw with the mouth, and the chin must follow it down.
    alpha = cv2.GaussianBlur((union > 127).astype(np.float32), (0, 0), sigma)
    inset = math.ceil(2.5 * sigma)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * inset + 1, 2 * inset + 1))
    # Outside the box counts as outside the region: the weight is 0 before the crop ends.
    inside = cv2.erode(
        np.ones_like(union), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0
    ).astype(np.float32)
    alpha *= cv2.GaussianBlur(inside, (0, 0), sigma)
    alpha[alpha < 0.01] = 0.0
    return alpha


def paste(
    frame: np.ndarray,
    drawn: np.ndarray,
    box: tuple[int, int, int, int],
    target: Target,
    mask: np.ndarray | None,
) -> None:
    """Blend the model's crop `drawn` into `frame` (in place) inside `box`."""
    x0, y0, x1, y1 = box
    weight = region_weight(target.points, box) * np.float32(target.strength)
    if target.cover is not None:
        weight *= target.cover.keep(x0, y0, x1, y1)
    if mask is not None:
        weight *= mask[y0:y1, x0:x1]
    weight[weight < 0.01] = 0.0
    changed = weight > 0
    if not changed.any():
        return
    face = cv2.resize(drawn, (x1 - x0, y1 - y0), interpolation=cv2.INTER_CUBIC)
    region = frame[y0:y1, x0:x1]
    mixed = region.astype(np.float32) + (face.astype(np.float32) - region) * weight[:, :, None]
    region[changed] = np.clip(mixed[changed] + 0.5, 0, 255).astype(np.uint8)


def redraw(
    generator: FaceGenerator,
    features: object,
    frames: Iterable[tuple[np.ndarray, Target | None]],
    mask: np.ndarray | None = None,
) -> Iterator[np.ndarray]:
    """Every frame, in order, its target face redrawn by the model; `generator.batch_size`
    faces per forward pass (frames between them wait, a batch's worth at most)."""
    size = generator.crop_size
    pending: list[tuple[np.ndarray, Target | None, tuple[int, int, int, int] | None]] = []
    crops: list[np.ndarray] = []

    def flush() -> Iterator[np.ndarray]:
        if crops:
            batch = np.stack(crops)
            faces = [(t, b) for _, t, b in pending if t is not None and b is not None]
            drawn = generator.generate(batch, batch, features, [t.index for t, _ in faces])
            k = 0
            for frame, target, box in pending:
                if target is not None and box is not None:
                    paste(frame, drawn[k], box, target, mask)
                    k += 1
        yield from (frame for frame, _, _ in pending)
        pending.clear()
        crops.clear()

    for frame, target in frames:
        box = _box(generator, target, frame.shape) if target is not None else None
        if box is None and not pending:
            yield frame  # nothing to redraw and nothing waiting before it
            continue
        frame = frame.copy()  # held while the batch fills: the source may reuse its buffer
        if target is not None and box is not None:
            x0, y0, x1, y1 = box
            crops.append(
                cv2.resize(frame[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_LINEAR)
            )
        pending.append((frame, target, box))
        if len(crops) >= generator.batch_size:
            yield from flush()
    yield from flush()
