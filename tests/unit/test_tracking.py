"""Face tracking through a video: cuts, re-detection, smoothing and the choice of speaker."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.lipsync.dubbing.tracking import (
    FaceTracker,
    FrameFaces,
    OneEuro,
    TrackStats,
    VideoFaces,
    link_identities,
    smooth_track,
)
from tests.support.media import face_photo_path

FPS = 25.0


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    image = cv2.cvtColor(cv2.imread(str(face_photo_path())), cv2.COLOR_BGR2RGB)
    return cv2.resize(image, (256, 300), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def duet(photo: np.ndarray) -> np.ndarray:
    """Two real faces: the photo and a mirrored copy at 60% on a grey canvas."""
    small = cv2.flip(cv2.resize(photo, None, fx=0.6, fy=0.6), 1)
    canvas = np.full((300, 256 + 40 + small.shape[1], 3), 200, np.uint8)
    canvas[:, :256] = photo
    top = (300 - small.shape[0]) // 2
    canvas[top : top + small.shape[0], 296 : 296 + small.shape[1]] = small
    return canvas


def _gradient(shape: tuple[int, ...]) -> np.ndarray:
    frame = np.zeros(shape, np.uint8)
    frame[:, :, 2] = np.linspace(0, 255, shape[1], dtype=np.uint8)[None, :]
    frame[:, :, 1] = 60
    return frame


def _pan(photo: np.ndarray, dx: float) -> np.ndarray:
    matrix = np.array([[1.0, 0.0, dx], [0.0, 1.0, 0.0]])
    return cv2.warpAffine(
        photo, matrix, (photo.shape[1], photo.shape[0]), borderMode=cv2.BORDER_REFLECT
    )


def test_tracker_follows_a_face_through_a_pan_and_across_cuts(photo: np.ndarray) -> None:
    tracker = FaceTracker(FPS)
    try:
        shot1 = [tracker.update(_pan(photo, 1.5 * i)) for i in range(8)]
        blank = [tracker.update(_gradient(photo.shape)) for _ in range(3)]
        shot3 = [tracker.update(_pan(photo, -6.0)) for _ in range(3)]
    finally:
        tracker.close()
    assert [f.cut for f in shot1] == [True] + [False] * 7
    assert all(len(f.faces) == 1 for f in shot1)
    assert len({f.faces[0].track for f in shot1}) == 1  # one track all along
    # The face moves with the pan: its nose tip drifts by 1.5 px per frame.
    drift = shot1[-1].faces[0].landmarks[1, 0] - shot1[0].faces[0].landmarks[1, 0]
    assert drift == pytest.approx(1.5 * 7, abs=2.0)
    assert blank[0].cut and not blank[0].faces and not blank[2].faces
    assert shot3[0].cut and shot3[0].faces
    assert shot3[0].faces[0].track != shot1[0].faces[0].track
    assert shot3[0].shot == 2


def _record(tracker: FaceTracker, frames: list[np.ndarray], video: VideoFaces, mask=None) -> None:
    for frame in frames:
        video.add(tracker.update(frame), mask)
    video.finish()


def test_the_largest_face_is_the_main_speaker(duet: np.ndarray) -> None:
    tracker = FaceTracker(FPS)
    video = VideoFaces()
    try:
        _record(tracker, [duet] * 4, video)
    finally:
        tracker.close()
    assert all(points is not None for points in video.main)
    nose_x = [float(points[:, 0].mean()) for points in video.main if points is not None]
    assert max(nose_x) < 256  # the big face on the left


def test_a_mask_picks_the_face_in_its_white_area(duet: np.ndarray) -> None:
    mask = np.zeros(duet.shape[:2], np.float32)
    mask[:, 290:] = 1.0  # over the small face on the right
    tracker = FaceTracker(FPS)
    video = VideoFaces(with_mask=True)
    try:
        _record(tracker, [duet] * 4, video, mask)
    finally:
        tracker.close()
    xs = [float(points[:, 0].mean()) for points in video.main if points is not None]
    assert len(xs) == 4 and min(xs) > 290


def test_a_mask_away_from_every_face_picks_nobody(duet: np.ndarray) -> None:
    mask = np.zeros(duet.shape[:2], np.float32)
    mask[:20, :20] = 1.0
    tracker = FaceTracker(FPS)
    video = VideoFaces(with_mask=True)
    try:
        _record(tracker, [duet] * 2, video, mask)
    finally:
        tracker.close()
    assert video.main == [None, None]


def test_a_face_lost_and_found_in_the_same_place_is_one_person() -> None:
    box = (10.0, 10.0, 110.0, 130.0)
    stats = {
        0: TrackStats(shot=0, first=0, last=9, first_box=box, last_box=box),
        1: TrackStats(shot=0, first=12, last=30, first_box=box, last_box=box),
        2: TrackStats(shot=0, first=12, last=30, first_box=(300, 10, 400, 130), last_box=box),
    }
    assert link_identities(stats) == {0: 0, 1: 0, 2: 2}


def test_one_euro_removes_jitter_and_zero_lag_smoothing_follows_motion() -> None:
    rng = np.random.default_rng(0)
    n = 60
    base = np.zeros((n, 100, 2), np.float32)
    base[:, 0] = [-50.0, 0.0]  # eye-ish points, so the smoother knows the face size
    base[:, 1] = [-40.0, 0.0]
    base[:, 2] = [40.0, 0.0]
    base[:, 3] = [50.0, 0.0]
    moving = base + np.linspace(0, 60, n, dtype=np.float32)[:, None, None]  # 1 px per frame
    noisy = moving + rng.normal(0, 0.8, moving.shape).astype(np.float32)
    smoothed = np.stack(smooth_track(list(noisy), FPS))
    raw_error = np.abs(noisy - moving)[5:-5].mean()
    smooth_error = np.abs(smoothed - moving)[5:-5].mean()
    assert smooth_error < 0.6 * raw_error
    lag = (smoothed - moving)[5:-5, :, 0].mean()
    assert abs(lag) < 0.2  # forward + backward: no lag behind the motion
    still = OneEuro(FPS)
    out = np.stack([still(np.array([v], np.float32)) for v in rng.normal(0, 1.0, 50)])
    assert out[10:].std() < 0.5


def test_frame_faces_record_keeps_only_the_main_face(photo: np.ndarray, duet: np.ndarray) -> None:
    tracker = FaceTracker(FPS)
    video = VideoFaces()
    try:
        frames: list[FrameFaces] = [tracker.update(duet) for _ in range(3)]
    finally:
        tracker.close()
    assert len(frames[0].faces) == 2
    for frame in frames:
        video.add(frame)
    kept = video.finish()
    assert len(kept) == 1
    assert len(video.main) == 3 and video.main_track == [min(kept)] * 3
