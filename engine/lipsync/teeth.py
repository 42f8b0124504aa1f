"""What teeth look like next to a person's lips: shared by the portrait painter (to find a
photo's own teeth) and the dubbing fallback (to colour teeth from the video's own)."""

from __future__ import annotations

import numpy as np

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def tooth_pixels(pixels: np.ndarray, lip: np.ndarray) -> np.ndarray:
    """Boolean mask of pixels (..., 3 float RGB) that look like teeth next to these lips:
    lighter, greyer and far less red than the lips (pale lip and gum are pink)."""
    luma = pixels @ _LUMA
    top = np.maximum(pixels.max(axis=-1), 1.0)
    sat = (top - pixels.min(axis=-1)) / top
    red = (pixels[..., 0] - pixels[..., 1]) / top
    lip_top = max(float(lip.max()), 1.0)
    lip_luma = float(lip @ _LUMA)
    lip_sat = float(lip.max() - lip.min()) / lip_top
    lip_red = float(lip[0] - lip[1]) / lip_top
    return (
        (luma > max(0.95 * lip_luma, 60.0))
        & (sat < min(max(0.8 * lip_sat, 0.08), 0.35))
        & (red < 0.55 * max(lip_red, 0.1))
    )
