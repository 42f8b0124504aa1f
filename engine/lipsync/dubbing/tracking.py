"""Face tracking through a video: who is where in every frame, across cuts.

Running the full photo detector (`faces.detect_faces`) on every frame costs tens of
milliseconds, far over the dubbing budget, so a video is followed the way trackers do it:

* a cheap scene-cut test on every frame (colour histogram of a thumbnail);
* the full-range face detector on a small copy only every few frames, on a cut, and
  whenever a face was lost, to find faces that appear;
* between detections each known face is re-meshed on a crop around where it was in the
  previous frame (Face Mesh on a 192 px crop, a few milliseconds), which also tells us when
  it is lost (turned away, left the frame).

A *track* is one face followed through consecutive frames of one shot. Tracks that follow
each other at the same place in a shot (a face lost for a moment and found again) form one
*identity*; a cut always starts new identities, since the person after it may be another.
Per shot the main speaker is picked (largest, most frontal, steadiest, present longest), or
with a mask the face that lies in its white area.

Only a subset of the 478 landmarks is kept per frame (`KEY_POINTS`, about 100 points,
under 1 KB per face and frame), so metadata stays small next to the frames themselves,
which are never kept. Landmarks are smoothed afterwards with a one-euro filter run forwards
and backwards (zero lag), because the pasted mouth is aligned with them and raw Face Mesh
jitters by about a pixel.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from engine.lipsync import faces as fm

# --- which landmarks are kept ------------------------------------------------------------

# Points that move with the skull, not with the jaw or expressions: eye corners and the
# nose. The canonical mouth frame and every alignment are computed from these.
EYE_CORNERS = (33, 133, 362, 263)
NOSE_LINE = (168, 6, 197, 195, 5, 4, 1, 2)
NOSE_WINGS = (98, 327, 129, 358)
STABLE = EYE_CORNERS + NOSE_LINE + NOSE_WINGS
# The lower face a pasted mouth may cover, as a polygon in order: under the nose (dipping
# below the nostrils at 164), down the right cheek, along the jaw line under the chin
# (`JAW_REGION`, pulled a little inside the face outline by mouth_blend), up the left cheek.
MOUTH_REGION_TOP = (207, 206, 164, 426, 427)
JAW_REGION = (365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136)
MOUTH_REGION = MOUTH_REGION_TOP + JAW_REGION
LIPS = tuple(
    sorted(set(fm.UPPER_OUTER_LIP + fm.LOWER_OUTER_LIP + fm.UPPER_INNER_LIP + fm.LOWER_INNER_LIP))
)
KEY_POINTS: tuple[int, ...] = tuple(
    dict.fromkeys(STABLE + LIPS + MOUTH_REGION + fm.JAW_LINE + (fm.FOREHEAD_TOP, fm.CHIN_BOTTOM))
)
_COLUMN = {index: column for column, index in enumerate(KEY_POINTS)}


def columns(indices: tuple[int, ...]) -> list[int]:
    """Columns of `KEY_POINTS` arrays that hold the given mesh landmarks."""
    return [_COLUMN[i] for i in indices]


def key_points(landmarks: np.ndarray) -> np.ndarray:
    """The kept subset of a full (468/478, 2) landmark array, float32."""
    return np.ascontiguousarray(landmarks[list(KEY_POINTS)], dtype=np.float32)


# --- tuning ------------------------------------------------------------------------------

# Full detection every this many seconds while faces are tracked (to catch newcomers).
REDETECT_S = 0.5
# ... and this often while no face is tracked.
SEARCH_S = 0.08
# Bhattacharyya distance between thumbnails' colour histograms above which a cut is declared.
CUT_DISTANCE = 0.45
# A face is followed only while it is at least this tall (landmark box, output pixels).
MIN_FACE_PX = 40
# Crop around the previous landmark box that is meshed, as a multiple of its long side.
_TRACK_GROW = 1.6
_DETECT_GROW = 2.0
_CROP_SIDE = 192
_DETECT_MAX_SIDE = 640
_SAME_FACE_IOU = 0.3


@dataclass(frozen=True)
class Observation:
    """One face in one frame: its track and landmarks (pixels of the analysed frame)."""

    track: int
    landmarks: np.ndarray  # (478, 2) float32 while analysing; use `key_points` to keep

    @property
    def box(self) -> tuple[float, float, float, float]:
        return _box(self.landmarks[:468])


@dataclass(frozen=True)
class FrameFaces:
    index: int
    cut: bool  # a new shot starts at this frame
    shot: int
    faces: list[Observation]


class FaceTracker:
    """Feed it every frame in order; it says which faces are where, with track ids."""

    def __init__(self, fps: float, *, max_tracks: int = 3) -> None:
        import mediapipe as mp  # heavy import, only when a video is analysed

        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=1,
            refine_landmarks=True,
            min_detection_confidence=0.5,
        )
        self._detector = mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=0.5
        )
        self.max_tracks = max_tracks
        self.redetect_every = max(1, round(REDETECT_S * fps))
        self.search_every = max(1, round(SEARCH_S * fps))
        self._index = -1
        self._shot = -1
        self._hist: np.ndarray | None = None
        self._tracks: dict[int, np.ndarray] = {}  # track -> last full landmarks
        self._next_track = 0
        self._last_detect = -(10**9)

    def close(self) -> None:
        self._mesh.close()
        self._detector.close()

    def update(self, frame: np.ndarray) -> FrameFaces:
        self._index += 1
        image = np.ascontiguousarray(frame)
        cut = self._is_cut(image)
        if cut:
            self._shot += 1
            self._tracks.clear()
        found: dict[int, np.ndarray] = {}
        for track, previous in self._tracks.items():
            landmarks = self._mesh_crop(image, _box(previous[:468]), _TRACK_GROW)
            if landmarks is not None and _same_face(previous, landmarks):
                found[track] = landmarks
        lost = len(found) < len(self._tracks)
        self._tracks = found
        # With no face at all (lost as the head turned, or none yet) look more often: a
        # face that turns back must be picked up within a few frames.
        every = self.search_every if not found else self.redetect_every
        due = self._index - self._last_detect >= every
        if cut or lost or due:
            self._last_detect = self._index
            self._add_new_faces(image)
        faces = [Observation(track, lm) for track, lm in sorted(self._tracks.items())]
        return FrameFaces(index=self._index, cut=cut, shot=self._shot, faces=faces)

    def _is_cut(self, image: np.ndarray) -> bool:
        thumb = cv2.resize(image, (64, 36), interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(thumb, cv2.COLOR_RGB2HSV)
        hist = cv2.calcHist([hsv], [0, 1, 2], None, [12, 6, 6], [0, 180, 0, 256, 0, 256])
        hist = cv2.normalize(hist, None).astype(np.float32)
        previous, self._hist = self._hist, hist
        if previous is None:
            return True
        return cv2.compareHist(previous, hist, cv2.HISTCMP_BHATTACHARYYA) > CUT_DISTANCE

    def _add_new_faces(self, image: np.ndarray) -> None:
        if len(self._tracks) >= self.max_tracks:
            return
        height, width = image.shape[:2]
        scale = min(1.0, _DETECT_MAX_SIDE / max(height, width))
        small = image if scale == 1.0 else cv2.resize(image, None, fx=scale, fy=scale)
        result = self._detector.process(np.ascontiguousarray(small))
        boxes = []
        for detection in getattr(result, "detections", None) or []:
            rel = detection.location_data.relative_bounding_box
            x0, y0 = rel.xmin * width, rel.ymin * height
            boxes.append((x0, y0, x0 + rel.width * width, y0 + rel.height * height))
        # Largest first: when there are too many faces, the big ones are the candidates.
        boxes.sort(key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
        for box in boxes:
            if len(self._tracks) >= self.max_tracks:
                break
            if any(_covers(_box(lm[:468]), box) for lm in self._tracks.values()):
                continue
            landmarks = self._mesh_crop(image, box, _DETECT_GROW)
            if landmarks is None or _box_height(_box(landmarks[:468])) < MIN_FACE_PX:
                continue
            if any(
                _iou(_box(landmarks[:468]), _box(lm[:468])) > _SAME_FACE_IOU
                for lm in self._tracks.values()
            ):
                continue
            self._tracks[self._next_track] = landmarks
            self._next_track += 1

    def _mesh_crop(
        self, image: np.ndarray, box: tuple[float, float, float, float], grow: float
    ) -> np.ndarray | None:
        """Face Mesh on a square crop around `box`, landmarks mapped back to the image."""
        cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
        side = grow * max(box[2] - box[0], box[3] - box[1], 8.0)
        scale = _CROP_SIDE / side
        matrix = np.array(
            [[scale, 0.0, _CROP_SIDE / 2 - cx * scale], [0.0, scale, _CROP_SIDE / 2 - cy * scale]]
        )
        crop = cv2.warpAffine(
            image,
            matrix,
            (_CROP_SIDE, _CROP_SIDE),
            flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        result = self._mesh.process(crop)
        found = getattr(result, "multi_face_landmarks", None)
        if not found:
            return None
        points = np.array([(p.x, p.y) for p in found[0].landmark], np.float32) * _CROP_SIDE
        points[:, 0] = (points[:, 0] - matrix[0, 2]) / scale
        points[:, 1] = (points[:, 1] - matrix[1, 2]) / scale
        return points


def _box(points: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def _box_height(box: tuple[float, float, float, float]) -> float:
    return box[3] - box[1]


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _covers(box: tuple[float, ...], detection: tuple[float, ...]) -> bool:
    """Whether a detector box belongs to an already tracked face (its centre is inside)."""
    cx, cy = (detection[0] + detection[2]) / 2, (detection[1] + detection[3]) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]


def _same_face(previous: np.ndarray, current: np.ndarray) -> bool:
    """A re-meshed crop found the same face if it barely moved and kept its size."""
    a, b = _box(previous[:468]), _box(current[:468])
    ratio = _box_height(b) / max(_box_height(a), 1e-6)
    return _iou(a, b) > 0.4 and 0.75 < ratio < 1.33 and _box_height(b) >= MIN_FACE_PX


# --- measurements ---------------------------------------------------------------------


@dataclass(frozen=True)
class Pose:
    """Head pose proxies from landmarks, in units of the eye distance."""

    yaw: float  # nose left/right of the eye midpoint (0 = frontal)
    pitch: float  # nose below the eye line (larger = head tilted down / looking down)


def eye_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(origin, x axis, eye distance) of a face from `KEY_POINTS` landmarks.

    The x axis runs from the image-left eye to the image-right eye; the origin is the mean
    of the nose line. Everything about mouths is measured in this frame, so it does not
    change with where the face is, how large, or how the head rolls.
    """
    left = points[columns(EYE_CORNERS[:2])].mean(axis=0)
    right = points[columns(EYE_CORNERS[2:])].mean(axis=0)
    axis = right - left
    distance = float(np.hypot(*axis))
    axis = axis / max(distance, 1e-6)
    origin = points[columns(NOSE_LINE)].mean(axis=0)
    return origin, axis, max(distance, 1e-6)


def pose(points: np.ndarray) -> Pose:
    _, axis, distance = eye_frame(points)
    left = points[columns(EYE_CORNERS[:2])].mean(axis=0)
    right = points[columns(EYE_CORNERS[2:])].mean(axis=0)
    mid = (left + right) / 2.0
    tip = points[_COLUMN[1]]
    normal = np.array([-axis[1], axis[0]])
    offset = tip - mid
    return Pose(yaw=float(offset @ axis) / distance, pitch=float(offset @ normal) / distance)


# --- the record of a whole video ------------------------------------------------------


@dataclass
class TrackStats:
    """What decides whether a track is the main speaker, summed over its frames."""

    shot: int
    first: int
    last: int
    first_box: tuple[float, float, float, float]
    last_box: tuple[float, float, float, float]
    frames: int = 0
    height: float = 0.0
    frontal: float = 0.0
    motion: float = 0.0
    mask: float = 0.0
    last_centre: tuple[float, float] | None = None


@dataclass
class VideoFaces:
    """Per frame: the dubbed face's kept landmarks (or None); built shot by shot.

    While a shot runs, every tracked face's landmarks are kept; when it ends (`add` sees
    a cut, or `finish`), its main speaker is picked and the other faces are dropped, so
    the record holds one small array per frame however many people a video shows.
    """

    with_mask: bool = False
    main: list[np.ndarray | None] = field(default_factory=list)
    main_track: list[int] = field(default_factory=list)
    shots: list[int] = field(default_factory=list)
    _open: list[dict[int, np.ndarray]] = field(default_factory=list)
    _stats: dict[int, TrackStats] = field(default_factory=dict)

    def add(self, frame: FrameFaces, mask: np.ndarray | None = None) -> set[int] | None:
        """Record one frame; returns the tracks kept from a shot that this frame ended."""
        finished = self.finish() if frame.cut and self._open else None
        kept: dict[int, np.ndarray] = {}
        for face in frame.faces:
            points = key_points(face.landmarks)
            kept[face.track] = points
            self._account(frame, face.track, points, face.box, mask)
        self.shots.append(frame.shot)
        self._open.append(kept)
        return finished

    def finish(self) -> set[int]:
        """End the current shot: pick its speaker, keep only that identity's tracks."""
        identity = link_identities(self._stats)
        totals: dict[int, float] = {}
        for track, stats in self._stats.items():
            if self.with_mask and stats.mask / max(stats.frames, 1) < 0.5:
                continue
            score = speaker_score(stats, len(self._open), with_mask=self.with_mask)
            totals[identity[track]] = totals.get(identity[track], 0.0) + score
        chosen = max(totals, key=lambda ident: totals[ident]) if totals else None
        tracks = {t for t, ident in identity.items() if ident == chosen}
        for faces in self._open:
            pick = [t for t in faces if t in tracks]
            self.main.append(faces[pick[0]] if pick else None)
            self.main_track.append(pick[0] if pick else -1)
        self._open.clear()
        self._stats.clear()
        return tracks

    def _account(
        self,
        frame: FrameFaces,
        track: int,
        points: np.ndarray,
        box: tuple[float, float, float, float],
        mask: np.ndarray | None,
    ) -> None:
        stats = self._stats.get(track)
        if stats is None:
            stats = self._stats[track] = TrackStats(
                shot=frame.shot, first=frame.index, last=frame.index, first_box=box, last_box=box
            )
        height = _box_height(box)
        centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        if stats.last_centre is not None:
            step = np.hypot(centre[0] - stats.last_centre[0], centre[1] - stats.last_centre[1])
            stats.motion += float(step) / max(height, 1.0)
        stats.last_centre = centre
        stats.frames += 1
        stats.last = frame.index
        stats.last_box = box
        stats.height += height
        stats.frontal += max(0.0, 1.0 - 2.5 * abs(pose(points).yaw))
        if mask is not None:
            mouth = points[columns(LIPS)].mean(axis=0)
            x = int(np.clip(round(mouth[0]), 0, mask.shape[1] - 1))
            y = int(np.clip(round(mouth[1]), 0, mask.shape[0] - 1))
            stats.mask += float(mask[y, x])


def link_identities(stats: dict[int, TrackStats]) -> dict[int, int]:
    """Tracks of one shot that continue each other (one ends, the next starts where it
    was) are the same person; returns track -> identity (the earliest track's id)."""
    identity: dict[int, int] = {}
    ordered = sorted(stats.items(), key=lambda item: item[1].first)
    for track, current in ordered:
        identity[track] = track
        for other, earlier in ordered:
            if other == track or earlier.first >= current.first or earlier.last >= current.first:
                continue
            if _iou(earlier.last_box, current.first_box) > _SAME_FACE_IOU:
                identity[track] = identity[other]
    return identity


def speaker_score(stats: TrackStats, shot_frames: int, *, with_mask: bool) -> float:
    """Largest, most frontal, steadiest and longest-present face scores highest."""
    n = max(stats.frames, 1)
    presence = stats.frames / max(shot_frames, 1)
    steadiness = 1.0 / (1.0 + 20.0 * stats.motion / n)
    score = presence * (stats.height / n) * (0.3 + stats.frontal / n) * steadiness
    if with_mask:
        score *= stats.mask / n
    return score


# --- smoothing ------------------------------------------------------------------------


class OneEuro:
    """The one-euro filter (Casiez et al. 2012) on arrays: a low-pass whose cutoff rises
    with speed, so a still face stops jittering while a moving one is followed closely."""

    def __init__(self, fps: float, *, min_cutoff: float = 1.5, beta: float = 0.4) -> None:
        self.fps = fps
        self.min_cutoff = min_cutoff
        self.beta = beta
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, fps: float) -> Any:
        tau = 1.0 / (2.0 * np.pi * cutoff)
        return 1.0 / (1.0 + tau * fps)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self._x is None or self._dx is None:
            self._x, self._dx = x.copy(), np.zeros_like(x)
            return x.copy()
        dx = (x - self._x) * self.fps
        self._dx = self._dx + self._alpha(1.0, self.fps) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x = self._x + self._alpha(cutoff, self.fps) * (x - self._x)
        return self._x.copy()


def smooth_track(points: list[np.ndarray], fps: float) -> list[np.ndarray]:
    """Zero-lag smoothing of one track's landmarks (in eye distances, so the filter's
    speed threshold means the same for a small and a large face): the mean of a forward
    and a backward one-euro pass."""
    if len(points) < 3:
        return [p.copy() for p in points]
    scale = float(np.median([eye_frame(p)[2] for p in points]))
    stacked = np.stack(points) / scale
    forward, backward = OneEuro(fps), OneEuro(fps)
    ahead = [forward(p) for p in stacked]
    behind = [backward(p) for p in stacked[::-1]][::-1]
    return [((a + b) / 2.0 * scale).astype(np.float32) for a, b in zip(ahead, behind, strict=True)]


def smoothed_main(video: VideoFaces, fps: float) -> list[np.ndarray | None]:
    """The dubbed face's smoothed landmarks per frame (None where no face is dubbed).

    Each contiguous stretch of one track is smoothed on its own, so a cut or a change of
    speaker never blends two faces."""
    out: list[np.ndarray | None] = [None] * len(video.main)
    for start, end, track in stretches(video.main_track):
        if track >= 0:
            stretch = [p for p in video.main[start:end] if p is not None]
            out[start:end] = smooth_track(stretch, fps)
    return out


def stretches(labels: Sequence[int]) -> Iterator[tuple[int, int, int]]:
    """(start, end, label) of each run of equal labels (a speaker, a track) in order."""
    start = 0
    while start < len(labels):
        end = start
        while end < len(labels) and labels[end] == labels[start]:
            end += 1
        yield start, end, int(labels[start])
        start = end
