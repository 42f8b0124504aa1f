"""Consonant-vowel boundaries moved onto the sound, for every voice.

A synthesizer's timings say roughly where each phoneme is: Kokoro counts 25 ms frames
and its sound runs ahead of them by a varying few tens of ms; Piper's aligner spreads a
sound over the pads around its symbol; espeak-ng reports each phoneme where it starts
the phoneme's frames, and counts a stop's burst and aspiration (and the formant
transition after a nasal) with the consonant, so its vowels sound 20-40 ms before their
events (`python -m scripts.timing_referees`). A few tens of ms matter for a mouth: a 50
ms vowel between a /k/ and a /b/ whose window misses its loud part never opens the jaw,
and lips still shut during a burst are late. So each boundary between a consonant and a
vowel moves, within `REACH_S`, to where the speech's loudness in the F1/F2 band (where
the jaw shows) rises fastest (into a vowel) or falls fastest (out of one): the standard
energy-based boundary refinement.
"""

from __future__ import annotations

import numpy as np

from engine.tts.phones import VOWELS

REACH_S = 0.03  # how far a boundary may move either way
MIN_PHONE_S = 0.015  # no phone shrinks under this
_HOP_S, _WINDOW_S = 0.005, 0.02
_BAND_HZ = (250.0, 3500.0)

Phone = tuple[str, float, float]


def band_level_db(samples: np.ndarray, rate: int) -> np.ndarray:
    """Loudness in the jaw band per `_HOP_S`, in dB."""
    hop, window = int(_HOP_S * rate), int(_WINDOW_S * rate)
    count = max(1, 1 + (len(samples) - window) // hop)
    index = np.arange(window)[None, :] + hop * np.arange(count)[:, None]
    frames = samples[np.minimum(index, len(samples) - 1)] * np.hanning(window)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(window, 1 / rate)
    band = power[:, (freqs >= _BAND_HZ[0]) & (freqs <= _BAND_HZ[1])].sum(axis=1)
    return 10 * np.log10(band + 1e-10)


def refined(phones: list[Phone], samples: np.ndarray, rate: int) -> list[Phone]:
    """`phones` with each consonant-vowel boundary on the sound's edge."""
    if len(phones) < 2 or samples.size < int(_WINDOW_S * rate):
        return phones
    level = np.convolve(band_level_db(samples, rate), np.ones(3) / 3, mode="same")
    slope = np.gradient(level)
    out = [list(p) for p in phones]
    for i in range(len(out) - 1):
        before, after = out[i][0], out[i + 1][0]
        if "SIL" in (before, after) or (before in VOWELS) == (after in VOWELS):
            continue
        edge = out[i][2]
        lo = max(out[i][1] + MIN_PHONE_S, edge - REACH_S)
        hi = min(out[i + 1][2] - MIN_PHONE_S, edge + REACH_S)
        k0, k1 = int(np.ceil(lo / _HOP_S)), int(hi / _HOP_S) + 1
        window = slope[k0:k1]
        if hi <= lo or window.size == 0:
            continue
        pick = np.argmax(window) if after in VOWELS else np.argmin(window)
        out[i][2] = out[i + 1][1] = (k0 + int(pick)) * _HOP_S
    return [(str(p), float(a), float(b)) for p, a, b in out]
