"""Where the sound itself says the lips move: the level's steepest rise after a closure
(the lips part: a burst, or a nasal opening into a vowel) and steepest fall into one.
A referee for phone timings that needs no model, only the waveform."""

from __future__ import annotations

import numpy as np

_WINDOW_S = 0.015
_HOP_S = 0.005


def level_db(samples: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Level (dB) of 15 ms windows every 5 ms, and each window's centre time."""
    win, hop = int(_WINDOW_S * rate), int(_HOP_S * rate)
    count = max((samples.shape[0] - win) // hop, 0)
    frames = np.lib.stride_tricks.sliding_window_view(samples, win)[::hop][:count]
    level = 10 * np.log10((frames.astype(np.float64) ** 2).mean(axis=1) + 1e-10)
    return level, (np.arange(count) * hop + win / 2) / rate


def steepest(level: np.ndarray, times: np.ndarray, lo: float, hi: float, *, rising: bool) -> float:
    """Time of the steepest rise (or fall) of the level between `lo` and `hi` seconds."""
    inside = np.flatnonzero((times > lo) & (times < hi))
    if inside.size < 3:
        return float("nan")
    steps = np.diff(level[inside])
    j = inside[int(np.argmax(steps) if rising else np.argmin(steps))]
    return float((times[j] + times[j + 1]) / 2)
