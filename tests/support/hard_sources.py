"""Source videos that look like real footage's hard moments, made from real photos.

Real users' clips have hands and microphones in front of the mouth, heads that turn away,
smiles and laughs; the renderer must leave what covers the mouth exactly as it was and
fade out where it cannot read the face. These sources recreate those moments on a real
face so tests and `scripts/dub_quality.py` can measure them, knowing the truth:

* `occlude`: a hand (fingers with nails, knuckle creases and shading, in a skin tone
  close to the face's) or a hand-held microphone drawn over each frame, moving across the
  mouth; the exact occluder mask of every frame is returned with the video.
* `turn_head`: the face rotated about a vertical axis through the head (yaw, up to
  +-45 degrees) from the photo's 3-D Face Mesh: each pixel of the face moves by its depth,
  the hair and ears with the head, the background stays.

The speaking source itself comes from the portrait renderer (a real photo, a real voice).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

# --- the face in a frame -------------------------------------------------------------


@dataclass(frozen=True)
class FaceGeometry:
    """Where the mouth is in a frame, and how large the face is (pixels)."""

    mouth: np.ndarray  # (2,) centre of the lips
    mouth_width: float
    face_height: float
    roll: float  # radians, eye line against the x axis
    skin: np.ndarray  # (3,) RGB median of the cheeks


def face_geometry(frame: np.ndarray) -> FaceGeometry | None:
    from engine.lipsync import faces as fm
    from engine.lipsync.faces import detect_faces

    found = detect_faces(frame, max_faces=1)
    if not found:
        return None
    face = found[0]
    lm = face.landmarks
    lips = lm[list(fm.UPPER_OUTER_LIP + fm.LOWER_OUTER_LIP)]
    left, right = lm[fm.MOUTH_LEFT_CORNER], lm[fm.MOUTH_RIGHT_CORNER]
    eyes = lm[263] - lm[33]
    cheeks = []
    for index in (205, 425, 50, 280):
        x, y = np.round(lm[index]).astype(int)
        patch = frame[max(0, y - 3) : y + 4, max(0, x - 3) : x + 4].reshape(-1, 3)
        if len(patch):
            cheeks.append(patch)
    skin = np.median(np.concatenate(cheeks), axis=0) if cheeks else np.array([200, 160, 140])
    return FaceGeometry(
        mouth=lips.mean(axis=0),
        mouth_width=float(np.hypot(*(right - left))),
        face_height=float(face.face_height()),
        roll=float(math.atan2(eyes[1], eyes[0])),
        skin=skin.astype(np.float32),
    )


# --- occluders -----------------------------------------------------------------------


def _capsule_field(
    shape: tuple[int, int], start: np.ndarray, end: np.ndarray, radius: float, scale: int
) -> np.ndarray:
    """Signed distance (pixels, negative inside) to a capsule, on a `scale`x finer grid."""
    height, width = shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    xs = (xs + 0.5) / scale
    ys = (ys + 0.5) / scale
    d = end - start
    length2 = max(float(d @ d), 1e-6)
    t = np.clip(((xs - start[0]) * d[0] + (ys - start[1]) * d[1]) / length2, 0.0, 1.0)
    px, py = start[0] + t * d[0], start[1] + t * d[1]
    return np.hypot(xs - px, ys - py) - radius


@dataclass(frozen=True)
class Occluder:
    """An RGB layer and its coverage (0..1) at frame size."""

    colour: np.ndarray  # float32 (h, w, 3)
    alpha: np.ndarray  # float32 (h, w)

    def over(self, frame: np.ndarray) -> np.ndarray:
        a = self.alpha[:, :, None]
        out = frame.astype(np.float32) * (1.0 - a) + self.colour * a
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def hand(
    shape: tuple[int, int],
    tip: np.ndarray,
    direction: float,
    finger_width: float,
    skin: np.ndarray,
    *,
    fingers: int = 3,
) -> Occluder:
    """Fingers pointing along `direction` (radians) whose middle fingertip is at `tip`,
    with a palm behind them: rounded, shaded at the edges, nails at the tips, creases at
    the knuckles, in a skin tone a little warmer and lighter than the face's. Drawn at
    twice the resolution in a box around the hand, then shrunk (smooth edges)."""
    scale = 2
    height, width = shape
    along = np.array([math.cos(direction), math.sin(direction)], np.float32)
    across = np.array([-along[1], along[0]], np.float32)
    radius = finger_width / 2.0
    lengths = [3.6, 4.0, 3.8, 3.2][:fingers]
    offsets = (np.arange(fingers) - (fingers - 1) / 2.0) * finger_width * 1.02
    palm_start = tip - along * finger_width * 3.6
    palm_end = palm_start - along * finger_width * 4
    palm_radius = 2.2 * radius * fingers / 2
    # The box the hand can touch, in frame pixels.
    reach = np.array([tip, palm_end])
    pad = palm_radius + finger_width * 2
    x0 = int(max(0, np.floor(reach[:, 0].min() - pad)))
    y0 = int(max(0, np.floor(reach[:, 1].min() - pad)))
    x1 = int(min(width, np.ceil(reach[:, 0].max() + pad)))
    y1 = int(min(height, np.ceil(reach[:, 1].max() + pad)))
    colour_full = np.zeros((height, width, 3), np.float32)
    alpha_full = np.zeros((height, width), np.float32)
    if x1 <= x0 or y1 <= y0:
        return Occluder(colour_full, alpha_full)
    origin = np.array([x0, y0], np.float32)
    big = ((y1 - y0) * scale, (x1 - x0) * scale)
    tip_l = tip - origin
    distance = np.full(big, 1e6, np.float32)
    shading = np.zeros(big, np.float32)
    nails = np.zeros(big, np.float32)
    creases = np.zeros(big, np.float32)
    ys, xs = np.mgrid[0 : big[0], 0 : big[1]].astype(np.float32)
    xs, ys = (xs + 0.5) / scale, (ys + 0.5) / scale
    for offset, length in zip(offsets, lengths, strict=False):
        end = tip_l + across * offset - along * (4.0 - length) * finger_width * 0.3
        start = end - along * length * finger_width
        field = _capsule_field(big, start, end, radius, scale)
        inside = field < distance
        distance = np.minimum(distance, field)
        # Rounded: brightest along the finger's middle, darker towards its sides.
        shading = np.where(inside, np.sqrt(np.clip(-field / radius, 0.0, 1.0)), shading)
        nail_centre = end - along * radius * 0.9
        u = (xs - nail_centre[0]) * along[0] + (ys - nail_centre[1]) * along[1]
        v = (xs - nail_centre[0]) * across[0] + (ys - nail_centre[1]) * across[1]
        nail = ((u / (radius * 0.75)) ** 2 + (v / (radius * 0.6)) ** 2) < 1.0
        nails = np.where(inside & nail, 1.0, nails)
        for knuckle in (1.3, 2.5):
            k = end - along * knuckle * finger_width
            kd = np.abs((xs - k[0]) * along[0] + (ys - k[1]) * along[1])
            creases = np.where(inside & (kd < 0.6) & (field < -radius * 0.3), 1.0, creases)
    palm = _capsule_field(big, palm_start - origin, palm_end - origin, palm_radius, scale)
    distance = np.minimum(distance, palm)
    palm_shade = np.sqrt(np.clip(-palm / (3 * radius), 0, 1))
    shading = np.where(palm < 0, np.maximum(shading, palm_shade), shading)
    alpha = np.clip(0.5 - distance * scale / 1.5, 0.0, 1.0)
    tone = np.clip(skin * np.array([1.06, 0.98, 0.95]) + 12.0, 0, 255)
    colour = tone[None, None, :] * (0.72 + 0.28 * shading[:, :, None])
    colour = colour * (1.0 - 0.25 * creases[:, :, None])
    nail_colour = np.clip(tone * np.array([1.05, 0.95, 0.98]) + 25.0, 0, 255)
    colour = colour + (nail_colour - colour) * (0.8 * nails[:, :, None])
    size = (x1 - x0, y1 - y0)
    colour_full[y0:y1, x0:x1] = cv2.resize(
        colour.astype(np.float32), size, interpolation=cv2.INTER_AREA
    )
    alpha_full[y0:y1, x0:x1] = cv2.resize(
        alpha.astype(np.float32), size, interpolation=cv2.INTER_AREA
    )
    return Occluder(colour_full, alpha_full)


def microphone(shape: tuple[int, int], head: np.ndarray, radius: float, tilt: float) -> Occluder:
    """A hand-held microphone: a dark ball of wire mesh with a highlight, on a grey handle
    going down and away at `tilt` radians from vertical."""
    height, width = shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    dx, dy = xs - head[0], ys - head[1]
    ball = np.hypot(dx, dy) - radius
    down = np.array([math.sin(tilt), math.cos(tilt)], np.float32)
    handle_end = head + down * radius * 6.0
    handle = _capsule_field(shape, head + down * radius * 0.8, handle_end, radius * 0.45, 1)
    distance = np.minimum(ball, handle)
    alpha = np.clip(0.5 - distance, 0.0, 1.0)
    grid = (np.mod(dx + 100, radius * 0.35) < 1.2) | (np.mod(dy + 100, radius * 0.35) < 1.2)
    sphere = np.clip(1.0 - (np.hypot(dx + radius * 0.35, dy + radius * 0.35) / radius) ** 2, 0, 1)
    ball_colour = 35.0 + 70.0 * sphere[:, :, None] + 30.0 * grid[:, :, None]
    handle_shade = np.clip(-handle / (radius * 0.45), 0, 1)
    handle_colour = 60.0 + 60.0 * np.sqrt(handle_shade)[:, :, None]
    colour = np.where((ball < 0)[:, :, None], ball_colour, handle_colour)
    colour = np.broadcast_to(colour, (height, width, 3)).astype(np.float32)
    return Occluder(np.ascontiguousarray(colour), alpha.astype(np.float32))


# The hand's path over a clip (share of its length -> fingertip offset from the mouth, in
# mouth widths): out of the picture's lower face at first, then it comes in from the lower
# right, covers one mouth corner, the whole mouth, rests on the chin, and leaves.
_HAND_PATH = (
    (0.00, (3.5, 4.5)),
    (0.22, (3.2, 3.6)),
    (0.34, (1.2, 1.0)),
    (0.44, (0.45, 0.15)),  # over the right part of the lips
    (0.54, (-0.15, 0.05)),  # across the whole mouth
    (0.64, (-0.1, 0.9)),  # down on the chin, mouth free
    (0.76, (1.4, 1.6)),
    (0.86, (3.3, 3.8)),
    (1.00, (3.5, 4.5)),
)


def _along(path: tuple[tuple[float, tuple[float, float]], ...], t: float) -> np.ndarray:
    times = [p[0] for p in path]
    xs = [p[1][0] for p in path]
    ys = [p[1][1] for p in path]
    return np.array([np.interp(t, times, xs), np.interp(t, times, ys)], np.float32)


def occluder_at(kind: str, shape: tuple[int, int], face: FaceGeometry, t: float) -> Occluder:
    """The occluder of `kind` ("hand" or "mic") at time share `t` of the clip."""
    width = face.mouth_width
    if kind == "hand":
        offset = _along(_HAND_PATH, t)
        tip = face.mouth + offset * width
        # Fingers point up and to the left, towards the nose, as a hand raised to the mouth.
        direction = -2.2 + 0.3 * math.sin(6.0 * t)
        return hand(shape, tip, direction, finger_width=0.28 * width, skin=face.skin)
    if kind == "mic":
        head = face.mouth + np.array(
            [0.35 * width * math.sin(5.0 * t), 0.55 * width + 0.15 * width * math.sin(3.0 * t)]
        )
        return microphone(shape, head.astype(np.float32), 0.38 * width, tilt=0.35)
    raise ValueError(f"unknown occluder {kind!r}")


# --- head turns ----------------------------------------------------------------------


class HeadTurner:
    """Turns the head of one photo by a yaw angle, as a depth-aware warp.

    The photo's Face Mesh landmarks (with MediaPipe's relative depth) give every face
    pixel a depth by interpolation; a point at depth d (towards the camera) and x rotates
    about a vertical axis through the head's centre (half a face width behind the face):
    x' = c + (x - c) cos(a) + (d - d_c) sin(a). Hair, ears and neck move with the head at
    the centre's depth, fading out beyond it; the background does not move.
    """

    def __init__(self, photo: np.ndarray) -> None:
        import mediapipe as mp
        from scipy.interpolate import LinearNDInterpolator

        with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True) as m:
            result = m.process(np.ascontiguousarray(photo))
        if not result.multi_face_landmarks:
            raise ValueError("no face in the photo")
        height, width = photo.shape[:2]
        lm = np.array(
            [
                (p.x * width, p.y * height, -p.z * width)
                for p in result.multi_face_landmarks[0].landmark
            ],
            np.float32,
        )
        self.shape = (height, width)
        xs, ys = lm[:, 0], lm[:, 1]
        face_width = float(xs.max() - xs.min())
        self.centre_x = float(xs.mean())
        self.centre_d = float(np.median(lm[:, 2])) - 0.5 * face_width
        gx, gy = np.meshgrid(
            np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
        )
        depth = LinearNDInterpolator(lm[:, :2], lm[:, 2])(gx, gy).astype(np.float32)
        inside = np.isfinite(depth)
        # Outside the face: the head's centre depth near the face, fading to no motion.
        outside = np.where(inside, 0, 255).astype(np.uint8)
        distance = cv2.distanceTransform(outside, cv2.DIST_L2, 5)
        reach = 0.45 * face_width
        self.weight = np.clip(1.0 - distance / reach, 0.0, 1.0).astype(np.float32)
        self.weight = self.weight * self.weight * (3 - 2 * self.weight)
        # Only the head region (above the chin, roughly) moves at all.
        chin_y = float(ys.max())
        self.weight[gy > chin_y + 0.25 * face_width] *= 0.0
        self.weight = cv2.GaussianBlur(self.weight, (0, 0), 0.08 * face_width)
        self.depth = np.where(inside, depth, self.centre_d).astype(np.float32)
        self.depth = cv2.GaussianBlur(self.depth, (0, 0), 0.03 * face_width)
        self.gx, self.gy = gx, gy

    def shift(self, yaw: float) -> np.ndarray:
        """Forward x displacement of every photo pixel for a turn of `yaw` radians."""
        dx = self.gx - self.centre_x
        dd = self.depth - self.centre_d
        moved = dx * math.cos(yaw) + dd * math.sin(yaw)
        return ((moved - dx) * self.weight).astype(np.float32)

    def apply(self, frame: np.ndarray, yaw: float) -> np.ndarray:
        if abs(yaw) < 1e-4:
            return frame.copy()
        forward = self.gx + self.shift(yaw)
        # What turns away is hidden behind what comes forward: along each row the forward
        # map may not run backwards (a fold), so it is made monotonic in the direction of
        # the turn, then inverted row by row.
        if yaw > 0:  # points nearer the camera move further right, over what is right of them
            forward = np.maximum.accumulate(forward, axis=1)
        else:
            forward = np.minimum.accumulate(forward[:, ::-1], axis=1)[:, ::-1]
        source = np.empty_like(forward)
        xs = self.gx[0]
        for row in range(forward.shape[0]):
            source[row] = np.interp(xs, forward[row], xs)
        return cv2.remap(frame, source, self.gy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


# --- whole sources ---------------------------------------------------------------------


@dataclass
class HardSource:
    path: Path
    fps: float
    occluder: list[np.ndarray]  # per frame, bool mask of the occluder (empty without one)
    yaw: list[float]  # per frame, the head turn applied (radians)


def compose(
    frames: Iterator[np.ndarray],
    n_frames: int,
    out: Path,
    fps: float,
    *,
    occluder: str | None = None,
    max_yaw_deg: float = 0.0,
    turner: HeadTurner | None = None,
    audio: np.ndarray | None = None,
    audio_rate: int = 48_000,
) -> HardSource:
    """Write `frames` (a talking source) with a head turn and/or an occluder added."""
    from engine.media import Mp4Writer

    masks: list[np.ndarray] = []
    yaws: list[float] = []
    writer: Mp4Writer | None = None
    try:
        for i, frame in enumerate(frames):
            if writer is None:
                height, width = frame.shape[:2]
                writer = Mp4Writer(
                    out, width, height, fps, audio=audio, audio_rate=audio_rate, crf=14
                )
            t = i / max(n_frames - 1, 1)
            yaw = math.radians(max_yaw_deg) * math.sin(2.0 * math.pi * t) if max_yaw_deg else 0.0
            if turner is not None and yaw:
                frame = turner.apply(frame, yaw)
            mask = np.zeros(frame.shape[:2], bool)
            if occluder is not None:
                face = face_geometry(frame)
                if face is not None:
                    layer = occluder_at(occluder, frame.shape[:2], face, t)
                    frame = layer.over(frame)
                    mask = layer.alpha > 0.5
            writer.write(frame)
            masks.append(mask)
            yaws.append(yaw)
    finally:
        if writer is not None:
            writer.close()
    return HardSource(out, fps, masks, yaws)


def frames_of(path: Path) -> tuple[Iterator[np.ndarray], int, float]:
    from engine.media import iter_video_frames, probe

    info = probe(path)
    fps = float(info.fps or 25.0)
    return iter_video_frames(path), round((info.duration or 0.0) * fps), fps


Render = Callable[[str, dict[str, Path], dict, Path], float]
