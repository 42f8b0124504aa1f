"""What covers the speaker's mouth in each frame: hands, microphones, cups, hair.

Whatever is in front of the lower face must stay exactly as the source shows it; where
most of the mouth is hidden the frame is not dubbed at all (`confidence` fades it out).
Two detectors, combined per frame on the shape-free template grid (`skin_map`):

* **Hands** (MediaPipe Hands, shipped in the wheel) on a crop around the lower face:
  palm and fingers drawn as thick strokes through the 21 hand landmarks. The palm
  detector runs a few times a second while no hand is near, and the cheaper landmark
  tracker on every frame once one is.
* **Anything else**: every spot of the template has a usual look over the video (its
  median colour in Lab) and a usual spread; pixels far outside it, after the frame's
  overall lighting shift is taken out, belong to something that does not move with the
  face. Expressions and mouth shapes that come back often are part of the usual spread,
  so they are not flagged; the inside of the mouth (teeth, tongue, dark) is never judged
  by colour. A finger across the lips hides lip above and below the opening, so that
  column of the opening counts as hidden too.

Pass 1 writes each face's template picture (RGB plus the hand coverage, about 11 KB) to
a file in the job's folder, so memory stays flat for long videos; `find` reads it back
per speaker after pass 1 and keeps one packed bit per template pixel and frame.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from engine.lipsync.dubbing import skin_map as sm
from engine.lipsync.dubbing import tracking
from engine.lipsync.dubbing.tracking import eye_frame

# Score (deviation in units of the spot's usual spread, over the three Lab channels)
# above which a pixel is foreign.
FOREIGN_SCORE = 4.5
WEAK_SCORE = 2.8
# Usual spread: this percentile of the absolute deviation over the video (tolerates looks
# that come back in up to a quarter of the frames), never below the floor (Lab units, 0-255
# scale: lighting noise and compression).
_SPREAD_PERCENTILE = 75
_SPREAD_FLOOR = np.array([5.0, 3.0, 3.0], np.float32)
# A group of similar colours at a pixel counts as common from this share of the frames.
_MIN_GROUP = 0.2
# Lab distance from this person's skin and lip colours beyond which a colour is not theirs.
_UNLIKE_FACE = 30.0
# Between two skin-like groups, one this many times steadier than the other is the face.
_STEADIER = 1.5
# Frames sampled to learn the usual look, and the fewest worth learning from.
_REFERENCE_FRAMES = 240
_MIN_REFERENCE_FRAMES = 12
_CHUNK = 256
_BINS = 3
# Head turns (nose offset from the eyes' middle, eye distances) that change how the lower
# face looks in the template (the far cheek narrows, the nose hides the lip's far end):
# each speaker's usual look is learnt per step of turn.
_YAW_EDGES = np.array([-0.3, -0.18, -0.07, 0.07, 0.18, 0.3])
# How much more a pixel must stand out when judged against a look learnt from other mouth
# openings of the same turn, or from the whole video.
_OTHER_MOUTH_STRICTER, _OTHER_TURN_STRICTER = 1.2, 1.7
# Frames with more of the template covered than this are kept this long (s) away from
# the second round's learning.
_DIRTY_SHARE = 0.005
_CLEAR_S = 0.5
# Hands: looks per second while none is near; how long one keeps the tracker running.
_HAND_LOOKS_PER_S = 4.0  # at least, while nothing changes and no hand is near
# It also looks when this share of the skin beside the mouth changed by this much (RGB)
# since its last look: something large came in.
_HAND_CHANGE_SHARE, _HAND_CHANGE_STEP = 0.25, 30
_HAND_MEMORY_S = 1.0
_HAND_CROP = 256
_HAND_CROP_EYES = 3.4  # crop side in eye distances, centred under the nose
_FINGER_SHARE = 0.36  # finger thickness / knuckle span (index to little finger)
_HAND_MARGIN = 0.3  # extra width around fingers, in finger widths
_MIN_PALM_EYES = 0.9  # wrist to middle knuckle, in eye distances


# --- hands -----------------------------------------------------------------------------

_FINGERS = ((0, 1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20))
_PALM = (0, 1, 5, 9, 13, 17)


def draw_hand(mask: np.ndarray, landmarks: np.ndarray) -> None:
    """Fill (in place, 255) a hand given its 21 landmarks in `mask` pixels."""
    span = float(np.hypot(*(landmarks[5] - landmarks[17])))
    width = max(2.0, span * _FINGER_SHARE) * (1.0 + 2.0 * _HAND_MARGIN)
    thickness = max(2, round(width))
    scaled = np.round(landmarks * 4).astype(np.int32)
    cv2.fillConvexPoly(mask, cv2.convexHull(scaled[list(_PALM)]), 255, cv2.LINE_AA, shift=2)
    for finger in _FINGERS:
        for a, b in itertools.pairwise(finger):
            cv2.line(mask, tuple(scaled[a]), tuple(scaled[b]), 255, thickness, cv2.LINE_AA, 2)
        tip = tuple(scaled[finger[-1]])
        cv2.circle(mask, tip, round(width * 2), 255, -1, cv2.LINE_AA, 2)


class HandFinder:
    """Hands near one tracked face, as coverage (0..255) on the template grid."""

    def __init__(self, fps: float) -> None:
        import mediapipe as mp  # heavy import, only when a video is analysed

        self._hands = mp.solutions.hands.Hands(
            static_image_mode=False,
            max_num_hands=2,
            model_complexity=1,  # the lite model also "finds" hands in faces seen aside
            min_detection_confidence=0.5,
            min_tracking_confidence=0.5,
        )
        self._every = max(1, round(fps / _HAND_LOOKS_PER_S))
        self._memory = max(1, round(fps * _HAND_MEMORY_S))
        self._frame = -1
        self._last_seen = -(10**9)
        self._last_look = -(10**9)
        self._looked_at: np.ndarray | None = None

    def _changed(self, picture: np.ndarray) -> bool:
        if self._looked_at is None:
            return True
        skin = _skin_away_from_mouth()
        difference = np.abs(picture[skin].astype(np.int16) - self._looked_at[skin]).max(axis=-1)
        return float((difference > _HAND_CHANGE_STEP).mean()) > _HAND_CHANGE_SHARE

    def close(self) -> None:
        self._hands.close()

    def find(self, frame: np.ndarray, points: np.ndarray, picture: np.ndarray) -> np.ndarray:
        """Hands over the face whose landmarks are `points` and whose template picture
        (`skin_map.sample`) is `picture`, as template-grid coverage.

        The hand model is the costliest step of the analysis, so it runs on every frame
        only while a hand is near; otherwise a few times a second, and at once when much
        of the skin beside the mouth has changed since it last looked.
        """
        self._frame += 1
        near = self._frame - self._last_seen <= self._memory
        if not near and not self._changed(picture) and self._frame - self._last_look < self._every:
            return _NO_HAND
        self._last_look = self._frame
        self._looked_at = picture
        origin, axis, unit = eye_frame(points)
        down = np.array([-axis[1], axis[0]])
        centre = origin + down * unit * 0.75
        side = _HAND_CROP_EYES * unit
        scale = _HAND_CROP / side
        rot = np.array([axis, down]) * scale  # crop axes follow the face's roll
        shift = _HAND_CROP / 2 - rot @ centre
        to_crop = np.hstack([rot, shift[:, None]])
        crop = cv2.warpAffine(
            frame, to_crop, (_HAND_CROP, _HAND_CROP), flags=cv2.INTER_AREA,
            borderMode=cv2.BORDER_REPLICATE,
        )  # fmt: skip
        result: Any = self._hands.process(np.ascontiguousarray(crop))
        hands = getattr(result, "multi_hand_landmarks", None)
        if not hands:
            return _NO_HAND
        mask = np.zeros((_HAND_CROP, _HAND_CROP), np.uint8)
        eye_px = unit * scale
        for hand in hands:
            xy = np.array([(p.x, p.y) for p in hand.landmark], np.float32) * _HAND_CROP
            # A hand in front of a face is at least as near the camera as the face, so
            # its palm is at least about an eye distance long; smaller "hands" are
            # features of the face itself (an ear, a nostril seen aside).
            if np.hypot(*(xy[0] - xy[9])) < _MIN_PALM_EYES * eye_px:
                continue
            self._last_seen = self._frame
            draw_hand(mask, xy)
        if not mask.any():
            return _NO_HAND
        crop_points = points @ to_crop[:, :2].T + to_crop[:, 2]
        return sm.sample(mask, crop_points.astype(np.float32))


_NO_HAND = np.zeros((sm.HEIGHT, sm.WIDTH), np.uint8)


# --- the per-frame store ---------------------------------------------------------------


class TemplateStore:
    """Template pictures (RGB + hand coverage) appended to a file, read back as an array."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = open(path, "wb")  # noqa: SIM115 (closed in `close`)
        self.rows = 0

    def add(self, picture: np.ndarray, hand: np.ndarray) -> int:
        self._file.write(np.ascontiguousarray(np.dstack([picture, hand]), np.uint8).tobytes())
        self.rows += 1
        return self.rows - 1

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def read(self) -> np.ndarray:
        self.close()
        if self.rows == 0:
            return np.zeros((0, sm.HEIGHT, sm.WIDTH, 4), np.uint8)
        return np.memmap(self.path, np.uint8, "r", shape=(self.rows, sm.HEIGHT, sm.WIDTH, 4))

    def remove(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


# --- finding what does not belong ---------------------------------------------------------


@dataclass
class Occlusion:
    """Per source frame of the dubbed face: a packed template-grid mask of what covers it
    and the share of the mouth (lips and opening) left visible."""

    packed: dict[int, np.ndarray]  # frame -> np.packbits of the (H, W) bool mask
    visible: np.ndarray  # float32 per source frame, 1.0 where nothing covers the mouth
    # frames where something covers the face itself (not only the neck under the jaw)
    on_face: set[int] = field(default_factory=set)

    def mask(self, frame: int) -> np.ndarray | None:
        """The covered part of frame `frame` (float32 (H, W), 0..1), None if nothing."""
        bits = self.packed.get(frame)
        if bits is None:
            return None
        flat = np.unpackbits(bits, count=sm.HEIGHT * sm.WIDTH)
        return flat.reshape(sm.HEIGHT, sm.WIDTH).astype(np.float32)


def _lab(pictures: np.ndarray) -> np.ndarray:
    rgb = np.ascontiguousarray(pictures[..., :3]).reshape(-1, sm.WIDTH, 3)
    return (
        cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).reshape((*pictures.shape[:-1], 3)).astype(np.float32)
    )


@dataclass(frozen=True)
class _Usual:
    look: np.ndarray  # (H, W, 3) Lab
    spread: np.ndarray  # (H, W, 3)
    colours: np.ndarray  # (2, 3) Lab: this person's skin and lips
    # >1 where this look was learnt from other head turns or mouths than the frames it
    # judges (too few frames showed theirs): what stands out must stand out more.
    strictness: float = 1.0


def _usual(pictures: np.ndarray, rows: np.ndarray) -> _Usual | None:
    """The usual look of every template pixel over a sample of frames.

    Something in front of the face can sit at the same spot for much of a video (a
    microphone under the chin), so the usual look is not simply the median: each pixel's
    samples are split in two groups of similar colour, and where both are common (each at
    least `_MIN_GROUP` of the frames) and only one looks like this person's skin or lips,
    that one is taken as the face; otherwise the larger group.
    """
    if len(rows) < _MIN_REFERENCE_FRAMES:
        return None
    pick = rows[np.unique(np.linspace(0, len(rows) - 1, _REFERENCE_FRAMES).round().astype(int))]
    lab = _lab(np.asarray(pictures[np.sort(pick)]))
    zones = sm.zones()
    colours = np.stack(
        [np.median(lab[:, zones == zone, :].reshape(-1, 3), axis=0) for zone in (sm.SKIN, sm.LIP)]
    )
    lighting = _lighting(lab - np.median(lab, axis=0))
    lab = lab - lighting[:, None, None, :]
    face = _face_group(lab, colours)
    count = np.maximum(face.sum(axis=0), 1)
    look = (lab * face[..., None]).sum(axis=0) / count[..., None]
    spread = _member_percentile(np.abs(lab - look), face[..., None], _SPREAD_PERCENTILE)
    spread = np.where(np.isfinite(spread), spread, _SPREAD_FLOOR)
    return _Usual(
        look.astype(np.float32),
        np.maximum(spread, _SPREAD_FLOOR).astype(np.float32),
        colours.astype(np.float32),
    )


def _face_group(lab: np.ndarray, colours: np.ndarray, rounds: int = 5) -> np.ndarray:
    """(n, H, W) bool: per pixel, the samples of the group taken as the face (2-means).
    `colours` (k, 3) are this person's skin and lip colours (Lab)."""
    first = np.median(lab, axis=0)
    far = np.take_along_axis(
        lab, np.argmax(((lab - first) ** 2).sum(axis=-1), axis=0)[None, ..., None], axis=0
    )[0]
    centres = np.stack([first, far])  # (2, H, W, 3)
    nearer_second = np.zeros(lab.shape[:-1], bool)
    for _ in range(rounds):
        # (Channel by channel: a long video's samples times two centres would otherwise
        # make temporaries of a hundred megabytes.)
        nearer_second = _squared_distance(lab, centres[1]) < _squared_distance(lab, centres[0])
        for k, members in enumerate((~nearer_second, nearer_second)):
            count = members.sum(axis=0)
            weights = members.astype(np.float32)
            total = np.stack(
                [np.einsum("nhw,nhw->hw", lab[..., c], weights) for c in range(3)], axis=-1
            )
            centres[k] = np.where(
                count[..., None] > 0, total / np.maximum(count, 1)[..., None], centres[k]
            )
    share = nearer_second.mean(axis=0)
    both_common = (share >= _MIN_GROUP) & (share <= 1.0 - _MIN_GROUP)
    # A group unlike both the skin and the lips is something else; if only one of two
    # common groups is, the other is the face. Otherwise the larger group is.
    unlike = [
        np.sqrt(((c[..., None, :] - colours) ** 2).sum(axis=-1)).min(axis=-1) > _UNLIKE_FACE
        for c in centres
    ]
    second_is_face = unlike[0] & ~unlike[1]
    first_is_face = unlike[1] & ~unlike[0]
    by_colour = second_is_face | first_is_face
    # Both look like skin: the face is the steadier group (skin seen through the same
    # spot stays the same; a hand moving over it shows nails, knuckles, edges, shadows).
    spread = [_group_spread(lab, members, centre) for members, centre in
              ((~nearer_second, centres[0]), (nearer_second, centres[1]))]  # fmt: skip
    steadier_second = spread[1] * _STEADIER < spread[0]
    steadier_first = spread[0] * _STEADIER < spread[1]
    by_spread = ~by_colour & (steadier_second | steadier_first)
    take_second = np.where(
        both_common & by_colour,
        second_is_face,
        np.where(both_common & by_spread, steadier_second, share > 0.5),
    )
    return np.where(take_second[None], nearer_second, ~nearer_second)


def _gap_bins(gaps: np.ndarray) -> np.ndarray:
    """0, 1, 2 for the least, middle and most open thirds of a speaker's mouths."""
    if len(gaps) < 3 * _MIN_REFERENCE_FRAMES:
        return np.zeros(len(gaps), np.int64)
    edges = np.percentile(gaps, [100 / 3, 200 / 3])
    return np.searchsorted(edges, gaps).astype(np.int64)


def _pose_bins(yaws: np.ndarray) -> np.ndarray:
    """Which way the head is turned, in a few steps (see `_YAW_EDGES`)."""
    return np.searchsorted(_YAW_EDGES, np.nan_to_num(yaws)).astype(np.int64)


def _lighting(deviation: np.ndarray) -> np.ndarray:
    """Per frame and Lab channel, the overall shift of the skin (lighting, white balance)."""
    skin = sm.zones() == sm.SKIN
    return np.median(deviation[:, skin, :], axis=1)


_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
_DISK = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
# Template pixels: the margin around the lips, and how many pixels of skin beyond it a
# found piece must cover.
_MOUTH_MARGIN = 3
_NECK_STRICTER = 1.4
_NECK_REACH = 11  # template pixels (about a third of an eye distance)
_JUDGE_NECK = False
_MIN_FREE_PIXELS = 4
# A found piece this large (template pixels) needs no confirmation from its neighbours.
_LARGE_PIECE = 25
# Lab lightness steps (per pixel) by which a frame's edge must beat the usual look's,
# how many such pixels a skin-coloured piece needs, and the share of unlike-the-face
# colour that spares a piece that test.
_NEW_EDGE = 6.0
_MIN_EDGE_PIXELS = 6
_UNLIKE_SHARE = 0.3


def _foreign(lab: np.ndarray, usual: _Usual) -> np.ndarray:
    """(n, H, W) bool: what does not belong to the face.

    Hysteresis: clear outliers (specks removed) seed regions that grow through pixels that
    are merely unusual, so a finger whose middle is close to the skin's colour is found
    whole from its edges and shadows. A piece is kept if it reaches skin away from the
    lips (a finger comes from a hand, a microphone from its handle; what stays on and
    around the lips is the mouth in a rarer shape, a scream), and, unless much of it is
    unlike this person's skin and lips, if it shows edges the face never has there (the
    outline of a finger; an expression only shades the skin anew).
    """
    deviation = lab - usual.look
    deviation -= _lighting(deviation)[:, None, None, :]
    score = np.sqrt(np.sum((deviation / usual.spread) ** 2, axis=-1)) / usual.strictness
    judged, free = _judged_zones()
    # The neck shows collars and background as the head turns: it takes more to stand out.
    score = np.where(sm.zones() == sm.NECK, score / _NECK_STRICTER, score)
    strong = (score > FOREIGN_SCORE) & judged
    weak = ((score > WEAK_SCORE) & judged).astype(np.uint8)
    unlike = _unlike(lab, usual.colours)
    edges = _gradient(lab[..., 0]) > _gradient(usual.look[None, ..., 0]) + _NEW_EDGE
    out = np.zeros_like(strong)
    for i in range(len(out)):
        seeds = cv2.morphologyEx(strong[i].astype(np.uint8), cv2.MORPH_OPEN, _CROSS) > 0
        if not seeds.any():
            continue
        grown = cv2.morphologyEx(weak[i] | seeds, cv2.MORPH_CLOSE, _CROSS)
        # Face and neck pieces are told apart: the neck must not lend a rare mouth shape
        # the "reach" it lacks.
        grown = np.where(_face_region(), grown, 0) | np.where(_face_region(), 0, grown) * 2
        count, labels = _pieces(grown)
        size = np.maximum(np.bincount(labels.ravel(), minlength=count), 1)
        keep = np.zeros(count, bool)
        keep[np.unique(labels[seeds])] = True
        in_neck = np.bincount(labels[~_face_region()], minlength=count) > 0
        keep &= (np.bincount(labels[free], minlength=count) >= _MIN_FREE_PIXELS) | in_neck
        foreign_colour = np.bincount(labels[unlike[i]], minlength=count) / size >= _UNLIKE_SHARE
        edged = np.bincount(labels[edges[i] & (grown > 0)], minlength=count) >= _MIN_EDGE_PIXELS
        # On the face, what is not skin-coloured or draws new edges; under the jaw, where
        # collars and the background behind a turning head come and go, only a
        # skin-coloured thing with edges of its own: a hand holding the chin.
        keep &= np.where(in_neck, ~foreign_colour & edged, foreign_colour | edged)
        keep[0] = False
        out[i] = _solid(keep[labels])
    return out


def _pieces(parts: np.ndarray) -> tuple[int, np.ndarray]:
    """Connected pieces of a mask whose values (1, 2) say which part each pixel is in;
    a piece never spans two parts. Returns (count, labels) like cv2.connectedComponents."""
    labels = np.zeros(parts.shape, np.int32)
    count = 1
    for value in (1, 2):
        n, part = cv2.connectedComponents((parts == value).astype(np.uint8), connectivity=8)
        labels[part > 0] = part[part > 0] + count - 1
        count += n - 1
    return count, labels


def _unlike(lab: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """(..., H, W) bool: colours far from all of this person's (skin, lips)."""
    distance = np.sqrt(((lab[..., None, :] - colours) ** 2).sum(axis=-1)).min(axis=-1)
    return distance > _UNLIKE_FACE


def _gradient(luma: np.ndarray) -> np.ndarray:
    """Gradient magnitude of (n, H, W) or (1, H, W) lightness (Lab units per pixel)."""
    out = np.empty(luma.shape, np.float32)
    for i, image in enumerate(luma.astype(np.float32)):
        gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3) / 8.0
        gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3) / 8.0
        out[i] = np.hypot(gx, gy)
    return out


@cache
def _skin_away_from_mouth() -> np.ndarray:
    """Template skin not next to the lips: it changes when something comes in front of
    the face, not when the person talks."""
    zones = sm.zones()
    mouth = ((zones == sm.LIP) | (zones == sm.INSIDE)).astype(np.uint8)
    near = cv2.dilate(mouth, np.ones((9, 9), np.uint8)) > 0
    return (zones == sm.SKIN) & ~near


@cache
def _face_region() -> np.ndarray:
    """The face pixels a dub paints (its blend region, a little grown)."""
    zones = sm.zones()
    region = np.zeros_like(zones)
    ring = [sm.TEMPLATE[i] for i in tracking.MOUTH_REGION_TOP + tracking.JAW_REGION]
    corners = np.round(sm.grid_xy(np.array(ring, np.float32)) * 4).astype(np.int32)
    cv2.fillPoly(region, [corners], 1, shift=2)
    grown = cv2.dilate(region, _DISK) > 0
    return grown & (zones != sm.OUTSIDE) & (zones != sm.NECK)


@cache
def _dub_region() -> np.ndarray:
    """The template pixels a dub can change: the face it paints and the neck under the
    jaw it drags. What covers the face elsewhere does not matter to it."""
    return _face_region() | (sm.zones() == sm.NECK)


@cache
def _judged_zones() -> tuple[np.ndarray, np.ndarray]:
    """Where colour is judged (skin and lips of the region a dub paints, and the neck),
    and where a piece must reach to be kept: the face's skin away from the mouth, or the
    neck (what is found there is kept apart from the face, see `_solid`)."""
    zones = sm.zones()
    judged = (zones == sm.SKIN) | (zones == sm.LIP) | (zones == sm.NECK) * _JUDGE_NECK
    judged &= _dub_region()
    mouth = ((zones == sm.LIP) | (zones == sm.INSIDE)).astype(np.uint8)
    kernel = cv2.getStructuringElement(
        cv2.MORPH_ELLIPSE, (2 * _MOUTH_MARGIN + 1, 2 * _MOUTH_MARGIN + 1)
    )
    near_mouth = cv2.dilate(mouth, kernel) > 0
    return judged, judged & (zones == sm.SKIN) & ~near_mouth


def _solid(mask: np.ndarray) -> np.ndarray:
    """Each piece found, filled out to its convex hull: an object in front of the face is
    solid, and the highlights of a microphone's grille or the middle of a finger that
    happens to match the skin are still part of it. (Between spread fingers this keeps a
    little skin as it was, which is the safe side.) The face and the neck under it are
    filled separately: a collar the head turns over must not grow into the chin."""
    out = np.zeros(mask.shape, np.uint8)
    for part in (_face_region(), ~_face_region()):
        piece_mask = (mask & part).astype(np.uint8)
        count, labels = cv2.connectedComponents(piece_mask, connectivity=8)
        for piece in range(1, count):
            ys, xs = np.nonzero(labels == piece)
            if len(xs) >= 3:
                hull = cv2.convexHull(np.stack([xs, ys], axis=1).astype(np.int32))
                filled = np.zeros_like(out)
                cv2.fillConvexPoly(filled, hull, 1)
                out |= filled & part.astype(np.uint8)
        out |= piece_mask
    return out > 0


def _steady(foreign: np.ndarray) -> np.ndarray:
    """Keep what is also foreign near the same place in a neighbouring frame, or large:
    an object in front of the face lasts, a flicker of compression or a glint does not
    (and a hand's first frame over the face is large enough to keep on its own)."""
    grown = np.stack([cv2.dilate(f.astype(np.uint8), _DISK) > 0 for f in foreign])
    before = np.concatenate([grown[:1], grown[:-1]])
    after = np.concatenate([grown[1:], grown[-1:]])
    out = foreign & (before | after)
    for i, mask in enumerate(foreign):
        if not mask.any() or (out[i] == mask).all():
            continue
        count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
        large = np.bincount(labels.ravel(), minlength=count) >= _LARGE_PIECE
        large[0] = False
        out[i] |= large[labels]
    return out


@dataclass(frozen=True)
class _MouthColumns:
    """For each grid column, the lip pixels above and below the opening."""

    above: np.ndarray  # (H, W) bool
    below: np.ndarray
    inside: np.ndarray
    mouth: np.ndarray  # lips or opening


def _mouth_columns() -> _MouthColumns:
    zones = sm.zones()
    inside = zones == sm.INSIDE
    lip = zones == sm.LIP
    rows = np.arange(sm.HEIGHT)[:, None]
    has = inside.any(axis=0)
    middle = np.where(has, (rows * inside).sum(axis=0) / np.maximum(inside.sum(axis=0), 1), 0)
    return _MouthColumns(
        above=lip & (rows < middle[None, :]) & has[None, :],
        below=lip & (rows > middle[None, :]) & has[None, :],
        inside=inside,
        mouth=lip | inside,
    )


def _complete(covered: np.ndarray, mouth: _MouthColumns) -> np.ndarray:
    """Add the opening's columns whose lip above and below are both covered."""
    above = (covered & mouth.above).any(axis=0)
    below = (covered & mouth.below).any(axis=0)
    both = np.convolve((above & below).astype(np.float32), np.ones(3), "same") > 0
    return covered | (mouth.inside & both[None, :])


def find(
    pictures: np.ndarray,
    rows: list[int],
    speaker: list[int],
    gaps: np.ndarray,
    fps: float,
    yaws: np.ndarray | None = None,
) -> Occlusion:
    """Occlusion of every dubbed frame. `rows[j]` is the store row of the dubbed face in
    source frame `j` (-1: none), `speaker[j]` its speaker, `gaps[j]` how open its mouth
    is and `yaws[j]` how far the head is turned. Each speaker learns their own usual
    look, separately for closed, half-open and open mouths (an open mouth stretches the
    lips and shades the chin) and for each step of head turn, falling back to all mouths
    of that turn, then to all frames, where too few frames show a combination. It learns
    in two rounds: the second only from frames well away (`_CLEAR_S`) from anything the
    first found, so a hand that lingers near the mouth does not teach the face its look."""
    n = len(rows)
    visible = np.ones(n, np.float32)
    packed: dict[int, np.ndarray] = {}
    on_face: set[int] = set()
    mouth = _mouth_columns()
    mouth_pixels = max(int(mouth.mouth.sum()), 1)
    frames_of: dict[int, list[int]] = {}
    for j, (row, who) in enumerate(zip(rows, speaker, strict=True)):
        if row >= 0 and who >= 0:
            frames_of.setdefault(who, []).append(j)
    clear = max(1, round(_CLEAR_S * fps))
    for frames in frames_of.values():
        frame_rows = np.array([rows[j] for j in frames])
        pose = _pose_bins(np.zeros(len(frames)) if yaws is None else np.asarray(yaws)[frames])
        mouth_bin = pose * _BINS + _gap_bins(np.asarray(gaps)[frames])
        usual = _usuals(pictures, frame_rows, mouth_bin)
        found = _detect(pictures, frame_rows, mouth_bin, usual)
        dirty = np.array([m is not None and m.mean() > _DIRTY_SHARE for m in found])
        if dirty.any():
            near = np.convolve(dirty.astype(float), np.ones(2 * clear + 1), "same") > 0
            if (~near).sum() >= 3 * _MIN_REFERENCE_FRAMES:
                keep = ~near
                again = _usuals(pictures, frame_rows[keep], mouth_bin[keep])
                usual = {b: again.get(b) or usual[b] for b in usual}
                found = _detect(pictures, frame_rows, mouth_bin, usual)
        found = _bridge(found)
        for k, covered in enumerate(found):
            if covered is None:
                continue
            mask = cv2.dilate(covered.astype(np.uint8), _CROSS) > 0
            mask = _below_the_jaw(_complete(mask, mouth)) & _dub_region()
            if not mask.any():
                continue
            j = frames[k]
            packed[j] = np.packbits(mask.reshape(-1))
            visible[j] = 1.0 - float((mask & mouth.mouth).sum()) / mouth_pixels
            if (mask & _face_region()).any():
                on_face.add(j)
    return Occlusion(packed, visible, on_face)


def _below_the_jaw(mask: np.ndarray) -> np.ndarray:
    """What covers the chin goes on under it: a hand on the chin holds it from below, a
    microphone's handle runs down. The neck within reach of anything found on the face
    is kept as it is too (the neck itself is not judged: collars and background)."""
    on_face = (mask & _face_region()).astype(np.uint8)
    if not on_face.any():
        return mask
    reach = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * _NECK_REACH + 1,) * 2)
    return mask | ((cv2.dilate(on_face, reach) > 0) & (sm.zones() == sm.NECK))


def _bridge(found: list[np.ndarray | None]) -> list[np.ndarray | None]:
    """A frame missed between two frames where something covers the face gets what both
    neighbours agree on: things in front of a face do not vanish for one frame."""
    out = list(found)
    for k in range(1, len(found) - 1):
        before, after = found[k - 1], found[k + 1]
        if before is None or after is None:
            continue
        both = (cv2.dilate(before.astype(np.uint8), _DISK) > 0) & (
            cv2.dilate(after.astype(np.uint8), _DISK) > 0
        )
        current = found[k]
        out[k] = both if current is None else current | both
    return out


def _squared_distance(lab: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """(n, H, W) squared Lab distance of each sample from a per-pixel centre."""
    out = np.square(lab[..., 0] - centre[..., 0])
    for c in (1, 2):
        out += np.square(lab[..., c] - centre[..., c])
    return out


def _group_spread(lab: np.ndarray, members: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Per pixel, the median distance of a group's samples from its centre (inf if empty)."""
    distance = np.abs(lab - centre[None]).sum(axis=-1)
    return _member_percentile(distance, members, 50)


def _member_percentile(values: np.ndarray, members: np.ndarray, q: float) -> np.ndarray:
    """Per element of values[0], the q-th percentile (nearest rank) of `values` along axis
    0 over the samples where `members` is true; inf where none is. (Vectorised: numpy's
    nanpercentile loops over pixels in Python.)"""
    members = np.broadcast_to(members, values.shape)
    ordered = np.sort(np.where(members, values, np.inf), axis=0)
    count = members.sum(axis=0)
    rank = np.clip(np.round(q / 100.0 * (count - 1)), 0, None).astype(np.int64)
    out = np.take_along_axis(ordered, rank[None], axis=0)[0]
    return np.where(count > 0, out, np.inf)


def _usuals(
    pictures: np.ndarray, rows: np.ndarray, look_bin: np.ndarray
) -> dict[int, _Usual | None]:
    """The usual look for each (turn, mouth) bin present, with the fallbacks of `find`."""
    everyone = _stricter(_usual(pictures, rows), _OTHER_TURN_STRICTER)
    by_pose: dict[int, _Usual | None] = {}
    out: dict[int, _Usual | None] = {}
    for b in np.unique(look_bin).tolist():
        pose = b // _BINS
        if pose not in by_pose:
            own_turn = _usual(pictures, rows[look_bin // _BINS == pose])
            by_pose[pose] = _stricter(own_turn, _OTHER_MOUTH_STRICTER) or everyone
        out[b] = _usual(pictures, rows[look_bin == b]) or by_pose[pose]
    return out


def _stricter(usual: _Usual | None, factor: float) -> _Usual | None:
    return None if usual is None else dataclasses.replace(usual, strictness=factor)


def _detect(
    pictures: np.ndarray, rows: np.ndarray, mouth_bin: np.ndarray, usual: dict[int, _Usual | None]
) -> list[np.ndarray | None]:
    """Per frame (in `rows` order): the (H, W) bool mask of what covers it, or None."""
    out: list[np.ndarray | None] = []
    for start in range(0, len(rows), _CHUNK):
        # One frame of overlap each side, for `_steady`.
        lo, hi = max(0, start - 1), min(len(rows), start + _CHUNK + 1)
        chunk = np.asarray(pictures[rows[lo:hi]])
        hands = chunk[..., 3] > 127
        covered = np.zeros_like(hands)
        lab = _lab(chunk)
        bins = mouth_bin[lo:hi]
        for b in np.unique(bins).tolist():
            reference = usual.get(b)
            if reference is not None:
                covered[bins == b] = _foreign(lab[bins == b], reference)
        covered = _steady(covered) | hands
        for k in range(start - lo, start - lo + min(_CHUNK, len(rows) - start)):
            out.append(covered[k] if covered[k].any() else None)
    return out
