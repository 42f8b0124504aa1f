"""An atlas of one speaker's real mouth images, and the choice of one for every output frame.

Video Rewrite's insight: the best-looking mouth for a new sound is one this person really
made somewhere else in the same video. So pass 1 cuts, from every frame, the lower face
in a *canonical mouth frame* (origin on the nose line, x along the eyes, one unit = the
distance between the eye centres, which all move with the skull and not with the jaw) and
measures the mouth there: the inner-lip gap and the corner-to-corner width, plus the head
pose, since a mouth seen from the side fits only a head turned the same way.

Memory stays bounded whatever the video's length: entries are binned by (gap, width, yaw,
pitch) and each bin keeps only its sharpest patch, at most `MAX_ENTRIES` per speaker.

Choosing (`choose`) is a Viterbi search over the atlas plus one extra state, *self* (the
frame's own mouth, left alone or warped): every frame pays for how far the entry's shape is
from the wanted one (what the residual warp must fix), for a head pose unlike the frame's,
and every change of entry pays a jump cost that grows with how different the two patches
look, so the mouth does not flicker between look-alikes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from engine.lipsync import faces as fm
from engine.lipsync.dubbing.tracking import columns, eye_frame, pose

# The patch: canonical box (eye-distance units, y down from the nose line) and resolution.
BOX_X = (-0.95, 0.95)
BOX_Y = (0.05, 1.6)
# Pixels per canonical unit: the face's own eye distance, within these bounds. Patches
# smaller than the face would blur it; larger ones would only cost memory.
MIN_RESOLUTION, MAX_RESOLUTION = 40, 128
MAX_ENTRIES = 200
_MIN_CALIBRATION_FRAMES = 10
# Bin sizes (canonical units) that decide when two mouths count as the same shape.
_GAP_BIN, _WIDTH_BIN, _YAW_BIN, _PITCH_BIN = 0.03, 0.04, 0.06, 0.08

_INNER_PAIRS = ((82, 87), (13, 14), (312, 317), (81, 178), (311, 402))
_PAIR_COLUMNS = [(columns((a,))[0], columns((b,))[0]) for a, b in _INNER_PAIRS]
_CORNERS = columns((fm.MOUTH_LEFT_CORNER, fm.MOUTH_RIGHT_CORNER))
_THUMB = (24, 16)


def canonical_matrix(points: np.ndarray) -> np.ndarray:
    """2x3 affine taking frame pixels to canonical units for this face."""
    origin, axis, distance = eye_frame(points)
    rot = np.array([[axis[0], axis[1]], [-axis[1], axis[0]]]) / distance
    return np.hstack([rot, (-rot @ origin)[:, None]])


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return (points @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def invert(matrix: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(np.asarray(matrix, np.float64))


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The affine `outer(inner(p))`."""
    a = np.vstack([outer, [0.0, 0.0, 1.0]])
    b = np.vstack([inner, [0.0, 0.0, 1.0]])
    return (a @ b)[:2]


@dataclass(frozen=True)
class Shape:
    """A mouth measured in canonical units (from landmarks)."""

    gap: float  # inner-lip opening in the middle of the mouth
    width: float  # corner to corner
    yaw: float
    pitch: float


def measure(points: np.ndarray) -> Shape:
    """Shape of the mouth in `KEY_POINTS` landmarks (any pixel frame)."""
    _, _, distance = eye_frame(points)
    gaps = [np.hypot(*(points[b] - points[a])) for a, b in _PAIR_COLUMNS]
    width = np.hypot(*(points[_CORNERS[1]] - points[_CORNERS[0]]))
    head = pose(points)
    return Shape(
        gap=float(np.mean(gaps)) / distance,
        width=float(width) / distance,
        yaw=head.yaw,
        pitch=head.pitch,
    )


@dataclass(frozen=True)
class PatchFrame:
    """Where canonical units land in a patch: p_patch = (p_canonical - corner) * resolution."""

    resolution: int

    @property
    def size(self) -> tuple[int, int]:
        return (
            round((BOX_X[1] - BOX_X[0]) * self.resolution),
            round((BOX_Y[1] - BOX_Y[0]) * self.resolution),
        )

    @property
    def from_canonical(self) -> np.ndarray:
        r = float(self.resolution)
        return np.array([[r, 0.0, -BOX_X[0] * r], [0.0, r, -BOX_Y[0] * r]])

    @property
    def to_canonical(self) -> np.ndarray:
        return invert(self.from_canonical)

    @staticmethod
    def for_face(points: np.ndarray) -> PatchFrame:
        _, _, distance = eye_frame(points)
        return PatchFrame(int(np.clip(round(distance), MIN_RESOLUTION, MAX_RESOLUTION)))

    def cut(self, frame: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The canonical patch of `frame` around this face and its landmarks in patch pixels."""
        matrix = compose(self.from_canonical, canonical_matrix(points))
        patch = cv2.warpAffine(
            frame, matrix, self.size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        return patch, apply(matrix, points)


@dataclass
class Entry:
    """One real mouth: its patch, its landmarks (patch pixels) and its measured shape."""

    patch: np.ndarray
    points: np.ndarray
    shape: Shape
    sharpness: float
    thumb: np.ndarray
    frame: int


def _sharpness(patch: np.ndarray) -> float:
    grey = cv2.cvtColor(patch, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def _thumb(patch: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(patch, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, _THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)
    return (small - small.mean()) / 255.0


@dataclass(frozen=True)
class Calibration:
    """How this speaker's measured mouths map to the mouth track's 0..1 / -1..1 scale.

    `rest` and `shut` differ for people whose lips stay apart when they are silent (a
    smile showing teeth): silence shows their own resting mouth, while a p/b/m in speech
    must still press the lips together, by warping if the source never does.
    """

    rest: float  # the speaker's own most-closed mouth (gap, canonical units)
    shut: float  # the gap landmarks show for lips that touch
    full: float  # gap added by open = 1
    width: float  # neutral corner-to-corner width
    opens: bool  # whether the source itself shows open mouths (else warping opens it)
    shuts: bool  # whether the source itself shows shut lips (else warping shuts them)

    def wanted(
        self, open_: np.ndarray, width: np.ndarray, speaking: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Track values -> (gap, width) in canonical units."""
        opening = np.clip(open_, 0.0, 1.3)
        # Near a closure in speech (the track dips to 0) the lips go from the speaker's
        # resting mouth to shut; elsewhere the track opens the mouth from its rest.
        x = np.clip((opening - CLOSED_BELOW) / _SHUT_FADE, 0.0, 1.0)
        shut = talking(speaking) * (1.0 - x * x * (3.0 - 2.0 * x))
        gap = self.rest + (self.shut - self.rest) * shut + opening * self.full
        spread = np.where(width >= 0, 0.12, 0.2) * np.clip(width, -1.2, 1.2)
        return gap.astype(np.float32), (self.width * (1.0 + spread)).astype(np.float32)


def talking(speaking: np.ndarray) -> np.ndarray:
    """0 in silence .. 1 in speech, from the track's smoothed voice activity (which ramps
    over a fraction of a second, so a p/b/m that starts an utterance already counts)."""
    return np.clip(np.asarray(speaking, np.float32) * 3.0, 0.0, 1.0)


# A calm speaker still opens at least this much on open=1, in half mouth widths: what the
# portrait renderer opens to (about 0.4 eye distances or 0.15 face heights, a clearly open
# "ah"), so a dub reads as well as a talking portrait; the warp supplies what the source
# lacks.
MIN_FULL_OPEN = 0.95
# The widest mouths a speaker makes are open vowels, which the mouth track opens to about
# this much (its wide-open viseme), so that is what the source's widest gap stands for.
_WIDEST_TRACK_OPEN = 0.85
# A source whose 98th-percentile gap is below this never really opens its mouth.
_OPENS_ABOVE = 0.12
# Lips that touch measure at most this (landmark noise); a speaker whose most-closed
# mouth measures more than `_SHUTS_BELOW` never shuts their lips in the source.
SHUT_GAP = 0.02
_SHUTS_BELOW = 0.04
# Track openness over which a speaker who rests with parted lips goes from shut (at
# `CLOSED_BELOW` and under) to their resting mouth.
_SHUT_FADE = 0.15


def calibrate(gaps: np.ndarray, widths: np.ndarray) -> Calibration:
    gaps = np.asarray(gaps, np.float64)
    widths = np.asarray(widths, np.float64)
    width = float(np.median(widths)) if widths.size else 0.85
    least = MIN_FULL_OPEN * width / 2.0
    if gaps.size == 0:
        return Calibration(
            rest=SHUT_GAP, shut=SHUT_GAP, full=least, width=width, opens=False, shuts=False
        )
    rest = float(np.percentile(gaps, 5))
    most = float(np.percentile(gaps, 98))
    shut = min(rest, SHUT_GAP)
    return Calibration(
        rest=rest,
        shut=shut,
        # At least `least` above shut lips in all, also for a mouth open at rest.
        full=max((most - rest) / _WIDEST_TRACK_OPEN, least - (rest - shut), 0.1),
        width=width,
        opens=most - rest >= _OPENS_ABOVE,
        shuts=rest <= _SHUTS_BELOW,
    )


@dataclass
class Atlas:
    """One speaker's mouths, binned by shape; plus every frame's measurements."""

    frame: PatchFrame
    entries: dict[tuple[int, int, int, int], Entry] = field(default_factory=dict)
    gaps: list[float] = field(default_factory=list)
    widths: list[float] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)  # the frame of each measurement

    def add(self, image: np.ndarray, points: np.ndarray, index: int) -> None:
        """Measure the face in `image` (landmarks `points`) and keep its mouth if it adds
        a shape the atlas lacks or is sharper than the one it has for that shape."""
        shape = measure(points)
        self.gaps.append(shape.gap)
        self.widths.append(shape.width)
        self.indices.append(index)
        key = (
            int(shape.gap // _GAP_BIN),
            int(shape.width // _WIDTH_BIN),
            round(shape.yaw / _YAW_BIN),
            round(shape.pitch / _PITCH_BIN),
        )
        current = self.entries.get(key)
        if current is None and len(self.entries) >= MAX_ENTRIES:
            return
        patch, local = self.frame.cut(image, points)
        sharpness = _sharpness(patch)
        if current is not None and current.sharpness >= sharpness:
            return
        self.entries[key] = Entry(patch, local, shape, sharpness, _thumb(patch), index)

    def merge(self, other: Atlas) -> None:
        """Take in another track of the same person (a face lost and found again)."""
        self.gaps.extend(other.gaps)
        self.widths.extend(other.widths)
        self.indices.extend(other.indices)
        for key, entry in other.entries.items():
            mine = self.entries.get(key)
            if mine is None and len(self.entries) >= MAX_ENTRIES:
                continue
            if mine is None or entry.sharpness > mine.sharpness:
                if entry.patch.shape != self._shape:
                    entry = _rescaled(entry, other.frame, self.frame)
                self.entries[key] = entry

    @property
    def _shape(self) -> tuple[int, int, int]:
        width, height = self.frame.size
        return (height, width, 3)

    def calibration(self) -> Calibration:
        return calibrate(np.asarray(self.gaps), np.asarray(self.widths))

    def keep_only(self, good: Callable[[int], bool]) -> None:
        """Forget mouths and measurements from frames that are not `good` (covered by a
        hand, seen from the side, blurred): they would teach the atlas wrong shapes. With
        too few good frames left the measurements stay, so calibration has something."""
        self.entries = {k: e for k, e in self.entries.items() if good(e.frame)}
        keep = [i for i, index in enumerate(self.indices) if good(index)]
        if len(keep) >= _MIN_CALIBRATION_FRAMES:
            self.gaps = [self.gaps[i] for i in keep]
            self.widths = [self.widths[i] for i in keep]
            self.indices = [self.indices[i] for i in keep]

    def thin(self, keep: int) -> None:
        """Drop entries down to `keep`, evenly over the range of gaps (so the atlas still
        spans closed to open, only more coarsely)."""
        if len(self.entries) <= keep:
            return
        ordered = sorted(self.entries.items(), key=lambda item: item[1].shape.gap)
        chosen = np.unique(np.linspace(0, len(ordered) - 1, keep).round().astype(int))
        self.entries = dict(ordered[i] for i in chosen.tolist())

    @property
    def nbytes(self) -> int:
        return sum(e.patch.nbytes for e in self.entries.values())

    def listing(self) -> list[Entry]:
        return list(self.entries.values())


def _rescaled(entry: Entry, source: PatchFrame, target: PatchFrame) -> Entry:
    width, height = target.size
    patch = cv2.resize(entry.patch, (width, height), interpolation=cv2.INTER_AREA)
    points = entry.points * np.float32(target.resolution / source.resolution)
    return Entry(patch, points, entry.shape, entry.sharpness, entry.thumb, entry.frame)


# --- choosing a mouth per output frame ----------------------------------------------------

# Cost weights (tuned on the dub_quality sources; units are described at each use).
GAP_WEIGHT = 8.0  # per (gap error / full open)^2
WARP_WEIGHT = 3.0  # per |gap error| / full open: the residual warp is worse than a real mouth
WIDTH_WEIGHT = 1.0  # per (width error / 10% of the width)^2, capped
POSE_WEIGHT = 1.0  # per (pose difference / 0.05 eye distances)^2
SWITCH_COST = 0.2  # every change of mouth image
LOOK_WEIGHT = 4.0  # per RMS difference of normalised thumbnails
SELF_BONUS = 0.15  # leaving the frame's own mouth costs nothing to blend
# Where the track shuts the lips in speech (p, b, m), a mouth more open than wanted costs
# this much more per (excess opening / full open): a missed closure is the
# most visible lipsync error there is, and warping an open mouth shut is a poor substitute
# for a real closed one.
CLOSURE_WEIGHT = 6.0
CLOSED_BELOW = 0.05  # track openness counted as a closure


@dataclass(frozen=True)
class Wanted:
    """Per output frame: target gap/width (canonical) and the frame's own mouth and pose."""

    gap: np.ndarray
    width: np.ndarray
    closure: np.ndarray  # bool: the lips must be shut here (p, b, m in speech)
    own_gap: np.ndarray
    own_width: np.ndarray
    yaw: np.ndarray
    pitch: np.ndarray
    # bool: something covers the frame's own mouth; reshaping it would drag that along
    own_covered: np.ndarray | None = None


SELF = -1
# Cost of reshaping a frame's own mouth while something covers it (an atlas mouth, pasted
# around what covers it, is almost always better).
COVERED_SELF_COST = 4.0


def choose(entries: list[Entry], wanted: Wanted, calibration: Calibration) -> np.ndarray:
    """Best entry index per frame (`SELF` for the frame's own mouth), by Viterbi."""
    n = len(wanted.gap)
    if n == 0:
        return np.zeros(0, np.int64)
    emission = emission_costs(entries, wanted, calibration)
    transition = transition_costs(entries)
    states = emission.shape[1]
    back = np.zeros((n, states), np.int32)
    total = emission[0].copy()
    for t in range(1, n):
        candidates = total[:, None] + transition
        back[t] = np.argmin(candidates, axis=0)
        total = candidates[back[t], np.arange(states)] + emission[t]
    path = np.zeros(n, np.int64)
    path[-1] = int(np.argmin(total))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    path[path == states - 1] = SELF
    return path


def emission_costs(entries: list[Entry], wanted: Wanted, calibration: Calibration) -> np.ndarray:
    """(frames, entries + 1) cost of showing each entry (last column: self) per frame."""
    full = max(calibration.full, 1e-3)
    unit_width = 0.1 * max(calibration.width, 1e-3)
    gap = np.array([e.shape.gap for e in entries] + [0.0], np.float32)[None, :]
    width = np.array([e.shape.width for e in entries] + [0.0], np.float32)[None, :]
    yaw = np.array([e.shape.yaw for e in entries] + [0.0], np.float32)[None, :]
    pitch = np.array([e.shape.pitch for e in entries] + [0.0], np.float32)[None, :]
    gap = np.repeat(gap, len(wanted.gap), axis=0)
    width = np.repeat(width, len(wanted.gap), axis=0)
    gap[:, -1] = wanted.own_gap
    width[:, -1] = wanted.own_width
    gap_error = np.abs(gap - wanted.gap[:, None]) / full
    width_error = np.minimum(np.abs(width - wanted.width[:, None]) / unit_width, 3.0)
    pose_error = ((yaw - wanted.yaw[:, None]) ** 2 + (pitch - wanted.pitch[:, None]) ** 2) / (
        0.05**2
    )
    pose_error[:, -1] = 0.0
    not_shut = np.clip((gap - wanted.gap[:, None]) / full, 0.0, 1.0) * wanted.closure[:, None]
    cost = (
        GAP_WEIGHT * gap_error**2
        + WARP_WEIGHT * gap_error
        + WIDTH_WEIGHT * width_error**2
        + POSE_WEIGHT * pose_error
        + CLOSURE_WEIGHT * not_shut
    )
    cost[:, -1] -= SELF_BONUS
    if wanted.own_covered is not None and entries:
        cost[:, -1] += COVERED_SELF_COST * wanted.own_covered
    return cost.astype(np.float32)


def transition_costs(entries: list[Entry]) -> np.ndarray:
    """(entries + 1)^2 cost of going from one mouth to another; staying is free."""
    n = len(entries)
    cost = np.full((n + 1, n + 1), SWITCH_COST, np.float32)
    if n:
        thumbs = np.stack([e.thumb.reshape(-1) for e in entries]).astype(np.float64)
        norms = (thumbs**2).sum(axis=1)
        squared = norms[:, None] + norms[None, :] - 2.0 * thumbs @ thumbs.T
        look = np.sqrt(np.maximum(squared, 0.0) / thumbs.shape[1]).astype(np.float32)
        cost[:n, :n] += LOOK_WEIGHT * look
        cost[:n, n] += LOOK_WEIGHT * float(np.median(look))
        cost[n, :n] += LOOK_WEIGHT * float(np.median(look))
    np.fill_diagonal(cost, 0.0)
    return cost
