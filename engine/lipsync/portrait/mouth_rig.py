"""The jaw and lips as a displacement field: where each output pixel of the lower face
samples the photo for a given mouth shape (see `MouthRig`), and where the opening is."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import NoFaceError
from engine.lipsync import faces as fm
from engine.lipsync.faces import Face
from engine.lipsync.portrait.geometry import (
    Box,
    Table,
    chi,
    clipped,
    fall,
    phi,
    pixel_grid,
    psi,
    smoothstep,
    snap,
)
from engine.lipsync.portrait.inputs import MouthFrame

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
# the lip edge, and the field free of folds), and the most the jaw rises (m): a mouth
# wide open in the photo (a shout, a yawn) closes mostly by the jaw coming up, as it does.
CLOSE_MAX_STRETCH = 0.33
CLOSE_JAW_MAX = 1.6

# The lips meet this far (pixels) inside their detected edges, where the photo shows
# lip rather than a blend of lip and teeth.
CLOSE_INSET_PX = 0.6

# The painted opening samples its lips this far (pixels) inside their edges, so what
# its soft edge lets through is lip, not the lip/teeth boundary.
INTERIOR_INTO_LIP_PX = 1.0

# How much further the lips part when the photo's own teeth are shown (see `state`).
PHOTO_TEETH_OPENING = 1.3
# Upper teeth shown at teeth=1, below the upper lip in the middle of the mouth.
TEETH_LENGTH = 0.34

# The photo's teeth fill at most this share of the opening (the rest is mouth).
TEETH_MAX_SHARE = 0.6

# Closed lips over a photo's open mouth: width of their crease (at least this many
# pixels, or this many m on a large face) and its opacity.
CREASE_PX, CREASE_WIDTH = 1.0, 0.02


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


@dataclass(frozen=True)
class Lips:
    """The mouth's profiles at some s (t values and lengths in m)."""

    opening: np.ndarray  # share of the parting: 1 in the middle .. 0 at the corners
    up: np.ndarray  # the photo's upper inner-lip edge
    lo: np.ndarray  # the photo's lower inner-lip edge
    meet_up: np.ndarray  # the upper edge at open=0 (= meet_lo where the rig closes)
    meet_lo: np.ndarray  # the lower edge at open=0
    close_up: np.ndarray  # how far the upper lip comes down to meet
    lip_lo: np.ndarray  # how far the lower lip comes up, on top of the jaw
    jaw: np.ndarray  # how much of the jaw motion reaches this s
    closing: np.ndarray  # share of the jaw's rise that closes the photo's mouth at this s
    teeth_start: np.ndarray  # the photo's teeth: first row below `up`, and length
    teeth_length: np.ndarray


@dataclass
class MouthState:
    """Per-frame mouth numbers shared by the field and the painter."""

    gap: float  # lip separation at the middle, in m
    width: float  # -1..1 after expressiveness
    teeth: float
    ramp: float  # length of the below-corner ramp (keeps the field fold-free)
    tongue: float = 0.0  # 0..1 tongue tip raised behind the upper teeth

    @property
    def lower(self) -> float:
        return self.gap * (1.0 - UPPER_SHARE)

    @property
    def upper(self) -> float:
        return self.gap * UPPER_SHARE

    @property
    def along(self) -> float:
        """Coefficient of `phi` in the along-the-lips motion (signed)."""
        k = SPREAD if self.width >= 0 else ROUND
        return k * self.width - OPEN_NARROW * self.gap / OPEN_GAP

    @property
    def lift(self) -> float:
        return SPREAD_LIFT * max(self.width, 0.0)


# A photo whose lips are further apart than this (face heights) cannot be closed into a
# believable mouth: a shout or a yawn stretches the lips and drops the jaw so far that the
# closed lips would have to be invented. Measured: talking, smiling and laughing photos
# read 0.00-0.08; shouting ones 0.19-0.23.
MAX_PHOTO_GAP = 0.14


def require_closable(face: Face, name: str = "the face") -> None:
    """Refuse a photo whose mouth is open too wide to animate (see `MAX_PHOTO_GAP`)."""
    if face.mouth_gap() > MAX_PHOTO_GAP:
        raise NoFaceError(
            f"{name} in the photo has its mouth wide open (shouting or yawning); "
            "use a photo where the mouth is closed or only a little open"
        )


class MouthRig:
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
        inner = 0.15 + 0.85 * (1.0 - smoothstep((reach - 1.0) / (self.s_jaw - 1.0)))
        outer = 1.0 - smoothstep((reach - self.s_jaw) / 0.5)
        # The jaw drops fully under the mouth, less towards the hinges, and the drag on
        # the background beside the face dies out half a mouth-width past its edge.
        self._jaw = inner * outer
        self._lines = self._close(lu, ll)
        # A jaw that rises far compresses what is under it: the drag fades out over a
        # longer neck (and ramp, see `state`) so the field never folds.
        self.neck_reach = max(NECK_REACH, 1.7 * self.jaw_close)
        self.photo_teeth = False
        self._teeth = (np.zeros_like(table), np.zeros_like(table))
        self.table = self._tabulate()
        self.box, self.step = self._patch_box()
        self.grid_x, self.grid_y = pixel_grid(self.box, self.step)

    def _close(self, lu: np.ndarray, ll: np.ndarray) -> list[np.ndarray]:
        """Where the lips meet at rest and how far each side travels to get there:
        [up, lo, meet_up, meet_lo, close_up, lip_lo] on the table, and `jaw_close`."""
        m = self.ref.m
        gap = ll - lu
        middle = self._opening > 0.8
        # An open photo mouth: a gap of a pixel or more (closed lips read 0-0.5 px).
        self.closes = bool(np.max(gap[middle], initial=0.0) * m >= SOURCE_OPEN_PX)
        self.jaw_close = 0.0
        self._closing = np.zeros_like(lu)
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
        # The jaw rises each column of the lower lip by that column's share of the gap
        # (a round, shouting mouth is open almost to its corners; a smile only in the
        # middle), so the lips meet all along, with the same stretch everywhere.
        self._closing = np.clip(down / max(down_mid, 1e-6), 0.0, 1.0)
        lip = np.minimum(down - self.jaw_close * self._closing, CLOSE_MAX_STRETCH * CLOSE_REACH_LO)
        meet = lu + up
        return [lu, ll, meet, meet, up, lip]

    def _tabulate(self) -> Table:
        return Table(
            self.TABLE, [self._opening, *self._lines, self._jaw, self._closing, *self._teeth]
        )

    def use_photo_teeth(self, start: np.ndarray, length: np.ndarray, s: np.ndarray) -> None:
        """Show the photo's own teeth (start below the upper edge, length; both in m, at
        `s`, zero past its ends) instead of painted ones."""
        table = self.TABLE
        self._teeth = (np.interp(table, s, start), np.interp(table, s, length))
        self.photo_teeth = True
        self.table = self._tabulate()

    def at(self, s: np.ndarray) -> Lips:
        return Lips(*self.table(s))

    def _patch_box(self) -> tuple[Box, int]:
        """Box (still-head pixels) outside which every part of the field is exactly 0,
        and the grid step: about 14 samples per half-mouth-width (1-4 px)."""
        ref = self.ref
        s_half = max(self.s_jaw + 0.6, 2.1)
        lip_top = float(self._lines[0].min())
        t_top = min(-1.45, lip_top - max(UPPER_REACH, CLOSE_REACH_UP) - 0.1)
        t_bottom = self.t_chin + 1.3 * OPEN_GAP * PHOTO_TEETH_OPENING + self.neck_reach + 0.2
        corners_s = np.array([-s_half, s_half, -s_half, s_half])
        corners_t = np.array([t_top, t_top, t_bottom, t_bottom])
        x, y = ref.to_xy(corners_s, corners_t)
        step = int(np.clip(round(ref.m / 14.0), 1, 4))
        box = Box.around(np.stack([x, y], axis=1)).grow(2)
        return snap(box, step), step

    def state(self, mouth: MouthFrame, expressiveness: float) -> MouthState:
        gap = clipped(mouth.open * expressiveness, 0.0, 1.3) * OPEN_GAP
        if self.photo_teeth:
            # The photo's own teeth fill the top of the opening (painted ones are shorter
            # and hang behind the lip), so the lips part further for the same dark
            # opening: a smile that barely parts reads as closed lips over teeth.
            gap *= PHOTO_TEETH_OPENING
        width = clipped(mouth.width * expressiveness, -1.2, 1.2)
        teeth = clipped(mouth.teeth, 0.0, 1.0)
        ramp = max(0.6, 2.3 * gap, 2.2 * self.jaw_close)
        tongue = clipped(mouth.tongue, 0.0, 1.0)
        return MouthState(gap=gap, width=width, teeth=teeth, ramp=ramp, tongue=tongue)

    def undo_width(
        self, s: np.ndarray, t: np.ndarray, st: MouthState
    ) -> tuple[np.ndarray, np.ndarray]:
        """Output (s, t) -> before the along-the-lips motion (two fixed-point steps)."""
        if st.along == 0.0 and st.lift == 0.0:
            return s, t
        s_m, t_m = s, t
        for _ in range(2):
            weight = psi(t_m)
            s_m = s - st.along * phi(s_m) * weight
            t_m = t + st.lift * chi(s_m) * weight
        return s_m, t_m

    def apply_width(
        self, s: np.ndarray, t: np.ndarray, st: MouthState
    ) -> tuple[np.ndarray, np.ndarray]:
        weight = psi(t)
        return s + st.along * phi(s) * weight, t - st.lift * chi(s) * weight

    @staticmethod
    def edges(lips: Lips, st: MouthState) -> tuple[np.ndarray, np.ndarray]:
        """Upper and lower inner-lip edges (t) after parting, before the width motion."""
        return lips.meet_up - st.upper * lips.opening, lips.meet_lo + st.lower * lips.opening

    def teeth_shown(
        self, lips: Lips, s: np.ndarray, st: MouthState
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

    def source_t(self, s: np.ndarray, t: np.ndarray, st: MouthState) -> np.ndarray:
        """Backward parting/jaw map: where (in t) an output point samples the photo."""
        lips = self.at(s)
        p = lips.opening
        top, bottom = self.edges(lips, st)
        # Upper lip: lifted by the parting (fading out towards the nose) and stretched
        # down over the photo's gap (fading out faster, so mostly the lip stretches).
        rise = top - t
        above = t + st.upper * p * (1.0 - smoothstep(rise / UPPER_REACH))
        if self.closes:
            above = above - lips.close_up * fall(rise / CLOSE_REACH_UP)
        ramp = smoothstep((t - bottom) / st.ramp)
        drop = p + (1.0 - p) * ramp
        rise = lips.closing + (1.0 - lips.closing) * ramp
        neck_start = self.t_chin + st.lower - self.jaw_close
        neck = 1.0 - smoothstep((t - neck_start) / self.neck_reach)
        below = t - (st.lower * drop - self.jaw_close * rise) * lips.jaw * neck
        if self.closes:
            below = below + lips.lip_lo * fall((t - bottom) / CLOSE_REACH_LO)
        inside = self._inside(lips, s, t, top, bottom, st)
        return np.where(t < top, above, np.where(t > bottom, below, inside))

    def _inside(
        self,
        lips: Lips,
        s: np.ndarray,
        t: np.ndarray,
        top: np.ndarray,
        bottom: np.ndarray,
        st: MouthState,
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

    def moves(self, st: MouthState) -> bool:
        return st.gap > 0.0 or st.width != 0.0 or self.closes

    def source(self, x: np.ndarray, y: np.ndarray, st: MouthState) -> tuple[np.ndarray, np.ndarray]:
        """Where the still-head points (x, y) sample the photo (backward map)."""
        s, t = self.ref.to_st(x, y)
        s_m, t_m = self.undo_width(s, t, st)
        t_src = self.source_t(s_m, t_m, st) if st.gap > 0 or self.closes else t_m
        x_src, y_src = self.ref.to_xy(s_m, t_src)
        return x_src.astype(np.float32), y_src.astype(np.float32)

    def opening_polygon(self, st: MouthState, samples: int = 28) -> np.ndarray | None:
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
            jump = smoothstep((lips.lo - lips.up) * self.ref.m / 1.5)
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


def across_mouth(rig: MouthRig, s: np.ndarray) -> np.ndarray:
    """0 in the middle of the mouth .. 1 at (and past) the corners."""
    mid = (rig.s_left + rig.s_right) / 2.0
    half = max((rig.s_right - rig.s_left) / 2.0, 0.3)
    return np.clip(np.abs(s - mid) / half, 0.0, 1.0)


def _teeth_length(rig: MouthRig, s: np.ndarray, st: MouthState) -> np.ndarray:
    """How far the upper teeth reach below the upper lip (m): less towards the corners,
    where the arch turns away from the camera."""
    return st.teeth * TEETH_LENGTH * (1.0 - 0.4 * across_mouth(rig, s) ** 2)
