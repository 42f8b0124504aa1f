"""Small geometry the portrait renderer is built from: pixel boxes and grids, smooth
fall-off curves with compact support, the photo's placement in the output frame, and
tabulated profiles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from engine.lipsync.faces import Face


def smoothstep(x: np.ndarray | float) -> np.ndarray:
    """0 below 0, 1 above 1, C1-smooth in between: every fall-off uses it (no kinks)."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def clipped(value: float, low: float, high: float) -> float:
    """A track value within its range; NaN (a gap in a track) counts as rest."""
    value = float(value)
    return 0.0 if value != value else min(max(value, low), high)


def fall(x: np.ndarray) -> np.ndarray:
    """(1 - x)^2 on [0, 1], 0 beyond: steepest at 0 (the lip edge), flat at 1 (C1 there)."""
    y = 1.0 - np.clip(x, 0.0, 1.0)
    return y * y


def _bump(x: np.ndarray) -> np.ndarray:
    """(1 - x^2)^2 on |x| < 1, 0 outside: smooth with compact support."""
    y = np.clip(1.0 - x * x, 0.0, None)
    return y * y


def phi(s: np.ndarray) -> np.ndarray:
    """Along-the-lips profile of the width motion: ~s inside the mouth, 0 beyond |s|=2."""
    return 1.78 * s * _bump(s * 0.5)


def psi(t: np.ndarray) -> np.ndarray:
    """Vertical extent of the width motion: lips and a bit around, 0 far above/below."""
    return _bump((t - 0.3) / 1.6)


def chi(s: np.ndarray) -> np.ndarray:
    """Where a smile lifts: the corners, not the middle, 0 beyond |s|=2."""
    return 1.3 * s * s * _bump(s * 0.5)


@dataclass(frozen=True)
class Box:
    """Half-open pixel box [x0, x1) x [y0, y1)."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def empty(self) -> bool:
        return self.x1 <= self.x0 or self.y1 <= self.y0

    def clip(self, width: int, height: int) -> Box:
        return Box(max(self.x0, 0), max(self.y0, 0), min(self.x1, width), min(self.y1, height))

    def union(self, other: Box) -> Box:
        return Box(
            min(self.x0, other.x0),
            min(self.y0, other.y0),
            max(self.x1, other.x1),
            max(self.y1, other.y1),
        )

    def grow(self, pad: int) -> Box:
        return Box(self.x0 - pad, self.y0 - pad, self.x1 + pad, self.y1 + pad)

    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    @staticmethod
    def around(points: np.ndarray) -> Box:
        x0, y0 = np.floor(points.min(axis=0)).astype(int)
        x1, y1 = np.ceil(points.max(axis=0)).astype(int) + 1
        return Box(int(x0), int(y0), int(x1), int(y1))


def pixel_grid(box: Box, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates of a grid that `cv2.resize(..., INTER_LINEAR)` upsamples
    back onto `box` exactly (sample i sits at x0 + (i + 0.5) * step - 0.5)."""
    xs = box.x0 + (np.arange(box.width // step, dtype=np.float32) + 0.5) * step - 0.5
    ys = box.y0 + (np.arange(box.height // step, dtype=np.float32) + 0.5) * step - 0.5
    return np.meshgrid(xs, ys)


def snap(box: Box, step: int) -> Box:
    """Grow a box so both sides are multiples of `step` (the coarse grid then fits)."""
    width = -(-box.width // step) * step
    height = -(-box.height // step) * step
    return Box(box.x0, box.y0, box.x0 + width, box.y0 + height)


def upsample(coarse: np.ndarray, box: Box, out: np.ndarray | None = None) -> np.ndarray:
    if coarse.shape[:2] == (box.height, box.width):
        return coarse
    size = (box.width, box.height)
    return cv2.resize(coarse, size, dst=out, interpolation=cv2.INTER_LINEAR)


@dataclass(frozen=True)
class Placement:
    """How the whole photo sits in the output frame: resized to `size`, pasted at `offset`.

    The photo is kept whole (as hosted services do) and letterboxed in black if its
    aspect ratio differs from the output's.
    """

    size: tuple[int, int]
    offset: tuple[int, int]
    out_size: tuple[int, int]
    scale: float

    @staticmethod
    def fit(image_size: tuple[int, int], out_size: tuple[int, int]) -> Placement:
        (iw, ih), (ow, oh) = image_size, out_size
        scale = min(ow / iw, oh / ih)
        width, height = min(ow, max(1, round(iw * scale))), min(oh, max(1, round(ih * scale)))
        offset = ((ow - width) // 2, (oh - height) // 2)
        return Placement(size=(width, height), offset=offset, out_size=(ow, oh), scale=width / iw)

    def image(self, image: np.ndarray) -> np.ndarray:
        """The photo (or a float mask) resized into the output frame, zeros around it."""
        shrink = self.size[0] < image.shape[1]
        resized = cv2.resize(
            image, self.size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        )
        if self.size == self.out_size:
            return resized
        canvas = np.zeros((self.out_size[1], self.out_size[0], *image.shape[2:]), image.dtype)
        x0, y0 = self.offset
        canvas[y0 : y0 + self.size[1], x0 : x0 + self.size[0]] = resized
        return canvas

    @property
    def box(self) -> Box:
        """Where the photo lies in the output frame."""
        (x0, y0), (w, h) = self.offset, self.size
        return Box(x0, y0, x0 + w, y0 + h)

    def face(self, face: Face) -> Face:
        # Pixel centres: x_out + 0.5 = (x_in + 0.5) * scale.
        shift = 0.5 * self.scale - 0.5
        return face.scaled(self.scale, (self.offset[0] + shift, self.offset[1] + shift))


class Table:
    """Functions of s tabulated on one fine uniform grid, all looked up at once.

    The jaw field needs about ten profiles per grid point every frame; one `cv2.remap`
    of a one-row image (four profiles per channel group) costs a fraction of as many
    `np.interp` binary searches.
    """

    def __init__(self, s: np.ndarray, columns: Sequence[np.ndarray]) -> None:
        self.s0 = float(s[0])
        self.inv = (len(s) - 1) / float(s[-1] - s[0])
        values = np.stack([np.asarray(c, np.float32) for c in columns], axis=-1)
        self.count = values.shape[1]
        self.images = [
            np.ascontiguousarray(values[None, :, k : k + 4]) for k in range(0, self.count, 4)
        ]

    def __call__(self, s: np.ndarray) -> list[np.ndarray]:
        s = np.asarray(s, np.float32)
        x = (_as_block(s) - np.float32(self.s0)) * np.float32(self.inv)
        y = np.zeros_like(x)
        out: list[np.ndarray] = []
        for image in self.images:
            looked = cv2.remap(image, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            looked = looked.reshape(*x.shape, image.shape[2])
            out.extend(
                looked[..., k].reshape(-1)[: s.size].reshape(s.shape) for k in range(image.shape[2])
            )
        return out


def _as_block(values: np.ndarray, width: int = 1024) -> np.ndarray:
    """A 2-D array `cv2.remap` accepts as a map (sides under 32767): a 2-D array as it
    is, anything else flattened and padded into rows of `width`."""
    if values.ndim == 2 and max(values.shape) < 32767:
        return values
    flat = values.reshape(-1)
    rows = max(1, -(-flat.size // width))
    block = np.zeros(rows * width, np.float32)
    block[: flat.size] = flat
    return block.reshape(rows, width)


def polygon_alpha(polygon: np.ndarray, box: Box, *, feather: float) -> np.ndarray:
    """Anti-aliased, slightly feathered coverage of a polygon over `box` (float32 0..1)."""
    shift = 4
    mask = np.zeros((box.height, box.width), np.uint8)
    pts = np.round((polygon - [box.x0, box.y0]) * (1 << shift)).astype(np.int32)
    cv2.fillPoly(mask, [pts], 255, lineType=cv2.LINE_AA, shift=shift)
    alpha = mask.astype(np.float32) * (1.0 / 255.0)
    return cv2.GaussianBlur(alpha, (0, 0), feather)


def ease(x: np.ndarray, ramp: float = 0.25) -> np.ndarray:
    """0 -> 1 on [0, 1] with zero slope at both ends and constant slope in the middle."""
    peak = 1.0 / (1.0 - ramp)
    head = peak * x * x / (2 * ramp)
    middle = peak * (x - ramp / 2)
    tail = 1.0 - peak * (1.0 - x) ** 2 / (2 * ramp)
    return np.where(x < ramp, head, np.where(x > 1.0 - ramp, tail, middle))


def sorted_profile(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(points[:, 0])
    return points[order, 0], points[order, 1]


def invert_affine(affine: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(affine)
