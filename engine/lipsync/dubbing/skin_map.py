"""A shape-free picture of the lower face: every frame's mouth region, unwarped onto one
fixed template, so the same pixel always shows the same spot of skin or lip.

This is the texture half of an active appearance model. A fixed template of the lower
face (landmark positions in canonical units, measured as the median over real faces:
photos and video frames of eight people; see `scripts/face_template.py`) is cut into
triangles; each frame's own landmarks give the same triangles where they really are, and a
piecewise-affine map carries the frame's pixels onto the template grid. There, a chin that
drops with an open mouth, a head that rolls or comes closer all look the same; what does
not belong to the face (a finger, a microphone) does not follow the landmarks and stands
out against how that spot usually looks (`occlusion`).

The map works both ways: `sample` reads a frame into the template (pass 1, every frame,
about half a millisecond), `to_image` draws a template-space mask back into a frame's
pixels (pass 2, only where something was found).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from engine.lipsync import faces as fm
from engine.lipsync.dubbing.tracking import columns

# Canonical units: x along the eyes, y down from the nose line, one unit = the distance
# between the eye centres (see `tracking.eye_frame`). Mirror pairs averaged.
TEMPLATE: dict[int, tuple[float, float]] = {
    98: (-0.301, 0.348), 327: (0.301, 0.348), 129: (-0.360, 0.254), 358: (0.360, 0.254),
    2: (0.000, 0.376), 207: (-0.739, 0.497), 206: (-0.527, 0.439), 164: (0.000, 0.451),
    426: (0.527, 0.439), 427: (0.739, 0.497),
    0: (0.000, 0.612), 13: (0.000, 0.705), 14: (0.000, 0.814), 17: (0.000, 0.974),
    37: (-0.136, 0.592), 267: (0.136, 0.592), 39: (-0.260, 0.622), 269: (0.260, 0.622),
    40: (-0.336, 0.671), 270: (0.336, 0.671), 61: (-0.430, 0.775), 291: (0.430, 0.775),
    78: (-0.397, 0.771), 308: (0.397, 0.771), 80: (-0.265, 0.714), 310: (0.265, 0.714),
    81: (-0.193, 0.699), 311: (0.193, 0.699), 82: (-0.105, 0.702), 312: (0.105, 0.702),
    84: (-0.146, 0.959), 314: (0.146, 0.959), 87: (-0.107, 0.807), 317: (0.107, 0.807),
    88: (-0.264, 0.789), 318: (0.264, 0.789), 91: (-0.341, 0.869), 321: (0.341, 0.869),
    95: (-0.305, 0.783), 324: (0.305, 0.783), 146: (-0.395, 0.820), 375: (0.395, 0.820),
    178: (-0.191, 0.797), 402: (0.191, 0.797), 181: (-0.259, 0.922), 405: (0.259, 0.922),
    185: (-0.392, 0.735), 409: (0.392, 0.735), 191: (-0.322, 0.751), 415: (0.322, 0.751),
    136: (-0.793, 1.076), 365: (0.793, 1.076), 150: (-0.656, 1.194), 379: (0.656, 1.194),
    149: (-0.526, 1.280), 378: (0.526, 1.280), 176: (-0.384, 1.356), 400: (0.384, 1.356),
    148: (-0.217, 1.415), 377: (0.217, 1.415), 152: (0.000, 1.436),
    132: (-1.046, 0.524), 361: (1.046, 0.524), 58: (-0.986, 0.771), 288: (0.986, 0.771),
    172: (-0.897, 0.952), 397: (0.897, 0.952),
}  # fmt: skip

# Beyond the jaw line the map goes on into the neck, where a hand under the chin rests
# and where the jaw's motion still drags the skin: each jaw point has an outer twin this
# much further from the middle of the mouth.
JAW_POINTS = (365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136)
BEYOND_JAW = 0.3
_MOUTH_MIDDLE = (13, 14)

# The template grid: pixels per canonical unit and the box it covers.
RESOLUTION = 32
_X0, _X1 = -1.34, 1.34
_Y0, _Y1 = 0.22, 1.66
WIDTH = round((_X1 - _X0) * RESOLUTION)
HEIGHT = round((_Y1 - _Y0) * RESOLUTION)

# Zones of the template (the values of `zones()`).
OUTSIDE, SKIN, LIP, INSIDE, NECK = 0, 1, 2, 3, 4


# The face's own outline across the template (the rest of the template is neck).
_FACE_OUTLINE = (132, 58, 172, *JAW_POINTS[::-1], 397, 288, 361, 358, 129)


def grid_xy(points: np.ndarray) -> np.ndarray:
    """Canonical units -> template grid pixels."""
    return ((points - np.array([_X0, _Y0], np.float32)) * RESOLUTION).astype(np.float32)


def _with_neck(points: np.ndarray, jaw: np.ndarray, middle: np.ndarray) -> np.ndarray:
    """`points` followed by the outer twins of the `jaw` points (see `BEYOND_JAW`)."""
    return np.concatenate([points, jaw + BEYOND_JAW * (jaw - middle)]).astype(np.float32)


@dataclass(frozen=True)
class _Mesh:
    landmarks: tuple[int, ...]  # mesh landmark index of each vertex from the face
    columns: np.ndarray  # their columns in `KEY_POINTS` arrays
    jaw: np.ndarray  # columns of the jaw points that have twins
    middle: np.ndarray  # columns of the points whose mean is the middle of the mouth
    vertices: np.ndarray  # (v, 2) template grid pixels (the face's, then the twins)
    triangles: np.ndarray  # (t, 3) vertex indices
    pixel_triangle: np.ndarray  # (H, W) int: triangle of each grid pixel, -1 outside
    pixel_weights: np.ndarray  # (H, W, 3) barycentric weights of each grid pixel


def _delaunay(points: np.ndarray) -> np.ndarray:
    lo = points.min(axis=0) - 10
    hi = points.max(axis=0) + 10
    subdiv = cv2.Subdiv2D((int(lo[0]), int(lo[1]), int(hi[0] - lo[0]), int(hi[1] - lo[1])))
    for x, y in points:
        subdiv.insert((float(x), float(y)))
    triangles = []
    for x1, y1, x2, y2, x3, y3 in subdiv.getTriangleList():
        corners = [(x1, y1), (x2, y2), (x3, y3)]
        index = [int(np.argmin(((points - c) ** 2).sum(axis=1))) for c in corners]
        if len(set(index)) == 3:
            triangles.append(index)
    return np.array(triangles, np.int32)


def _rasterise(vertices: np.ndarray, triangles: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) triangle index of every pixel centre, -1 where none covers it."""
    ids = np.zeros(shape, np.int32)
    for t, tri in enumerate(triangles):
        # Quarter-pixel precision; pixel centres are at integer coordinates in cv2. Where
        # two triangles share an edge, either one's weights are right there.
        cv2.fillConvexPoly(ids, np.round(vertices[tri] * 4).astype(np.int32), t + 1, shift=2)
    return ids - 1


def _barycentric(
    vertices: np.ndarray, triangles: np.ndarray, ids: np.ndarray, xs: np.ndarray, ys: np.ndarray
) -> np.ndarray:
    """Barycentric weights (..., 3) of points (xs, ys) in their triangles `ids`."""
    safe = np.maximum(ids, 0)
    a, b, c = (vertices[triangles[safe, k]] for k in range(3))
    v0, v1 = b - a, c - a
    v2x, v2y = xs - a[..., 0], ys - a[..., 1]
    det = v0[..., 0] * v1[..., 1] - v1[..., 0] * v0[..., 1]
    det = np.where(np.abs(det) < 1e-9, 1e-9, det)
    w1 = (v2x * v1[..., 1] - v1[..., 0] * v2y) / det
    w2 = (v0[..., 0] * v2y - v2x * v0[..., 1]) / det
    return np.stack([1.0 - w1 - w2, w1, w2], axis=-1).astype(np.float32)


@cache
def mesh() -> _Mesh:
    landmarks = tuple(TEMPLATE)
    canonical = np.array([TEMPLATE[i] for i in landmarks], np.float32)
    jaw = np.array([TEMPLATE[i] for i in JAW_POINTS], np.float32)
    middle = np.mean([TEMPLATE[i] for i in _MOUTH_MIDDLE], axis=0)
    vertices = grid_xy(_with_neck(canonical, jaw, middle))
    triangles = _delaunay(vertices)
    ids = _rasterise(vertices, triangles, (HEIGHT, WIDTH))
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    weights = _barycentric(vertices, triangles, ids, xs, ys)
    return _Mesh(
        landmarks,
        np.array(columns(landmarks)),
        np.array(columns(JAW_POINTS)),
        np.array(columns(_MOUTH_MIDDLE)),
        vertices,
        triangles,
        ids,
        weights,
    )


def vertices(points: np.ndarray) -> np.ndarray:
    """The mesh's vertices in the frame whose `KEY_POINTS` landmarks are `points`."""
    m = mesh()
    return _with_neck(points[m.columns], points[m.jaw], points[m.middle].mean(axis=0))


@cache
def zones() -> np.ndarray:
    """(H, W) uint8: OUTSIDE the template, SKIN, LIP (between the outer and inner lip
    lines), INSIDE the mouth (within the inner lip line, open in the template), or NECK
    (beyond the jaw line)."""
    m = mesh()
    out = np.where(m.pixel_triangle >= 0, SKIN, OUTSIDE).astype(np.uint8)

    def polygon(upper: tuple[int, ...], lower: tuple[int, ...]) -> np.ndarray:
        ring = [TEMPLATE[i] for i in upper] + [TEMPLATE[i] for i in lower[::-1]]
        return np.round(grid_xy(np.array(ring, np.float32)) * 4).astype(np.int32)

    face = np.zeros_like(out)
    ring = [TEMPLATE[i] for i in _FACE_OUTLINE]
    cv2.fillPoly(face, [np.round(grid_xy(np.array(ring, np.float32)) * 4).astype(np.int32)], 1,
                 shift=2)  # fmt: skip
    out[(out == SKIN) & (face == 0)] = NECK
    lips = np.zeros_like(out)
    cv2.fillPoly(lips, [polygon(fm.UPPER_OUTER_LIP, fm.LOWER_OUTER_LIP)], 1, shift=2)
    inside = np.zeros_like(out)
    cv2.fillPoly(inside, [polygon(fm.UPPER_INNER_LIP, fm.LOWER_INNER_LIP)], 1, shift=2)
    out[(lips > 0) & (out > 0)] = LIP
    out[(inside > 0) & (out > 0)] = INSIDE
    return out


def source_points(points: np.ndarray) -> np.ndarray:
    """Where each template grid pixel lies in the frame whose `KEY_POINTS` are `points`:
    (H, W, 2) float32 pixel coordinates (the same map `cv2.remap` takes)."""
    m = mesh()
    corners = vertices(points)[m.triangles[np.maximum(m.pixel_triangle, 0)]]  # (H, W, 3, 2)
    xy = (m.pixel_weights[..., None] * corners).sum(axis=2)
    xy[m.pixel_triangle < 0] = -1e4
    return xy.astype(np.float32)


def sample(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The lower face of `image` on the template grid, (H, W, channels) like `image`.

    Pixels the template does not cover are zero.
    """
    xy = source_points(points)
    return cv2.remap(
        image, xy[..., 0], xy[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )


def to_image(
    mask: np.ndarray, points: np.ndarray, box: tuple[int, int, int, int], step: int = 2
) -> np.ndarray:
    """A template-grid mask (float 0..1) drawn at a frame's pixels inside `box`
    (x0, y0, x1, y1), for the face whose `KEY_POINTS` are `points`: 0 where no triangle
    of the face covers a pixel. Computed every `step` pixels and interpolated (masks are
    soft at that scale anyway)."""
    m = mesh()
    x0, y0, x1, y1 = box
    width, height = max(1, (x1 - x0 + step - 1) // step), max(1, (y1 - y0 + step - 1) // step)
    # The face's triangles in the coarse grid of this box.
    corners = (vertices(points) - np.array([x0, y0], np.float32)) / step
    ids = _rasterise(corners, m.triangles, (height, width))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    weights = _barycentric(corners, m.triangles, ids, xs, ys)
    grid = (weights[..., None] * m.vertices[m.triangles[np.maximum(ids, 0)]]).sum(axis=2)
    inside = ids >= 0
    grid[~inside] = -10.0
    coarse = cv2.remap(
        mask.astype(np.float32),
        grid[..., 0].astype(np.float32),
        grid[..., 1].astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0.0,
    )
    coarse[~inside] = 0.0
    if step == 1:
        return coarse
    full = cv2.resize(coarse, (width * step, height * step), interpolation=cv2.INTER_LINEAR)
    return full[: y1 - y0, : x1 - x0]
