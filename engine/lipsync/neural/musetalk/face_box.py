"""The box MuseTalk 1.5 cuts around a face, from our MediaPipe face-mesh points.

MuseTalk was trained (and its inference cuts faces) on boxes drawn from the 68-point
landmarks of the iBUG/dlib convention (DWPose's whole-body keypoints 23..90): the box spans
the landmarks left to right, ends at the lowest one (the chin) and starts as far above
landmark 29 (on the nose bridge, two thirds of the way from the nasion to the tip) as the
chin is below it, so landmark 29 sits on the middle line of the box, which is where the
model's lower-half mask begins. Version 1.5 then adds `extra_margin` (10 px of the source
frame) below the chin and uses no `bbox_shift`. The box is not square; it is resized to
256 x 256 either way.

We track with MediaPipe's 478-point mesh, so each of the 68 points is taken from the mesh
point at the same anatomical place (`IBUG68_FROM_MEDIAPIPE`). Only a few of them decide the
box: the widest jaw points (68-point 0..2 and 14..16, mesh 234/93/132 and 361/323/454), the
chin (68-point 8, mesh 152) and the nose-bridge point 29 (mesh 5). The mesh's jaw line is
denser than the 68-point one (21 points from 234 to 454 against 17), so every 68-point jaw
landmark takes the mesh point nearest its place along the contour, symmetrically.

The box is computed from the 48 of the 68 points that our video tracker keeps
(`BOX_LANDMARKS`: jaw, nose line, nostril corners, eye corners, lips), so a tracked face
needs no second mesh pass (`key_points_suffice`). The 20 left out (brows, eyelids, two
nostril points) lie inside the jaw's span and above the chin on any face the mesh tracks,
so upstream's min/max over all 68 never lands on them.
"""

from __future__ import annotations

import numpy as np

# Pixels added below the chin by MuseTalk 1.5 (`--extra_margin`, default 10).
EXTRA_MARGIN = 10
# The 68-point index whose height is the middle line of the box.
_HALF_FACE_POINT = 29

# fmt: off
IBUG68_FROM_MEDIAPIPE: tuple[int, ...] = (
    # 0..16: jaw, from the image-left end (top of the jaw by the ear) over the chin (8)
    234, 93, 132, 58, 136, 150, 149, 148, 152, 377, 378, 379, 365, 288, 361, 323, 454,
    # 17..21 and 22..26: brows, each from its outer end on the image left to the right
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    # 27..30: nose bridge, nasion to tip; 31..35: the nostrils' lower edge
    168, 197, 5, 1, 98, 97, 2, 326, 327,
    # 36..41 and 42..47: eyes, each from its image-left corner over the upper lid
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    # 48..59: outer lips from the image-left corner over the upper lip; 60..67: inner lips
    61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,
    78, 81, 13, 311, 308, 402, 14, 178,
)
# fmt: on

# The 68-point indices the box is computed from (see the module docstring).
# fmt: off
BOX_LANDMARKS: tuple[int, ...] = (
    *range(0, 17), 27, 28, 29, 30, 31, 33, 35, 36, 39, 42, 45, *range(48, 68)
)
# fmt: on


def ibug68(points: np.ndarray) -> np.ndarray:
    """The 68 iBUG landmarks (68, 2) from 468 or 478 mesh points in pixels."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] < 468 or points.shape[1] < 2:
        raise ValueError(f"expected (478, 2) face-mesh points, got shape {points.shape}")
    return points[list(IBUG68_FROM_MEDIAPIPE), :2]


def musetalk_face_box(
    points: np.ndarray, frame_shape: tuple[int, int], extra_margin: int = EXTRA_MARGIN
) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1), exclusive ends, inside a frame of `frame_shape` = (height, width).

    Landmarks are truncated to whole pixels first, as upstream stores them as int32, and
    the ends stay exclusive as in upstream's `frame[y1:y2, x1:x2]`. Where upstream would
    fall back to its face detector's box (a box that is empty or leaves the frame on the
    left) we clip to the frame instead and keep at least one pixel each way, since our
    landmarks come from a tracker that already found the face.
    """
    height, width = int(frame_shape[0]), int(frame_shape[1])
    if height <= 0 or width <= 0:
        raise ValueError(f"empty frame shape {frame_shape}")
    chosen = ibug68(points)[list(BOX_LANDMARKS)]
    if not np.isfinite(chosen).all():
        raise ValueError("a landmark the MuseTalk box needs is unknown (NaN)")
    landmarks = np.trunc(chosen).astype(np.int64)
    xs, ys = landmarks[:, 0], landmarks[:, 1]
    half_face_y = int(ys[BOX_LANDMARKS.index(_HALF_FACE_POINT)])
    bottom = int(ys.max())
    top = max(0, half_face_y - (bottom - half_face_y))
    x0 = min(max(int(xs.min()), 0), width - 1)
    x1 = min(max(int(xs.max()), x0 + 1), width)
    y0 = min(top, height - 1)
    y1 = min(max(bottom + extra_margin, y0 + 1), height)
    return x0, y0, x1, y1
