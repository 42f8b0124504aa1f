"""The espeak-ng ground truth must itself be right, or every lipsync figure built on it lies."""

from __future__ import annotations

import ctypes.util
import wave
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from tests.support.espeak_truth import (
    TruthPhone,
    best_lag,
    classify,
    score_open_track,
    synthesize,
    synthesize_array,
)

pytestmark = pytest.mark.skipif(
    ctypes.util.find_library("espeak-ng") is None, reason="libespeak-ng is not installed"
)


def _rms(audio: np.ndarray, rate: int, phone: TruthPhone) -> float:
    part = audio[int(phone.start_s * rate) : int(phone.end_s * rate)]
    return float(np.sqrt(np.mean(part**2))) if part.size else 0.0


def test_synthesize_writes_the_wav_the_phones_describe(tmp_path: Path) -> None:
    path = tmp_path / "bob.wav"
    phones = synthesize("Bob bought a big map.", "en-us", path)
    with wave.open(str(path)) as wav:
        duration = wav.getnframes() / wav.getframerate()
        assert wav.getnchannels() == 1
    assert phones[0].start_s == 0.0
    assert phones[-1].end_s == pytest.approx(duration, abs=1e-3)
    for before, after in pairwise(phones):
        assert before.end_s == pytest.approx(after.start_s)
        assert before.start_s < before.end_s


def test_english_classes() -> None:
    _, _, phones = synthesize_array("Bob bought a big map.", "en-us")
    kinds = [p.kind for p in phones]
    # b(ob) | b b (Bob bought, merged) | b(ig) | m(ap) | p: five lip closures.
    assert kinds.count("bilabial") == 5
    assert kinds.count("open_vowel") == 2  # the o of Bob (US ɑ) and the a of map
    assert kinds[-1] == "silence"


def test_spanish_classes() -> None:
    _, _, phones = synthesize_array("Mi mamá me mima.", "es")
    named = [(p.phoneme, p.kind) for p in phones if p.kind != "silence"]
    assert named[0] == ("m", "bilabial")
    assert ("a", "open_vowel") in named
    assert ("e", "other") in named  # Spanish mid vowels are not "clearly open"


def test_timings_line_up_with_the_sound() -> None:
    """Vowels are loud and pauses quiet *at the times espeak reports*: no offset."""
    audio, rate, phones = synthesize_array("Father parked the car. Then he walked home.", "en")
    vowels = [_rms(audio, rate, p) for p in phones if p.kind == "open_vowel"]
    pauses = [_rms(audio, rate, p) for p in phones if p.kind == "silence" and p.start_s > 0]
    assert pauses and vowels
    assert max(pauses) < 0.1 * float(np.median(vowels))


def test_classify_variants() -> None:
    assert classify("m", "en") == "bilabial"
    assert classify("'b", "es") == "bilabial"
    assert classify("B", "es") == "other"  # approximant: lips do not touch
    assert classify("_:", "en") == "silence"
    assert classify("aI", "en") == "open_vowel"
    assert classify("V", "en") == "other"
    assert classify("o", "es") == "other"


def test_unknown_voice_is_refused() -> None:
    with pytest.raises(ValueError, match="no voice"):
        synthesize_array("hello", "xx-nonexistent")


def test_scores_of_a_perfect_and_a_frozen_track() -> None:
    fps = 25.0
    phones = [
        TruthPhone("_", 0.0, 0.2, "silence"),
        TruthPhone("m", 0.2, 0.3, "bilabial"),
        TruthPhone("a", 0.3, 0.5, "open_vowel"),
        TruthPhone("p", 0.5, 0.6, "bilabial"),
        TruthPhone("_", 0.6, 1.0, "silence"),
    ]
    times = np.arange(25) / fps
    perfect = np.where((times >= 0.3) & (times < 0.5), 0.8, 0.0).astype(np.float32)
    scores = score_open_track(perfect, fps, phones)
    assert (scores.bilabial_closed, scores.open_vowel_open) == (1.0, 1.0)
    assert scores.silence_max_open == 0.0
    assert scores.lag_frames == 0
    frozen = np.full(25, 0.5, np.float32)
    scores = score_open_track(frozen, fps, phones)
    assert scores.bilabial_closed == 0.0
    assert scores.silence_max_open == 0.5


def test_best_lag_finds_a_shift() -> None:
    truth = np.zeros(50, np.float32)
    truth[10:15] = 1.0
    late = np.roll(truth, 2)
    assert best_lag(late, truth, max_lag=5) == 2
    assert best_lag(np.roll(truth, -1), truth, max_lag=5) == -1
