"""How much of the dub each source frame can take: 1 = fully dubbed, 0 = left as it is.

A pasted mouth is only as good as the landmarks it is placed by and the view it is
pasted into. Rather than one threshold tuned to one clip, each frame is judged on measured
quantities, each with a range over which the effect fades from full to nothing:

* head turned sideways (yaw) or nodding far from the speaker's usual pitch: the
  canonical patch is a 2-D picture and stops fitting a face seen from the side;
* roll beyond what people do while talking (lying down, upside down);
* a small face (few pixels between the eyes): nothing readable to draw;
* unsteady landmarks (the skull points jump against their smoothed track: a bad fit);
* fast motion (motion blur, and a pasted sharp mouth on a blurred face);
* a mouth mostly hidden behind something (`occlusion`).

The product of those is then eased in time: a frame's weight never exceeds the weights
within a few frames of it (so a fade-out starts ahead of the bad frame), and the result
is averaged over a short window, so the dub fades in and out over about `FADE_FRAMES`
frames instead of popping. At a cut the effect starts and ends at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.lipsync.dubbing.tracking import STABLE, columns, eye_frame, pose, stretches

_STABLE = columns(STABLE)

# (full effect up to, nothing from) for each measure.
YAW = (0.28, 0.48)  # nose offset from the eye midpoint, eye distances (~27 and ~45 deg)
PITCH = (0.18, 0.40)  # change from the speaker's median pitch, eye distances
ROLL_DEG = (35.0, 60.0)
EYES_PX = (22.0, 12.0)  # distance between the eye centres (falls: larger is better)
JITTER = (0.05, 0.12)  # raw skull points vs their smoothed track, eye distances
SPEED = (0.18, 0.40)  # skull motion per 1/25 s, eye distances
VISIBLE = (0.65, 0.35)  # share of the mouth not covered (falls)
FADE_FRAMES = 3  # at 25 fps; scaled with the frame rate


def _fade(value: np.ndarray, full: float, none: float) -> np.ndarray:
    """1 at `full`, 0 at `none`, smooth between (either direction)."""
    x = np.clip((np.asarray(value, np.float64) - none) / (full - none), 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


@dataclass(frozen=True)
class FrameMeasures:
    """Per source frame (NaN where the dubbed face is absent)."""

    yaw: np.ndarray
    pitch: np.ndarray
    roll_deg: np.ndarray
    eyes_px: np.ndarray
    jitter: np.ndarray
    speed: np.ndarray


def measure(
    raw: list[np.ndarray | None], smooth: list[np.ndarray | None], fps: float
) -> FrameMeasures:
    n = len(raw)
    out = {k: np.full(n, np.nan) for k in ("yaw", "pitch", "roll", "eyes", "jitter", "speed")}
    previous: tuple[np.ndarray, float] | None = None
    for j in range(n):
        r, s = raw[j], smooth[j]
        if r is None or s is None:
            previous = None
            continue
        origin, axis, unit = eye_frame(s)
        head = pose(s)
        out["yaw"][j] = head.yaw
        out["pitch"][j] = head.pitch
        out["roll"][j] = math.degrees(math.atan2(axis[1], axis[0]))
        out["eyes"][j] = unit
        out["jitter"][j] = float(np.hypot(*(r[_STABLE] - s[_STABLE]).T).mean()) / unit
        if previous is not None:
            out["speed"][j] = float(np.hypot(*(origin - previous[0]))) / unit * fps / 25.0
        else:
            out["speed"][j] = 0.0
        previous = (origin, unit)
    return FrameMeasures(
        out["yaw"], out["pitch"], out["roll"], out["eyes"], out["jitter"], out["speed"]
    )


def frame_weights(m: FrameMeasures, visible: np.ndarray, speaker: list[int]) -> np.ndarray:
    """Per-frame weight from the measures alone (before easing in time)."""
    n = len(speaker)
    weight = np.zeros(n)
    who = np.asarray(speaker)
    for person in set(speaker) - {-1}:
        mine = (who == person) & np.isfinite(m.yaw)
        if not mine.any():
            continue
        usual_pitch = float(np.median(m.pitch[mine]))
        w = (
            _fade(np.abs(m.yaw[mine]), *YAW)
            * _fade(np.abs(m.pitch[mine] - usual_pitch), *PITCH)
            * _fade(np.abs(m.roll_deg[mine]), *ROLL_DEG)
            * _fade(m.eyes_px[mine], *EYES_PX)
            * _fade(m.jitter[mine], *JITTER)
            * _fade(m.speed[mine], *SPEED)
            * _fade(visible[mine], *VISIBLE)
        )
        weight[mine] = w
    return weight


def ease(weight: np.ndarray, speaker: list[int], shots: list[int], fps: float) -> np.ndarray:
    """Fade in and out over a few frames: within each stretch of one speaker, cap every
    frame by its neighbours' weights, then average over a short window. A stretch that
    starts or ends at a cut starts or ends at full strength; one that starts or ends
    inside a shot (the face found or lost) fades from or to nothing."""
    n = len(weight)
    span = max(1, round(FADE_FRAMES * fps / 25.0))
    half = span // 2
    out = np.zeros(n)
    for start, end, who in stretches(speaker):
        if who >= 0:
            at_cut_before = start == 0 or shots[start] != shots[start - 1]
            at_cut_after = end == n or shots[end] != shots[end - 1]
            pad_before = np.full(span, 1.0 if at_cut_before else 0.0)
            pad_after = np.full(span, 1.0 if at_cut_after else 0.0)
            padded = np.concatenate([pad_before, weight[start:end], pad_after])
            capped = _running_min(padded, half)
            kernel = np.ones(2 * half + 1) / (2 * half + 1)
            smooth = np.convolve(capped, kernel, "same")
            out[start:end] = np.minimum(smooth[span:-span], 1.0)
    out[out < 0.02] = 0.0
    return out.astype(np.float32)


def _running_min(values: np.ndarray, half: int) -> np.ndarray:
    out = values.copy()
    for k in range(1, half + 1):
        out[:-k] = np.minimum(out[:-k], values[k:])
        out[k:] = np.minimum(out[k:], values[:-k])
    return out
