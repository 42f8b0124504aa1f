"""The neural voices (Piper's English, Kokoro's Japanese): what they read, the phones their own
durations give, and whether those timings sit where the sounds are in the audio they made."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from engine import tts
from engine.tts import kokoro, piper
from engine.tts.phones import ipa_phones
from engine.tts.pieces import pieces
from tests.support.forced_align import assert_timed_as_aligned

VOICES = piper.installed()


def _joe() -> piper.PiperVoice:
    return next(v for v in VOICES if v.name == "en_US-joe-medium")


def test_ids_follow_pipers_training_format() -> None:
    voice = _joe()
    ids, symbols = piper.ids_of("ˈaɪ m\u2603", voice.id_map)  # a snowman is no phoneme
    m = voice.id_map
    assert ids[:2] == m["^"] + m["_"] and ids[-1:] == m["$"]
    assert symbols == ["^", "_", "ˈ", "_", "a", "_", "ɪ", "_", " ", "_", "m", "_", "$"]
    assert len(ids) == len(symbols)


def test_sentences_keep_clause_marks_and_split_at_full_stops() -> None:
    found = piper.sentences("Hello, world. How are you?", "en-us")
    assert len(found) == 2
    assert found[0].endswith(".") and "," in found[0] and found[1].endswith("?")


def test_ipa_durations_become_arpabet_phones_on_one_timeline() -> None:
    timed = [
        ("^", 0.05),
        ("_", 0.01),
        ("ˈ", 0.02),
        ("t", 0.05),
        ("_", 0.01),
        ("ʃ", 0.04),  # with the t: one affricate, one mouth movement
        ("_", 0.01),
        ("a", 0.10),
        ("_", 0.01),
        ("ɪ", 0.05),
        ("ː", 0.02),
        (" ", 0.30),  # a pause before the /m/, of which the last 0.15 s are its closure
        ("m", 0.06),
        ("_", 0.01),
        (".", 0.20),
        ("$", 0.03),
    ]
    phones = ipa_phones(timed)
    # A sound owns what lies between the previous sound's symbol and the end of its own.
    assert [p for p, _, _ in phones] == ["SIL", "CH", "AY", "SIL", "M", "SIL"]
    assert phones[1][1] == pytest.approx(0.05) and phones[1][2] == pytest.approx(0.18)
    assert phones[2][2] == pytest.approx(0.35)
    assert phones[4][1] == pytest.approx(0.35 + 0.02 + 0.15) and phones[4][2] == pytest.approx(0.73)
    assert phones[-1][2] == pytest.approx(sum(s for _, s in timed))
    assert all(a[2] == pytest.approx(b[1]) for a, b in itertools.pairwise(phones))


def test_english_speaks_with_the_neural_voice_and_espeak_keeps_the_rest() -> None:
    assert tts.choose(language="en").engine == tts.PIPER
    assert tts.choose(language="en-us").id == "piper:en_US-joe-medium"
    assert tts.choose(language="en-gb").engine == tts.ESPEAK
    assert tts.choose(language="es").engine == tts.ESPEAK
    assert tts.choose(voice="espeak:en-us").engine == tts.ESPEAK


def _rms(samples: np.ndarray, rate: int, start: float, end: float) -> float:
    middle = samples[
        int((start + (end - start) * 0.25) * rate) : int((end - (end - start) * 0.25) * rate)
    ]
    return float(np.sqrt(np.mean(middle.astype(np.float64) ** 2))) if middle.size else 0.0


def _closures_vs_vowels(speech: tts.Speech, stops: set[str], vowels: set[str]) -> float:
    """Median loudness of voiceless stops (lips or tongue shut, no voice) over that of
    vowels: well under 1 when the timings sit on the sounds; timings off by a sound would
    put vowels in the stops' windows and the other way round."""
    rate = speech.sample_rate
    closed = [_rms(speech.samples, rate, a, b) for p, a, b in speech.phones if p in stops]
    opened = [_rms(speech.samples, rate, a, b) for p, a, b in speech.phones if p in vowels]
    return float(np.median(closed) / np.median(opened))


def test_the_models_own_timings_put_each_closure_where_the_audio_goes_quiet() -> None:
    voice = tts.choose(language="en")
    speech = tts.speak("Papa, pick a pepper. Pop it up, Pete!", voice)
    phones = speech.phones
    assert phones[-1][2] == pytest.approx(speech.seconds, abs=0.02)
    assert [p for p, _, _ in phones if p in ("P", "B", "M")] == ["P"] * 9
    assert _closures_vs_vowels(speech, {"P"}, {"AA", "IH", "EH", "AH", "UH", "IY"}) < 0.3


def test_speed_shortens_the_speech_and_its_timeline_alike() -> None:
    voice = tts.choose(language="en")
    slow = tts.speak("Bob may buy a map.", voice, speed=0.8)
    fast = tts.speak("Bob may buy a map.", voice, speed=1.6)
    assert fast.seconds < 0.75 * slow.seconds
    for speech in (slow, fast):
        assert speech.phones[-1][2] == pytest.approx(speech.seconds, abs=0.02)


def test_japanese_speaks_with_kokoro_reading_kanji_as_words() -> None:
    voice = tts.choose(language="ja")
    assert voice.engine == tts.KOKORO and voice.id == "kokoro:jf_alpha"
    # 私 (watashi) and 食べ (tabe): readings, not "Chinese letter" as espeak-ng says them.
    assert kokoro.phonemes("私はパンを食べます。") == ["βataɕi βa paɴ o tabemasɨ."]


def test_kokoros_timings_put_its_stops_where_the_audio_goes_quiet() -> None:
    for voice in ("kokoro:jf_alpha", "kokoro:jm_kumo"):
        speech = tts.speak("パパ、ピカピカのペンをポケットに入れました。", tts.choose(voice=voice))
        assert speech.phones[-1][2] == pytest.approx(speech.seconds, abs=0.03)
        bilabials = [p for p, _, _ in speech.phones if p in ("P", "B", "M")]
        assert bilabials.count("P") >= 5
        assert _closures_vs_vowels(speech, {"P", "T", "K"}, {"AA", "IY", "EY", "OW"}) < 0.5


def test_japanese_wa_is_an_open_lipped_glide_not_a_closure() -> None:
    speech = tts.speak("わたしは", tts.choose(language="ja"))
    assert [p for p, _, _ in speech.phones if p not in ("SIL",)][:2] == ["W", "AA"]


def test_a_long_sentence_is_cut_into_model_sized_pieces_and_nothing_dropped() -> None:
    words = [f"tabemasɨ{i}" for i in range(120)]  # ~1200 symbols, no clause mark at all
    sentence = " ".join(words) + "."
    cut = pieces(sentence, kokoro.MAX_TOKENS)
    assert len(cut) >= 3 and all(len(p) <= kokoro.MAX_TOKENS for p in cut)
    assert " ".join(cut).split() == sentence.split()
    clauses = pieces("、".join(["paɴ o tabemasɨ"] * 60), kokoro.MAX_TOKENS)
    assert all(p.endswith("、") for p in clauses[:-1])  # cut at clause marks first


def test_piper_reads_a_sentence_without_stops_in_pieces() -> None:
    text = " ".join(["the quick brown fox jumps over the lazy dog"] * 12)  # ~520 chars
    samples, timed = piper.synthesize(text, _joe(), 1.0)
    gaps = [s for s, _ in timed if s == "."]
    assert len(gaps) >= 1  # read in more than one piece: memory stays bounded
    seconds = sum(t for _, t in timed)
    assert seconds == pytest.approx(samples.shape[0] / _joe().sample_rate, abs=0.02)


def test_a_consonant_vowel_boundary_moves_onto_the_vowels_onset_within_reach() -> None:
    from engine.tts.boundaries import REACH_S, refined

    rate = 16_000
    t = np.arange(int(0.6 * rate)) / rate
    # A closure (near silence) until 0.30 s, then a vowel-like tone, then silence at 0.50 s.
    samples = np.where((t >= 0.30) & (t < 0.50), 0.5 * np.sin(2 * np.pi * 600 * t), 1e-4)
    phones = [("SIL", 0.0, 0.1), ("P", 0.1, 0.32), ("AA", 0.32, 0.48), ("M", 0.48, 0.6)]
    moved = refined(phones, samples.astype(np.float32), rate)
    assert [p for p, _, _ in moved] == ["SIL", "P", "AA", "M"]
    assert moved[2][1] == pytest.approx(0.30, abs=0.011)  # onset of the sound, not 0.32
    assert moved[2][2] == pytest.approx(0.50, abs=0.011)  # its end, not 0.48
    assert moved[0] == phones[0]  # pauses stay where they were
    far = [("SIL", 0.0, 0.1), ("P", 0.1, 0.40), ("AA", 0.40, 0.48), ("M", 0.48, 0.6)]
    assert refined(far, samples.astype(np.float32), rate)[2][1] >= 0.40 - REACH_S - 1e-9


def test_kokoros_timings_agree_with_an_independent_alignment(tmp_path: Path) -> None:
    """pocketsphinx, told only which phones were spoken, places them itself: Kokoro's own
    (shifted, refined) timings must land where it does, and a timeline 0.1 s off must not."""
    speech = tts.speak("ばあばは毎晩、帽子をかぶって散歩します。", tts.choose(language="ja"))
    assert_timed_as_aligned(speech, tmp_path)


def test_short_quiet_vowels_of_typed_speech_still_open_the_jaw() -> None:
    """Fast Japanese has 50 ms vowels 8-10 dB under their neighbours (か in かぶって). With
    the synthesizer's own phones, loudness scales such a vowel's opening, it does not
    erase it; with recognised phones the same dip still closes the jaw."""
    from engine.lipsync.speech.track import _resample
    from engine.lipsync.speech.visemes import FRAME_S, Curves, measure_loudness, mouth_curves

    speech = tts.speak("ばあばは毎晩、帽子をかぶって散歩します。", tts.choose(language="ja"))
    loudness = measure_loudness(_resample(speech.samples, speech.sample_rate))
    typed = mouth_curves(speech.phones, loudness, exact=True)
    heard = mouth_curves(speech.phones, loudness, exact=False)

    def peaks(curves: Curves) -> list[float]:
        return [
            float(curves.open[round(a / FRAME_S) : round(b / FRAME_S) + 1].max())
            for name, a, b in speech.phones
            if name == "AA"
        ]

    assert min(peaks(typed)) > 0.25 > min(peaks(heard))
    assert min(peaks(typed)) < 0.8 * max(peaks(typed)), "loudness no longer shapes the jaw"
    for curves in (typed, heard):  # every grid frame inside a closure is shut
        for start, end in curves.closures:
            inside = slice(math.ceil(start / FRAME_S - 1e-9), math.floor(end / FRAME_S + 1e-9) + 1)
            assert curves.open[inside].max() == 0.0


def test_the_same_text_always_sounds_the_same() -> None:
    """VITS draws noise; we feed it from a generator seeded by the text, so a job made
    twice from the same line (even in another process: a fresh session here) renders the
    same video, and another line or speed draws other noise."""
    voice = tts.choose(language="en")
    first = tts.speak("Pam put the paper back.", voice)
    piper._sessions.clear()
    again = tts.speak("Pam put the paper back.", voice)
    assert np.array_equal(first.samples, again.samples) and first.phones == again.phones
    faster = tts.speak("Pam put the paper back.", voice, speed=1.3)
    assert faster.seconds < first.seconds
    session = piper.session(_joe())
    ids, _ = piper.ids_of(piper.sentences("Pam put the paper back.", "en-us")[0], _joe().id_map)
    feeds = {
        "input": np.array([ids], dtype=np.int64),
        "input_lengths": np.array([len(ids)], dtype=np.int64),
        "scales": np.array([0.667, 1.0, 0.8], np.float32),
    }
    rng = np.random.default_rng(0)
    lengths = []
    for _ in range(2):  # other noise, other durations: the fed noise is what is used
        for name in session.noise_inputs:
            feeds[name] = rng.standard_normal((1, 256, 40 * len(ids)), np.float32)
        with session.lock:
            lengths.append(session.session.run([session.durations_name], feeds)[0].tolist())
    assert lengths[0] != lengths[1]


def test_a_sentence_that_outlasts_its_noise_is_read_again_with_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(piper, "_NOISE_FRAMES_PER_ID", 1)  # far less than a sentence needs
    speech = tts.speak("Bob may buy a map.", tts.choose(language="en"))
    assert 0.8 < speech.seconds < 3.0
    assert speech.phones[-1][2] == pytest.approx(speech.seconds, abs=0.02)
