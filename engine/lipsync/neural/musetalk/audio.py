"""Speech to MuseTalk's audio tokens, as upstream's `AudioProcessor` makes them.

Upstream (`musetalk/utils/audio_processor.py`): the 16 kHz speech is cut into 30 s segments,
each becomes an 80 x 3000 log-mel (the whisper feature extractor, padded to 30 s), runs
through whisper-tiny's encoder, and every hidden state the encoder reports (the input
embeddings, each layer's output but the last, and the final layer-normed output: 5 for
tiny) is kept, stacked on a new axis: 50 feature vectors a second of (layers, 384). The
segments are joined and cut back to the speech's true length, zeros are added before (2
frames' worth) and after (3 x 2 frames' worth), and video frame i takes the 10 vectors from
floor(i * 50 / fps), so its window reaches 2 frames back and 2 ahead of it (about 200 ms at
25 fps). Those 10 x layers vectors become the frame's 50 tokens, time-major, plus a
sinusoidal positional encoding; the UNet attends to them.

Two liberties: upstream truncates the frame rate to an integer (29.97 -> 29, which drifts
by a frame every 30 s); we use the true rate. And speech shorter than the video is padded
with silence before encoding, where upstream renders only as many frames as it has speech.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import ConfigError

from .checkpoint import read_json
from .model import positional_encoding

if TYPE_CHECKING:
    import torch

SAMPLE_RATE = 16000
SEGMENT_SECONDS = 30  # whisper's window
FEATURES_PER_SECOND = 50  # whisper's encoder output rate (3000 mel frames -> 1500 per 30 s)
PAD_LEFT = 2  # upstream's audio_padding_length_left
PAD_RIGHT = 2  # upstream's audio_padding_length_right
WINDOW = 2 * (PAD_LEFT + PAD_RIGHT + 1)  # feature vectors per video frame: 10
_RESAMPLE_BLOCK = 1 << 16


@dataclass(frozen=True, eq=False)
class MuseTalkSpeech:
    """One job's speech: the padded feature sequence, sliced per frame by `tokens`."""

    features: torch.Tensor  # (positions, layers, 384) on the model's device and dtype
    fps: float
    frames: int

    def tokens(self, frames: list[int]) -> torch.Tensor:
        """(len(frames), WINDOW * layers, 384): each frame's window, time-major, plus the
        positional encoding."""
        import torch

        step = FEATURES_PER_SECOND / self.fps
        windows = []
        for frame in frames:
            if not 0 <= frame < self.frames:
                raise IndexError(f"frame {frame} outside the speech's {self.frames} frames")
            start = math.floor(frame * step)
            windows.append(self.features[start : start + WINDOW])
        batch = torch.stack(windows).flatten(1, 2)
        encoding = positional_encoding(batch.shape[1], batch.shape[2])
        return batch + encoding.to(device=batch.device, dtype=batch.dtype)


def load_feature_extractor(path: Path, mel_bins: int, positions: int) -> Any:
    """Whisper's log-mel extractor from `preprocessor_config.json`, checked against the
    encoder it feeds (mel bins, and the 30 s window of 2 x `positions` mel frames)."""
    from transformers import WhisperFeatureExtractor

    config = read_json(path)
    try:
        extractor = WhisperFeatureExtractor(**config)
    except Exception as exc:
        raise ConfigError(
            f"MuseTalk model file {path} is not a whisper preprocessor config: {exc}"
        ) from None
    expected = {
        "feature_size": mel_bins,
        "sampling_rate": SAMPLE_RATE,
        "nb_max_frames": 2 * positions,
        "n_samples": SEGMENT_SECONDS * SAMPLE_RATE,
    }
    for key, value in expected.items():
        if getattr(extractor, key, None) != value:
            raise ConfigError(
                f"MuseTalk model file {path}: {key} is {getattr(extractor, key, None)!r}, "
                f"the whisper encoder needs {value!r}"
            )
    return extractor


def resample(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float32 to 16 kHz through FFmpeg's resampler (PyAV is already a dependency;
    upstream uses librosa's, a different filter of the same purpose)."""
    samples = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
    if sample_rate == SAMPLE_RATE or samples.size == 0:
        return samples
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    pieces: list[np.ndarray] = []
    for start in range(0, samples.size, _RESAMPLE_BLOCK):
        frame = av.AudioFrame.from_ndarray(
            samples[None, start : start + _RESAMPLE_BLOCK], format="flt", layout="mono"
        )
        frame.sample_rate = int(sample_rate)
        pieces.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
    pieces.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)


def encode_speech(
    encoder: Any,
    extractor: Any,
    samples: np.ndarray,
    sample_rate: int,
    fps: float,
    frames: int,
    device: torch.device,
    dtype: torch.dtype,
) -> MuseTalkSpeech:
    """Run the whole speech through whisper once; `MuseTalkSpeech.tokens` slices it."""
    import torch

    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be positive, not {fps!r}")
    if frames < 0:
        raise ValueError(f"frames must be >= 0, not {frames}")
    speech = resample(samples, int(sample_rate))
    needed = math.ceil(frames / fps * SAMPLE_RATE)
    if speech.size < max(needed, 1):
        speech = np.concatenate([speech, np.zeros(max(needed, 1) - speech.size, np.float32)])
    segment = SEGMENT_SECONDS * SAMPLE_RATE
    encoded = []
    with torch.inference_mode():
        for start in range(0, speech.size, segment):
            mel = extractor(
                speech[start : start + segment], sampling_rate=SAMPLE_RATE, return_tensors="pt"
            ).input_features
            out = encoder(mel.to(device=device, dtype=dtype), output_hidden_states=True)
            encoded.append(torch.stack(out.hidden_states, dim=2)[0])  # (1500, layers, 384)
        features = torch.cat(encoded, dim=0)
        features = features[: math.floor(speech.size / SAMPLE_RATE * FEATURES_PER_SECOND)]
        per_frame = math.ceil(FEATURES_PER_SECOND / fps)
        left = per_frame * PAD_LEFT
        last_start = math.floor(max(frames - 1, 0) * FEATURES_PER_SECOND / fps)
        right = max(per_frame * 3 * PAD_RIGHT, last_start + WINDOW - features.shape[0] - left)
        zeros = features.new_zeros
        features = torch.cat(
            [zeros((left, *features.shape[1:])), features, zeros((right, *features.shape[1:]))]
        )
    return MuseTalkSpeech(features=features, fps=float(fps), frames=frames)
