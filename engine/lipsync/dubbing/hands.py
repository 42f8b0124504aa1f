"""Hands in front of a speaker's lower face, found by MediaPipe Hands (shipped in the wheel).

The hand detector of `occlusion`, kept in a module of its own because it is the part that
runs a neural model, and the part that runs during pass 1 (`analysis`, frame by frame as
the video is read; the rest of `occlusion` runs per speaker after it). Hands are looked
for on a crop around the lower face, drawn as thick strokes through their 21 landmarks,
and read onto the template grid (`skin_map`), where `occlusion` combines them with what
the learnt appearance model (`appearance`) finds.
"""

from __future__ import annotations

import itertools
from functools import cache
from typing import Any

import cv2
import numpy as np

from engine.lipsync.dubbing import skin_map as sm
from engine.lipsync.dubbing.tracking import eye_frame

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


@cache
def _skin_away_from_mouth() -> np.ndarray:
    """Template skin not next to the lips: it changes when something comes in front of
    the face, not when the person talks."""
    zones = sm.zones()
    mouth = ((zones == sm.LIP) | (zones == sm.INSIDE)).astype(np.uint8)
    near = cv2.dilate(mouth, np.ones((9, 9), np.uint8)) > 0
    return (zones == sm.SKIN) & ~near
