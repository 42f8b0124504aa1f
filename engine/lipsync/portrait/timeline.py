"""Where each voice of a duet sits in time, and the mixed soundtrack.

`meanwhile`: both start at 0 and the track lasts as long as the longer voice; the mix is
the sum, scaled down only if it would clip. `left_right` / `right_left`: one voice after
the other; whoever is not speaking listens (closed mouth, still blinking).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DuetTimeline:
    left_start: int  # in samples
    right_start: int
    total: int
    mix: np.ndarray  # float32 mono


def arrange(left: np.ndarray, right: np.ndarray, order: str) -> DuetTimeline:
    if order == "meanwhile":
        left_start = right_start = 0
        total = max(len(left), len(right))
    elif order == "left_right":
        left_start, right_start = 0, len(left)
        total = len(left) + len(right)
    elif order == "right_left":
        right_start, left_start = 0, len(right)
        total = len(left) + len(right)
    else:
        raise ValueError(f"unknown order {order!r}")
    mix = np.zeros(total, np.float32)
    mix[left_start : left_start + len(left)] += left
    mix[right_start : right_start + len(right)] += right
    peak = float(np.max(np.abs(mix))) if total else 0.0
    if peak > 1.0:
        mix /= peak
    return DuetTimeline(left_start, right_start, total, mix)


def place_track(values: np.ndarray, start_frame: int, n_frames: int, rest: float) -> np.ndarray:
    """A per-frame track shifted to `start_frame` in a timeline of `n_frames`, rest elsewhere."""
    out = np.full(n_frames, rest, np.float32)
    end = min(n_frames, start_frame + len(values))
    if end > start_frame:
        out[start_frame:end] = values[: end - start_frame]
    return out
