"""The usual look of a speaker's lower face, learnt from the video itself, and what
departs from it: the "anything else" detector of `occlusion` (microphones, cups, hair, a
hand the hand model missed).

Kept apart from `occlusion` because it is a model of its own: it learns, per speaker,
per step of head turn and per mouth opening, each template pixel's usual colour (Lab) and
usual spread (`usuals`), and judges each frame's pixels against it (`foreign`). `occlusion`
decides which frames it learns from and combines what it finds with the hands (`hands`).
It also holds the template regions a dub paints (`face_region`, `dub_region`), which both
the judging here and the combining in `occlusion` are limited to.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from engine.lipsync.dubbing import skin_map as sm
from engine.lipsync.dubbing import tracking

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
MIN_REFERENCE_FRAMES = 12
BINS = 3
# Head turns (nose offset from the eyes' middle, eye distances) that change how the lower
# face looks in the template (the far cheek narrows, the nose hides the lip's far end):
# each speaker's usual look is learnt per step of turn.
_YAW_EDGES = np.array([-0.3, -0.18, -0.07, 0.07, 0.18, 0.3])
# How much more a pixel must stand out when judged against a look learnt from other mouth
# openings of the same turn, or from the whole video.
_OTHER_MOUTH_STRICTER, _OTHER_TURN_STRICTER = 1.2, 1.7


# --- learning the usual look -------------------------------------------------------------


def to_lab(pictures: np.ndarray) -> np.ndarray:
    rgb = np.ascontiguousarray(pictures[..., :3]).reshape(-1, sm.WIDTH, 3)
    return (
        cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).reshape((*pictures.shape[:-1], 3)).astype(np.float32)
    )


@dataclass(frozen=True)
class Usual:
    look: np.ndarray  # (H, W, 3) Lab
    spread: np.ndarray  # (H, W, 3)
    colours: np.ndarray  # (2, 3) Lab: this person's skin and lips
    # >1 where this look was learnt from other head turns or mouths than the frames it
    # judges (too few frames showed theirs): what stands out must stand out more.
    strictness: float = 1.0


def _usual(pictures: np.ndarray, rows: np.ndarray) -> Usual | None:
    """The usual look of every template pixel over a sample of frames.

    Something in front of the face can sit at the same spot for much of a video (a
    microphone under the chin), so the usual look is not simply the median: each pixel's
    samples are split in two groups of similar colour, and where both are common (each at
    least `_MIN_GROUP` of the frames) and only one looks like this person's skin or lips,
    that one is taken as the face; otherwise the larger group.
    """
    if len(rows) < MIN_REFERENCE_FRAMES:
        return None
    pick = rows[np.unique(np.linspace(0, len(rows) - 1, _REFERENCE_FRAMES).round().astype(int))]
    lab = to_lab(np.asarray(pictures[np.sort(pick)]))
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
    return Usual(
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


def gap_bins(gaps: np.ndarray) -> np.ndarray:
    """0, 1, 2 for the least, middle and most open thirds of a speaker's mouths."""
    if len(gaps) < 3 * MIN_REFERENCE_FRAMES:
        return np.zeros(len(gaps), np.int64)
    edges = np.percentile(gaps, [100 / 3, 200 / 3])
    return np.searchsorted(edges, gaps).astype(np.int64)


def pose_bins(yaws: np.ndarray) -> np.ndarray:
    """Which way the head is turned, in a few steps (see `_YAW_EDGES`)."""
    return np.searchsorted(_YAW_EDGES, np.nan_to_num(yaws)).astype(np.int64)


def _lighting(deviation: np.ndarray) -> np.ndarray:
    """Per frame and Lab channel, the overall shift of the skin (lighting, white balance)."""
    skin = sm.zones() == sm.SKIN
    return np.median(deviation[:, skin, :], axis=1)


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


def usuals(pictures: np.ndarray, rows: np.ndarray, look_bin: np.ndarray) -> dict[int, Usual | None]:
    """The usual look for each (turn, mouth) bin present, with the fallbacks of `occlusion.find`."""
    everyone = _stricter(_usual(pictures, rows), _OTHER_TURN_STRICTER)
    by_pose: dict[int, Usual | None] = {}
    out: dict[int, Usual | None] = {}
    for b in np.unique(look_bin).tolist():
        pose = b // BINS
        if pose not in by_pose:
            own_turn = _usual(pictures, rows[look_bin // BINS == pose])
            by_pose[pose] = _stricter(own_turn, _OTHER_MOUTH_STRICTER) or everyone
        out[b] = _usual(pictures, rows[look_bin == b]) or by_pose[pose]
    return out


def _stricter(usual: Usual | None, factor: float) -> Usual | None:
    return None if usual is None else dataclasses.replace(usual, strictness=factor)


# --- judging a frame against it ----------------------------------------------------------


CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
DISK = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
# Template pixels: the margin around the lips, and how many pixels of skin beyond it a
# found piece must cover.
_MOUTH_MARGIN = 3
_NECK_STRICTER = 1.4
_JUDGE_NECK = False
_MIN_FREE_PIXELS = 4
# Lab lightness steps (per pixel) by which a frame's edge must beat the usual look's,
# how many such pixels a skin-coloured piece needs, and the share of unlike-the-face
# colour that spares a piece that test.
_NEW_EDGE = 6.0
_MIN_EDGE_PIXELS = 6
_UNLIKE_SHARE = 0.3


def foreign(lab: np.ndarray, usual: Usual) -> np.ndarray:
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
        seeds = cv2.morphologyEx(strong[i].astype(np.uint8), cv2.MORPH_OPEN, CROSS) > 0
        if not seeds.any():
            continue
        grown = cv2.morphologyEx(weak[i] | seeds, cv2.MORPH_CLOSE, CROSS)
        # Face and neck pieces are told apart: the neck must not lend a rare mouth shape
        # the "reach" it lacks.
        grown = np.where(face_region(), grown, 0) | np.where(face_region(), 0, grown) * 2
        count, labels = _pieces(grown)
        size = np.maximum(np.bincount(labels.ravel(), minlength=count), 1)
        keep = np.zeros(count, bool)
        keep[np.unique(labels[seeds])] = True
        in_neck = np.bincount(labels[~face_region()], minlength=count) > 0
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
def face_region() -> np.ndarray:
    """The face pixels a dub paints (its blend region, a little grown)."""
    zones = sm.zones()
    region = np.zeros_like(zones)
    ring = [sm.TEMPLATE[i] for i in tracking.MOUTH_REGION_TOP + tracking.JAW_REGION]
    corners = np.round(sm.grid_xy(np.array(ring, np.float32)) * 4).astype(np.int32)
    cv2.fillPoly(region, [corners], 1, shift=2)
    grown = cv2.dilate(region, DISK) > 0
    return grown & (zones != sm.OUTSIDE) & (zones != sm.NECK)


@cache
def dub_region() -> np.ndarray:
    """The template pixels a dub can change: the face it paints and the neck under the
    jaw it drags. What covers the face elsewhere does not matter to it."""
    return face_region() | (sm.zones() == sm.NECK)


@cache
def _judged_zones() -> tuple[np.ndarray, np.ndarray]:
    """Where colour is judged (skin and lips of the region a dub paints, and the neck),
    and where a piece must reach to be kept: the face's skin away from the mouth, or the
    neck (what is found there is kept apart from the face, see `_solid`)."""
    zones = sm.zones()
    judged = (zones == sm.SKIN) | (zones == sm.LIP) | (zones == sm.NECK) * _JUDGE_NECK
    judged &= dub_region()
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
    for part in (face_region(), ~face_region()):
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
