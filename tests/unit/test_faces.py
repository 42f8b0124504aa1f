"""Face finding on real photographs (MediaPipe models ship inside the wheel)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.errors import NoFaceError
from engine.lipsync import faces
from engine.lipsync.faces import detect_faces, find_face, find_two_faces


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """Grace Hopper's official portrait, shipped as matplotlib sample data."""
    cbook = pytest.importorskip("matplotlib.cbook")
    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def pair(photo: np.ndarray) -> np.ndarray:
    """Two real portraits side by side: the photo and a smaller mirrored copy of it."""
    right = np.full_like(photo, 200)
    small = cv2.resize(np.ascontiguousarray(photo[:, ::-1]), (410, 480))
    right[60:540, 50:460] = small
    return np.concatenate([photo, right], axis=1)


def test_finds_the_face_on_a_real_photo(photo: np.ndarray) -> None:
    face = find_face(photo)
    assert face.landmarks.shape in {(468, 2), (478, 2)}
    assert face.landmarks.dtype == np.float32
    x0, y0, x1, y1 = face.box
    # Her face (brow to chin) sits in the middle of the upper half of the portrait.
    assert 130 < x0 < 220 and 300 < x1 < 400 and 90 < y0 < 180 and 290 < y1 < 380
    inside = (
        (face.landmarks[:, 0] >= x0 - 1)
        & (face.landmarks[:, 0] <= x1 + 1)
        & (face.landmarks[:, 1] >= y0 - 1)
        & (face.landmarks[:, 1] <= y1 + 1)
    )
    assert inside.all()
    assert 0.5 <= face.score <= 1.0


def test_contours_are_anatomically_ordered(photo: np.ndarray) -> None:
    face = find_face(photo)
    left, right = face.left_eye(), face.right_eye()
    eyes_y = (left.upper[:, 1].mean() + right.upper[:, 1].mean()) / 2
    mouth_y = face.outer_lips()[:, 1].mean()
    chin_y = face.jaw_line()[:, 1].max()
    assert left.upper[:, 0].mean() < right.upper[:, 0].mean()
    assert eyes_y < mouth_y < chin_y
    assert (left.lower[:, 1] >= left.upper[:, 1] - 1).all()
    # Her mouth is closed in the photo.
    assert face.mouth_gap() < 0.02
    assert face.inner_lips().shape[1] == 2 and face.upper_inner_lip().shape == (11, 2)


def test_blank_image_has_no_face() -> None:
    with pytest.raises(NoFaceError, match="no face found"):
        find_face(np.full((240, 320, 3), 128, np.uint8))


def test_tiny_face_is_refused_with_its_size(photo: np.ndarray) -> None:
    tiny = cv2.resize(photo, (64, 75), interpolation=cv2.INTER_AREA)
    with pytest.raises(NoFaceError, match=r"too small to animate \(\d+ px\)") as caught:
        find_face(tiny)
    assert caught.value.code == "no_face"
    assert "larger or closer photo" in caught.value.message


def test_two_faces_left_to_right(pair: np.ndarray) -> None:
    found = detect_faces(pair)
    assert len(found) == 2
    assert found[0].center[0] < found[1].center[0]
    left, right = find_two_faces(pair)
    assert left.box[2] <= pair.shape[1] // 2 + 10
    assert right.box[0] >= pair.shape[1] // 2
    assert right.size < left.size  # the mirrored copy was shrunk


def test_duet_needs_two_faces(photo: np.ndarray) -> None:
    with pytest.raises(NoFaceError, match="must show two people; found 1 face"):
        find_two_faces(photo)


def test_small_face_in_a_large_image_is_found(photo: np.ndarray) -> None:
    """The mesh's own detector misses it; the tiled full-range search finds it."""
    canvas = np.full((1500, 2400, 3), 120, np.uint8)
    canvas[100:700, 100:612] = photo
    canvas[800:1100, 1800:2056] = cv2.resize(photo, (256, 300), interpolation=cv2.INTER_AREA)
    found = detect_faces(canvas)
    assert len(found) == 2
    small = found[1]
    assert 1800 < small.center[0] < 2056 and 800 < small.center[1] < 1100
    assert small.size >= faces.MIN_FACE_PX


def test_rejects_non_images() -> None:
    with pytest.raises(ValueError):
        detect_faces(np.zeros((10, 10, 3), np.float32))
