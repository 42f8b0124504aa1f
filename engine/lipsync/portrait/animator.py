"""Talking-portrait renderer: one photo plus a per-frame mouth track in, video frames out.

The photo is never re-synthesised; every frame is the photo resampled through a
displacement field (so skin, hair and lighting stay the person's own), plus a painted
mouth interior where the lips part. Three kinds of motion are layered:

* mouth and jaw: an analytic field in a mouth-aligned frame (s along the lips, t down,
  both in half-mouth-widths). The lower lip, chin and jaw drop with `open`; the upper lip
  lifts a little; the lip corners move with `width`. A photo whose mouth is open (a
  smile showing teeth) is first closed: the upper lip is stretched down and the lower
  lip and jaw pushed up until the lips meet, so `open=0` reads as closed lips on any
  photo while the smile's corners stay; its own teeth are shown again, at their size,
  under the upper lip when the mouth opens. The field is continuous everywhere except
  across the inner lip line, where the opening is covered by the painted cavity (or,
  closed, by a thin lip crease), so nothing can tear. Every fall-off has compact
  support inside the patch it is computed in, so patch borders are seamless.
* eyelids: the band of lid skin above each eye is stretched down over the eye.
* head: a small rigid motion (roll, sway, nod) weighted by a soft ellipse around the
  head, so the background a little away from the head stays still (no camera shake, no
  exposed borders) and two heads in one photo can move independently.

Speed comes from computing fields only in small boxes and cheaply: the head field on an
8 px grid, the jaw field on a 1-4 px grid (both upsampled bilinearly; pixels next to the
lip edges, where the field jumps, exactly), the eyes per pixel in tiny boxes; the jaw
and lids are evaluated at the head-moved positions (an exact composition), and then a
single `cv2.remap` resamples the region that moves. On one core a frame costs ~2.5 ms at
854x480 and ~4 ms at 1280x720 for a head-and-shoulders photo, ~7 ms / ~15 ms for a
close-up whose face fills the whole frame.

With a `mask`, the head and jaw motion are multiplied by the (blurred) mask so they fade
out where changes are not allowed, and the finished frame is blended with the photo by
the mask, so pixels where the mask is 0 are exactly the photo's. Motion also fades out
towards the photo's own edges, which therefore never move.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import cv2
import numpy as np

from engine.lipsync.faces import Face
from engine.lipsync.portrait.compositor import Compositor, FaceRig
from engine.lipsync.portrait.geometry import Placement
from engine.lipsync.portrait.inputs import CLOSED, DEFAULT_STYLE, MouthFrame, PortraitStyle

__all__ = [
    "CLOSED",
    "MouthFrame",
    "Placement",
    "PortraitAnimator",
    "PortraitStyle",
    "check_fps",
    "mouth_frames",
    "prepare",
    "render_frames",
    "smooth_track",
]


def prepare(
    image_rgb: np.ndarray, out_size: tuple[int, int], mask: np.ndarray | None
) -> tuple[Placement, np.ndarray, np.ndarray | None]:
    image = np.asarray(image_rgb)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] < 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 RGB image, got {image.shape} {image.dtype}")
    image = np.ascontiguousarray(image[:, :, :3])
    placement = Placement.fit(
        (image.shape[1], image.shape[0]), (int(out_size[0]), int(out_size[1]))
    )
    base = placement.image(image)
    out_mask = None
    if mask is not None:
        if mask.shape[:2] != image.shape[:2]:
            raise ValueError(
                f"mask shape {mask.shape[:2]} differs from the image's {image.shape[:2]}"
            )
        out_mask = np.clip(placement.image(np.asarray(mask, np.float32)), 0.0, 1.0)
    return placement, base, out_mask


class PortraitAnimator:
    """Animates one face on a photo; `frame` is a pure function of (index, mouth).

    Everything per photo is precomputed here (a few ms). Frames reuse work buffers, so
    one animator must not render from two threads at once (use one per worker).
    """

    def __init__(
        self,
        image_rgb: np.ndarray,
        face: Face,
        out_size: tuple[int, int],
        *,
        seed: int = 0,
        style: PortraitStyle = DEFAULT_STYLE,
        mask: np.ndarray | None = None,
    ) -> None:
        placement, base, out_mask = prepare(image_rgb, out_size, mask)
        rig = FaceRig(base, placement.face(face), rng=np.random.default_rng([seed, 0]), style=style)
        self._compositor = Compositor(base, [rig], mask=out_mask, photo=placement.box)
        self.out_size = placement.out_size

    @property
    def face(self) -> Face:
        """The face in output-frame pixels (where the renderer believes it is at rest)."""
        return self._compositor.rigs[0].face

    def eyes_closed(self, index: int, fps: float) -> float:
        """How closed the eyes are in frame `index` (0 open .. 1 shut): for previews."""
        return self._compositor.rigs[0].blinks.closed(index / fps, 1.0 / fps)

    def frame(self, index: int, fps: float, mouth: MouthFrame = CLOSED) -> np.ndarray:
        """HxWx3 uint8 RGB frame `index` at `fps` (also the silent listener: CLOSED)."""
        check_fps(fps)
        return self._compositor.frame(index, fps, [mouth])

    def head_pose(self, index: int, fps: float, mouth: MouthFrame = CLOSED) -> np.ndarray:
        """2x3 affine taking `face` to where the head is in frame `index` (for drawing on
        the moving face, as the neural backends do)."""
        check_fps(fps)
        return self._compositor.rigs[0].pose(index / fps, mouth)


def check_fps(fps: float) -> None:
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")


def smooth_track(values: Sequence[float] | np.ndarray, fps: float, seconds: float) -> np.ndarray:
    """Gaussian-smoothed copy of a per-frame track (sigma in seconds)."""
    array = np.asarray(values, np.float32).reshape(-1)
    sigma = seconds * fps
    if len(array) < 2 or sigma < 0.5:
        return array
    return cv2.GaussianBlur(array[None, :], (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REPLICATE)[
        0
    ]


def mouth_frames(
    track_open: Sequence[float],
    track_width: Sequence[float],
    track_teeth: Sequence[float],
    track_speaking: Sequence[float],
    fps: float,
    track_tongue: Sequence[float] | None = None,
) -> list[MouthFrame]:
    """Per-frame MouthFrames; voice activity is smoothed (~0.25 s) because it drives the
    amplitude of head motion, which must not jump when speech starts or stops."""
    speaking = smooth_track(track_speaking, fps, 0.25)
    n = min(len(track_open), len(track_width), len(track_teeth), len(speaking))
    tongue = np.zeros(n) if track_tongue is None else np.asarray(track_tongue)
    return [
        MouthFrame(
            open=float(track_open[i]),
            width=float(track_width[i]),
            teeth=float(track_teeth[i]),
            speaking=float(speaking[i]),
            tongue=float(tongue[i]) if i < len(tongue) else 0.0,
        )
        for i in range(n)
    ]


def render_frames(
    image_rgb: np.ndarray,
    face: Face,
    track_open: Sequence[float],
    track_width: Sequence[float],
    track_teeth: Sequence[float],
    track_speaking: Sequence[float],
    fps: float,
    out_size: tuple[int, int],
    *,
    seed: int = 0,
    style: PortraitStyle = DEFAULT_STYLE,
    mask: np.ndarray | None = None,
) -> Iterator[np.ndarray]:
    """One frame per entry of the per-frame tracks (sampled at `fps`; the shortest track
    decides the length), rendered lazily so a long video is never held in memory."""
    animator = PortraitAnimator(image_rgb, face, out_size, seed=seed, style=style, mask=mask)
    for index, mouth in enumerate(
        mouth_frames(track_open, track_width, track_teeth, track_speaking, fps)
    ):
        yield animator.frame(index, fps, mouth)
