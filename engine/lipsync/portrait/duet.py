"""Two people in one photo, each lip-synced to their own voice (the other one listens).

Both faces are animated on the same picture in one pass. Head motion stays a local warp
around each head, as for a single portrait (no common camera shake), and the frame is
split between the faces by a soft line halfway between them: each face's head and jaw
motion is multiplied by its own side's share, so a moving head can never drag its
neighbour's face, and where the shares cross over (between the two people, usually
background) both motions fade out together, which cannot tear.
"""

from __future__ import annotations

import numpy as np

from engine.lipsync.faces import Face
from engine.lipsync.portrait.animator import check_fps, prepare
from engine.lipsync.portrait.compositor import Compositor, FaceRig, Territory
from engine.lipsync.portrait.geometry import smoothstep
from engine.lipsync.portrait.inputs import CLOSED, DEFAULT_STYLE, MouthFrame, PortraitStyle


class DuetAnimator:
    """Animates a left and a right face; `frame` is a pure function of its arguments.

    Each face gets its own blink schedule and head motion (seeded from `seed` and its
    side), so the two people never blink or nod in lockstep.
    """

    def __init__(
        self,
        image_rgb: np.ndarray,
        left: Face,
        right: Face,
        out_size: tuple[int, int],
        *,
        seed: int = 0,
        style: PortraitStyle = DEFAULT_STYLE,
        mask: np.ndarray | None = None,
    ) -> None:
        placement, base, out_mask = prepare(image_rgb, out_size, mask)
        faces = [placement.face(left), placement.face(right)]
        rigs = [
            FaceRig(base, face, rng=np.random.default_rng([seed, side]), style=style)
            for side, face in enumerate(faces)
        ]
        left_side, right_side = _split(faces[0], faces[1])
        self._compositor = Compositor(
            base, rigs, mask=out_mask, territories=[left_side, right_side], photo=placement.box
        )
        self.out_size = placement.out_size

    def frame(
        self,
        index: int,
        fps: float,
        left_mouth: MouthFrame = CLOSED,
        right_mouth: MouthFrame = CLOSED,
    ) -> np.ndarray:
        """HxWx3 uint8 RGB frame; pass `CLOSED` for whoever is listening."""
        check_fps(fps)
        return self._compositor.frame(index, fps, [left_mouth, right_mouth])


def _split(left: Face, right: Face) -> tuple[Territory, Territory]:
    """Soft shares of the frame for the two faces, crossing over halfway between them.

    The cross-over is a quarter of the distance between the faces wide: narrow enough
    that neither face loses any of its own motion, wide enough to stay smooth.
    """
    a = np.asarray(left.center, np.float64)
    b = np.asarray(right.center, np.float64)
    axis = b - a
    distance = max(float(np.hypot(*axis)), 1.0)
    axis /= distance
    middle = (a + b) / 2.0
    blend = 0.25 * distance

    def right_share(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        along = (xs - middle[0]) * axis[0] + (ys - middle[1]) * axis[1]
        return smoothstep(along / blend + 0.5).astype(np.float32)

    def left_share(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        return 1.0 - right_share(xs, ys)

    return left_share, right_share
