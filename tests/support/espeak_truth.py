"""Ground-truth phoneme timings from espeak-ng, for judging the mouth track.

The renderer never sees these: they exist so tests and evaluation scripts can ask "did the
mouth close during every p/b/m?" against timings we did not estimate ourselves. espeak-ng
knows exactly when it starts each phoneme because it generates the waveform
(`engine.tts.espeak` reads its phoneme events through the C library).

Classification (what a viewer can check on a face):

* ``bilabial``: the lips must touch: p, b, m (any length or stress variant). Spanish ``B``
  (the approximant β between vowels, "la bota") is *not* bilabial here: the lips only
  approach, so a renderer is not required to close them.
* ``open_vowel``: vowels whose IPA height is open or near-open, and diphthongs that start
  there, because those are the ones every speaker visibly drops the jaw for. English:
  a (trap), aa (bath), A: (father), A@ (start), 0 (lot; US ɑ), aI (price), aU (mouth) and
  their r-coloured forms aI@, aI3, aU@, aU3. Spanish: a, aI, aU. Mid vowels are left out in
  both languages (English V, O:, E, @, 3:; Spanish e, o) since their jaw opening varies a
  lot between speakers and a half-open mouth is a correct rendering of them.
* ``silence``: espeak pauses (``_``, ``_:``, ``_!``, ...) and the stretch before the first
  and after the last phoneme.
* ``other``: everything else.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from engine.tts import espeak

Kind = Literal["bilabial", "open_vowel", "silence", "other"]

_BILABIAL = {"p", "b", "m"}
_OPEN_VOWELS: dict[str, set[str]] = {
    "en": {"a", "aa", "A:", "A@", "0", "aI", "aU", "aI@", "aI3", "aU@", "aU3"},
    "es": {"a", "aI", "aU"},
}


@dataclass(frozen=True)
class TruthPhone:
    """One phoneme as espeak-ng produced it, with what a face must show for it."""

    phoneme: str
    start_s: float
    end_s: float
    kind: Kind


def language_of(voice: str) -> str:
    """The language family ("en", "es", ...) a voice name belongs to."""
    return voice.split("-")[0].split("+")[0].lower()


def classify(phoneme: str, language: str) -> Kind:
    """Say what a face must show for one espeak phoneme mnemonic (see module docstring)."""
    core = phoneme.strip("',%=")
    if not core or core.startswith("_"):
        return "silence"
    if core.rstrip(":#") in _BILABIAL:
        return "bilabial"
    if core in _OPEN_VOWELS.get(language, set()):
        return "open_vowel"
    return "other"


def truth_phones(
    events: list[tuple[int, str]], n_samples: int, sample_rate: int, language: str
) -> list[TruthPhone]:
    """Turn start-only events into intervals; pad both ends with silence."""
    phones: list[TruthPhone] = []
    starts = [min(max(s, 0), n_samples) for s, _ in events]
    ends = [*starts[1:], n_samples]
    if events and starts[0] > 0:
        phones.append(TruthPhone("_", 0.0, starts[0] / sample_rate, "silence"))
    for (_, name), start, end in zip(events, starts, ends, strict=True):
        if end <= start:
            continue
        kind = classify(name, language)
        if kind == "bilabial" and phones and phones[-1].kind == "bilabial":
            # "Bob bought", "jumps": consecutive bilabials are one continuous lip closure.
            last = phones.pop()
            phones.append(
                TruthPhone(f"{last.phoneme} {name}", last.start_s, end / sample_rate, kind)
            )
            continue
        phones.append(TruthPhone(name, start / sample_rate, end / sample_rate, kind))
    if not phones and n_samples > 0:
        phones.append(TruthPhone("_", 0.0, n_samples / sample_rate, "silence"))
    return phones


def synthesize_array(
    text: str, voice: str, *, rate_wpm: int = 150
) -> tuple[np.ndarray, int, list[TruthPhone]]:
    """Speak `text`; return (float32 mono samples in -1..1, sample rate, truth phones)."""
    audio, sample_rate, events = espeak.synthesize(text, voice, rate_wpm=rate_wpm)
    phones = truth_phones(events, len(audio), sample_rate, language_of(voice))
    return audio.astype(np.float32) / 32768.0, sample_rate, phones


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write float32 mono samples as a 16-bit PCM WAV."""
    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())


def synthesize(
    text: str, voice: str, wav_path: str | Path, *, rate_wpm: int = 150
) -> list[TruthPhone]:
    """Speak `text` with espeak-ng into `wav_path` and return the phonemes it used."""
    audio, sample_rate, phones = synthesize_array(text, voice, rate_wpm=rate_wpm)
    write_wav(wav_path, audio, sample_rate)
    return phones


_TRUTH_OPENNESS: dict[str, float] = {"open_vowel": 1.0, "bilabial": 0.0, "silence": 0.0}


@dataclass(frozen=True)
class Scores:
    """How well a mouth-openness track matches espeak's phonemes."""

    bilabial_closed: float  # share of p/b/m intervals with a frame under the closed threshold
    open_vowel_open: float  # share of open-vowel intervals with a frame over the open threshold
    open_vowel_frames: float  # share of all open-vowel frames over the open threshold
    silence_max_open: float  # max openness in silence frames >= 0.1 s away from speech
    lag_frames: int  # best cross-correlation lag; > 0 means the track is late
    n_bilabial: int
    n_open_vowel: int


def _interval_frames(start_s: float, end_s: float, fps: float, n: int) -> list[int]:
    """Frames whose time lies inside the interval, else the one nearest its middle."""
    first, last = int(np.ceil(start_s * fps - 1e-9)), int(np.floor(end_s * fps + 1e-9))
    frames = list(range(max(first, 0), min(last, n - 1) + 1))
    if not frames:
        frames = [min(max(round((start_s + end_s) / 2 * fps), 0), n - 1)]
    return frames


def truth_open_signal(phones: list[TruthPhone], fps: float, n: int) -> np.ndarray:
    """A crude "how open should it be" curve from the truth, for measuring lag."""
    signal = np.zeros(n, np.float32)
    times = np.arange(n) / fps
    for phone in phones:
        inside = (times >= phone.start_s) & (times < phone.end_s)
        signal[inside] = _TRUTH_OPENNESS.get(phone.kind, 0.4)
    return signal


def best_lag(track: np.ndarray, truth: np.ndarray, max_lag: int) -> int:
    """Lag (in frames) that best aligns `track` with `truth`; positive = track is late."""
    a = track - track.mean()
    b = truth - truth.mean()
    best, best_score = 0, -np.inf
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            score = float(np.dot(a[lag:], b[: b.size - lag]))
        else:
            score = float(np.dot(a[:lag], b[-lag:]))
        if score > best_score:
            best, best_score = lag, score
    return best


def score_open_track(
    open_: np.ndarray,
    fps: float,
    phones: list[TruthPhone],
    *,
    offset_s: float = 0.0,
    closed_below: float = 0.1,
    open_above: float = 0.35,
    judged: np.ndarray | None = None,
) -> Scores:
    """Score a mouth-openness track (frame i = time i / fps) against truth phonemes.

    `offset_s` is where the espeak audio starts inside the track's audio (silence padding).
    Silence padding outside the truth phones counts as silence. With `judged` (bool per
    frame), p/b/m and open vowels are scored only on judged frames, and a phone with none
    is left out (a mouth behind a hand, or a face the renderer rightly left alone).
    """
    n = open_.shape[0]
    if judged is not None:
        open_ = np.where(judged, open_, np.nan)
    shifted = [
        TruthPhone(p.phoneme, p.start_s + offset_s, p.end_s + offset_s, p.kind) for p in phones
    ]
    if offset_s > 0:
        shifted.insert(0, TruthPhone("_", 0.0, offset_s, "silence"))
    speech_end = shifted[-1].end_s if shifted else 0.0
    if speech_end < n / fps:
        shifted.append(TruthPhone("_", speech_end, n / fps + 1.0, "silence"))

    def seen(phone: TruthPhone) -> list[float]:
        values = [open_[i] for i in _interval_frames(phone.start_s, phone.end_s, fps, n)]
        return [v for v in values if np.isfinite(v)]

    bilabial = [p for p in shifted if p.kind == "bilabial" and seen(p)]
    vowels = [p for p in shifted if p.kind == "open_vowel" and seen(p)]
    closed = [min(seen(p)) < closed_below for p in bilabial]
    opened = [max(seen(p)) > open_above for p in vowels]
    vowel_frames = [v > open_above for p in vowels for v in seen(p)]
    quiet = [
        open_[i]
        for p in shifted
        if p.kind == "silence"
        for i in range(n)
        if p.start_s + 0.1 <= i / fps <= p.end_s - 0.1 and np.isfinite(open_[i])
    ]
    truth = truth_open_signal(shifted, fps, n)
    return Scores(
        bilabial_closed=float(np.mean(closed)) if closed else 1.0,
        open_vowel_open=float(np.mean(opened)) if opened else 1.0,
        open_vowel_frames=float(np.mean(vowel_frames)) if vowel_frames else 1.0,
        silence_max_open=float(max(quiet)) if quiet else 0.0,
        lag_frames=best_lag(
            np.nan_to_num(open_.astype(np.float32)), truth, max_lag=max(1, round(fps / 5))
        ),
        n_bilabial=len(bilabial),
        n_open_vowel=len(vowels),
    )
