"""Blinks: the lid skin above each eye stretched down over it, on a seeded schedule."""

from __future__ import annotations

import cv2
import numpy as np

from engine.lipsync import faces as fm
from engine.lipsync.portrait.geometry import Box, ease, invert_affine, smoothstep, sorted_profile

# Eyelid: height of the lid-skin band stretched over the eye, in eye-opening heights.
LID_BAND = 0.7

# A closed lid's mean colour moves this far towards the cheeks' skin colour times
# LID_SHADE (eye sockets are a little darker than cheeks).
LID_TONE, LID_SHADE = 0.5, 0.9
# The painted lid: how much it covers the stretched skin, how much of that skin's detail
# it keeps, its bulge over the eyeball (lighter across the middle) and its shadow towards
# the lashes (shares of its colour).
LID_OPACITY, LID_DETAIL, LID_FADE_IN = 0.85, 0.6, 0.45
LID_BULGE, LID_MARGIN_SHADE = 0.06, 0.18
# The lash line: width in eye-opening heights, how dark (share of the lid's colour), and
# how opaque.
LASH_WIDTH, LASH_TONE, LASH_OPACITY = 0.12, 0.3, 0.75

# In a head turned well to the side (60 degrees and more) the far eye hides behind the
# nose: its landmarks, narrower than this share of the near eye's, are a guess drawn on
# the bridge of the nose, where a blink would paint a lash line on the skin.
HIDDEN_EYE_SHARE = 0.4

# Blink timing (seconds): closing, fully closed, opening.
BLINK_CLOSE, BLINK_HOLD, BLINK_OPEN = 0.07, 0.04, 0.12


class EyeRig:
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
        self.up_profile, self.lo_profile = sorted_profile(up), sorted_profile(lo)
        gap = lo[:, 1] - np.interp(lo[:, 0], *self.up_profile)
        self.opening = max(float(gap.max()), 1.0)
        self.band = LID_BAND * self.opening
        top = float(up[:, 1].min()) - self.band - 2
        bottom = float(lo[:, 1].max()) + 0.3 * self.opening + 2
        u0, u1 = -length / 2 - 2, length / 2 + 2
        quad = np.array([[u0, top], [u1, top], [u0, bottom], [u1, bottom]])
        xy = self.origin + quad[:, :1] * ex + quad[:, 1:] * self.ey
        self.box = Box.around(xy).grow(1)
        self.half_length = length / 2.0

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
        v_src = anchor + span * (x - (1.0 - ratio) * ease(x))
        dv = np.where((v > anchor) & (v < lid), v_src - v, 0.0).astype(np.float32)
        map_x += dv * np.float32(self.ey[0])
        map_y += dv * np.float32(self.ey[1])

    def paint(self, frame: np.ndarray, forward: np.ndarray, closed: float) -> None:
        """Draw the lid over the part of the eye it now covers (in place, output pixels).

        The warp has already slid the lid skin down, but that skin is a thin band
        stretched over the whole eye, so on its own it reads as a smear. A real closed lid
        is a smooth, lit bulge over the eyeball ending in a dark line of lashes: the
        covered part is repainted in the lid's own colour, shaded like a bulge (a little
        lighter across its middle, darker towards the lashes), keeping a trace of the
        stretched texture, and a lash line is drawn along the moving margin.
        """
        if closed < 0.05:
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
        inverse = invert_affine(forward)
        xs, ys = np.meshgrid(
            np.arange(box.x0, box.x1, dtype=np.float32),
            np.arange(box.y0, box.y1, dtype=np.float32),
        )
        hx = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
        hy = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]
        u, v = self._grid_uv(hx, hy)
        up, lo = self._lids(u)
        lid = self.lid_v(up, lo, closed)
        covered = np.maximum(lid - up, 1e-3)
        soft = max(0.6, 0.08 * self.opening)
        # The covered part of the eye: from the lid's resting line down to its margin.
        cover = np.clip((v - up + soft) / soft, 0, 1) * np.clip((lid - v) / soft + 0.5, 0, 1)
        across = np.clip(np.abs(u) / max(self.half_length, 1.0), 0.0, 1.0)
        inside_eye = (np.abs(u) < self.half_length).astype(np.float32)
        cover *= inside_eye
        lash_width = max(0.9, LASH_WIDTH * self.opening)
        # The lashes: a dark line along the margin, thickest in the middle of the lid,
        # hanging a little below it; visible once the lid has moved down a little.
        below_margin = v - lid
        lash = np.clip(1.0 - np.abs(below_margin - 0.2 * lash_width) / lash_width, 0.0, 1.0)
        lash *= (1.0 - across**2) ** 1.5 * inside_eye * float(smoothstep((closed - 0.05) / 0.3))
        if not (np.any(cover > 0.01) or np.any(lash > 0.01)):
            return
        region = frame[box.slices()]
        pixels = region.astype(np.float32)
        x = np.clip((v - up) / covered, 0.0, 1.0)
        bulge = 1.0 + LID_BULGE * np.sin(np.pi * np.clip(x * 1.1, 0, 1)) * (1.0 - across**2)
        shade = bulge * (1.0 - LID_MARGIN_SHADE * smoothstep((x - 0.7) / 0.3))
        base = self._lid_colour(pixels, cover)
        # A trace of the stretched skin's own detail (high-pass, weakened), no streaks.
        detail = pixels - cv2.GaussianBlur(pixels, (0, 0), max(1.0, 0.15 * self.opening))
        painted = base[None, None, :] * shade[..., None] + LID_DETAIL * detail
        # Into the stretched skin above gradually: the lid has no edge where it folds.
        a = (LID_OPACITY * cover * smoothstep(x / LID_FADE_IN))[..., None]
        out = pixels * (1.0 - a) + painted * a
        lash_colour = base * LASH_TONE
        out = out + (lash_colour[None, None, :] - out) * (LASH_OPACITY * lash)[..., None]
        region[:] = np.clip(out + 0.5, 0, 255).astype(np.uint8)

    def _lid_colour(self, pixels: np.ndarray, cover: np.ndarray) -> np.ndarray:
        """The closed lid's colour: the stretched lid skin's, moved part of the way to
        the face's skin (in a deep-set eye the lid band is the shadowed fold under the
        brow, which stretched over the eye would make a grey patch; a closed lid catches
        the light like the skin around it)."""
        inside = cover > 0.5
        if np.any(inside):
            lid = np.median(pixels[inside], axis=0)
        else:
            lid = self.skin if self.skin is not None else np.full(3, 160.0, np.float32)
        if self.skin is None:
            return lid.astype(np.float32)
        return (lid + LID_TONE * (self.skin * LID_SHADE - lid)).astype(np.float32)


def visible_eyes(eyes: list[EyeRig]) -> list[EyeRig]:
    """The eyes a blink should move: all but one hidden behind the nose."""
    widest = max(eye.half_length for eye in eyes)
    return [eye for eye in eyes if eye.half_length >= HIDDEN_EYE_SHARE * widest]


class Blinks:
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
            return float(smoothstep(b / BLINK_CLOSE))
        if a >= end:
            return 0.0
        return float(1.0 - smoothstep((a - full1) / BLINK_OPEN))
