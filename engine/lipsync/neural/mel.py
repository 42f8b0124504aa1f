"""Wav2Lip's audio front end: the log-mel spectrogram its generator was trained on.

Real weights only work on exactly the features they were trained with, so every number
here is upstream's (Rudrabha/Wav2Lip `hparams.py` and `audio.py`, which used librosa 0.7):
16 kHz mono, pre-emphasis 0.97, a centred STFT (reflect padding) of 800 samples with an
800-sample periodic Hann window every 200 samples (80 mel frames per second), 80 Slaney
mel bands from 55 to 7600 Hz with area normalisation, amplitude to dB floored at
-100 dB, minus the 20 dB reference level, then mapped symmetrically onto [-4, 4] and
clipped. A video frame `i` at `fps` sees the 16 mel frames from `int(i * (80 / fps))`
(the last 16 where that runs past the end), as upstream's inference cuts them.

Written with numpy alone (no librosa at run time); `tests/unit/test_wav2lip.py` checks it
against values that librosa computes for upstream's own functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16_000
N_FFT = 800
HOP = 200
WIN = 800
N_MELS = 80
FMIN, FMAX = 55.0, 7600.0
PREEMPHASIS = 0.97
MIN_LEVEL_DB = -100.0
REF_LEVEL_DB = 20.0
MAX_ABS = 4.0
MEL_STEP = 16  # mel frames per video frame's window
MEL_RATE = SAMPLE_RATE / HOP  # 80 mel frames per second


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default, htk=False): linear to 1 kHz, log above."""
    hz = np.asarray(hz, np.float64)
    f_sp = 200.0 / 3.0
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    mel = hz / f_sp
    above = hz >= min_log_hz
    mel[above] = min_log_mel + np.log(hz[above] / min_log_hz) / logstep
    return mel


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, np.float64)
    f_sp = 200.0 / 3.0
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    hz = f_sp * mel
    above = mel >= min_log_mel
    hz[above] = min_log_hz * np.exp(logstep * (mel[above] - min_log_mel))
    return hz


def mel_filters() -> np.ndarray:
    """(80, 401) triangular filters on the STFT bins, each of unit area (Slaney norm)."""
    bins = np.linspace(0.0, SAMPLE_RATE / 2.0, 1 + N_FFT // 2)
    edges = _mel_to_hz(
        np.linspace(_hz_to_mel(np.array([FMIN]))[0], _hz_to_mel(np.array([FMAX]))[0], N_MELS + 2)
    )
    widths = np.diff(edges)
    ramps = edges[:, None] - bins[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


_FILTERS = mel_filters()
# Periodic Hann (scipy's get_window("hann", fftbins=True)), as librosa's STFT uses.
_WINDOW = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(WIN) / WIN)).astype(np.float64)


def melspectrogram(samples: np.ndarray) -> np.ndarray:
    """(80, 1 + len // 200) normalised log-mel frames of 16 kHz mono samples in [-1, 1]."""
    wav = np.asarray(samples, np.float64).reshape(-1)
    if len(wav) == 0:
        wav = np.zeros(1, np.float64)
    emphasised = wav.copy()
    emphasised[1:] -= PREEMPHASIS * wav[:-1]
    # A centred STFT reflects the signal at both ends; a signal shorter than the padding
    # cannot be reflected, so it is padded with silence first (upstream would fail there).
    if len(emphasised) <= N_FFT // 2:
        emphasised = np.pad(emphasised, (0, N_FFT // 2 + 1 - len(emphasised)))
        frames_wanted = 1 + len(wav) // HOP
    else:
        frames_wanted = 1 + len(emphasised) // HOP
    padded = np.pad(emphasised, N_FFT // 2, mode="reflect")
    count = 1 + (len(padded) - N_FFT) // HOP
    view = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:count]
    spectrum = np.abs(np.fft.rfft(view * _WINDOW, axis=1)).T  # (401, frames)
    mel = _FILTERS.astype(np.float64) @ spectrum
    floor = np.exp(MIN_LEVEL_DB / 20.0 * np.log(10.0))
    level = 20.0 * np.log10(np.maximum(floor, mel)) - REF_LEVEL_DB
    scaled = (2.0 * MAX_ABS) * ((level - MIN_LEVEL_DB) / -MIN_LEVEL_DB) - MAX_ABS
    return np.clip(scaled, -MAX_ABS, MAX_ABS)[:, :frames_wanted].astype(np.float32)


def window_start(frame: int, fps: float, mel_frames: int) -> int:
    """First mel frame of video frame `frame`'s 16-frame window (upstream's formula)."""
    start = int(frame * (MEL_RATE / fps))
    return max(0, min(start, mel_frames - MEL_STEP))


@dataclass(frozen=True)
class MelWindows:
    """One job's speech as Wav2Lip sees it: the whole mel once, a window per video frame."""

    mel: np.ndarray  # (80, T) with T >= MEL_STEP
    fps: float

    def windows(self, frames: list[int]) -> np.ndarray:
        """(len(frames), 1, 80, 16) float32: the generator's audio input for those frames."""
        starts = [window_start(i, self.fps, self.mel.shape[1]) for i in frames]
        return np.stack([self.mel[None, :, s : s + MEL_STEP] for s in starts]).astype(np.float32)


def mel_windows(samples: np.ndarray, sample_rate: int, fps: float) -> MelWindows:
    """The job's mel, padded with silence to at least one window (a voice under 0.2 s)."""
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"Wav2Lip's features need {SAMPLE_RATE} Hz audio, got {sample_rate}")
    mel = melspectrogram(samples)
    if mel.shape[1] < MEL_STEP:
        mel = np.pad(mel, ((0, 0), (0, MEL_STEP - mel.shape[1])), constant_values=-MAX_ABS)
    return MelWindows(mel=mel, fps=float(fps))
