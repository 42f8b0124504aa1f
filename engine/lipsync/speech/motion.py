"""How fast lips may move: real lips take two to four video frames (60-120 ms) to go from
shut to wide open and back, so no rendered mouth should jump further in one frame.

`limit_rate` lowers a per-frame opening curve to the highest curve under it whose change
per frame stays within a rate: each frame is capped by every other frame's value plus
the rate times their distance (a cone under each sample). Closures therefore stay fully
shut (nothing below the curve rises), openings next to them start a frame or two early
and reach their peak a frame or two late, and an opening too short to reach its peak at
that rate peaks lower, as a real mouth would.
"""

from __future__ import annotations

import numpy as np

# Full openings per second: shut to wide open in about 110 ms (3 frames at 25-30 fps).
OPEN_RATE = 9.0


def limit_rate(
    values: np.ndarray, fps: float, *, full: float = 1.0, per_second: float = OPEN_RATE
) -> np.ndarray:
    """`values` (one per frame) capped so that no step exceeds `per_second * full / fps`,
    where `full` is what the curve reaches wide open."""
    step = per_second * full / max(fps, 1e-6)
    out = np.array(values, np.float64)
    for i in range(1, len(out)):
        out[i] = min(out[i], out[i - 1] + step)
    for i in range(len(out) - 2, -1, -1):
        out[i] = min(out[i], out[i + 1] + step)
    return out.astype(
        np.asarray(values).dtype if np.asarray(values).dtype.kind == "f" else np.float32
    )
