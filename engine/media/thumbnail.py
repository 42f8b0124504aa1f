"""A still of a finished video, for doors that can show a picture next to a link (MCP).

The middle frame says more about a talking-head video than the first (often a blink or a
closed mouth at rest), and seeking to it costs the same for a ten-minute output as for a
short one.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np

THUMBNAIL_SIZE = 512


def middle_frame_png(path: Path, max_size: int = THUMBNAIL_SIZE) -> bytes:
    """A PNG of the video's middle frame, at most `max_size` px on its longer side.

    Seeks rather than decoding from the start, so a ten-minute output costs no more than
    a short one.
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        seconds = 0.0
        if stream.duration is not None and stream.time_base is not None:
            seconds = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            seconds = container.duration / av.time_base
        middle = seconds / 2
        if middle > 0 and stream.time_base is not None:
            container.seek(int(middle / stream.time_base), stream=stream)
        picked: np.ndarray | None = None
        for frame in container.decode(stream):
            picked = frame.to_ndarray(format="rgb24")
            if frame.time is None or frame.time >= middle:
                break
    if picked is None:
        raise ValueError(f"{path.name} has no frames")
    height, width = picked.shape[:2]
    scale = min(1.0, max_size / max(width, height))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        picked = cv2.resize(picked, size, interpolation=cv2.INTER_AREA)
    bgr = cv2.cvtColor(picked, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise ValueError("PNG encoding failed")
    return encoded.tobytes()
