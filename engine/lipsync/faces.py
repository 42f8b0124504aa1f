"""Find faces and their 468/478 MediaPipe Face Mesh landmarks in a photo.

Everything the portrait renderer animates (lips, jaw, eyelids, head) is placed from these
landmarks, so this module favours recall and clean geometry over speed: a photo is
analysed once per job, and the models ship inside the mediapipe wheel (no download).

Two detectors are combined because each misses what the other sees:

* Face Mesh runs its own short-range detector on a 128 px copy of the whole image, so it
  finds large, frontal faces but misses small ones (a group photo, a person far away).
* The full-range face detector finds small faces; each one the mesh missed is cropped,
  enlarged and meshed on its own, then mapped back.

The graphs are created once per process (creation costs tens of milliseconds) and used
under a lock, because a MediaPipe graph is not safe to call from two threads at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

import cv2
import numpy as np

from engine.errors import NoFaceError

# A face whose box is shorter than this (in source pixels) on its short side is refused:
# its mouth is then about 20 px wide, too few pixels to draw parting lips, teeth and a
# cavity that read as a mouth, and MediaPipe's landmarks on it jitter by several percent
# of the face size, which makes the animation wobble.
MIN_FACE_PX = 48

# Detection runs on a copy whose long side is at most this. MediaPipe resizes to
# 128-256 px internally anyway; a bounded copy keeps the conversion cheap on 24 MP photos
# while leaving small faces in group photos large enough for the full-range detector.
DETECT_MAX_SIDE = 1280

# A crop around a detector box is enlarged (or shrunk) to this side before meshing it.
_CROP_SIDE = 384
# The crop is this many times the detector box, so forehead and chin are inside it and the
# face fills about half of it, which is what the mesh's own short-range detector expects.
_CROP_GROW = 2.0
# Faces whose boxes overlap more than this are the same face seen by both detectors.
_SAME_FACE_IOU = 0.35
# Score given to faces only the mesh found: the legacy mesh API reports no confidence,
# and it only returns faces above its detection threshold, which is this value.
_MESH_ONLY_SCORE = 0.5

# --- landmark indices of the canonical MediaPipe face mesh ------------------------------
# Contours run from the image-left end to the image-right end on a frontal face.
UPPER_OUTER_LIP = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LOWER_OUTER_LIP = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
UPPER_INNER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_INNER_LIP = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
JAW_LINE = (
    234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152,
    377, 400, 378, 379, 365, 397, 288, 361, 323, 454,
)  # fmt: skip
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
    377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
# The eye that appears on the left of the image (the subject's right eye), corner to corner.
LEFT_EYE_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
LEFT_EYE_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
RIGHT_EYE_UPPER = (362, 398, 384, 385, 386, 387, 388, 466, 263)
RIGHT_EYE_LOWER = (362, 382, 381, 380, 374, 373, 390, 249, 263)
LEFT_BROW = (70, 63, 105, 66, 107)
RIGHT_BROW = (336, 296, 334, 293, 300)
FOREHEAD_TOP = 10
CHIN_BOTTOM = 152
MOUTH_LEFT_CORNER = 61
MOUTH_RIGHT_CORNER = 291
# Pairs of inner-lip points facing each other across the mouth opening.
_INNER_LIP_PAIRS = ((82, 87), (13, 14), (312, 317), (81, 178), (311, 402))


@dataclass(frozen=True, eq=False)
class EyeContour:
    """Upper and lower lid margins of one eye, each running corner to corner."""

    upper: np.ndarray
    lower: np.ndarray


@dataclass(frozen=True, eq=False)
class Face:
    """One face: landmarks in source-image pixels, its box and how sure the detector was.

    `landmarks` is (468, 2) or (478, 2) float32 (x, y); the last ten of 478 are the irises.
    The box is the landmarks' bounding box, which hugs the face from brow to chin (no hair).
    """

    landmarks: np.ndarray
    box: tuple[int, int, int, int]
    score: float

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]

    @property
    def size(self) -> int:
        """Short side of the box: the number that decides whether a face is usable."""
        return min(self.width, self.height)

    @property
    def center(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2.0, (self.box[1] + self.box[3]) / 2.0)

    def points(self, indices: tuple[int, ...]) -> np.ndarray:
        return self.landmarks[list(indices)]

    def outer_lips(self) -> np.ndarray:
        """Closed outer lip polygon (upper contour left->right, lower back right->left)."""
        return np.concatenate([self.points(UPPER_OUTER_LIP), self.points(LOWER_OUTER_LIP)[-2:0:-1]])

    def inner_lips(self) -> np.ndarray:
        """Closed inner lip polygon: the mouth opening, degenerate when the lips touch."""
        return np.concatenate([self.points(UPPER_INNER_LIP), self.points(LOWER_INNER_LIP)[-2:0:-1]])

    def upper_inner_lip(self) -> np.ndarray:
        return self.points(UPPER_INNER_LIP)

    def lower_inner_lip(self) -> np.ndarray:
        return self.points(LOWER_INNER_LIP)

    def jaw_line(self) -> np.ndarray:
        """Face outline below the ears, image-left to image-right through the chin."""
        return self.points(JAW_LINE)

    def face_oval(self) -> np.ndarray:
        return self.points(FACE_OVAL)

    def left_eye(self) -> EyeContour:
        """The eye on the left of the image (the subject's right eye)."""
        return EyeContour(self.points(LEFT_EYE_UPPER), self.points(LEFT_EYE_LOWER))

    def right_eye(self) -> EyeContour:
        """The eye on the right of the image (the subject's left eye)."""
        return EyeContour(self.points(RIGHT_EYE_UPPER), self.points(RIGHT_EYE_LOWER))

    def face_height(self) -> float:
        """Forehead-to-chin distance: the unit that makes measurements size-independent."""
        top, chin = self.landmarks[FOREHEAD_TOP], self.landmarks[CHIN_BOTTOM]
        return float(np.hypot(*(chin - top)))

    def mouth_gap(self) -> float:
        """Mean inner-lip gap across the middle of the mouth, in face heights.

        About 0.00-0.01 for closed lips and 0.10-0.18 for a wide-open mouth; this is
        how the renderer's tests (and the quality script) read mouth opening.
        """
        gaps = [np.hypot(*(self.landmarks[b] - self.landmarks[a])) for a, b in _INNER_LIP_PAIRS]
        return float(np.mean(gaps)) / max(self.face_height(), 1e-6)

    def scaled(self, scale: float, offset: tuple[float, float] = (0.0, 0.0)) -> Face:
        """The same face in an image resized by `scale` then shifted by `offset`."""
        landmarks = self.landmarks * np.float32(scale) + np.asarray(offset, np.float32)
        return _make_face(landmarks, self.score)


def detect_faces(
    image_rgb: np.ndarray, *, max_faces: int = 4, enough: int | None = None
) -> list[Face]:
    """All faces MediaPipe can mesh, left to right; no size filtering (see `find_face`).

    Small faces need a tiled search (the detectors look at a 128-192 px copy of what
    they are given); it runs only while fewer than `enough` faces (default `max_faces`)
    were found, because it costs a few detector passes.
    """
    image = _as_rgb(image_rgb)
    height, width = image.shape[:2]
    scale = min(1.0, DETECT_MAX_SIDE / max(height, width))
    small = image if scale == 1.0 else _resize(image, scale)
    faces = [
        _make_face(lm / np.float32(scale), _MESH_ONLY_SCORE) for lm in _mesh_whole(small, max_faces)
    ]
    detections = _scaled_detections(_detect(small), 1.0 / scale)
    faces = [_with_detector_score(face, detections) for face in faces]
    faces = _add_cropped(image, faces, detections, max_faces)
    if len(faces) < min(enough or max_faces, max_faces):
        tiled = _scaled_detections(_detect_tiled(small), 1.0 / scale)
        faces = _add_cropped(image, faces, tiled, max_faces)
    return sorted(faces, key=lambda face: face.center[0])


def _add_cropped(
    image: np.ndarray, faces: list[Face], detections: list[_Detection], max_faces: int
) -> list[Face]:
    """Mesh, one crop at a time, the detector boxes that no known face covers."""
    faces = list(faces)
    for box, score in detections:
        if len(faces) >= max_faces:
            break
        if any(_iou(box, face.box) > _SAME_FACE_IOU for face in faces):
            continue
        landmarks = mesh_crop(image, box)
        if landmarks is None:
            continue
        candidate = _make_face(landmarks, score)
        if not any(_iou(candidate.box, face.box) > _SAME_FACE_IOU for face in faces):
            faces.append(candidate)
    return faces


def find_face(image_rgb: np.ndarray) -> Face:
    """The face to animate in a one-person photo: the largest one, if large enough."""
    faces = detect_faces(image_rgb, enough=1)
    if not faces:
        raise NoFaceError(
            "no face found in the image; use a photo where one face is clearly visible, "
            "facing the camera"
        )
    face = max(faces, key=lambda f: f.size)
    _require_size(face, "the face")
    return face


def find_two_faces(image_rgb: np.ndarray) -> tuple[Face, Face]:
    """(left, right) faces for a duet: the two largest, refusing a crowd of equals.

    A third face at least 60% the size of the second is ambiguous (which two sing?), so
    it is an error; smaller faces in the background are ignored.
    """
    faces = sorted(detect_faces(image_rgb, enough=2), key=lambda f: f.size, reverse=True)
    if len(faces) < 2:
        found = "no face" if not faces else "1 face"
        raise NoFaceError(f"the image must show two people; found {found}")
    if len(faces) > 2 and faces[2].size >= 0.6 * faces[1].size:
        raise NoFaceError(
            f"the image must show two people; found {len(faces)} faces of similar size"
        )
    left, right = sorted(faces[:2], key=lambda f: f.center[0])
    _require_size(left, "the face on the left")
    _require_size(right, "the face on the right")
    return left, right


def _require_size(face: Face, name: str) -> None:
    if face.size < MIN_FACE_PX:
        raise NoFaceError(
            f"{name} is too small to animate ({face.size} px); use a larger or closer photo "
            f"(at least {MIN_FACE_PX} px)"
        )


# --- MediaPipe plumbing ------------------------------------------------------------------

_LOCK = threading.Lock()
# A detector box (x0, y0, x1, y1) in pixels and its confidence.
_Detection = tuple[tuple[int, int, int, int], float]
# Side of the tiles searched for small faces (in the detection copy's pixels).
_TILE = 512


@cache
def _face_mesh(max_faces: int) -> Any:
    import mediapipe as mp  # heavy import, only when a face is actually needed

    return mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True,
        max_num_faces=max_faces,
        refine_landmarks=True,
        min_detection_confidence=_MESH_ONLY_SCORE,
    )


@cache
def _face_detector() -> Any:
    import mediapipe as mp

    return mp.solutions.face_detection.FaceDetection(
        model_selection=1, min_detection_confidence=0.5
    )


def _mesh_whole(image: np.ndarray, max_faces: int) -> list[np.ndarray]:
    with _LOCK:
        result = _face_mesh(max_faces).process(image)
    return _landmark_arrays(result, image.shape[1], image.shape[0])


def _landmark_arrays(result: Any, width: int, height: int) -> list[np.ndarray]:
    found = getattr(result, "multi_face_landmarks", None) or []
    return [
        np.array([(p.x * width, p.y * height) for p in face.landmark], dtype=np.float32)
        for face in found
    ]


def _detect(image: np.ndarray) -> list[_Detection]:
    """Full-range detector boxes (pixels) with scores, most confident first."""
    with _LOCK:
        result = _face_detector().process(image)
    height, width = image.shape[:2]
    boxes = []
    for detection in getattr(result, "detections", None) or []:
        rel = detection.location_data.relative_bounding_box
        x0, y0 = rel.xmin * width, rel.ymin * height
        box = (int(x0), int(y0), int(x0 + rel.width * width), int(y0 + rel.height * height))
        boxes.append((box, float(detection.score[0])))
    return sorted(boxes, key=lambda item: -item[1])


def mesh_crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray | None:
    """Mesh one detector box by meshing an enlarged square crop around it, mapped back."""
    cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
    side = _CROP_GROW * max(box[2] - box[0], box[3] - box[1], 8)
    scale = _CROP_SIDE / side
    # One affine does crop, resize and padding (replicated edges) in a single pass.
    matrix = np.array(
        [[scale, 0.0, _CROP_SIDE / 2 - cx * scale], [0.0, scale, _CROP_SIDE / 2 - cy * scale]],
        dtype=np.float64,
    )
    crop = cv2.warpAffine(
        image,
        matrix,
        (_CROP_SIDE, _CROP_SIDE),
        flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    with _LOCK:
        result = _face_mesh(1).process(crop)
    meshes = _landmark_arrays(result, _CROP_SIDE, _CROP_SIDE)
    if not meshes:
        return None
    landmarks = meshes[0]
    landmarks[:, 0] = (landmarks[:, 0] - matrix[0, 2]) / scale
    landmarks[:, 1] = (landmarks[:, 1] - matrix[1, 2]) / scale
    return landmarks


def _detect_tiled(image: np.ndarray) -> list[_Detection]:
    """Detector boxes from overlapping tiles, so small faces are seen at a usable scale."""
    height, width = image.shape[:2]
    if max(height, width) <= _TILE:
        return []
    found: list[_Detection] = []
    for y0 in _tile_starts(height):
        for x0 in _tile_starts(width):
            tile = np.ascontiguousarray(image[y0 : y0 + _TILE, x0 : x0 + _TILE])
            for (bx0, by0, bx1, by1), score in _detect(tile):
                box = (bx0 + x0, by0 + y0, bx1 + x0, by1 + y0)
                if not any(_iou(box, other) > _SAME_FACE_IOU for other, _ in found):
                    found.append((box, score))
    return sorted(found, key=lambda item: -item[1])


def _tile_starts(length: int) -> list[int]:
    if length <= _TILE:
        return [0]
    count = int(np.ceil((length - _TILE) / (_TILE // 2))) + 1
    return [round(i * (length - _TILE) / (count - 1)) for i in range(count)]


def _scaled_detections(detections: list[_Detection], factor: float) -> list[_Detection]:
    if factor == 1.0:
        return detections
    return [
        ((round(x0 * factor), round(y0 * factor), round(x1 * factor), round(y1 * factor)), score)
        for (x0, y0, x1, y1), score in detections
    ]


def _with_detector_score(face: Face, detections: list[_Detection]) -> Face:
    scores = [score for box, score in detections if _iou(face.box, box) > _SAME_FACE_IOU]
    if not scores:
        return face
    return Face(landmarks=face.landmarks, box=face.box, score=max(scores))


def _make_face(landmarks: np.ndarray, score: float) -> Face:
    landmarks = np.ascontiguousarray(landmarks, dtype=np.float32)
    landmarks.setflags(write=False)
    return Face(landmarks=landmarks, box=_landmark_box(landmarks), score=float(score))


def _landmark_box(landmarks: np.ndarray) -> tuple[int, int, int, int]:
    x0, y0 = np.floor(landmarks[:468].min(axis=0)).astype(int)
    x1, y1 = np.ceil(landmarks[:468].max(axis=0)).astype(int)
    return int(x0), int(y0), int(x1), int(y1)


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _as_rgb(image: np.ndarray) -> np.ndarray:
    """Contiguous HxWx3 uint8: MediaPipe rejects anything else with a cryptic error."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4) or min(array.shape[:2]) < 2:
        raise ValueError(f"expected an HxWx3 RGB image, got shape {array.shape}")
    if array.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {array.dtype}")
    return np.ascontiguousarray(array[:, :, :3])


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
