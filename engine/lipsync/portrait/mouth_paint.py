"""What a warp cannot show: the inside of an open mouth (cavity, teeth, tongue), painted
in the person's own colours, or the photo's own teeth where it shows them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from engine.lipsync import faces as fm
from engine.lipsync.faces import Face
from engine.lipsync.portrait.geometry import Box, polygon_alpha, smoothstep
from engine.lipsync.portrait.mouth_rig import TEETH_LENGTH, Lips, MouthRig, MouthState, across_mouth
from engine.lipsync.teeth import tooth_pixels

CREASE_ALPHA = 0.65


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
# The lower incisors are narrower: four of them fill about what two upper ones do.
_LOWER_TOOTH_EDGES = np.array([0.0, 0.16, 0.32, 0.47, 0.6], np.float32)
# The lower teeth's tips at most (m), and how much darker than the upper teeth they are.
LOWER_TEETH_LENGTH, LOWER_TEETH_SHADE = 0.14, 0.72
# How different one tooth is from the next (share of length and light).
TOOTH_VARIATION = 0.05
# How much darker the middle of a wide-open mouth is than its lit rim.
THROAT_DARK = 0.55
# The glint on the lower lip: strength, how far under the opening (m), width (m), and how
# white (the rest is the lip's own colour).
WET_ALPHA, WET_OFFSET, WET_WIDTH, WET_WHITE = 0.22, 0.07, 0.045, 0.5


class MouthPainter:
    """Cavity, teeth and tongue, coloured from the person's own lips and skin."""

    def __init__(self, image: np.ndarray, face: Face, rig: MouthRig) -> None:
        self.rig = rig
        # The photo's own teeth, when the rig shows them (see `find_photo_teeth`).
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
        self.crease = self.lip * _tint([0.62, 0.48, 0.48], colour)
        self.tongue = self.lip * _tint([0.75, 0.5, 0.5], colour) + _tint([20, 2, 4], colour)

    def paint(
        self, frame: np.ndarray, polygon: np.ndarray, inverse: np.ndarray, st: MouthState
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
        alpha = polygon_alpha(polygon, box, feather=feather)
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
        self._wet_lip(frame, polygon, inverse, st)

    def _wet_lip(
        self, frame: np.ndarray, polygon: np.ndarray, inverse: np.ndarray, st: MouthState
    ) -> None:
        """A soft highlight along the wet inner part of the lower lip, just under the
        opening's edge: parted lips glint there, painted or not."""
        strength = WET_ALPHA * smoothstep((st.gap - 0.08) / 0.25)
        if strength <= 0.0:
            return
        m = self.rig.ref.m
        half = len(polygon) // 2
        bottom = polygon[half:][::-1]
        keep = slice(int(0.2 * half), max(int(0.8 * half), int(0.2 * half) + 2))
        forward = cv2.invertAffineTransform(np.asarray(inverse, np.float64))
        down = forward[:, 1] / max(float(np.hypot(*forward[:, 1])), 1e-6)
        line = bottom[keep] + down * (WET_OFFSET * m)
        width = max(1.0, WET_WIDTH * m)
        height, frame_width = frame.shape[:2]
        box = Box.around(line).grow(int(np.ceil(2 * width)) + 2).clip(frame_width, height)
        if box.empty:
            return
        glint = np.zeros((box.height, box.width), np.float32)
        points = np.round((line - [box.x0, box.y0]) * 16).astype(np.int32)
        cv2.polylines(glint, [points], False, 1.0, max(1, round(width)), cv2.LINE_AA, shift=4)
        glint = cv2.GaussianBlur(glint, (0, 0), max(0.6, 0.5 * width)) * strength
        region = frame[box.slices()].astype(np.float32)
        light = self.lip * (1.0 - WET_WHITE) + 255.0 * WET_WHITE
        region += (light[None, None, :] - region) * glint[..., None]
        frame[box.slices()] = np.clip(region + 0.5, 0, 255).astype(np.uint8)

    def _colour(
        self, s_out: np.ndarray, t_out: np.ndarray, st: MouthState, region: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Painted colour at output (s, t), and how much of the frame's own pixel
        (`region`, the frame's pixels there: the photo's teeth, warped into place) to
        keep instead, or None when the teeth are painted too."""
        rig, px = self.rig, 1.0 / self.rig.ref.m  # one output pixel in m
        s, t = rig.undo_width(s_out, t_out, st)
        lips = rig.at(s)
        top, bottom = rig.edges(lips, st)
        gap = np.maximum(bottom - top, 1e-3)
        across = across_mouth(rig, s)
        depth = np.clip(np.minimum(t - top, bottom - t) / (0.5 * gap), 0.0, 1.0)
        # Cavity: red-brown just inside the lips, falling off into a dark throat in the
        # middle and towards the back corners (never quite black: light bounces in off
        # the teeth and tongue).
        throat = depth**1.3 * (1.0 - across**2) * smoothstep((gap - 0.1) / 0.5)
        shade = (1.0 - 0.35 * depth - THROAT_DARK * throat) * (1.0 - 0.35 * across**2)
        colour = self.cavity * np.maximum(shade, 0.15)[..., None]
        colour = self._tongue(colour, t, top, bottom, gap, across, st, px)
        colour = self._lower_teeth(colour, s_out, t, bottom, gap, across, st, px)
        if self.photo_teeth is not None:
            keep = self._photo_teeth(lips, s, t, top, gap, st, px, region)
        else:
            colour, keep = self._teeth(colour, s_out, t, top, gap, across, st, px), None
        if rig.closes:
            colour, keep = self._crease(colour, keep, gap, st)
        return colour, keep

    def _crease(
        self, colour: np.ndarray, keep: np.ndarray | None, gap: np.ndarray, st: MouthState
    ) -> tuple[np.ndarray, np.ndarray]:
        """Where the lips (nearly) touch, a soft lip-coloured crease instead of cavity."""
        crease = 1.0 - smoothstep((gap * self.rig.ref.m - 1.0) / 2.0)
        colour = colour + (self.crease - colour) * crease[..., None]
        see_through = (1.0 - CREASE_ALPHA) * crease
        keep = see_through if keep is None else 1.0 - (1.0 - keep) * (1.0 - see_through)
        return colour, keep

    def _photo_teeth(
        self,
        lips: Lips,
        s: np.ndarray,
        t: np.ndarray,
        top: np.ndarray,
        gap: np.ndarray,
        st: MouthState,
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
        bright = smoothstep(1.6 * level - 0.3)
        tip = smoothstep((below_lip / np.maximum(visible, 1e-3) - 0.3) / 0.5)
        cover = cover * (1.0 - tip + tip * bright)
        # A thin shadow under the upper lip: it also smooths the pixel steps where the
        # warp jumps from lip to teeth (a map cannot anti-alias an edge; paint can).
        # (Under a pixel wide on a small face, where it would read as a gap.)
        cover = cover * smoothstep(below_lip / max(0.6 * px, min(1.5 * px, 0.02)))
        # Real teeth fade in faster than painted ones: half-seen teeth look grey.
        return cover * smoothstep((gap - 0.04) / 0.1)

    def _tongue(
        self,
        colour: np.ndarray,
        t: np.ndarray,
        top: np.ndarray,
        bottom: np.ndarray,
        gap: np.ndarray,
        across: np.ndarray,
        st: MouthState,
        px: float,
    ) -> np.ndarray:
        """The tongue: a low hump behind the lower teeth once the mouth is well open, its
        tip raised towards the upper teeth for l and th (`st.tongue`)."""
        hump = np.sqrt(np.clip(1.0 - (across / 0.8) ** 2, 0.0, 1.0))
        raised = st.tongue * smoothstep((gap - 0.08) / 0.2)
        # A raised tip is narrower and reaches most of the way up the opening.
        tip = np.sqrt(np.clip(1.0 - (across / 0.5) ** 2, 0.0, 1.0))
        height = (0.3 * hump + raised * 0.45 * tip) * gap
        above_lip = bottom - t
        cover = np.clip((height - above_lip) / (2.0 * px) + 0.5, 0.0, 1.0)
        cover *= 0.9 * np.maximum(smoothstep((gap - 0.3) / 0.35), raised)
        # Lit at the front (by the lower lip), falling into shadow where it curves back;
        # a raised tip catches the light at its top edge.
        front = np.clip(1.0 - above_lip / np.maximum(height, 1e-3), 0.0, 1.0)
        light = (0.45 + 0.4 * front + 0.15 * raised * (1.0 - front)) * (1.0 - 0.5 * across**2)
        tongue = self.tongue * light[..., None]
        return colour + (tongue - colour) * cover[..., None]

    def _tooth_gaps(self, s_out: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(distance to the nearest gap between two teeth, signed offset from the middle
        of the mouth) at each s, for teeth whose gaps sit at `edges` from the middle."""
        offset = s_out - 0.5 * (self.rig.s_left + self.rig.s_right)
        rel = np.abs(offset)
        to_edge = np.min(np.abs(rel[..., None] - edges[1:]), axis=-1)
        return np.minimum(to_edge, rel), offset

    def _lower_teeth(
        self,
        colour: np.ndarray,
        s_out: np.ndarray,
        t: np.ndarray,
        bottom: np.ndarray,
        gap: np.ndarray,
        across: np.ndarray,
        st: MouthState,
        px: float,
    ) -> np.ndarray:
        """The tips of the lower teeth above the lower lip, in the shade of the upper
        lip and teeth: seen on most open vowels, hidden while the mouth is barely open."""
        amount = min(1.0, 0.4 + st.teeth) * smoothstep((st.gap - 0.2) / 0.35)
        if amount <= 0.0:
            return colour
        to_edge, _ = self._tooth_gaps(s_out, _LOWER_TOOTH_EDGES)
        notch = 0.03 * np.exp(-((to_edge / 0.035) ** 2))
        length = amount * LOWER_TEETH_LENGTH * (1.0 - 0.7 * across**2) - notch
        length = np.minimum(length, 0.3 * gap)
        above_lip = bottom - t
        cover = np.clip((length - above_lip) / (1.6 * px) + 0.5, 0.0, 1.0)
        cover *= (above_lip > -0.5 * px) * (1.0 - smoothstep((across - 0.55) / 0.3))
        rounded = 0.8 + 0.2 * smoothstep(to_edge / 0.05)
        light = LOWER_TEETH_SHADE * rounded * (1.0 - 0.5 * across**1.3)
        teeth = self.teeth * light[..., None]
        return colour + (teeth - colour) * cover[..., None]

    def _teeth(
        self,
        colour: np.ndarray,
        s_out: np.ndarray,
        t: np.ndarray,
        top: np.ndarray,
        gap: np.ndarray,
        across: np.ndarray,
        st: MouthState,
        px: float,
    ) -> np.ndarray:
        """Upper teeth hanging from under the upper lip, hidden while barely open."""
        if st.teeth <= 0.0:
            return colour
        # Distance to the nearest gap between two teeth; each tooth is slightly rounded
        # at its biting edge, which makes a small notch at every gap.
        to_edge, offset = self._tooth_gaps(s_out, _TOOTH_EDGES)
        notch = 0.045 * np.exp(-((to_edge / 0.045) ** 2))
        # No two teeth alike: each a little longer or shorter, lighter or darker.
        own = _tooth_variation(offset, _TOOTH_EDGES)
        length = st.teeth * TEETH_LENGTH * (1.0 - 0.4 * across**2) * (1.0 + 0.5 * own) - notch
        below_lip = t - top
        cover = np.clip((length - below_lip) / (1.6 * px) + 0.5, 0.0, 1.0)
        cover *= smoothstep((gap - 0.06) / 0.2) * min(1.0, st.teeth * 2.5)
        line_w = max(0.02, 0.8 * px)
        # On a small face (a tooth a few pixels wide) the lines between teeth and the
        # shadow under the lip would cover most of each tooth: grey teeth. They fade out.
        detail = float(np.clip((0.1 - px) / 0.05, 0.0, 1.0))
        separation = 1.0 - 0.3 * detail * np.exp(-((to_edge / line_w) ** 2))
        # Shadowed under the upper lip, towards the mouth corners, and a little greyer
        # (translucent) along the biting edge.
        lip_shadow = 1.0 - (0.2 + 0.2 * detail) * (1.0 - smoothstep(below_lip / 0.16))
        edge = smoothstep((below_lip - 0.7 * length) / np.maximum(0.3 * length, 1e-3))
        # Each tooth is a little rounded: lighter across its face than at its sides.
        rounded = (0.86 + 0.14 * smoothstep(to_edge / 0.07)) * (1.0 + own)
        light = separation * rounded * lip_shadow * (1.0 - 0.6 * across**1.3) * (1.0 - 0.12 * edge)
        teeth = self.teeth * light[..., None]
        return colour + (teeth - colour) * cover[..., None]


def _tooth_variation(offset: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """A small fixed irregularity per tooth (about +-5%), from which tooth (counted from
    the middle, signed by side) the point at `offset` along the lips falls on."""
    index = np.searchsorted(edges, np.abs(offset)) * np.sign(offset)
    return (TOOTH_VARIATION * np.sin(2.7 * index + 0.9)).astype(np.float32)


def _saturation(rgb: np.ndarray) -> float:
    top = max(float(np.max(rgb)), 1.0)
    return (top - float(np.min(rgb))) / top


def _tint(warm: Sequence[float], amount: float) -> np.ndarray:
    """A warm RGB multiplier (or offset), pulled towards its own grey as `amount` -> 0."""
    warm_array = np.asarray(warm, np.float32)
    grey = float(warm_array @ np.array([0.299, 0.587, 0.114], np.float32))
    return (grey + (warm_array - grey) * amount).astype(np.float32)


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


def find_photo_teeth(image: np.ndarray, rig: MouthRig, lip: np.ndarray) -> _PhotoTeeth | None:
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
    teeth = tooth_pixels(pixels, lip)
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
