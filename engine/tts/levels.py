"""One loudness for every voice: neural voices come out at whatever level their training
data had (Piper's joe ~5 dB quieter than Kokoro's), so a line typed in English and one in
Japanese would otherwise play at different volumes in the same video or chat."""

from __future__ import annotations

import numpy as np

PEAK = 10 ** (-1 / 20)  # -1 dBFS: loud, with headroom for the AAC encoder's overshoot


def peak_normalized(samples: np.ndarray) -> np.ndarray:
    peak = float(np.abs(samples).max()) if samples.size else 0.0
    if peak < 1e-4:  # silence stays silence
        return samples
    return (samples * (PEAK / peak)).astype(np.float32)
