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

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from engine.lipsync import faces as fm
from engine.lipsync.faces import Face

# --- tuning constants (all lengths in half-mouth-widths "m" unless said otherwise) ------

# Lip separation at the middle of the mouth at open=1. A wide "ah" parts the lips by
# about the half-width of the mouth (~0.15 face heights), which is what this gives.
OPEN_GAP = 0.95
# Share of the separation taken by the upper lip (the rest is the jaw dropping).
UPPER_SHARE = 0.2
# How far above the lip line the upper-lip lift fades out (about the nose base).
UPPER_REACH = 0.9
# Corner displacement along the lips at width=+1 (spread) and width=-1 (rounded).
SPREAD = 0.15
ROUND = 0.24
# Corner lift at full spread (a smile raises the corners) and inward pull at full open.
SPREAD_LIFT = 0.07
OPEN_NARROW = 0.10
# Below the chin the jaw drop fades out over this length (the neck is compressed).
NECK_REACH = 1.1
# Closing a mouth that is open in the photo (a smile showing teeth). A gap this wide
# (pixels) counts as open; closed lips read 0-0.5 px of landmark noise.
SOURCE_OPEN_PX = 1.0
# Share of the photo's gap covered by the upper lip coming down (the rest by the lower
# lip and jaw coming up), and the share of the lower side's rise the whole jaw takes.
CLOSE_UPPER_SHARE = 0.4
CLOSE_JAW_SHARE = 0.35
# Above the upper lip / below the lower lip the closing fades out over these lengths,
# fastest at the lip edge, so the soft lips stretch most and the skin beyond little.
CLOSE_REACH_UP = 0.7
CLOSE_REACH_LO = 0.9
# Largest closing displacement per unit of its reach (keeps the stretch below ~3x at
# the lip edge, and the field free of folds), and the most the jaw rises (m).
CLOSE_MAX_STRETCH = 0.33
CLOSE_JAW_MAX = 0.5
# The lips meet this far (pixels) inside their detected edges, where the photo shows
# lip rather than a blend of lip and teeth.
CLOSE_INSET_PX = 0.6
# The painted opening samples its lips this far (pixels) inside their edges, so what
# its soft edge lets through is lip, not the lip/teeth boundary.
INTERIOR_INTO_LIP_PX = 1.0
# Upper teeth shown at teeth=1, below the upper lip in the middle of the mouth.
TEETH_LENGTH = 0.4
# The photo's teeth fill at most this share of the opening (the rest is mouth).
TEETH_MAX_SHARE = 0.6
# Closed lips over a photo's open mouth: width of their crease (at least this many
# pixels, or this many m on a large face) and its opacity.
CREASE_PX, CREASE_WIDTH = 1.3, 0.035
CREASE_ALPHA = 0.8
# Eyelid: height of the lid-skin band stretched over the eye, in eye-opening heights.
LID_BAND = 0.7
# A closed lid's mean colour moves this far towards the cheeks' skin colour times
# LID_SHADE (eye sockets are a little darker than cheeks).
LID_TONE, LID_SHADE = 0.5, 0.9
# Blink timing (seconds): closing, fully closed, opening.
BLINK_CLOSE, BLINK_HOLD, BLINK_OPEN = 0.05, 0.03, 0.07
# Head motion amplitudes at style 1.0: roll (degrees), sway and nod (face heights).
HEAD_ROLL_DEG, HEAD_SWAY, HEAD_NOD = 1.0, 0.010, 0.007
# Extra, faster motion while speaking (same units).
TALK_ROLL_DEG, TALK_SWAY, TALK_NOD = 0.5, 0.004, 0.009
# The head moves rigidly inside this ellipse (in face sizes) and fades out by `HEAD_FADE`
# times it, so the motion never reaches the frame border on a typical portrait.
HEAD_FADE = 1.6
# Step of the coarse grid the head field is computed on (pixels).
HEAD_GRID = 8
# Motion fades out over this many face heights towards the photo's edges.
EDGE_FADE = 0.15


@dataclass(frozen=True)
class PortraitStyle:
    """Knobs a user may turn; 1.0 is the tuned default for each."""

    expressiveness: float = 1.0  # scales mouth motion and head motion
    head_motion: float = 1.0  # 0 = still head
    blink_rate: float = 1.0  # blinks per ~4 s on average; 0 = no blinks


@dataclass(frozen=True)
class MouthFrame:
    """What the mouth track says for one frame (values are clipped to their ranges)."""

    open: float  # 0 closed .. 1 wide open
    width: float  # -1 rounded .. 0 neutral .. +1 spread
    teeth: float  # 0..1 upper teeth visibility
    speaking: float  # 0..1 voice activity


CLOSED = MouthFrame(open=0.0, width=0.0, teeth=0.0, speaking=0.0)


# --- small numeric helpers -----------------------------------------------------------------


def _smoothstep(x: np.ndarray | float) -> np.ndarray:
    """0 below 0, 1 above 1, C1-smooth in between: every fall-off uses it (no kinks)."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _clipped(value: float, low: float, high: float) -> float:
    """A track value within its range; NaN (a gap in a track) counts as rest."""
    value = float(value)
    return 0.0 if value != value else min(max(value, low), high)


def _fall(x: np.ndarray) -> np.ndarray:
    """(1 - x)^2 on [0, 1], 0 beyond: steepest at 0 (the lip edge), flat at 1 (C1 there)."""
    y = 1.0 - np.clip(x, 0.0, 1.0)
    return y * y


def _bump(x: np.ndarray) -> np.ndarray:
    """(1 - x^2)^2 on |x| < 1, 0 outside: smooth with compact support."""
    y = np.clip(1.0 - x * x, 0.0, None)
    return y * y


def _phi(s: np.ndarray) -> np.ndarray:
    """Along-the-lips profile of the width motion: ~s inside the mouth, 0 beyond |s|=2."""
    return 1.78 * s * _bump(s * 0.5)


def _psi(t: np.ndarray) -> np.ndarray:
    """Vertical extent of the width motion: lips and a bit around, 0 far above/below."""
    return _bump((t - 0.3) / 1.6)


def _chi(s: np.ndarray) -> np.ndarray:
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


def _pixel_grid(box: Box, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates of a grid that `cv2.resize(..., INTER_LINEAR)` upsamples
    back onto `box` exactly (sample i sits at x0 + (i + 0.5) * step - 0.5)."""
    xs = box.x0 + (np.arange(box.width // step, dtype=np.float32) + 0.5) * step - 0.5
    ys = box.y0 + (np.arange(box.height // step, dtype=np.float32) + 0.5) * step - 0.5
    return np.meshgrid(xs, ys)


def _snap(box: Box, step: int) -> Box:
    """Grow a box so both sides are multiples of `step` (the coarse grid then fits)."""
    width = -(-box.width // step) * step
    height = -(-box.height // step) * step
    return Box(box.x0, box.y0, box.x0 + width, box.y0 + height)


def _upsample(coarse: np.ndarray, box: Box, out: np.ndarray | None = None) -> np.ndarray:
    if coarse.shape[:2] == (box.height, box.width):
        return coarse
    size = (box.width, box.height)
    return cv2.resize(coarse, size, dst=out, interpolation=cv2.INTER_LINEAR)


# --- fitting the photo into the output frame ----------------------------------------------


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


# --- the mouth and jaw --------------------------------------------------------------------


class _MouthFrameOfReference:
    """Mouth-aligned coordinates: origin at the lip line centre, s along the lips (from
    the roll of the eyes, which is steadier than a possibly crooked mouth), t down, both
    in half-mouth-widths so every constant is independent of face size."""

    def __init__(self, face: Face) -> None:
        lm = face.landmarks.astype(np.float64)
        left_eye = face.left_eye().upper.mean(axis=0)
        right_eye = face.right_eye().upper.mean(axis=0)
        ex = right_eye - left_eye
        ex /= max(np.hypot(*ex), 1e-6)
        self.ex = ex
        self.ey = np.array([-ex[1], ex[0]])
        self.origin = (lm[13] + lm[14]) / 2.0
        corners = lm[fm.MOUTH_RIGHT_CORNER] - lm[fm.MOUTH_LEFT_CORNER]
        self.m = max(float(corners @ ex) / 2.0, 2.0)

    def to_st(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dx, dy = x - self.origin[0], y - self.origin[1]
        s = (dx * self.ex[0] + dy * self.ex[1]) / self.m
        t = (dx * self.ey[0] + dy * self.ey[1]) / self.m
        return s.astype(np.float32), t.astype(np.float32)

    def points_st(self, points: np.ndarray) -> np.ndarray:
        s, t = self.to_st(points[:, 0], points[:, 1])
        return np.stack([s, t], axis=1)

    def to_xy(self, s: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = self.origin[0] + self.m * (s * self.ex[0] + t * self.ey[0])
        y = self.origin[1] + self.m * (s * self.ex[1] + t * self.ey[1])
        return x, y


class _Table:
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


@dataclass(frozen=True)
class _Lips:
    """The mouth's profiles at some s (t values and lengths in m)."""

    opening: np.ndarray  # share of the parting: 1 in the middle .. 0 at the corners
    up: np.ndarray  # the photo's upper inner-lip edge
    lo: np.ndarray  # the photo's lower inner-lip edge
    meet_up: np.ndarray  # the upper edge at open=0 (= meet_lo where the rig closes)
    meet_lo: np.ndarray  # the lower edge at open=0
    close_up: np.ndarray  # how far the upper lip comes down to meet
    lip_lo: np.ndarray  # how far the lower lip comes up, on top of the jaw
    jaw: np.ndarray  # how much of the jaw motion reaches this s
    teeth_start: np.ndarray  # the photo's teeth: first row below `up`, and length
    teeth_length: np.ndarray


@dataclass
class _MouthState:
    """Per-frame mouth numbers shared by the field and the painter."""

    gap: float  # lip separation at the middle, in m
    width: float  # -1..1 after expressiveness
    teeth: float
    ramp: float  # length of the below-corner ramp (keeps the field fold-free)

    @property
    def lower(self) -> float:
        return self.gap * (1.0 - UPPER_SHARE)

    @property
    def upper(self) -> float:
        return self.gap * UPPER_SHARE

    @property
    def along(self) -> float:
        """Coefficient of `_phi` in the along-the-lips motion (signed)."""
        k = SPREAD if self.width >= 0 else ROUND
        return k * self.width - OPEN_NARROW * self.gap / OPEN_GAP

    @property
    def lift(self) -> float:
        return SPREAD_LIFT * max(self.width, 0.0)


class _MouthRig:
    """Jaw/lip displacement field and the geometry of the opening, in still-head pixels.

    Two lines matter in the photo: the inner edges of the upper and lower lip. When the
    photo's mouth is open (a smile showing teeth) they are apart, so the rig first closes
    them: the lips meet on a line between the two, the upper lip stretched down and the
    lower lip (and a little of the jaw) pushed up to it. Every opening is then measured
    from there, so `open=0` looks closed on any photo, and the photo's teeth can be shown
    again under the upper lip when the mouth opens.
    """

    TABLE = np.linspace(-60.0, 60.0, 4801)

    def __init__(self, face: Face) -> None:
        self.ref = ref = _MouthFrameOfReference(face)
        upper = ref.points_st(face.upper_inner_lip())
        lower = ref.points_st(face.lower_inner_lip())
        corners = ref.points_st(face.points((fm.MOUTH_LEFT_CORNER, fm.MOUTH_RIGHT_CORNER)))
        self.s_left, self.s_right = float(upper[0, 0]), float(upper[-1, 0])
        table = self.TABLE
        up, lo = _lip_line(upper, corners), _lip_line(lower, corners)
        lu = np.interp(table, up[:, 0], up[:, 1])
        # The lower contour can never be above the upper one (landmark noise otherwise
        # makes a negative gap that folds the field).
        ll = np.maximum(np.interp(table, lo[:, 0], lo[:, 1]), lu)
        mid, half = (self.s_left + self.s_right) / 2.0, max((self.s_right - self.s_left) / 2, 0.3)
        self._opening = np.clip(1.0 - ((table - mid) / half) ** 2, 0, 1) ** 0.6
        chin = ref.points_st(face.points((fm.CHIN_BOTTOM,)))[0]
        self.t_chin = float(chin[1])
        self.s_jaw = _jaw_half_width(ref.points_st(face.face_oval()))
        reach = np.abs(table)
        inner = 0.15 + 0.85 * (1.0 - _smoothstep((reach - 1.0) / (self.s_jaw - 1.0)))
        outer = 1.0 - _smoothstep((reach - self.s_jaw) / 0.5)
        # The jaw drops fully under the mouth, less towards the hinges, and the drag on
        # the background beside the face dies out half a mouth-width past its edge.
        self._jaw = inner * outer
        self._lines = self._close(lu, ll)
        self.photo_teeth = False
        self._teeth = (np.zeros_like(table), np.zeros_like(table))
        self.table = self._tabulate()
        self.box, self.step = self._patch_box()
        self.grid_x, self.grid_y = _pixel_grid(self.box, self.step)

    def _close(self, lu: np.ndarray, ll: np.ndarray) -> list[np.ndarray]:
        """Where the lips meet at rest and how far each side travels to get there:
        [up, lo, meet_up, meet_lo, close_up, lip_lo] on the table, and `jaw_close`."""
        m = self.ref.m
        gap = ll - lu
        middle = self._opening > 0.8
        # An open photo mouth: a gap of a pixel or more (closed lips read 0-0.5 px).
        self.closes = bool(np.max(gap[middle], initial=0.0) * m >= SOURCE_OPEN_PX)
        self.jaw_close = 0.0
        if not self.closes:
            # Closed in the photo: each lip parts from its own edge, nothing else moves.
            zero = np.zeros_like(lu)
            return [lu, ll, lu, ll, zero, zero]
        # Meet a little inside each lip: the edge pixels are part teeth or shadow.
        inset = np.minimum(CLOSE_INSET_PX / m, 0.5 * gap)
        lu, ll = lu - inset, ll + inset
        gap = ll - lu
        up = np.minimum(CLOSE_UPPER_SHARE * gap, CLOSE_MAX_STRETCH * CLOSE_REACH_UP)
        down = gap - up
        # The jaw takes a share of the lower lip's rise (more if the lip alone would have
        # to stretch too much), following the same profile as the jaw drop.
        down_mid = float(np.max(down[middle], initial=0.0))
        jaw = max(CLOSE_JAW_SHARE * down_mid, down_mid - CLOSE_MAX_STRETCH * CLOSE_REACH_LO)
        self.jaw_close = min(jaw, CLOSE_JAW_MAX)
        lip = np.minimum(down - self.jaw_close * self._opening, CLOSE_MAX_STRETCH * CLOSE_REACH_LO)
        meet = lu + up
        return [lu, ll, meet, meet, up, lip]

    def _tabulate(self) -> _Table:
        return _Table(self.TABLE, [self._opening, *self._lines, self._jaw, *self._teeth])

    def use_photo_teeth(self, start: np.ndarray, length: np.ndarray, s: np.ndarray) -> None:
        """Show the photo's own teeth (start below the upper edge, length; both in m, at
        `s`, zero past its ends) instead of painted ones."""
        table = self.TABLE
        self._teeth = (np.interp(table, s, start), np.interp(table, s, length))
        self.photo_teeth = True
        self.table = self._tabulate()

    def at(self, s: np.ndarray) -> _Lips:
        return _Lips(*self.table(s))

    def _patch_box(self) -> tuple[Box, int]:
        """Box (still-head pixels) outside which every part of the field is exactly 0,
        and the grid step: about 14 samples per half-mouth-width (1-4 px)."""
        ref = self.ref
        s_half = max(self.s_jaw + 0.6, 2.1)
        lip_top = float(self._lines[0].min())
        t_top = min(-1.45, lip_top - max(UPPER_REACH, CLOSE_REACH_UP) - 0.1)
        t_bottom = self.t_chin + 1.3 * OPEN_GAP + NECK_REACH + 0.2
        corners_s = np.array([-s_half, s_half, -s_half, s_half])
        corners_t = np.array([t_top, t_top, t_bottom, t_bottom])
        x, y = ref.to_xy(corners_s, corners_t)
        step = int(np.clip(round(ref.m / 14.0), 1, 4))
        box = Box.around(np.stack([x, y], axis=1)).grow(2)
        return _snap(box, step), step

    def state(self, mouth: MouthFrame, expressiveness: float) -> _MouthState:
        gap = _clipped(mouth.open * expressiveness, 0.0, 1.3) * OPEN_GAP
        width = _clipped(mouth.width * expressiveness, -1.2, 1.2)
        teeth = _clipped(mouth.teeth, 0.0, 1.0)
        return _MouthState(gap=gap, width=width, teeth=teeth, ramp=max(0.6, 2.3 * gap))

    def undo_width(
        self, s: np.ndarray, t: np.ndarray, st: _MouthState
    ) -> tuple[np.ndarray, np.ndarray]:
        """Output (s, t) -> before the along-the-lips motion (two fixed-point steps)."""
        if st.along == 0.0 and st.lift == 0.0:
            return s, t
        s_m, t_m = s, t
        for _ in range(2):
            weight = _psi(t_m)
            s_m = s - st.along * _phi(s_m) * weight
            t_m = t + st.lift * _chi(s_m) * weight
        return s_m, t_m

    def apply_width(
        self, s: np.ndarray, t: np.ndarray, st: _MouthState
    ) -> tuple[np.ndarray, np.ndarray]:
        weight = _psi(t)
        return s + st.along * _phi(s) * weight, t - st.lift * _chi(s) * weight

    @staticmethod
    def edges(lips: _Lips, st: _MouthState) -> tuple[np.ndarray, np.ndarray]:
        """Upper and lower inner-lip edges (t) after parting, before the width motion."""
        return lips.meet_up - st.upper * lips.opening, lips.meet_lo + st.lower * lips.opening

    def teeth_shown(
        self, lips: _Lips, s: np.ndarray, st: _MouthState
    ) -> tuple[np.ndarray, np.ndarray]:
        """Photo teeth under the upper lip: (source offset below the upper edge of the
        first row shown, length shown), both in m. Only the biting end shows when little
        should (the rest is behind the lip), never more than the photo has, and never
        so much that the opening fills with teeth (which reads as closed)."""
        top, bottom = self.edges(lips, st)
        room = TEETH_MAX_SHARE * (bottom - top)
        wanted = _teeth_length(self, s, st)
        visible = np.minimum(np.minimum(lips.teeth_length, wanted), room)
        return lips.teeth_start + lips.teeth_length - visible, visible

    def source_t(self, s: np.ndarray, t: np.ndarray, st: _MouthState) -> np.ndarray:
        """Backward parting/jaw map: where (in t) an output point samples the photo."""
        lips = self.at(s)
        p = lips.opening
        top, bottom = self.edges(lips, st)
        # Upper lip: lifted by the parting (fading out towards the nose) and stretched
        # down over the photo's gap (fading out faster, so mostly the lip stretches).
        rise = top - t
        above = t + st.upper * p * (1.0 - _smoothstep(rise / UPPER_REACH))
        if self.closes:
            above = above - lips.close_up * _fall(rise / CLOSE_REACH_UP)
        jaw = st.lower - self.jaw_close
        ramp = _smoothstep((t - bottom) / st.ramp)
        drop = p + (1.0 - p) * ramp
        neck_start = self.t_chin + jaw
        neck = 1.0 - _smoothstep((t - neck_start) / NECK_REACH)
        below = t - jaw * drop * lips.jaw * neck
        if self.closes:
            below = below + lips.lip_lo * _fall((t - bottom) / CLOSE_REACH_LO)
        inside = self._inside(lips, s, t, top, bottom, st)
        return np.where(t < top, above, np.where(t > bottom, below, inside))

    def _inside(
        self,
        lips: _Lips,
        s: np.ndarray,
        t: np.ndarray,
        top: np.ndarray,
        bottom: np.ndarray,
        st: _MouthState,
    ) -> np.ndarray:
        """What the opening samples (it is painted over, but its soft edge and thin
        openings let some through): the lower half, the lower lip's edge stretched;
        the upper half, the upper lip's edge, or the photo's teeth at their size where
        they show. Lip, not a line of squeezed photo teeth, and a single jump, in the
        middle, where the paint is most opaque."""
        below_lip = t - top
        split = 0.5 * (bottom - top)
        into_lip = np.float32(INTERIOR_INTO_LIP_PX / self.ref.m)
        upper = lips.up - into_lip
        if self.photo_teeth and st.gap > 0.0:
            start, visible = self.teeth_shown(lips, s, st)
            teeth = np.minimum(lips.up + start + below_lip, lips.lo)
            upper = np.where(visible > 0.0, teeth, upper)
            # A few pixels more than shown, for the soft edge of the teeth's matte.
            split = np.maximum(split, np.where(visible > 0.0, visible + 3.0 / self.ref.m, 0.0))
        return np.where(below_lip < split, upper, lips.lo + into_lip)

    def moves(self, st: _MouthState) -> bool:
        return st.gap > 0.0 or st.width != 0.0 or self.closes

    def source(
        self, x: np.ndarray, y: np.ndarray, st: _MouthState
    ) -> tuple[np.ndarray, np.ndarray]:
        """Where the still-head points (x, y) sample the photo (backward map)."""
        s, t = self.ref.to_st(x, y)
        s_m, t_m = self.undo_width(s, t, st)
        t_src = self.source_t(s_m, t_m, st) if st.gap > 0 or self.closes else t_m
        x_src, y_src = self.ref.to_xy(s_m, t_src)
        return x_src.astype(np.float32), y_src.astype(np.float32)

    def opening_polygon(self, st: _MouthState, samples: int = 28) -> np.ndarray | None:
        """The parted lips' inner contour in still-head pixels (closed polygon)."""
        if st.gap <= 0.0 and not self.closes:
            return None
        s = np.linspace(self.s_left, self.s_right, samples).astype(np.float32)
        lips = self.at(s)
        top, bottom = self.edges(lips, st)
        if self.closes:
            # Lips closed over a photo's open mouth meet along a seam, which the painter
            # draws as the thin crease every closed mouth has. It also hides the seam's
            # pixel steps, so it runs wherever the lips jumped (were apart in the photo).
            jump = _smoothstep((lips.lo - lips.up) * self.ref.m / 1.5)
            crease = max(CREASE_PX / self.ref.m, CREASE_WIDTH) * jump
            half = np.maximum(crease - (bottom - top), 0.0) / 2.0
            top, bottom = top - half, bottom + half
        ss = np.concatenate([s, s[::-1]])
        tt = np.concatenate([top, bottom[::-1]])
        ss, tt = self.apply_width(ss, tt, st)
        x, y = self.ref.to_xy(ss, tt)
        return np.stack([x, y], axis=1).astype(np.float32)


def _lip_line(inner: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """An inner lip contour (s, t) extended through the outer corners and flat beyond,
    so the lip line is defined for every s and the gap is exactly 0 past the corners."""
    far = np.array([[-50.0, corners[0, 1]], [50.0, corners[1, 1]]])
    return np.concatenate([far[:1], corners[:1], inner, corners[1:], far[1:]])


def _jaw_half_width(oval_st: np.ndarray) -> float:
    """Half-width of the face outline at mouth height, in m (clamped to sane faces)."""
    level = np.abs(oval_st[:, 1]) < 0.6
    if not np.any(level):
        return 2.6
    return float(np.clip(np.median(np.abs(oval_st[level, 0])), 1.8, 4.0))


# --- painting the inside of the mouth -------------------------------------------------


def _median_colour(
    image: np.ndarray, polygons: Sequence[np.ndarray], holes: Sequence[np.ndarray] = ()
) -> np.ndarray | None:
    mask = np.zeros(image.shape[:2], np.uint8)
    for polygon in polygons:
        cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 255)
    for hole in holes:
        cv2.fillPoly(mask, [np.round(hole).astype(np.int32)], 0)
    pixels = image[mask > 0]
    if len(pixels) < 4:
        return None
    return np.median(pixels, axis=0).astype(np.float32)


# Boundaries between upper teeth, in s from the middle (incisors, laterals, canines,
# premolars); they crowd towards the corners because the arch turns away from the camera.
_TOOTH_EDGES = np.array([0.0, 0.29, 0.53, 0.73, 0.89, 1.02], np.float32)


class _MouthPainter:
    """Cavity, teeth and tongue, coloured from the person's own lips and skin."""

    def __init__(self, image: np.ndarray, face: Face, rig: _MouthRig) -> None:
        self.rig = rig
        # The photo's own teeth, when the rig shows them (see `_find_photo_teeth`).
        self.photo_teeth: _PhotoTeeth | None = None
        lips = _median_colour(image, [face.outer_lips()], [face.inner_lips()])
        self.lip = lips if lips is not None else np.array([150, 80, 80], np.float32)
        cheeks = _cheek_polygons(face)
        skin = _median_colour(image, cheeks)
        self.skin = skin if skin is not None else np.array([190, 150, 130], np.float32)
        luma = float(self.skin @ np.array([0.299, 0.587, 0.114], np.float32))
        # Teeth are lit like the face: a dim photo gets dimmer teeth (never glowing white),
        # and they take part of the skin's colour cast, or they look cold and pasted on
        # next to warm skin.
        light = float(np.clip(luma / 175.0, 0.5, 0.95))
        cast = np.clip(self.skin / max(luma, 1.0), 0.5, 2.0) ** 0.45
        # A black-and-white photo gets a grey mouth: the warm tints below are
        # multiplied in only as far as the photo's lips have colour at all.
        colour = float(np.clip(_saturation(self.lip) / 0.25, 0.0, 1.0))
        ivory = _tint([228, 222, 204], colour)
        self.teeth = np.clip(ivory * cast * light, 0, 250)
        self.cavity = self.lip * _tint([0.38, 0.21, 0.20], colour) + _tint([8, 3, 3], colour)
        self.crease = self.lip * _tint([0.52, 0.38, 0.38], colour)
        self.tongue = self.lip * _tint([0.75, 0.5, 0.5], colour) + _tint([20, 2, 4], colour)

    def paint(
        self, frame: np.ndarray, polygon: np.ndarray, inverse: np.ndarray, st: _MouthState
    ) -> None:
        """Draw into `frame` (uint8, in place) inside `polygon` (output pixels).

        `inverse` maps output pixels to still-head pixels (2x3), so the colours follow the
        mouth geometry wherever the head has moved.
        """
        height, width = frame.shape[:2]
        # Soft edges, but never so soft that a thin opening (or crease) fades away.
        # (The polygon is the top edge, then the bottom edge back: reversed, it pairs
        # each top point with the bottom point below it.)
        thickness = float(np.max(np.hypot(*(polygon - polygon[::-1]).T), initial=0.0))
        feather = max(0.5, min(self.rig.ref.m / 40.0, 0.3 * thickness))
        # The box holds the whole soft edge (3 sigma), or its cut shows on a large face.
        box = Box.around(polygon).grow(int(np.ceil(3.0 * feather)) + 1).clip(width, height)
        if box.empty:
            return
        alpha = _polygon_alpha(polygon, box, feather=feather)
        # Only pixels the paint reaches (a smile's box is mostly lips and cheek).
        rows, cols = np.nonzero(alpha > 1.0 / 512.0)
        if rows.size == 0:
            return
        alpha = alpha[rows, cols]
        xs = (cols + box.x0).astype(np.float32)
        ys = (rows + box.y0).astype(np.float32)
        hx = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
        hy = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]
        s_out, t_out = self.rig.ref.to_st(hx, hy)
        region = frame[box.slices()]
        pixels = region[rows, cols]
        colour, keep = self._colour(s_out, t_out, st, pixels)
        if keep is not None:
            # The photo's own teeth are already there (the field put them under the lip).
            alpha = alpha * (1.0 - keep)
        a = alpha[:, None]
        painted = pixels * (1.0 - a) + colour * a + 0.5
        region[rows, cols] = np.clip(painted, 0, 255).astype(np.uint8)

    def _colour(
        self, s_out: np.ndarray, t_out: np.ndarray, st: _MouthState, region: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Painted colour at output (s, t), and how much of the frame's own pixel
        (`region`, the frame's pixels there: the photo's teeth, warped into place) to
        keep instead, or None when the teeth are painted too."""
        rig, px = self.rig, 1.0 / self.rig.ref.m  # one output pixel in m
        s, t = rig.undo_width(s_out, t_out, st)
        lips = rig.at(s)
        top, bottom = rig.edges(lips, st)
        gap = np.maximum(bottom - top, 1e-3)
        across = _across(rig, s)
        depth = np.clip(np.minimum(t - top, bottom - t) / (0.5 * gap), 0.0, 1.0)
        # Cavity: red-brown near the lips, darker towards the back and the corners (but
        # never black: a mouth interior is lit by light bouncing off teeth and tongue).
        shade = (1.0 - 0.4 * depth) * (1.0 - 0.35 * across**2)
        colour = self.cavity * shade[..., None]
        colour = self._tongue(colour, t, bottom, gap, across, px)
        if self.photo_teeth is not None:
            keep = self._photo_teeth(lips, s, t, top, gap, st, px, region)
        else:
            colour, keep = self._teeth(colour, s_out, t, top, gap, across, st, px), None
        if rig.closes:
            colour, keep = self._crease(colour, keep, gap, st)
        return colour, keep

    def _crease(
        self, colour: np.ndarray, keep: np.ndarray | None, gap: np.ndarray, st: _MouthState
    ) -> tuple[np.ndarray, np.ndarray]:
        """Where the lips (nearly) touch, a soft lip-coloured crease instead of cavity."""
        crease = 1.0 - _smoothstep((gap * self.rig.ref.m - 1.0) / 2.0)
        colour = colour + (self.crease - colour) * crease[..., None]
        see_through = (1.0 - CREASE_ALPHA) * crease
        keep = see_through if keep is None else 1.0 - (1.0 - keep) * (1.0 - see_through)
        return colour, keep

    def _photo_teeth(
        self,
        lips: _Lips,
        s: np.ndarray,
        t: np.ndarray,
        top: np.ndarray,
        gap: np.ndarray,
        st: _MouthState,
        px: float,
        region: np.ndarray,
    ) -> np.ndarray:
        """Coverage of the photo's teeth, which the field shows under the upper lip.

        Towards their biting end the teeth are matted by brightness: the photo's own
        dark gaps between and below the tips turn into painted mouth, so the teeth end
        in their real outline and not in a cut that drags those gaps along with them.
        """
        teeth = self.photo_teeth
        if st.teeth <= 0.0 or teeth is None:
            return np.zeros_like(t)
        _, visible = self.rig.teeth_shown(lips, s, st)
        below_lip = t - top
        cover = np.clip((visible - below_lip) / (1.2 * px) + 0.5, 0.0, 1.0)
        luma = region.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        # Mid-tone tooth (shade, the thin lines between teeth) stays; only what is near
        # as dark as the mouth goes.
        level = (luma - teeth.dark) / max(teeth.light - teeth.dark, 1.0)
        bright = _smoothstep(1.6 * level - 0.3)
        tip = _smoothstep((below_lip / np.maximum(visible, 1e-3) - 0.3) / 0.5)
        cover = cover * (1.0 - tip + tip * bright)
        # A thin shadow under the upper lip: it also smooths the pixel steps where the
        # warp jumps from lip to teeth (a map cannot anti-alias an edge; paint can).
        # (Under a pixel wide on a small face, where it would read as a gap.)
        cover = cover * _smoothstep(below_lip / max(0.6 * px, min(1.5 * px, 0.02)))
        # Real teeth fade in faster than painted ones: half-seen teeth look grey.
        return cover * _smoothstep((gap - 0.04) / 0.1)

    def _tongue(
        self,
        colour: np.ndarray,
        t: np.ndarray,
        bottom: np.ndarray,
        gap: np.ndarray,
        across: np.ndarray,
        px: float,
    ) -> np.ndarray:
        """A low hump behind the lower lip, only once the mouth is well open."""
        hump = np.sqrt(np.clip(1.0 - (across / 0.8) ** 2, 0.0, 1.0))
        height = 0.3 * gap * hump
        above_lip = bottom - t
        cover = np.clip((height - above_lip) / (2.0 * px) + 0.5, 0.0, 1.0)
        cover *= 0.9 * _smoothstep((gap - 0.3) / 0.35)
        # Lit at the front (by the lower lip), falling into shadow where it curves back.
        front = np.clip(1.0 - above_lip / np.maximum(height, 1e-3), 0.0, 1.0)
        light = (0.45 + 0.4 * front) * (1.0 - 0.5 * across**2)
        tongue = self.tongue * light[..., None]
        return colour + (tongue - colour) * cover[..., None]

    def _teeth(
        self,
        colour: np.ndarray,
        s_out: np.ndarray,
        t: np.ndarray,
        top: np.ndarray,
        gap: np.ndarray,
        across: np.ndarray,
        st: _MouthState,
        px: float,
    ) -> np.ndarray:
        """Upper teeth hanging from under the upper lip, hidden while barely open."""
        if st.teeth <= 0.0:
            return colour
        mid = 0.5 * (self.rig.s_left + self.rig.s_right)
        rel = np.abs(s_out - mid)
        # Distance to the nearest gap between two teeth; each tooth is slightly rounded
        # at its biting edge, which makes a small notch at every gap.
        to_edge = np.min(np.abs(rel[..., None] - _TOOTH_EDGES[1:]), axis=-1)
        to_edge = np.minimum(to_edge, rel)
        notch = 0.045 * np.exp(-((to_edge / 0.045) ** 2))
        length = st.teeth * TEETH_LENGTH * (1.0 - 0.4 * across**2) - notch
        below_lip = t - top
        cover = np.clip((length - below_lip) / (1.6 * px) + 0.5, 0.0, 1.0)
        cover *= _smoothstep((gap - 0.06) / 0.2) * min(1.0, st.teeth * 2.5)
        line_w = max(0.02, 0.8 * px)
        # On a small face (a tooth a few pixels wide) the lines between teeth and the
        # shadow under the lip would cover most of each tooth: grey teeth. They fade out.
        detail = float(np.clip((0.1 - px) / 0.05, 0.0, 1.0))
        separation = 1.0 - 0.3 * detail * np.exp(-((to_edge / line_w) ** 2))
        # Shadowed under the upper lip, towards the mouth corners, and a little greyer
        # (translucent) along the biting edge.
        lip_shadow = 1.0 - (0.2 + 0.2 * detail) * (1.0 - _smoothstep(below_lip / 0.16))
        edge = _smoothstep((below_lip - 0.7 * length) / np.maximum(0.3 * length, 1e-3))
        light = separation * lip_shadow * (1.0 - 0.6 * across**1.3) * (1.0 - 0.12 * edge)
        teeth = self.teeth * light[..., None]
        return colour + (teeth - colour) * cover[..., None]


def _saturation(rgb: np.ndarray) -> float:
    top = max(float(np.max(rgb)), 1.0)
    return (top - float(np.min(rgb))) / top


def _tint(warm: Sequence[float], amount: float) -> np.ndarray:
    """A warm RGB multiplier (or offset), pulled towards its own grey as `amount` -> 0."""
    warm_array = np.asarray(warm, np.float32)
    grey = float(warm_array @ np.array([0.299, 0.587, 0.114], np.float32))
    return (grey + (warm_array - grey) * amount).astype(np.float32)


def _across(rig: _MouthRig, s: np.ndarray) -> np.ndarray:
    """0 in the middle of the mouth .. 1 at (and past) the corners."""
    mid = (rig.s_left + rig.s_right) / 2.0
    half = max((rig.s_right - rig.s_left) / 2.0, 0.3)
    return np.clip(np.abs(s - mid) / half, 0.0, 1.0)


def _teeth_length(rig: _MouthRig, s: np.ndarray, st: _MouthState) -> np.ndarray:
    """How far the upper teeth reach below the upper lip (m): less towards the corners,
    where the arch turns away from the camera."""
    return st.teeth * TEETH_LENGTH * (1.0 - 0.4 * _across(rig, s) ** 2)


@dataclass(frozen=True, eq=False)
class _PhotoTeeth:
    """Where the photo's own upper teeth are, at some s: their first row below the
    upper lip's inner edge and their length, both in m (0 where there are none); and
    the luma of the photo's teeth and of what is dark around them (to matte the tips)."""

    s: np.ndarray
    start: np.ndarray
    length: np.ndarray
    light: float
    dark: float


def _find_photo_teeth(image: np.ndarray, rig: _MouthRig, lip: np.ndarray) -> _PhotoTeeth | None:
    """The teeth a smiling photo shows, if there are enough of them to reuse.

    Real teeth (their shape, gaps, shading and colour) beat any painted band, and they
    are right there between the lips. A pixel counts as tooth when it is clearly lighter
    and greyer than the lips; each column's teeth run from its first to its last such
    pixel. Too few columns with teeth (a dark open mouth, a tongue) means no photo teeth.
    """
    if not rig.closes:
        return None
    columns, rows = 40, 16
    s = np.linspace(rig.s_left, rig.s_right, columns + 2)[1:-1].astype(np.float32)
    lips = rig.at(s)
    lu, ll = lips.up, lips.lo
    frac = ((np.arange(rows) + 0.5) / rows).astype(np.float32)
    t = lu[None, :] + (ll - lu)[None, :] * frac[:, None]
    x, y = rig.ref.to_xy(np.broadcast_to(s, t.shape), t)
    pixels = cv2.remap(image, x.astype(np.float32), y.astype(np.float32), cv2.INTER_LINEAR)
    pixels = pixels.astype(np.float32)
    teeth = _tooth_pixels(pixels, lip)
    gap = ll - lu
    # A run may bridge a gap of about a pixel (a dark line between two teeth rows).
    tolerance = int(rows / max(float(np.max(gap)) * rig.ref.m, 1.0))
    first, run = _first_run(teeth, tolerance)
    present = run >= max(2, rows // 5)
    middle = np.abs(s - (rig.s_left + rig.s_right) / 2.0) < 0.5 * (rig.s_right - rig.s_left) / 2
    if not np.any(middle) or present[middle].mean() < 0.6:
        return None
    if np.median(gap[middle] * rig.ref.m) < 3.0:  # too few pixels to be worth reusing
        return None
    start = np.where(present, first / rows * gap, 0.0)
    length = np.where(present, run / rows * gap, 0.0)
    kernel = np.array([0.25, 0.5, 0.25])
    length = np.convolve(np.pad(length, 1, mode="edge"), kernel, mode="valid")
    start = np.convolve(np.pad(start, 1, mode="edge"), kernel, mode="valid")
    luma = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
    light = float(np.median(luma[teeth]))
    # About as dark as the painted mouth (a quarter to a third of the lips' luma).
    dark = min(float(lip @ np.array([0.299, 0.587, 0.114], np.float32)), light) * 0.3
    # Nothing at and past the corners.
    zero = np.zeros(1)
    return _PhotoTeeth(
        s=np.concatenate([[rig.s_left], s, [rig.s_right]]),
        start=np.concatenate([zero, start, zero]),
        length=np.concatenate([zero, length, zero]),
        light=light,
        dark=dark,
    )


def _tooth_pixels(pixels: np.ndarray, lip: np.ndarray) -> np.ndarray:
    """Boolean mask of pixels (..., 3 float RGB) that look like teeth next to these lips:
    lighter, greyer and far less red than the lips (pale lip and gum are pink)."""
    weights = np.array([0.299, 0.587, 0.114], np.float32)
    luma = pixels @ weights
    top = np.maximum(pixels.max(axis=-1), 1.0)
    sat = (top - pixels.min(axis=-1)) / top
    red = (pixels[..., 0] - pixels[..., 1]) / top
    lip_top = max(float(lip.max()), 1.0)
    lip_luma = float(lip @ weights)
    lip_sat = float(lip.max() - lip.min()) / lip_top
    lip_red = float(lip[0] - lip[1]) / lip_top
    return (
        (luma > max(0.95 * lip_luma, 60.0))
        & (sat < min(max(0.8 * lip_sat, 0.08), 0.35))
        & (red < 0.55 * max(lip_red, 0.1))
    )


def _first_run(mask: np.ndarray, tolerance: int) -> tuple[np.ndarray, np.ndarray]:
    """Per column of a boolean (rows, columns) mask: first row of its first run of True
    and that run's length, bridging gaps of up to `tolerance` rows."""
    rows, columns = mask.shape
    first = np.argmax(mask, axis=0)
    length = np.zeros(columns, np.int64)
    for c in range(columns):
        if not mask[first[c], c]:
            continue
        end, miss = first[c], 0
        for r in range(first[c], rows):
            miss = 0 if mask[r, c] else miss + 1
            if miss > tolerance:
                break
            if mask[r, c]:
                end = r
        length[c] = end - first[c] + 1
    return first, length


def _cheek_polygons(face: Face) -> list[np.ndarray]:
    """Two small patches of bare cheek, between the mouth corners and the eye corners."""
    lm = face.landmarks
    patches = []
    for corner, eye in ((fm.MOUTH_LEFT_CORNER, 33), (fm.MOUTH_RIGHT_CORNER, 263)):
        centre = 0.45 * lm[corner] + 0.55 * lm[eye]
        radius = 0.06 * face.face_height()
        angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
        patches.append(centre + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1))
    return patches


def _polygon_alpha(polygon: np.ndarray, box: Box, *, feather: float) -> np.ndarray:
    """Anti-aliased, slightly feathered coverage of a polygon over `box` (float32 0..1)."""
    shift = 4
    mask = np.zeros((box.height, box.width), np.uint8)
    pts = np.round((polygon - [box.x0, box.y0]) * (1 << shift)).astype(np.int32)
    cv2.fillPoly(mask, [pts], 255, lineType=cv2.LINE_AA, shift=shift)
    alpha = mask.astype(np.float32) * (1.0 / 255.0)
    return cv2.GaussianBlur(alpha, (0, 0), feather)


# --- eyelids ----------------------------------------------------------------------------


class _EyeRig:
    """Blink: the band of lid skin above the eye is stretched down to the lower lid.

    Stretching keeps the person's own lid colour, creases and lash line (the margin ends
    up at the bottom of the closed lid). The part that newly covers the eye is then
    softened a little (`paint`), because a stretched band also stretches whatever
    texture it holds, such as a spectacle rim, into streaks.
    """

    def __init__(self, eye: fm.EyeContour) -> None:
        # The face's skin colour (RGB), set by the face rig; tones the closed lid.
        self.skin: np.ndarray | None = None
        corners = np.stack([eye.upper[0], eye.upper[-1]]).astype(np.float64)
        ex = corners[1] - corners[0]
        length = max(float(np.hypot(*ex)), 1.0)
        ex /= length
        self.ex, self.ey = ex, np.array([-ex[1], ex[0]])
        self.origin = corners.mean(axis=0)
        up = self._to_uv(eye.upper.astype(np.float64))
        lo = self._to_uv(eye.lower.astype(np.float64))
        self.up_profile, self.lo_profile = _sorted(up), _sorted(lo)
        gap = lo[:, 1] - np.interp(lo[:, 0], *self.up_profile)
        self.opening = max(float(gap.max()), 1.0)
        self.band = LID_BAND * self.opening
        top = float(up[:, 1].min()) - self.band - 2
        bottom = float(lo[:, 1].max()) + 0.3 * self.opening + 2
        u0, u1 = -length / 2 - 2, length / 2 + 2
        quad = np.array([[u0, top], [u1, top], [u0, bottom], [u1, bottom]])
        xy = self.origin + quad[:, :1] * ex + quad[:, 1:] * self.ey
        self.box = Box.around(xy).grow(1)

    def _to_uv(self, points: np.ndarray) -> np.ndarray:
        d = points - self.origin
        return np.stack([d @ self.ex, d @ self.ey], axis=1)

    def _grid_uv(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dx, dy = xs - self.origin[0], ys - self.origin[1]
        u = dx * self.ex[0] + dy * self.ex[1]
        v = dx * self.ey[0] + dy * self.ey[1]
        return u.astype(np.float32), v.astype(np.float32)

    def _lids(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Upper margin and closing target at each u (equal outside the eye: no motion).

        The target is a little below the lower-lid landmarks, which sit on the last row
        of eye white; stopping exactly there leaves a dark seam of iris and lashes.
        """
        up = np.interp(u, *self.up_profile).astype(np.float32)
        lo = np.interp(u, *self.lo_profile).astype(np.float32)
        lo = np.maximum(lo, up)
        lo = lo + np.float32(0.15) * (lo - up)
        outside = (u < self.up_profile[0][0]) | (u > self.up_profile[0][-1])
        lo[outside] = up[outside]
        return up, lo

    def lid_v(self, up: np.ndarray, lo: np.ndarray, closed: float) -> np.ndarray:
        return up + np.float32(closed) * (lo - up)

    def apply(self, map_x: np.ndarray, map_y: np.ndarray, closed: float) -> None:
        """Compose the blink after whatever `map_*` already holds (in place).

        `map_*` hold still-head positions for the output pixels of `self.box`, so this
        is exact under head motion with no second resampling.
        """
        if closed <= 0.0:
            return
        u, v = self._grid_uv(map_x, map_y)
        up, lo = self._lids(u)
        lid = self.lid_v(up, lo, closed)
        anchor = up - np.float32(self.band)
        span = np.maximum(lid - anchor, 1e-3)
        x = np.clip((v - anchor) / span, 0.0, 1.0)
        ratio = np.float32(self.band) / span
        # Source = anchor + span * (x - (1 - ratio) * S(x)), S an ease curve with flat
        # ends: rows at the top of the band (brows, spectacle rims) and at the margin
        # (the lash line) keep their size, and the plain lid skin between them stretches.
        v_src = anchor + span * (x - (1.0 - ratio) * _ease(x))
        dv = np.where((v > anchor) & (v < lid), v_src - v, 0.0).astype(np.float32)
        map_x += dv * np.float32(self.ey[0])
        map_y += dv * np.float32(self.ey[1])

    def paint(self, frame: np.ndarray, forward: np.ndarray, closed: float) -> None:
        """Soften the newly covered part of the eye (in place, output pixels)."""
        if closed < 0.2:
            return
        height, width = frame.shape[:2]
        corners = np.array(
            [
                [self.box.x0, self.box.y0],
                [self.box.x1, self.box.y1],
                [self.box.x0, self.box.y1],
                [self.box.x1, self.box.y0],
            ],
            np.float64,
        )
        box = Box.around(corners @ forward[:, :2].T + forward[:, 2]).clip(width, height)
        if box.empty:
            return
        inverse = _invert(forward)
        xs, ys = np.meshgrid(
            np.arange(box.x0, box.x1, dtype=np.float32),
            np.arange(box.y0, box.y1, dtype=np.float32),
        )
        hx = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
        hy = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]
        u, v = self._grid_uv(hx, hy)
        up, lo = self._lids(u)
        lid = self.lid_v(up, lo, closed)
        soft = 0.15 * self.opening + 0.5
        # Up to just past the lid line, so the blur also hides the cut between the lid
        # and the lower lid.
        cover = np.clip((v - up + soft) / soft, 0, 1) * np.clip((lid + soft - v) / soft, 0, 1)
        weight = (0.8 * closed) * cover
        if not np.any(weight > 0.01):
            return
        region = frame[box.slices()]
        # Mostly along the lid: stretching leaves vertical streaks, not horizontal ones.
        blurred = cv2.GaussianBlur(
            region,
            (0, 0),
            sigmaX=max(0.8, 0.35 * self.opening),
            sigmaY=max(0.5, 0.1 * self.opening),
        )
        if self.skin is not None:
            blurred = self._lit_like_skin(blurred, cover)
        region[:] = cv2.blendLinear(blurred, region, weight, 1.0 - weight)

    def _lit_like_skin(self, lid: np.ndarray, cover: np.ndarray) -> np.ndarray:
        """Shift the closed lid's tone part of the way to the face's skin.

        The stretched band is the lid's own skin, but in a deep-set eye it is the
        shadowed fold under the brow: stretched over the whole eye it makes a grey
        patch. A closed lid catches the light like the skin around it, so its mean
        colour moves towards the skin's (its texture and lash line stay).
        """
        inside = cover > 0.5
        if not np.any(inside) or self.skin is None:
            return lid
        mean = lid[inside].astype(np.float32).mean(axis=0)
        shift = LID_TONE * (self.skin * LID_SHADE - mean)
        return np.clip(lid.astype(np.float32) + shift, 0, 255).astype(np.uint8)


def _ease(x: np.ndarray, ramp: float = 0.25) -> np.ndarray:
    """0 -> 1 on [0, 1] with zero slope at both ends and constant slope in the middle."""
    peak = 1.0 / (1.0 - ramp)
    head = peak * x * x / (2 * ramp)
    middle = peak * (x - ramp / 2)
    tail = 1.0 - peak * (1.0 - x) ** 2 / (2 * ramp)
    return np.where(x < ramp, head, np.where(x > 1.0 - ramp, tail, middle))


def _sorted(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(points[:, 0])
    return points[order, 0], points[order, 1]


class _Blinks:
    """Blink start times drawn once from the seed; a frame closes the eyes by the most
    closed moment within its own exposure, so every blink shows at any frame rate."""

    HORIZON_S = 4 * 3600.0

    def __init__(self, rng: np.random.Generator, rate: float) -> None:
        if rate <= 0:
            self.starts = np.zeros(0)
            return
        mean = 4.0 / rate
        count = int(self.HORIZON_S / mean * 1.2) + 8
        # Gamma-distributed gaps (never closer than ~0.25 mean): irregular, not metronomic.
        gaps = 0.25 * mean + rng.gamma(shape=2.5, scale=0.75 * mean / 2.5, size=count)
        self.starts = rng.uniform(0.4, 0.8) * mean + np.concatenate([[0.0], np.cumsum(gaps)])

    def closed(self, time: float, exposure: float) -> float:
        if len(self.starts) == 0:
            return 0.0
        i = int(np.searchsorted(self.starts, time + exposure / 2)) - 1
        if i < 0:
            return 0.0
        a = time - exposure / 2 - self.starts[i]
        b = time + exposure / 2 - self.starts[i]
        full0, full1 = BLINK_CLOSE, BLINK_CLOSE + BLINK_HOLD
        end = full1 + BLINK_OPEN
        if b >= full0 and a <= full1:
            return 1.0
        if b < full0:
            return float(_smoothstep(b / BLINK_CLOSE))
        if a >= end:
            return 0.0
        return float(1.0 - _smoothstep((a - full1) / BLINK_OPEN))


# --- head motion --------------------------------------------------------------------------


class _Noise:
    """Smooth, seeded pseudo-random signal: a few incommensurate sinusoids (unit RMS)."""

    def __init__(self, rng: np.random.Generator, low_hz: float, high_hz: float, n: int = 4) -> None:
        self.freq = rng.uniform(low_hz, high_hz, n) * 2 * np.pi
        self.phase = rng.uniform(0, 2 * np.pi, n)
        amp = rng.uniform(0.5, 1.0, n)
        self.amp = amp / np.sqrt(np.sum(amp**2) / 2)

    def __call__(self, time: float) -> float:
        return float(np.sum(self.amp * np.sin(self.freq * time + self.phase)))


class _HeadRig:
    """Rigid head motion about the neck, faded out by a soft ellipse around the head."""

    def __init__(self, face: Face, rng: np.random.Generator) -> None:
        lm = face.landmarks.astype(np.float64)
        self.face_height = face.face_height()
        width = float(np.ptp(lm[:468, 0]))
        top, chin = lm[fm.FOREHEAD_TOP], lm[fm.CHIN_BOTTOM]
        centre = (top + chin) / 2.0
        self.centre = centre + (top - chin) * 0.12  # include the cranium and hair
        self.radii = np.array([0.72 * width, 0.82 * self.face_height])
        self.pivot = chin + (chin - top) * 0.25
        self.slow = [_Noise(rng, 0.06, 0.3) for _ in range(3)]
        self.fast = [_Noise(rng, 0.7, 1.8) for _ in range(3)]

    def reach(self) -> Box:
        r = self.radii * HEAD_FADE
        return Box.around(np.stack([self.centre - r, self.centre + r]))

    def weight(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        r = np.hypot((xs - self.centre[0]) / self.radii[0], (ys - self.centre[1]) / self.radii[1])
        return (1.0 - _smoothstep((r - 1.0) / (HEAD_FADE - 1.0))).astype(np.float32)

    def pose(self, time: float, speaking: float, amount: float) -> tuple[float, float, float]:
        """(roll radians, dx px, dy px) at `time`."""
        if amount == 0:
            return 0.0, 0.0, 0.0
        roll = HEAD_ROLL_DEG * self.slow[0](time) + speaking * TALK_ROLL_DEG * self.fast[0](time)
        sway = HEAD_SWAY * self.slow[1](time) + speaking * TALK_SWAY * self.fast[1](time)
        nod = HEAD_NOD * self.slow[2](time) + speaking * TALK_NOD * self.fast[2](time)
        return (
            np.deg2rad(roll) * amount,
            sway * self.face_height * amount,
            nod * self.face_height * amount,
        )

    def forward(self, pose: tuple[float, float, float]) -> np.ndarray:
        """2x3 affine: still-head pixels -> output pixels (rotation about the neck)."""
        angle, dx, dy = pose
        c, s = np.cos(angle), np.sin(angle)
        rot = np.array([[c, -s], [s, c]])
        offset = self.pivot - rot @ self.pivot + [dx, dy]
        return np.hstack([rot, offset[:, None]])


def _invert(affine: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(affine)


# --- one animated face ------------------------------------------------------------------


class _FaceRig:
    """Everything that moves on one face, in output-frame pixels."""

    def __init__(
        self,
        image: np.ndarray,
        face: Face,
        *,
        rng: np.random.Generator,
        style: PortraitStyle,
    ) -> None:
        self.face = face
        self.style = style
        blink_rng, head_rng = rng.spawn(2)
        self.mouth = _MouthRig(face)
        self.painter = _MouthPainter(image, face, self.mouth)
        teeth = _find_photo_teeth(image, self.mouth, self.painter.lip)
        if teeth is not None:
            self.mouth.use_photo_teeth(teeth.start, teeth.length, teeth.s)
            self.painter.photo_teeth = teeth
        self.eyes = [_EyeRig(face.left_eye()), _EyeRig(face.right_eye())]
        for eye in self.eyes:
            eye.skin = self.painter.skin
        self.blinks = _Blinks(blink_rng, style.blink_rate)
        self.head = _HeadRig(face, head_rng)
        self.head_amount = float(style.head_motion * style.expressiveness)
        # Share of the jaw field this face may apply (a duet confines each face to its side).
        self.mouth_share: np.ndarray | None = None

    def pose(self, time: float, mouth: MouthFrame) -> np.ndarray:
        """Forward 2x3 head affine (still-head -> output pixels) at `time`."""
        speaking = _clipped(mouth.speaking, 0.0, 1.0)
        return self.head.forward(self.head.pose(time, speaking, self.head_amount))

    def paint(
        self,
        frame: np.ndarray,
        forward: np.ndarray,
        time: float,
        exposure: float,
        mouth: MouthFrame,
    ) -> None:
        """Draw what a warp cannot: the mouth interior and the softened closed lids."""
        st = self.mouth.state(mouth, self.style.expressiveness)
        polygon = self.mouth.opening_polygon(st)
        if polygon is not None:
            polygon = polygon @ forward[:, :2].T + forward[:, 2]
            self.painter.paint(frame, polygon, _invert(forward), st)
        closed = self.blinks.closed(time, exposure)
        for eye in self.eyes:
            eye.paint(frame, forward, closed)

    def feature_box(self) -> Box:
        box = self.mouth.box
        for eye in self.eyes:
            box = box.union(eye.box)
        return box


# --- compositing --------------------------------------------------------------------------


class _Buffers:
    """Work arrays reused from frame to frame.

    Fresh multi-megabyte arrays per frame are not free: large allocations are served by
    fresh, zeroed pages, and at 720p the page faults alone cost as much as the warp.
    (So an animator must not render two frames at once from two threads.)
    """

    def __init__(self, box: Box, rigs: Sequence[_FaceRig]) -> None:
        shape = (box.height, box.width)
        self.map_x = np.empty(shape, np.float32)
        self.map_y = np.empty(shape, np.float32)
        self.warped = np.empty((*shape, 3), np.uint8)
        self._upsampled: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def upsampled(self, box: Box) -> tuple[np.ndarray, np.ndarray]:
        """Two float32 arrays of the box's size (one pair per distinct size)."""
        key = (box.height, box.width)
        if key not in self._upsampled:
            self._upsampled[key] = (np.empty(key, np.float32), np.empty(key, np.float32))
        return self._upsampled[key]


# Soft share of the frame owned by one face (1 = this face's head may move it); the
# duet uses it so that two heads never pull at the same pixels.
Territory = Callable[[np.ndarray, np.ndarray], np.ndarray]
# Precomputed basis of one face's head field on some grid: (w, w*(x-px), w*(y-py)).
_Basis = tuple[np.ndarray, np.ndarray, np.ndarray]


class _Compositor:
    """Turns rigs into frames: one backward map over the moving region (head motion, then
    jaw and lids composed exactly on top), one remap of the photo through it, the mouths
    painted in, then the mask honoured."""

    def __init__(
        self,
        base: np.ndarray,
        rigs: list[_FaceRig],
        *,
        mask: np.ndarray | None,
        territories: Sequence[Territory] | None = None,
        photo: Box | None = None,
    ) -> None:
        self.base = base
        self.rigs = rigs
        height, width = base.shape[:2]
        photo = Box(0, 0, width, height) if photo is None else photo
        self.moving = any(rig.head_amount != 0 for rig in rigs)
        box = rigs[0].feature_box()
        for rig in rigs:
            box = box.union(rig.feature_box())
            if self.moving:
                box = box.union(rig.head.reach())
        self.box = box.clip(width, height)
        self.mask = None if mask is None else np.ascontiguousarray(mask, np.float32)
        # Motion fades out smoothly where the mask forbids change (the head and the jaw
        # are scaled by a blurred mask) instead of being cut by the final blend, which
        # would show a half-moved chin or collar twice.
        self._soft_mask = None
        if self.mask is not None:
            self._soft_mask = cv2.GaussianBlur(self.mask, (0, 0), HEAD_GRID)
        edges = self._edge_fade(photo, width, height)
        if edges is not None:
            self._soft_mask = edges if self._soft_mask is None else self._soft_mask * edges
        for i, rig in enumerate(rigs):
            grid = (rig.mouth.grid_x, rig.mouth.grid_y)
            share = None if territories is None else territories[i](*grid)
            mask_here = self._mask_at(*grid)
            if mask_here is not None:
                share = mask_here if share is None else share * mask_here
            rig.mouth_share = None if share is None else share.astype(np.float32)
        self.ident_x, self.ident_y = _pixel_grid(self.box)
        self._buffers = _Buffers(self.box, rigs)
        self._shares: dict[int, np.ndarray] = {}
        # How far the head can carry a pixel: bounds the search around the eyes.
        reach = [rig.head.face_height * abs(rig.head_amount) * 0.08 for rig in rigs]
        self.margin = int(np.ceil(max(reach))) + 2
        if self.moving:
            self._prepare_head(territories)

    def _edge_fade(self, photo: Box, width: int, height: int) -> np.ndarray | None:
        """0 at the photo's edges rising to 1 inside, or None where no motion comes near.

        A face filling the photo moves right up to its edges; unchecked, that bends the
        letterbox line or smears the frame border (the photo has nothing beyond it).
        """
        reach = max(2.0 * HEAD_GRID, EDGE_FADE * min(rig.head.face_height for rig in self.rigs))
        moving = self.rigs[0].mouth.box
        for rig in self.rigs:
            moving = moving.union(rig.mouth.box)
            if self.moving:
                moving = moving.union(rig.head.reach())
        inner = photo.grow(-int(np.ceil(reach)))
        if inner.union(moving) == inner:
            return None
        xs = np.arange(width, dtype=np.float32)
        ys = np.arange(height, dtype=np.float32)
        across = np.minimum(xs - photo.x0 + 0.5, photo.x1 - 0.5 - xs) / np.float32(reach)
        down = np.minimum(ys - photo.y0 + 0.5, photo.y1 - 0.5 - ys) / np.float32(reach)
        fade_x = _smoothstep(across).astype(np.float32)
        fade_y = _smoothstep(down).astype(np.float32)
        return np.ascontiguousarray(fade_y[:, None] * fade_x[None, :])

    def _mask_at(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray | None:
        if self._soft_mask is None:
            return None
        return cv2.remap(self._soft_mask, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def _prepare_head(self, territories: Sequence[Territory] | None) -> None:
        # The head field is smooth: computed on a coarse grid, upsampled per frame.
        self.coarse_box = _snap(self.box, HEAD_GRID)
        cx, cy = _pixel_grid(self.coarse_box, HEAD_GRID)
        self.head_bases = self._bases(cx, cy, territories, self._mask_at(cx, cy))
        self.mouth_bases = []
        for rig in self.rigs:
            gx, gy = rig.mouth.grid_x, rig.mouth.grid_y
            self.mouth_bases.append(self._bases(gx, gy, territories, self._mask_at(gx, gy)))

    def _bases(
        self,
        xs: np.ndarray,
        ys: np.ndarray,
        territories: Sequence[Territory] | None,
        mask: np.ndarray | None,
    ) -> list[_Basis]:
        bases = []
        for i, rig in enumerate(self.rigs):
            w = rig.head.weight(xs, ys)
            if territories is not None:
                w = w * territories[i](xs, ys)
            if mask is not None:
                w = w * mask
            w = w.astype(np.float32)
            px, py = rig.head.pivot
            bases.append((w, w * np.float32(xs - px), w * np.float32(ys - py)))
        return bases

    def frame(self, index: int, fps: float, mouths: Sequence[MouthFrame]) -> np.ndarray:
        time, exposure = index / fps, 1.0 / fps
        forwards = [rig.pose(time, mouth) for rig, mouth in zip(self.rigs, mouths, strict=True)]
        backs = [_invert(forward) for forward in forwards]
        map_x, map_y = self._head_map(backs)
        for i, (rig, mouth) in enumerate(zip(self.rigs, mouths, strict=True)):
            self._apply_mouth(i, mouth, backs, map_x, map_y)
            closed = rig.blinks.closed(time, exposure)
            for eye in rig.eyes:
                self._apply_eye(eye, closed, map_x, map_y)
        warped = self._buffers.warped
        cv2.remap(
            self.base,
            map_x,
            map_y,
            cv2.INTER_LINEAR,
            dst=warped,
            borderMode=cv2.BORDER_REPLICATE,
        )
        out = self.base.copy()
        region = self.box.slices()
        out[region] = warped
        for rig, mouth, forward in zip(self.rigs, mouths, forwards, strict=True):
            rig.paint(out, forward, time, exposure, mouth)
        if self.mask is not None:
            weight = self.mask[region]
            out[region] = cv2.blendLinear(out[region], self.base[region], weight, 1.0 - weight)
        return out

    def _head_offsets(
        self, backs: list[np.ndarray], bases: list[_Basis]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sum over faces of weight * (back(p) - p), as a combination of the bases."""
        dx = np.zeros(bases[0][0].shape, np.float32)
        dy = np.zeros_like(dx)
        for rig, back, (w, wx, wy) in zip(self.rigs, backs, bases, strict=True):
            if rig.head_amount == 0:
                continue
            (a, b, c), (d, e, f) = back
            px, py = rig.head.pivot
            ox, oy = a * px + b * py + c - px, d * px + e * py + f - py
            dx += np.float32(a - 1.0) * wx + np.float32(b) * wy + np.float32(ox) * w
            dy += np.float32(d) * wx + np.float32(e - 1.0) * wy + np.float32(oy) * w
        return dx, dy

    def _head_map(self, backs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Still-head position of every output pixel of the work box."""
        buffers = self._buffers
        map_x, map_y = buffers.map_x, buffers.map_y
        if not self.moving:
            np.copyto(map_x, self.ident_x)
            np.copyto(map_y, self.ident_y)
            return map_x, map_y
        dx, dy = self._head_offsets(backs, self.head_bases)
        height, width = self.box.height, self.box.width
        full = buffers.upsampled(self.coarse_box)
        np.add(self.ident_x, _upsample(dx, self.coarse_box, full[0])[:height, :width], out=map_x)
        np.add(self.ident_y, _upsample(dy, self.coarse_box, full[1])[:height, :width], out=map_y)
        return map_x, map_y

    def _apply_mouth(
        self,
        i: int,
        mouth: MouthFrame,
        backs: list[np.ndarray],
        map_x: np.ndarray,
        map_y: np.ndarray,
    ) -> None:
        """Overwrite the jaw patch of the map with jaw(head(p)), evaluated on the jaw's
        own finer grid: an exact composition, with no second resampling of anything."""
        rig = self.rigs[i]
        st = rig.mouth.state(mouth, rig.style.expressiveness)
        if not rig.mouth.moves(st):
            return
        qx, qy = rig.mouth.grid_x, rig.mouth.grid_y
        if self.moving:
            dx, dy = self._head_offsets(backs, self.mouth_bases[i])
            qx, qy = qx + dx, qy + dy
        sx, sy = rig.mouth.source(qx, qy, st)
        if rig.mouth_share is not None:
            sx = qx + (sx - qx) * rig.mouth_share
            sy = qy + (sy - qy) * rig.mouth_share
        patch = rig.mouth.box
        target, inner = self._overlap(patch)
        if target is None:
            return
        seam = self._seam_pixels(i, st, _invert(backs[i]))
        if seam is not None:
            # Still-head positions of the seam pixels, before the jaw overwrites them.
            rows, cols = seam
            head_x, head_y = map_x[rows, cols], map_y[rows, cols]
        # Upsample displacements, not positions: bilinear upsampling clamps at the
        # patch edge, which would shift the border pixels by a fraction of a step.
        gx, gy = rig.mouth.grid_x, rig.mouth.grid_y
        full = self._buffers.upsampled(patch)
        up_x = _upsample(sx - gx, patch, full[0])[inner]
        up_y = _upsample(sy - gy, patch, full[1])[inner]
        np.add(self.ident_x[target], up_x, out=map_x[target])
        np.add(self.ident_y[target], up_y, out=map_y[target])
        if seam is not None:
            self._exact_at(i, st, rows, cols, head_x, head_y, map_x, map_y)

    def _seam_pixels(
        self, i: int, st: _MouthState, forward: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(rows, columns) in the work box of the pixels near a lip edge where the coarse
        jaw field is not good enough, or None.

        The field jumps across the lip edges (from one lip to the other where lips closed
        over a photo's open mouth meet; from lip to teeth under the upper lip). On a grid
        coarser than a pixel, bilinear upsampling smears such a jump into a streak of
        squeezed teeth along a stepped seam, so pixels there are computed exactly: those
        within a few grid steps of the two edge curves, drawn as thick lines.
        """
        mouth = self.rigs[i].mouth
        if mouth.step == 1 or not mouth.closes:
            return None
        s = np.linspace(mouth.s_left - 0.1, mouth.s_right + 0.1, 32).astype(np.float32)
        top, bottom = mouth.edges(mouth.at(s), st)
        curves = []
        for t in (top, bottom):
            ss, tt = mouth.apply_width(s, t, st)
            x, y = mouth.ref.to_xy(ss, tt)
            curves.append(np.stack([x, y], axis=1) @ forward[:, :2].T + forward[:, 2])
        # Head motion is rigid only near the mouth; two pixels of slack cover the rest.
        half = int(np.ceil(1.5 * mouth.step)) + 2
        box = Box.around(np.concatenate(curves)).grow(half + 1)
        target, _ = self._overlap(box)
        if target is None:
            return None
        y0, x0 = target[0].start + self.box.y0, target[1].start + self.box.x0
        height, width = target[0].stop - target[0].start, target[1].stop - target[1].start
        mask = np.zeros((height, width), np.uint8)
        lines = [np.round(curve - [x0, y0]).astype(np.int32) for curve in curves]
        cv2.polylines(mask, lines, False, 1, thickness=2 * half + 1)
        rows, cols = np.nonzero(mask)
        if rows.size == 0:
            return None
        return rows + target[0].start, cols + target[1].start

    def _exact_at(
        self,
        i: int,
        st: _MouthState,
        rows: np.ndarray,
        cols: np.ndarray,
        head_x: np.ndarray,
        head_y: np.ndarray,
        map_x: np.ndarray,
        map_y: np.ndarray,
    ) -> None:
        """Overwrite the map at work-box pixels (rows, cols) with the exact jaw field of
        their still-head positions `head_*`."""
        rig = self.rigs[i]
        patch = rig.mouth.box
        ys, xs = rows + self.box.y0, cols + self.box.x0
        # Only pixels of the jaw's patch (outside it the field is zero anyway).
        inside = (ys >= patch.y0) & (ys < patch.y1) & (xs >= patch.x0) & (xs < patch.x1)
        rows, cols, ys, xs = rows[inside], cols[inside], ys[inside], xs[inside]
        qx, qy = head_x[inside], head_y[inside]
        sx, sy = rig.mouth.source(qx, qy, st)
        if rig.mouth_share is not None:
            share = self._share_at(i, ys, xs)
            sx = qx + (sx - qx) * share
            sy = qy + (sy - qy) * share
        map_x[rows, cols] = sx
        map_y[rows, cols] = sy

    def _share_at(self, i: int, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """Face i's share of the jaw field at output pixels, as the grid upsampled it."""
        if i not in self._shares:
            patch, share = self.rigs[i].mouth.box, self.rigs[i].mouth_share
            self._shares[i] = _upsample(share, patch)
        patch = self.rigs[i].mouth.box
        return self._shares[i][ys - patch.y0, xs - patch.x0]

    def _apply_eye(self, eye: _EyeRig, closed: float, map_x: np.ndarray, map_y: np.ndarray) -> None:
        if closed <= 0.0:
            return
        # Output pixels that can land on the eye: its box plus the head's travel.
        target, _ = self._overlap(eye.box.grow(self.margin if self.moving else 0))
        if target is not None:
            eye.apply(map_x[target], map_y[target], closed)

    def _overlap(self, patch: Box) -> tuple[tuple[slice, slice] | None, tuple[slice, slice]]:
        """Slices of the work-box maps and of the patch that cover their intersection."""
        box = self.box
        x0, y0 = max(patch.x0, box.x0), max(patch.y0, box.y0)
        x1, y1 = min(patch.x1, box.x1), min(patch.y1, box.y1)
        inner = (slice(y0 - patch.y0, y1 - patch.y0), slice(x0 - patch.x0, x1 - patch.x0))
        if x1 <= x0 or y1 <= y0:
            return None, inner
        return (slice(y0 - box.y0, y1 - box.y0), slice(x0 - box.x0, x1 - box.x0)), inner


# --- public API ---------------------------------------------------------------------------


def _prepare(
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
        style: PortraitStyle = PortraitStyle(),
        mask: np.ndarray | None = None,
    ) -> None:
        placement, base, out_mask = _prepare(image_rgb, out_size, mask)
        rig = _FaceRig(
            base, placement.face(face), rng=np.random.default_rng([seed, 0]), style=style
        )
        self._compositor = _Compositor(base, [rig], mask=out_mask, photo=placement.box)
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
        _check_fps(fps)
        return self._compositor.frame(index, fps, [mouth])


def _check_fps(fps: float) -> None:
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
) -> list[MouthFrame]:
    """Per-frame MouthFrames; voice activity is smoothed (~0.25 s) because it drives the
    amplitude of head motion, which must not jump when speech starts or stops."""
    speaking = smooth_track(track_speaking, fps, 0.25)
    n = min(len(track_open), len(track_width), len(track_teeth), len(speaking))
    return [
        MouthFrame(
            open=float(track_open[i]),
            width=float(track_width[i]),
            teeth=float(track_teeth[i]),
            speaking=float(speaking[i]),
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
    style: PortraitStyle = PortraitStyle(),
    mask: np.ndarray | None = None,
) -> Iterator[np.ndarray]:
    """One frame per entry of the per-frame tracks (sampled at `fps`; the shortest track
    decides the length), rendered lazily so a long video is never held in memory."""
    animator = PortraitAnimator(image_rgb, face, out_size, seed=seed, style=style, mask=mask)
    for index, mouth in enumerate(
        mouth_frames(track_open, track_width, track_teeth, track_speaking, fps)
    ):
        yield animator.frame(index, fps, mouth)
