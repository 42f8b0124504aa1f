"""Listen to the bundled voices with numbers and pictures: `python -m scripts.voice_report`.

For each engine's voices it speaks one line in the voice's language and prints what `sox
stat` would (peak and RMS level, DC offset, crest factor) plus what tells a person from a
machine: how the pitch moves (the spread of f0 in semitones: espeak-ng's prosody is a few
fixed contours, a person's wanders), how much of the time is voiced, the spectral centroid,
and how steady the loudness is. `--out DIR` also writes a spectrogram PNG per voice (0-8
kHz, 10 ms steps, pitch track in white) to look at.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from engine import tts

LINES = {
    "en": "My father parked the car by the barn, and we walked home along the river.",
    "es": "Mi mamá compró un mapa bonito para el viaje a Panamá.",
    "tr": "Babam bana mavi bir balon aldı ve parka gittik.",
    "ko": "안녕하세요, 오늘은 날씨가 정말 좋네요.",
    "ja": "私はきのう、公園で大きなパンを食べました。",
}


def voices_to_hear() -> list[tts.Voice]:
    """Every neural voice, and espeak-ng's for the seeds' languages."""
    found = [v for v in tts.catalogue() if v.engine != tts.ESPEAK]
    found += [tts.choose(voice=f"espeak:{lang}") for lang in ("en-us", "es", "tr", "ko", "ja")]
    return found


def _frames(samples: np.ndarray, rate: int, size_s: float, hop_s: float) -> np.ndarray:
    size, hop = int(size_s * rate), int(hop_s * rate)
    count = max(0, 1 + (len(samples) - size) // hop)
    index = np.arange(size)[None, :] + hop * np.arange(count)[:, None]
    return samples[index]


def pitch_track(samples: np.ndarray, rate: int) -> np.ndarray:
    """f0 per 10 ms (NaN where unvoiced), by normalised autocorrelation, 60-400 Hz."""
    frames = _frames(samples, rate, 0.04, 0.01)
    lo, hi = int(rate / 400), int(rate / 60)
    f0 = np.full(len(frames), np.nan)
    loud = np.sqrt((frames**2).mean(axis=1)) > 0.02
    for i in np.flatnonzero(loud):
        frame = frames[i] - frames[i].mean()
        corr = np.correlate(frame, frame, "full")[len(frame) - 1 :]
        if corr[0] <= 0:
            continue
        corr = corr / corr[0]
        lag = lo + int(np.argmax(corr[lo:hi]))
        if corr[lag] > 0.5:
            f0[i] = rate / lag
    return f0


def stats(samples: np.ndarray, rate: int) -> dict[str, float]:
    peak = float(np.abs(samples).max())
    rms = float(np.sqrt(np.mean(samples**2)))
    f0 = pitch_track(samples, rate)
    voiced = f0[np.isfinite(f0)]
    semitones = 12 * np.log2(voiced / np.median(voiced)) if voiced.size else np.zeros(1)
    spectrum = np.abs(
        np.fft.rfft(_frames(samples, rate, 0.025, 0.01) * np.hanning(int(0.025 * rate)), axis=1)
    )
    freqs = np.fft.rfftfreq(int(0.025 * rate), 1 / rate)
    power = spectrum.sum(axis=1)
    speaking = power > 0.05 * power.max()
    centroid = float((spectrum[speaking] * freqs).sum() / spectrum[speaking].sum())
    levels = 20 * np.log10(np.sqrt((_frames(samples, rate, 0.05, 0.05) ** 2).mean(axis=1)) + 1e-9)
    return {
        "seconds": len(samples) / rate,
        "peak_db": 20 * np.log10(peak + 1e-9),
        "rms_db": 20 * np.log10(rms + 1e-9),
        "dc": float(samples.mean()),
        "crest": peak / (rms + 1e-9),
        "f0_median": float(np.median(voiced)) if voiced.size else float("nan"),
        "f0_spread_st": float(np.percentile(semitones, 95) - np.percentile(semitones, 5)),
        "f0_step_st": float(np.nanmedian(np.abs(np.diff(12 * np.log2(f0))))),
        "voiced": float(np.isfinite(f0).mean()),
        "centroid_hz": centroid,
        "level_spread_db": float(
            np.percentile(levels[levels > -50], 90) - np.percentile(levels[levels > -50], 10)
        ),
    }


def spectrogram(samples: np.ndarray, rate: int, path: Path) -> None:
    frames = _frames(samples, rate, 0.025, 0.01) * np.hanning(int(0.025 * rate))
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(int(0.025 * rate), 1 / rate)
    power = power[:, freqs <= 8000]
    db = 10 * np.log10(power + 1e-10)
    db = np.clip((db - (db.max() - 70)) / 70, 0, 1)
    image = cv2.applyColorMap((db.T[::-1] * 255).astype(np.uint8), cv2.COLORMAP_MAGMA)
    image = cv2.resize(image, (image.shape[1] * 2, 320), interpolation=cv2.INTER_NEAREST)
    f0 = pitch_track(samples, rate)
    for i, f in enumerate(f0[: image.shape[1] // 2]):
        if np.isfinite(f):
            y = int(320 - f / 8000 * 320 * 8)  # pitch drawn 8x taller, to see it move
            cv2.circle(image, (2 * i, max(0, y)), 1, (255, 255, 255), -1)
    cv2.imwrite(str(path), image)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write a spectrogram PNG per voice here")
    args = parser.parse_args()
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    print(
        f"{'voice':<24} {'s':>5} {'peak dB':>7} {'rms dB':>6} {'DC':>7} {'crest':>5} "
        f"{'f0 Hz':>5} {'f0 spread st':>12} {'f0 step st':>10} {'voiced':>6} "
        f"{'centroid':>8} {'level spread dB':>15}"
    )
    for voice in voices_to_hear():
        line = LINES[voice.language.split("-")[0]]
        speech = tts.speak(line, voice)
        s = stats(speech.samples.astype(np.float64), speech.sample_rate)
        print(
            f"{voice.id:<24} {s['seconds']:>5.1f} {s['peak_db']:>7.1f} {s['rms_db']:>6.1f} "
            f"{s['dc']:>7.4f} {s['crest']:>5.1f} {s['f0_median']:>5.0f} "
            f"{s['f0_spread_st']:>12.1f} {s['f0_step_st']:>10.2f} {s['voiced']:>6.0%} "
            f"{s['centroid_hz']:>8.0f} {s['level_spread_db']:>15.1f}"
        )
        if args.out:
            spectrogram(
                speech.samples, speech.sample_rate, args.out / f"{voice.id.replace(':', '_')}.png"
            )


if __name__ == "__main__":
    main()
