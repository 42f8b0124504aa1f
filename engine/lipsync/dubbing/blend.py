"""Put a chosen mouth into a frame: reshape it if needed, align, match colour, blend.

Everything happens in the small canonical patch (see `mouth_atlas`) and touches the frame
only through one affine warp into the bounding box of the lower face:

* `reshape` is the warping fallback. It opens or closes the patch's lips by the residual
  between the chosen mouth and the wanted one (a source that never opens its mouth, a
  speaker whose lips are never shut): the lower lip and the skin under it move down (or
  up), the upper lip a little up, each fading out within the lower face. An opening keeps
  the patch's own mouth inside under each lip and paints the new space between as a dark
  cavity coloured from the person's lips (with upper teeth where there was no inside);
  a closing for p/b/m presses the lips slightly together.
* `blend` aligns the patch to the frame with a similarity fitted on skull-fixed landmarks
  (eye corners and nose, which do not move when the jaw does), moves the frame's jaw so
  its chin meets the patch's (`follow_jaw`), matches the patch's colour and lighting to
  the frame (mean and spread in Lab over a ring of skin just around the region), and
  blends it through a feathered mask over the union of the two lower faces (the frame's
  own and the patch's, so the frame's open mouth is fully covered by a closed one and vice
  versa). Outside the lower face and outside the user's mask the frame is left
  bit-for-bit as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.lipsync import faces as fm
from engine.lipsync.dubbing.atlas import PatchFrame, apply, invert, measure
from engine.lipsync.dubbing.tracking import (
    JAW_REGION,
    LIPS,
    MOUTH_REGION_TOP,
    STABLE,
    columns,
    eye_frame,
)
from engine.lipsync.teeth import tooth_pixels

_STABLE = columns(STABLE)
_REGION_TOP = columns(MOUTH_REGION_TOP)
_REGION_JAW = columns(JAW_REGION)
_LIPS = columns(LIPS)
_JAW = columns(fm.JAW_LINE)
_EYES = columns((33, 263))
_UPPER_INNER = columns(fm.UPPER_INNER_LIP)
_LOWER_INNER = columns(fm.LOWER_INNER_LIP)
_UPPER_OUTER = columns(fm.UPPER_OUTER_LIP)
_LOWER_OUTER = columns(fm.LOWER_OUTER_LIP)
_LOWER_MOVERS = columns(
    tuple(dict.fromkeys(fm.LOWER_INNER_LIP[1:-1] + fm.LOWER_OUTER_LIP[1:-1] + JAW_REGION))
)
_MOUTH_MIDDLE = columns((13, 14))
# Mouths open at least this much (canonical units) are searched for teeth, and this many
# tooth pixels over all of them make a colour worth using.
_TOOTH_MIN_GAP, _TOOTH_MIN_PIXELS = 0.08, 40

# Lengths in canonical units (eye distances).
FEATHER = 0.05  # blur of the blend mask's edge
_RING = (0.04, 0.16)  # skin ring around the region used to match colour
_INSIDE_JAW = 0.04  # share of the way from the jaw line to the mouth the region stops
_UPPER_SHARE = 0.25  # share of an opening taken by the upper lip
_UPPER_REACH = 0.22  # the upper lip's lift fades out over this (about the nose base)
_LIP_THICKNESS = 0.12  # under the lower lip's edge the skin moves rigidly this far ...
_LOWER_REACH = 0.45  # ... then fades out over this
_MIN_SHIFT_PX = 0.4  # smaller reshapes are not worth a resample
_TOP_BAND = 0.6  # share of an opened mouth's own inside that stays under the upper lip
_PRESS = 0.03  # how far shut lips overlap (canonical units)
# The frame's jaw follows the pasted mouth's chin: rigidly from this share of the way from
# the lips to the chin (inside the pasted region), fading out this far under the chin and
# beside the jaw (canonical units), like a real jaw dragging the skin of the neck.
_JAW_RIGID_FROM = 0.6
_NECK_REACH = 0.4
_SIDE_REACH = 0.3
_MAX_JAW_SHIFT = 0.4


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares rotation + uniform scale + shift taking src points to dst (Umeyama)."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - mu_s, dst - mu_d
    u, sigma, vt = np.linalg.svd(d.T @ s / len(src))
    sign = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rot = u @ sign @ vt
    scale = float(np.trace(np.diag(sigma) @ sign)) / max(float((s**2).sum() / len(src)), 1e-12)
    shift = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, shift[:, None]])


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _lip_line(points: np.ndarray, cols: list[int], xs: np.ndarray) -> np.ndarray:
    line = points[cols]
    order = np.argsort(line[:, 0])
    return np.interp(xs, line[order, 0], line[order, 1]).astype(np.float32)


@dataclass(frozen=True)
class Cover:
    """What covers the face (a hand, a microphone): 0..1 per frame pixel inside `box`
    (x0, y0, x1, y1); where it is 1 the frame is left exactly as it is."""

    mask: np.ndarray
    box: tuple[int, int, int, int]

    def keep(self, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """1 - coverage over the frame region (x0, y0)-(x1, y1) (1 outside the box)."""
        out = np.ones((y1 - y0, x1 - x0), np.float32)
        bx0, by0, bx1, by1 = self.box
        ix0, iy0, ix1, iy1 = max(x0, bx0), max(y0, by0), min(x1, bx1), min(y1, by1)
        if ix1 > ix0 and iy1 > iy0:
            part = self.mask[iy0 - by0 : iy1 - by0, ix0 - bx0 : ix1 - bx0]
            out[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0] = 1.0 - part
        return out


@dataclass(frozen=True)
class Reshaped:
    patch: np.ndarray
    points: np.ndarray


def reshape(
    patch: np.ndarray,
    points: np.ndarray,
    frame: PatchFrame,
    gap: float,
    closed: float = 0.0,
    teeth: float = 0.0,
    tooth: np.ndarray | None = None,
) -> Reshaped:
    """Open or close the patch's mouth to an inner-lip gap of `gap` canonical units.

    `closed` is the gap landmarks show for shut lips: closing aims at it as "touching",
    so a mouth closed for a p/b/m is closed all the way, with no sliver of teeth left
    between the lips. Opening keeps the top of the mouth's own inside (the upper teeth
    hang from the skull) and its bottom (lower teeth, tongue) as they are and paints a
    dark cavity between them, instead of stretching teeth into long smears. Where the
    patch had no inside at all (closed lips), upper teeth are painted in as the track's
    `teeth` (0..1) asks.
    """
    r = float(frame.resolution)
    current = measure(points).gap
    delta = (gap - current) * r
    if abs(delta) < _MIN_SHIFT_PX:
        return Reshaped(patch, points)
    height, width = patch.shape[:2]
    xs = np.arange(width, dtype=np.float32)
    upper = _lip_line(points, _UPPER_INNER, xs)
    lower = np.maximum(_lip_line(points, _LOWER_INNER, xs), upper)
    own = lower - upper
    left, right = points[_UPPER_INNER[0], 0], points[_UPPER_INNER[-1], 0]
    mid, half = (left + right) / 2.0, max((right - left) / 2.0, 2.0)
    profile = np.clip(1.0 - ((xs - mid) / half) ** 2, 0.0, 1.0) ** 0.6
    if delta > 0:
        change = delta * profile
    else:
        keep = float(np.clip((gap - closed) / max(current - closed, 1e-6), 0.0, 1.0))
        # Closing all the way presses the lips together a little (they overlap), so no
        # seam of teeth is left where they meet.
        press = _PRESS * r * profile * (1.0 - keep) ** 2
        change = -own * (1.0 - keep) - press
    up_move = -_UPPER_SHARE * change  # negative: the upper lip goes up
    down_move = (1.0 - _UPPER_SHARE) * change
    new_upper, new_lower = upper + up_move, lower + down_move
    ys = np.arange(height, dtype=np.float32)[:, None]
    above = _smoothstep(1.0 - (upper[None, :] - ys) / (_UPPER_REACH * r))
    src_above = ys - up_move[None, :] * above
    below = 1.0 - _smoothstep((ys - new_lower[None, :] - _LIP_THICKNESS * r) / (_LOWER_REACH * r))
    src_below = ys - down_move[None, :] * below
    if delta > 0:
        # Unstretched bands of the own inside under the upper lip and over the lower one,
        # the new space between them (`extra`) to be painted.
        extra = np.maximum(new_lower - new_upper - own, 0.0)[None, :]
        top_band = (_TOP_BAND * own)[None, :]
        depth = ys - new_upper[None, :]
        src_inside = upper[None, :] + np.where(
            depth <= top_band, depth, np.maximum(depth - extra, top_band)
        )
    else:
        span = np.maximum(new_lower - new_upper, 1e-3)[None, :]
        frac = np.clip((ys - new_upper[None, :]) / span, 0.0, 1.0)
        src_inside = upper[None, :] + frac * own[None, :]
    map_y = np.where(
        ys <= new_upper[None, :],
        src_above,
        np.where(ys >= new_lower[None, :], src_below, src_inside),
    ).astype(np.float32)
    map_x = np.broadcast_to(xs[None, :], map_y.shape).astype(np.float32)
    out = cv2.remap(patch, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if delta > 0:
        top = new_upper + _TOP_BAND * own
        bottom = top + np.maximum(new_lower - new_upper - own, 0.0)
        if float((bottom - top).max()) > 0.5:
            bare = float(np.median(own[own > 0])) if np.any(own > 0) else 0.0
            _paint_cavity(out, points, top, bottom, teeth if bare < 1.5 else 0.0, tooth)
    moved = points.copy()
    upper_lip = _UPPER_INNER + _UPPER_OUTER[1:-1]
    xi = np.clip(np.round(moved[upper_lip, 0]).astype(int), 0, width - 1)
    moved[upper_lip, 1] += up_move[xi]
    xi = np.clip(np.round(moved[_LOWER_MOVERS, 0]).astype(int), 0, width - 1)
    yi = moved[_LOWER_MOVERS, 1]
    fade = 1.0 - _smoothstep((yi - new_lower[xi] - _LIP_THICKNESS * r) / (_LOWER_REACH * r)) * (
        yi > new_lower[xi]
    )
    moved[_LOWER_MOVERS, 1] += down_move[xi] * fade
    return Reshaped(out, moved.astype(np.float32))


def _paint_cavity(
    out: np.ndarray,
    points: np.ndarray,
    top: np.ndarray,
    bottom: np.ndarray,
    teeth: float,
    tooth: np.ndarray | None = None,
) -> None:
    """Fill the band between `top` and `bottom` (per column) with a mouth interior: dark
    red from the person's lips, darker in the middle, soft at its edges; with `teeth`, a
    row of upper teeth under the upper lip, in the colour of the person's own teeth where
    the video shows them (`tooth`), else lit and tinted like their skin."""
    height, width = out.shape[:2]
    lips = np.zeros((height, width), np.uint8)
    outer = np.concatenate([points[_UPPER_OUTER], points[_LOWER_OUTER][::-1]])
    cv2.fillPoly(lips, [np.round(outer).astype(np.int32)], 255)
    pixels = out[lips > 0]
    lip = np.median(pixels, axis=0) if len(pixels) > 4 else np.array([150, 80, 80], np.float32)
    cavity = np.asarray(lip, np.float32) * np.array([0.32, 0.2, 0.2], np.float32) + 6.0
    ys = np.arange(height, dtype=np.float32)[:, None]
    span = np.maximum(bottom - top, 1e-3)[None, :]
    depth = np.clip(np.minimum(ys - top[None, :], bottom[None, :] - ys) / (0.5 * span), 0, 1)
    # How much of each pixel row [y - 0.5, y + 0.5] the band covers (antialiased edges,
    # and nothing at all where the band has no height).
    cover = np.clip(
        np.minimum(ys + 0.5, bottom[None, :]) - np.maximum(ys - 0.5, top[None, :]), 0.0, 1.0
    )
    colour = cavity[None, None, :] * (1.0 - 0.5 * depth)[:, :, None]
    if teeth > 0.05:
        colour = _with_teeth(colour, out, points, top, span[0], ys, teeth, tooth)
    a = cover[:, :, None]
    out[:] = np.clip(out * (1.0 - a) + colour * a + 0.5, 0, 255).astype(np.uint8)


def _with_teeth(
    colour: np.ndarray,
    patch: np.ndarray,
    points: np.ndarray,
    top: np.ndarray,
    span: np.ndarray,
    ys: np.ndarray,
    teeth: float,
    tooth: np.ndarray | None = None,
) -> np.ndarray:
    """Upper teeth hanging from the upper lip: a light band, shorter and shadowed towards
    the mouth corners, in `tooth` colour, or coloured like the portrait renderer's
    (skin-lit, never glowing) when the video never shows this person's teeth."""
    if tooth is None:
        skin = np.median(patch[: max(2, patch.shape[0] // 8)].reshape(-1, 3), axis=0)
        luma = float(skin.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))
        light = float(np.clip(luma / 175.0, 0.5, 0.95))
        cast = np.clip(skin / max(luma, 1.0), 0.5, 2.0) ** 0.3
        tooth = np.clip(np.array([228, 222, 204], np.float32) * cast * light, 0, 250)
    left, right = points[_UPPER_INNER[0], 0], points[_UPPER_INNER[-1], 0]
    xs = np.arange(colour.shape[1], dtype=np.float32)
    across = np.clip(np.abs(xs - (left + right) / 2) / max((right - left) / 2, 1.0), 0, 1)
    length = (teeth * 0.35 * span * (1.0 - 0.5 * across**2))[None, :]
    below = ys - top[None, :]
    cover = np.clip(length - below + 0.5, 0.0, 1.0) * (below > -0.5)
    shade = (0.7 + 0.3 * np.clip(below / np.maximum(length, 1e-3), 0, 1)) * (1.0 - 0.5 * across**2)
    teeth_colour = tooth[None, None, :] * shade[:, :, None]
    return colour + (teeth_colour - colour) * cover[:, :, None]


def own_tooth_colour(entries: list) -> np.ndarray | None:
    """The colour of this person's teeth where the video shows them: the median of the
    tooth-like pixels inside the open mouths of their atlas (None if too few)."""
    found = []
    for entry in entries:
        if entry.shape.gap < _TOOTH_MIN_GAP:
            continue
        patch, points = entry.patch, entry.points
        lips = np.zeros(patch.shape[:2], np.uint8)
        inside = np.zeros_like(lips)
        outer = np.concatenate([points[_UPPER_OUTER], points[_LOWER_OUTER][::-1]])
        inner = np.concatenate([points[_UPPER_INNER], points[_LOWER_INNER][::-1]])
        cv2.fillPoly(lips, [np.round(outer).astype(np.int32)], 1)
        cv2.fillPoly(inside, [np.round(inner).astype(np.int32)], 1)
        lip_pixels = patch[(lips > 0) & (inside == 0)].astype(np.float32)
        if len(lip_pixels) < 8:
            continue
        pixels = patch[inside > 0].astype(np.float32)
        found.append(pixels[tooth_pixels(pixels, np.median(lip_pixels, axis=0))])
    teeth = np.concatenate(found) if found else np.zeros((0, 3), np.float32)
    if len(teeth) < _TOOTH_MIN_PIXELS:
        return None
    return np.median(teeth, axis=0).astype(np.float32)


def region_polygon(points: np.ndarray) -> np.ndarray:
    """The lower face a mouth is pasted over: under the nose, the cheeks beside the mouth
    and the jaw down to the chin, kept `_INSIDE_JAW` of the way inside the face outline
    so that what is pasted never carries the background beside or under the face."""
    mouth = points[_MOUTH_MIDDLE].mean(axis=0)
    jaw = mouth + (points[_REGION_JAW] - mouth) * (1.0 - _INSIDE_JAW)
    return np.concatenate([points[_REGION_TOP], jaw]).astype(np.float32)


def region_alpha(
    patch_points: np.ndarray, frame_points: np.ndarray, frame: PatchFrame, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """(blend weight, colour ring) in patch pixels: the union of both lower faces,
    feathered inwards so the weight is exactly 0 outside it; and a ring of skin just
    outside it, inside the jaw line, for measuring colour."""
    width, height = size
    r = float(frame.resolution)
    union = np.zeros((height, width), np.uint8)
    for pts in (patch_points, frame_points):
        polygon = np.round(region_polygon(pts) * 4).astype(np.int32)
        cv2.fillPoly(union, [polygon], 255, lineType=cv2.LINE_AA, shift=2)
        lips = cv2.convexHull(np.round(pts[_LIPS] * 4).astype(np.int32))
        cv2.fillConvexPoly(union, lips, 255, lineType=cv2.LINE_AA, shift=2)
    union = (union > 127).astype(np.uint8)
    sigma = max(FEATHER * r, 0.8)
    inset = int(np.ceil(2.5 * sigma))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * inset + 1, 2 * inset + 1))
    # Outside the patch counts as outside the region, so the weight fades out before
    # the patch's edge instead of stopping hard at it.
    core = cv2.erode(union, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    core = core.astype(np.float32)
    alpha = cv2.GaussianBlur(core, (0, 0), sigma) * union
    alpha[alpha < 0.01] = 0.0
    inner = _dilate(union, _RING[0] * r)
    outer = _dilate(union, _RING[1] * r)
    face = np.zeros_like(union)
    jaw = frame_points[_JAW]
    brow = frame_points[_EYES][::-1]
    cv2.fillPoly(face, [np.round(np.concatenate([jaw, brow])).astype(np.int32)], 1)
    ring = (outer > 0) & (inner == 0) & (face > 0)
    return alpha, ring


def _dilate(mask: np.ndarray, radius: float) -> np.ndarray:
    k = max(1, round(radius))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    return cv2.dilate(mask, kernel)


def blend(
    image: np.ndarray,
    patch: np.ndarray,
    patch_points: np.ndarray,
    frame: PatchFrame,
    image_points: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    match_colour: bool = True,
    strength: float = 1.0,
    cover: Cover | None = None,
) -> None:
    """Blend `patch` (a canonical mouth patch with its landmarks) into `image` in place,
    aligned to the face whose `KEY_POINTS` landmarks are `image_points`, at `strength`
    (0..1; the fade of `confidence`) and never where `cover` covers the face."""
    to_image = similarity(patch_points[_STABLE], image_points[_STABLE])
    to_patch = invert(to_image)
    jaw = apply(to_image, patch_points[_REGION_JAW])
    follow_jaw(image, image_points, jaw, mask, strength=strength, cover=cover)
    height, width = patch.shape[:2]
    alpha, ring = region_alpha(patch_points, apply(to_patch, image_points), frame, (width, height))
    if not np.any(alpha > 0):
        return
    ys, xs = np.nonzero((alpha > 0) | ring)
    x_lo, x_hi, y_lo, y_hi = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    corners = np.array([[x_lo, y_lo], [x_hi, y_lo], [x_lo, y_hi], [x_hi, y_hi]], np.float32)
    placed = apply(to_image, corners)
    img_h, img_w = image.shape[:2]
    x0 = max(int(np.floor(placed[:, 0].min())) - 2, 0)
    y0 = max(int(np.floor(placed[:, 1].min())) - 2, 0)
    x1 = min(int(np.ceil(placed[:, 0].max())) + 3, img_w)
    y1 = min(int(np.ceil(placed[:, 1].max())) + 3, img_h)
    if x1 <= x0 or y1 <= y0:
        return
    local = to_image.copy()
    local[:, 2] -= (x0, y0)
    size = (x1 - x0, y1 - y0)
    layers = np.dstack([patch.astype(np.float32), alpha, ring.astype(np.float32)])
    warped = cv2.warpAffine(
        layers, local, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    region = image[y0:y1, x0:x1]
    colour = warped[:, :, :3]
    weight = warped[:, :, 3] * strength
    ring = warped[:, :, 4] > 0.5
    if cover is not None:
        keep = cover.keep(x0, y0, x1, y1)
        weight *= keep
        ring &= keep > 0.99
    weight[weight < 0.01] = 0.0
    if match_colour:
        colour = _match_colour(colour, region, ring, weight)
    if mask is not None:
        weight = weight * mask[y0:y1, x0:x1]
    a = weight[:, :, None]
    mixed = region.astype(np.float32) + (colour - region) * a
    changed = weight > 0
    region[changed] = np.clip(mixed[changed] + 0.5, 0, 255).astype(np.uint8)


def _match_colour(
    colour: np.ndarray, region: np.ndarray, ring: np.ndarray, weight: np.ndarray
) -> np.ndarray:
    """Give the pasted mouth the frame's lighting: per Lab channel, map the patch's mean
    and spread on the ring of skin around the region onto the frame's."""
    if int(ring.sum()) < 24:
        return colour
    patch_lab = cv2.cvtColor(np.clip(colour, 0, 255).astype(np.uint8), cv2.COLOR_RGB2LAB)
    frame_lab = cv2.cvtColor(np.ascontiguousarray(region), cv2.COLOR_RGB2LAB)
    p = patch_lab[ring].astype(np.float32)
    f = frame_lab[ring].astype(np.float32)
    gain = np.clip(f.std(axis=0) / np.maximum(p.std(axis=0), 1.0), 0.8, 1.25)
    shift = f.mean(axis=0) - p.mean(axis=0) * gain
    if np.all(np.abs(f.mean(axis=0) - p.mean(axis=0)) < 0.5) and np.all(np.abs(gain - 1) < 0.01):
        return colour
    lab = patch_lab.astype(np.float32) * gain + shift
    matched = cv2.cvtColor(np.clip(lab + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
    return matched.astype(np.float32)


def follow_jaw(
    image: np.ndarray,
    points: np.ndarray,
    jaw: np.ndarray,
    mask: np.ndarray | None,
    *,
    strength: float = 1.0,
    cover: Cover | None = None,
) -> None:
    """Move the frame's lower jaw line (in place) onto `jaw` (where the pasted mouth has
    the `JAW_REGION` points), dragging the chin and the top of the neck with it, so a mouth
    pasted from a frame with the jaw higher or lower does not leave the frame's own chin or
    jaw edge showing beside or under it.

    The jaw hinges, so each column moves along the face's down axis only, by the amount
    the jaw line above it moves (interpolated along the jaw); nothing moves at the mouth's
    height, everything from `_JAW_RIGID_FROM` of the way down to the jaw line moves fully,
    and the drag fades out over `_NECK_REACH` below the moved jaw line and `_SIDE_REACH`
    beside the face outline.
    """
    origin, axis, unit = eye_frame(points)
    down = np.array([-axis[1], axis[0]])
    lower = points[_REGION_JAW].astype(np.float64)
    lower_s = (lower - origin) @ axis
    lower_t = (lower - origin) @ down
    shifts = (np.asarray(jaw, np.float64) - lower) @ down
    limit = _MAX_JAW_SHIFT * unit
    if np.abs(shifts).max() < 0.3 or np.abs(shifts).max() > limit:
        return
    order = np.argsort(lower_s)
    lower_s, lower_t, shifts = lower_s[order], lower_t[order], shifts[order]
    mouth = points[_MOUTH_MIDDLE].mean(axis=0)
    t_mouth = float((mouth - origin) @ down)
    jaw_s = (points[_JAW] - origin) @ axis
    jaw_t = (points[_JAW] - origin) @ down
    s_jaw = float(np.abs(jaw_s).max())
    reach, side = _NECK_REACH * unit, _SIDE_REACH * unit
    t_bottom = float(lower_t.max() + max(shifts.max(), 0.0))
    # Output pixels that can move: the jaw's box, down to where the neck stops moving.
    corners = np.array(
        [
            origin + axis * sx + down * tt
            for sx in (-s_jaw - side, s_jaw + side)
            for tt in (t_mouth, t_bottom + reach)
        ]
    )
    height, width = image.shape[:2]
    x0 = max(int(np.floor(corners[:, 0].min())), 0)
    y0 = max(int(np.floor(corners[:, 1].min())), 0)
    x1 = min(int(np.ceil(corners[:, 0].max())) + 1, width)
    y1 = min(int(np.ceil(corners[:, 1].max())) + 1, height)
    if x1 <= x0 or y1 <= y0:
        return
    xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
    s_px = (xs - origin[0]) * axis[0] + (ys - origin[1]) * axis[1]
    t_px = (xs - origin[0]) * down[0] + (ys - origin[1]) * down[1]
    shift = np.interp(s_px, lower_s, shifts).astype(np.float32)
    t_line = np.interp(s_px, lower_s, lower_t).astype(np.float32)
    t_rigid = t_mouth + _JAW_RIGID_FROM * np.maximum(t_line - t_mouth, 1.0)
    rise = _smoothstep((t_px - t_mouth) / np.maximum(t_rigid - t_mouth, 1e-3))
    fall = 1.0 - _smoothstep((t_px - t_line - np.maximum(shift, 0.0)) / reach)
    # Sideways the drag follows the jaw outline at each height (wide at the jaw's angle,
    # narrow at the chin), so the background beside the face stays where it is.
    outline = np.where(
        s_px < 0, _outline(jaw_s, jaw_t, t_px, left=True), _outline(jaw_s, jaw_t, t_px, left=False)
    )
    sideways = 1.0 - _smoothstep((np.abs(s_px) - outline) / side)
    weight = (rise * fall * sideways * shift * strength).astype(np.float32)
    if cover is not None:
        # Pixels near what covers the face do not move either: they would sample it.
        reach_px = int(np.ceil(float(np.abs(weight).max()))) + 1
        kernel = np.ones((2 * reach_px + 1, 2 * reach_px + 1), np.uint8)
        keep = cv2.erode(cover.keep(x0, y0, x1, y1), kernel, borderValue=1.0)
        weight *= cv2.GaussianBlur(keep, (0, 0), max(reach_px / 2.0, 0.5))
    if mask is not None:
        soft = cv2.GaussianBlur(mask[y0:y1, x0:x1].astype(np.float32), (0, 0), max(reach / 3, 1))
        weight *= soft
    map_x = (xs - down[0] * weight).astype(np.float32)
    map_y = (ys - down[1] * weight).astype(np.float32)
    region = image[y0:y1, x0:x1]
    moved = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    changed = np.abs(weight) > 1e-3
    if mask is not None:
        hard = mask[y0:y1, x0:x1]
        mixed = region + (moved.astype(np.float32) - region) * hard[:, :, None]
        moved = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
        changed &= hard > 0
    region[changed] = moved[changed]


def _outline(jaw_s: np.ndarray, jaw_t: np.ndarray, t: np.ndarray, *, left: bool) -> np.ndarray:
    """Distance from the nose line to one side of the jaw line at heights `t`."""
    side = jaw_s <= 0 if left else jaw_s >= 0
    if not side.any():  # a head turned so far that the jaw line is all on one side
        return np.zeros_like(t, np.float32)
    order = np.argsort(jaw_t[side])
    heights, widths = jaw_t[side][order], np.abs(jaw_s[side])[order]
    return np.interp(t, heights, widths).astype(np.float32)
