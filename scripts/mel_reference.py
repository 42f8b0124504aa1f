"""Write the reference log-mel that `tests/unit/test_wav2lip.py` holds our front end to.

Runs upstream Wav2Lip's own `audio.melspectrogram` (with its `hparams`) under librosa on a
fixed test signal, and stores signal and mel in `tests/data/manifests/wav2lip_mel.npz`.
librosa is not a dependency of the service; run this in any environment that has it:

    python scripts/mel_reference.py --upstream /path/to/Wav2Lip

Upstream pinned librosa 0.7, whose `stft` padded with `reflect` and whose `filters.mel`
took positional arguments; newer librosa pads with zeros by default and wants keywords,
so both are set back to 0.7's behaviour here (what the released weights were trained on).
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "manifests" / "wav2lip_mel.npz"


def test_signal() -> np.ndarray:
    """0.6 s at 16 kHz: two tones, a chirp, a burst of noise and a stretch of silence."""
    rate = 16_000
    t = np.arange(int(0.6 * rate)) / rate
    wav = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 1870 * t)
    wav += 0.2 * np.sin(2 * np.pi * (300 + 4000 * t) * t)
    rng = np.random.default_rng(7)
    wav[3000:5000] += 0.25 * rng.standard_normal(2000)
    wav[7000:8200] = 0.0
    return wav.astype(np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", type=Path, required=True, help="Wav2Lip checkout")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    import librosa  # only here: the reference needs upstream's own code path

    librosa.stft = functools.partial(librosa.stft, pad_mode="reflect")
    mel_filters = librosa.filters.mel

    def positional_mel(sr: int, n_fft: int, **kwargs: object) -> np.ndarray:
        return mel_filters(sr=sr, n_fft=n_fft, **kwargs)

    librosa.filters.mel = positional_mel
    sys.path.insert(0, str(args.upstream.resolve()))
    import audio  # upstream's audio.py

    wav = test_signal()
    mel = audio.melspectrogram(wav).astype(np.float32)
    np.savez_compressed(args.out, signal=wav, mel=mel, librosa=librosa.__version__)
    print(f"wrote {args.out}: mel {mel.shape}, range {mel.min():.3f}..{mel.max():.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
