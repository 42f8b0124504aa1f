"""What covers the speaker's mouth in each frame: hands, microphones, cups, hair.

Whatever is in front of the lower face must stay exactly as the source shows it; where
most of the mouth is hidden the frame is not dubbed at all (`confidence` fades it out).
Two detectors, combined per frame on the shape-free template grid (`skin_map`):

* **Hands** (`hands`: MediaPipe Hands, shipped in the wheel) on a crop around the lower
  face: palm and fingers drawn as thick strokes through the 21 hand landmarks. The palm
  detector runs a few times a second while no hand is near, and the cheaper landmark
  tracker on every frame once one is.
* **Anything else** (`appearance`): every spot of the template has a usual look over the
  video (its median colour in Lab) and a usual spread; pixels far outside it, after the
  frame's overall lighting shift is taken out, belong to something that does not move
  with the face. Expressions and mouth shapes that come back often are part of the usual
  spread, so they are not flagged; the inside of the mouth (teeth, tongue, dark) is never
  judged by colour. A finger across the lips hides lip above and below the opening, so
  that column of the opening counts as hidden too.

Pass 1 writes each face's template picture (RGB plus the hand coverage, about 11 KB) to
a file in the job's folder, so memory stays flat for long videos; `find` reads it back
per speaker after pass 1 and keeps one packed bit per template pixel and frame.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from engine.lipsync.dubbing import appearance
from engine.lipsync.dubbing import skin_map as sm

_CHUNK = 256
# Frames with more of the template covered than this are kept this long (s) away from
# the second round's learning.
_DIRTY_SHARE = 0.005
_CLEAR_S = 0.5
_NECK_REACH = 11  # template pixels (about a third of an eye distance)
# A found piece this large (template pixels) needs no confirmation from its neighbours.
_LARGE_PIECE = 25


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


def _steady(foreign: np.ndarray) -> np.ndarray:
    """Keep what is also foreign near the same place in a neighbouring frame, or large:
    an object in front of the face lasts, a flicker of compression or a glint does not
    (and a hand's first frame over the face is large enough to keep on its own)."""
    grown = np.stack([cv2.dilate(f.astype(np.uint8), appearance.DISK) > 0 for f in foreign])
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
        pose = appearance.pose_bins(
            np.zeros(len(frames)) if yaws is None else np.asarray(yaws)[frames]
        )
        mouth_bin = pose * appearance.BINS + appearance.gap_bins(np.asarray(gaps)[frames])
        usual = appearance.usuals(pictures, frame_rows, mouth_bin)
        found = _detect(pictures, frame_rows, mouth_bin, usual)
        dirty = np.array([m is not None and m.mean() > _DIRTY_SHARE for m in found])
        if dirty.any():
            near = np.convolve(dirty.astype(float), np.ones(2 * clear + 1), "same") > 0
            if (~near).sum() >= 3 * appearance.MIN_REFERENCE_FRAMES:
                keep = ~near
                again = appearance.usuals(pictures, frame_rows[keep], mouth_bin[keep])
                usual = {b: again.get(b) or usual[b] for b in usual}
                found = _detect(pictures, frame_rows, mouth_bin, usual)
        found = _bridge(found)
        for k, covered in enumerate(found):
            if covered is None:
                continue
            mask = cv2.dilate(covered.astype(np.uint8), appearance.CROSS) > 0
            mask = _below_the_jaw(_complete(mask, mouth)) & appearance.dub_region()
            if not mask.any():
                continue
            j = frames[k]
            packed[j] = np.packbits(mask.reshape(-1))
            visible[j] = 1.0 - float((mask & mouth.mouth).sum()) / mouth_pixels
            if (mask & appearance.face_region()).any():
                on_face.add(j)
    return Occlusion(packed, visible, on_face)


def _below_the_jaw(mask: np.ndarray) -> np.ndarray:
    """What covers the chin goes on under it: a hand on the chin holds it from below, a
    microphone's handle runs down. The neck within reach of anything found on the face
    is kept as it is too (the neck itself is not judged: collars and background)."""
    on_face = (mask & appearance.face_region()).astype(np.uint8)
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
        both = (cv2.dilate(before.astype(np.uint8), appearance.DISK) > 0) & (
            cv2.dilate(after.astype(np.uint8), appearance.DISK) > 0
        )
        current = found[k]
        out[k] = both if current is None else current | both
    return out


def _detect(
    pictures: np.ndarray,
    rows: np.ndarray,
    mouth_bin: np.ndarray,
    usual: dict[int, appearance.Usual | None],
) -> list[np.ndarray | None]:
    """Per frame (in `rows` order): the (H, W) bool mask of what covers it, or None."""
    out: list[np.ndarray | None] = []
    for start in range(0, len(rows), _CHUNK):
        # One frame of overlap each side, for `_steady`.
        lo, hi = max(0, start - 1), min(len(rows), start + _CHUNK + 1)
        chunk = np.asarray(pictures[rows[lo:hi]])
        hands = chunk[..., 3] > 127
        covered = np.zeros_like(hands)
        lab = appearance.to_lab(chunk)
        bins = mouth_bin[lo:hi]
        for b in np.unique(bins).tolist():
            reference = usual.get(b)
            if reference is not None:
                covered[bins == b] = appearance.foreign(lab[bins == b], reference)
        covered = _steady(covered) | hands
        for k in range(start - lo, start - lo + min(_CHUNK, len(rows) - start)):
            out.append(covered[k] if covered[k].any() else None)
    return out
