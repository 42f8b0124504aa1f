"""The mouth atlas: canonical patches from real landmarks, bounded binning, calibration, and
the Viterbi choice of a mouth per frame (fits the wanted shape, does not flicker)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.lipsync.dubbing.atlas import (
    MAX_ENTRIES,
    SELF,
    Atlas,
    Entry,
    PatchFrame,
    Shape,
    Wanted,
    calibrate,
    canonical_matrix,
    choose,
    measure,
)
from engine.lipsync.dubbing.tracking import LIPS, columns, key_points
from engine.lipsync.faces import Face, find_face
from tests.support.media import face_photo_path


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(face_photo_path())), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def face(photo: np.ndarray) -> Face:
    return find_face(photo)


def _entry(gap: float, width: float = 0.85, *, look: float = 0.0, yaw: float = 0.0) -> Entry:
    thumb = np.full((16, 24), look, np.float32)
    thumb[::2] *= -1
    return Entry(
        patch=np.zeros((8, 8, 3), np.uint8),
        points=np.zeros((1, 2), np.float32),
        shape=Shape(gap=gap, width=width, yaw=yaw, pitch=0.0),
        sharpness=1.0,
        thumb=thumb,
        frame=0,
    )


def _wanted(gap: list[float], *, own: float = 0.5, yaw: float = 0.0) -> Wanted:
    n = len(gap)
    return Wanted(
        gap=np.array(gap, np.float32),
        width=np.full(n, 0.85, np.float32),
        closure=np.array(gap) < 0.01,
        own_gap=np.full(n, own, np.float32),
        own_width=np.full(n, 0.85, np.float32),
        yaw=np.full(n, yaw, np.float32),
        pitch=np.zeros(n, np.float32),
    )


CALIBRATION = calibrate(np.array([0.0, 0.01, 0.15, 0.3, 0.3]), np.full(5, 0.85))


def test_canonical_frame_is_independent_of_position_scale_and_roll(face: Face) -> None:
    points = key_points(face.landmarks)
    angle = np.deg2rad(12.0)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = (points @ rot.T) * 1.7 + np.array([40.0, -25.0])
    a = points @ canonical_matrix(points)[:, :2].T + canonical_matrix(points)[:, 2]
    b = moved @ canonical_matrix(moved)[:, :2].T + canonical_matrix(moved)[:, 2]
    assert np.allclose(a, b, atol=1e-3)
    shape, shape_moved = measure(points), measure(moved.astype(np.float32))
    assert shape.gap == pytest.approx(shape_moved.gap, abs=1e-4)
    assert shape.width == pytest.approx(shape_moved.width, abs=1e-4)


def test_a_closed_photo_mouth_measures_closed(face: Face) -> None:
    shape = measure(key_points(face.landmarks))
    assert shape.gap < 0.03  # eye distances; closed lips
    assert 0.6 < shape.width < 1.1
    assert abs(shape.yaw) < 0.1


def test_patch_cut_maps_the_face_into_the_patch(photo: np.ndarray, face: Face) -> None:
    points = key_points(face.landmarks)
    frame = PatchFrame.for_face(points)
    patch, local = frame.cut(photo, points)
    assert patch.shape[:2] == (frame.size[1], frame.size[0])
    lips = local[columns(LIPS)]
    assert lips.min() > 0 and lips[:, 0].max() < frame.size[0] and lips[:, 1].max() < frame.size[1]
    # The same skin (under the lower lip) in the photo and in the patch.
    x, y = face.landmarks[17]
    px, py = local[columns((17,))[0]]
    photo_colour = photo[int(y) - 1 : int(y) + 2, int(x) - 1 : int(x) + 2].mean(axis=(0, 1))
    patch_colour = patch[int(py) - 1 : int(py) + 2, int(px) - 1 : int(px) + 2].mean(axis=(0, 1))
    assert np.abs(photo_colour - patch_colour).max() < 20


def test_atlas_keeps_one_sharpest_entry_per_shape(photo: np.ndarray, face: Face) -> None:
    points = key_points(face.landmarks)
    atlas = Atlas(PatchFrame.for_face(points))
    blurred = cv2.GaussianBlur(photo, (0, 0), 3)
    atlas.add(blurred, points, 0)
    atlas.add(photo, points, 1)
    atlas.add(blurred, points, 2)
    assert len(atlas.entries) == 1
    assert atlas.listing()[0].frame == 1  # the sharp one
    assert len(atlas.gaps) == 3  # every frame still counts for calibration


def test_atlas_size_is_bounded(photo: np.ndarray, face: Face) -> None:
    points = key_points(face.landmarks)
    atlas = Atlas(PatchFrame.for_face(points))
    for i in range(MAX_ENTRIES):
        atlas.entries[(1000 + i, 0, 0, 0)] = _entry(0.01 * i)
    atlas.add(photo, points, 0)  # a new shape, but the atlas is full
    assert len(atlas.entries) == MAX_ENTRIES
    atlas.thin(20)
    gaps = sorted(e.shape.gap for e in atlas.listing())
    assert len(gaps) == 20
    assert gaps[0] == 0.0 and gaps[-1] > 1.9  # still spans closed to open


def test_calibration_from_the_source_range() -> None:
    lively = calibrate(np.linspace(0.01, 0.5, 100), np.full(100, 0.9))
    assert lively.rest == pytest.approx(0.0345, abs=0.01) and lively.shut <= lively.rest
    assert lively.full > 0.4 and lively.opens and lively.shuts
    calm = calibrate(np.full(50, 0.015), np.full(50, 0.9))
    assert not calm.opens and calm.shuts
    assert calm.full >= 0.4  # the warp will open it further than the source ever did
    gap, width = calm.wanted(np.array([0.0, 1.0]), np.array([0.0, 1.0]), np.ones(2))
    assert gap[0] == pytest.approx(0.015) and gap[1] > 0.4
    assert width[1] > width[0]


def test_a_speaker_who_rests_with_parted_lips_still_shuts_them_for_p_b_m() -> None:
    smiling = calibrate(np.full(50, 0.09), np.full(50, 0.9))
    assert not smiling.shuts and smiling.rest == pytest.approx(0.09)
    gaps = smiling.wanted(np.array([0.0, 0.0, 0.5]), np.zeros(3), np.array([0.0, 1.0, 1.0]))[0]
    assert gaps[0] == pytest.approx(0.09)  # silence: her own resting mouth
    assert gaps[1] == pytest.approx(0.02)  # a p/b/m in speech: lips together
    assert gaps[2] == pytest.approx(0.09 + 0.5 * smiling.full)  # a vowel opens from rest


def test_choose_fits_the_wanted_gap() -> None:
    entries = [_entry(0.0, look=0.1), _entry(0.15, look=0.3), _entry(0.3, look=0.5)]
    wanted = [0.0] * 5 + [0.3] * 5 + [0.15] * 5 + [0.0] * 5
    path = choose(entries, _wanted(wanted), CALIBRATION)
    picked = [entries[s].shape.gap for s in path]
    assert picked == pytest.approx(wanted)


def test_choose_does_not_flicker_between_look_alikes() -> None:
    entries = [_entry(0.10, look=0.2), _entry(0.12, look=0.9)]
    wanted = [0.10, 0.12] * 10
    path = choose(entries, _wanted(wanted), CALIBRATION)
    assert len(set(path.tolist())) == 1


def test_choose_keeps_the_frames_own_mouth_when_it_fits() -> None:
    entries = [_entry(0.0), _entry(0.3)]
    path = choose(entries, _wanted([0.15] * 6, own=0.15), CALIBRATION)
    assert set(path.tolist()) == {SELF}


def test_choose_prefers_a_mouth_seen_from_the_same_side() -> None:
    entries = [_entry(0.1, yaw=0.0), _entry(0.1, yaw=0.2)]
    path = choose(entries, _wanted([0.1] * 4, yaw=0.2), CALIBRATION)
    assert set(path.tolist()) == {1}


def test_choose_shuts_the_lips_for_a_closure_even_at_a_jump_cost() -> None:
    entries = [_entry(0.0, look=0.0), _entry(0.09, look=0.06)]
    wanted = [0.09] * 6 + [0.0] + [0.09] * 6  # one closed frame in an open stretch
    path = choose(entries, _wanted(wanted), CALIBRATION)
    assert path[6] == 0


def test_teeth_painted_into_a_dub_take_the_colour_the_video_shows(
    photo: np.ndarray, face: Face
) -> None:
    from engine.lipsync.dubbing.atlas import Atlas, PatchFrame
    from engine.lipsync.dubbing.blend import own_tooth_colour
    from engine.lipsync.faces import detect_faces
    from engine.lipsync.portrait import MouthFrame, PortraitAnimator, PortraitStyle

    still = PortraitStyle(head_motion=0.0, blink_rate=0.0)
    animator = PortraitAnimator(photo, face, (480, 562), style=still)
    atlas: Atlas | None = None
    for index, mouth in enumerate((MouthFrame(0.0, 0, 0, 0), MouthFrame(0.9, 0, 1.0, 1))):
        frame = animator.frame(0, 25.0, mouth)
        points = key_points(detect_faces(frame, max_faces=1)[0].landmarks)
        atlas = atlas or Atlas(PatchFrame.for_face(points))
        atlas.add(frame, points, index)
        if index == 0:
            assert own_tooth_colour(atlas.listing()) is None  # closed lips: no teeth seen
    assert atlas is not None
    tooth = own_tooth_colour(atlas.listing())
    assert tooth is not None
    # Light and far less red than the lips (about 214, 119, 94 here), like the teeth
    # painted in the open frame.
    assert tooth.mean() > 150 and tooth[0] - tooth[1] < 60
