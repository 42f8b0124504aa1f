"""One animated face (`FaceRig`) and the compositor that turns rigs into frames: one
backward map over the moving region, one resampling of the photo, paint on top."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from engine.lipsync.faces import Face
from engine.lipsync.portrait.eyes import Blinks, EyeRig, visible_eyes
from engine.lipsync.portrait.geometry import (
    Box,
    clipped,
    invert_affine,
    pixel_grid,
    smoothstep,
    snap,
    upsample,
)
from engine.lipsync.portrait.head import HeadRig
from engine.lipsync.portrait.inputs import MouthFrame, PortraitStyle
from engine.lipsync.portrait.mouth_paint import MouthPainter, find_photo_teeth
from engine.lipsync.portrait.mouth_rig import MouthRig, MouthState

# Step of the coarse grid the head field is computed on (pixels).
HEAD_GRID = 8

# Motion fades out over this many face heights towards the photo's edges.
EDGE_FADE = 0.15


class FaceRig:
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
        self.mouth = MouthRig(face)
        self.painter = MouthPainter(image, face, self.mouth)
        teeth = find_photo_teeth(image, self.mouth, self.painter.lip)
        if teeth is not None:
            self.mouth.use_photo_teeth(teeth.start, teeth.length, teeth.s)
            self.painter.photo_teeth = teeth
        self.eyes = visible_eyes([EyeRig(face.left_eye()), EyeRig(face.right_eye())])
        for eye in self.eyes:
            eye.skin = self.painter.skin
        self.blinks = Blinks(blink_rng, style.blink_rate)
        self.head = HeadRig(face, head_rng)
        self.head_amount = float(style.head_motion * style.expressiveness)
        # Share of the jaw field this face may apply (a duet confines each face to its side).
        self.mouth_share: np.ndarray | None = None

    def pose(self, time: float, mouth: MouthFrame) -> np.ndarray:
        """Forward 2x3 head affine (still-head -> output pixels) at `time`."""
        speaking = clipped(mouth.speaking, 0.0, 1.0)
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
            self.painter.paint(frame, polygon, invert_affine(forward), st)
        closed = self.blinks.closed(time, exposure)
        for eye in self.eyes:
            eye.paint(frame, forward, closed)

    def feature_box(self) -> Box:
        box = self.mouth.box
        for eye in self.eyes:
            box = box.union(eye.box)
        return box


class _Buffers:
    """Work arrays reused from frame to frame.

    Fresh multi-megabyte arrays per frame are not free: large allocations are served by
    fresh, zeroed pages, and at 720p the page faults alone cost as much as the warp.
    (So an animator must not render two frames at once from two threads.)
    """

    def __init__(self, box: Box, rigs: Sequence[FaceRig]) -> None:
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


class Compositor:
    """Turns rigs into frames: one backward map over the moving region (head motion, then
    jaw and lids composed exactly on top), one remap of the photo through it, the mouths
    painted in, then the mask honoured."""

    def __init__(
        self,
        base: np.ndarray,
        rigs: list[FaceRig],
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
        self.ident_x, self.ident_y = pixel_grid(self.box)
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
        fade_x = smoothstep(across).astype(np.float32)
        fade_y = smoothstep(down).astype(np.float32)
        return np.ascontiguousarray(fade_y[:, None] * fade_x[None, :])

    def _mask_at(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray | None:
        if self._soft_mask is None:
            return None
        return cv2.remap(self._soft_mask, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def _prepare_head(self, territories: Sequence[Territory] | None) -> None:
        # The head field is smooth: computed on a coarse grid, upsampled per frame.
        self.coarse_box = snap(self.box, HEAD_GRID)
        cx, cy = pixel_grid(self.coarse_box, HEAD_GRID)
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
        backs = [invert_affine(forward) for forward in forwards]
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
        np.add(self.ident_x, upsample(dx, self.coarse_box, full[0])[:height, :width], out=map_x)
        np.add(self.ident_y, upsample(dy, self.coarse_box, full[1])[:height, :width], out=map_y)
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
        seam = self._seam_pixels(i, st, invert_affine(backs[i]))
        if seam is not None:
            # Still-head positions of the seam pixels, before the jaw overwrites them.
            rows, cols = seam
            head_x, head_y = map_x[rows, cols], map_y[rows, cols]
        # Upsample displacements, not positions: bilinear upsampling clamps at the
        # patch edge, which would shift the border pixels by a fraction of a step.
        gx, gy = rig.mouth.grid_x, rig.mouth.grid_y
        full = self._buffers.upsampled(patch)
        up_x = upsample(sx - gx, patch, full[0])[inner]
        up_y = upsample(sy - gy, patch, full[1])[inner]
        np.add(self.ident_x[target], up_x, out=map_x[target])
        np.add(self.ident_y[target], up_y, out=map_y[target])
        if seam is not None:
            self._exact_at(i, st, rows, cols, head_x, head_y, map_x, map_y)

    def _seam_pixels(
        self, i: int, st: MouthState, forward: np.ndarray
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
        st: MouthState,
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
            self._shares[i] = upsample(share, patch)
        patch = self.rigs[i].mouth.box
        return self._shares[i][ys - patch.y0, xs - patch.x0]

    def _apply_eye(self, eye: EyeRig, closed: float, map_x: np.ndarray, map_y: np.ndarray) -> None:
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
