"""Phone timings of *real* recorded speech with a known transcript, by forced alignment.

For espeak-ng speech we know every phoneme's time because espeak made the waveform
(`espeak_truth`). For a real recording (the Asterisk prompts read by a person) the next best
thing is to align its transcript: PocketSphinx with the CMU dictionary and the English
acoustic model (both ship in the `pocketsphinx` wheel) finds the most likely timing of the
known word sequence, then of their phones (a second, phone-level pass). This is a different
and much better-informed process than the renderer's own phone-loop recognition, which
never knows the words, so it is a fair referee. Timings land on the recogniser's 10 ms grid.

Classification follows `espeak_truth`: p, b, m are bilabial; the open vowels are AA (father,
lot), AE (trap), AY (price) and AW (mouth); SIL is silence.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tests.support.espeak_truth import Kind, TruthPhone

if TYPE_CHECKING:
    import pocketsphinx

    from engine.tts import Speech

_BILABIAL = {"P", "B", "M"}
_OPEN_VOWELS = {"AA", "AE", "AY", "AW"}
_SILENCE = {"SIL", "<sil>", "+NSN+", "+SPN+"}
_LEAD_IN_S = 0.3


def classify(phone: str) -> Kind:
    if phone in _BILABIAL:
        return "bilabial"
    if phone in _OPEN_VOWELS:
        return "open_vowel"
    if phone in _SILENCE or phone.startswith("+"):
        return "silence"
    return "other"


def align(path: Path, text: str) -> list[TruthPhone]:
    """Every phone of `text` (lower-case words in the CMU dictionary) as spoken in the
    recording at `path`, with its start and end in seconds."""
    return _aligned(path, text, {})


def align_phones(path: Path, phones: list[str]) -> list[TruthPhone]:
    """The timing of a known phone sequence (ARPAbet, "SIL" for pauses) in the recording
    at `path`: for speech in a language the CMU dictionary lacks.

    Each stretch between pauses becomes one made-up dictionary word with exactly those
    phones, so the aligner decides only *when* each phone is, never *which* it is: the
    English acoustic model places Japanese or Spanish consonants and vowels well (their
    nearest English phones), and that timing is independent of the synthesizer's own.
    """
    words: list[list[str]] = [[]]
    for phone in phones:
        if phone in _SILENCE:
            if words[-1]:
                words.append([])
        else:
            words[-1].append(phone)
    spelled = {f"w{i}": " ".join(w) for i, w in enumerate(words) if w}
    if not spelled:
        raise ValueError(f"nothing to align in {path.name}")
    return _aligned(path, " ".join(spelled), spelled)


def median_start_miss(
    spoken: list[tuple[str, float, float]], aligned: list[TruthPhone], shift: float = 0.0
) -> float:
    """Median distance (s) between where a synthesizer says each phone starts (moved by
    `shift`) and where the aligner put it, pauses left out; both must name the same phones."""
    own = [(name, start + shift) for name, start, _ in spoken if classify(name) != "silence"]
    theirs = [(p.phoneme, p.start_s) for p in aligned if p.kind != "silence"]
    if [name for name, _ in own] != [name for name, _ in theirs]:
        raise AssertionError("the aligner placed other phones than were spoken")
    return float(np.median([abs(a - b) for (_, a), (_, b) in zip(own, theirs, strict=True)]))


def assert_timed_as_aligned(speech: Speech, folder: Path) -> None:
    """The aligner, told only which phones `speech` holds, places them within a frame or
    two of the synthesizer's own starts, and tells a timeline 0.1 s off apart."""
    from engine.media.audio import write_wav

    wav = folder / "speech.wav"
    write_wav(wav, speech.samples, speech.sample_rate)
    aligned = align_phones(wav, [name for name, _, _ in speech.phones])
    assert median_start_miss(speech.phones, aligned) < 0.03
    assert median_start_miss(speech.phones, aligned, shift=0.1) > 0.06


def _aligned(path: Path, text: str, extra_words: dict[str, str]) -> list[TruthPhone]:
    from engine.media import load_audio

    # Heard as a recording is: with a moment of room before and after the speech (speech
    # from its very first sample left the aligner with no path on most espeak-ng clips),
    # and never digitally silent (PocketSphinx's noise and level estimates fail on exact
    # zeros): a fixed, seeded hiss 60 dB under full scale, a quiet room.
    lead = int(_LEAD_IN_S * 16_000)
    audio = np.pad(load_audio(path, sample_rate=16_000), lead)
    hiss = np.random.default_rng(0).normal(0.0, 1e-3, audio.shape).astype(np.float32)
    pcm = (np.clip(audio + hiss, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    try:
        alignment = _alignment(pcm, text, extra_words)
    except RuntimeError as exc:
        raise ValueError(f"could not align {path.name} with its text: {exc}") from None
    if alignment is None:
        raise ValueError(f"could not align {path.name} with its text")
    phones = []
    for word in alignment:
        for phone in word:
            start = max(phone.start / 100.0 - _LEAD_IN_S, 0.0)
            end = max((phone.start + phone.duration) / 100.0 - _LEAD_IN_S, start)
            phones.append(TruthPhone(phone.name, start, end, classify(phone.name)))
    return phones


def _alignment(pcm: bytes, text: str, extra_words: dict[str, str]) -> pocketsphinx.Alignment | None:
    import pocketsphinx

    model = Path(pocketsphinx.get_model_path("en-us"))
    decoder = pocketsphinx.Decoder(
        hmm=str(model / "en-us"),
        dict=str(model / "cmudict-en-us.dict"),
        loglevel="FATAL",
    )
    for word, spelling in extra_words.items():
        decoder.add_word(word, spelling, update=False)
    decoder.set_align_text(text)
    for second_pass in (False, True):
        if second_pass:
            if decoder.hyp() is None:
                return None
            decoder.set_alignment()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
    return decoder.get_alignment()


def snap_share(gaps: np.ndarray, speaking: np.ndarray | None = None) -> float:
    """The 98th percentile of the per-frame change of lip opening, as a share of its range
    (2nd to 98th percentile): near 1 when the mouth jumps from closed to fully open in one
    frame, about 0.3-0.6 when it opens over two to four frames as real lips do."""
    values = np.asarray(gaps, np.float64)
    valid = np.isfinite(values)
    if speaking is not None:
        valid &= np.asarray(speaking, bool)
    steps = np.abs(np.diff(values))
    both = valid[1:] & valid[:-1]
    if both.sum() < 5:
        return float("nan")
    lo, hi = np.percentile(values[valid], [2, 98])
    span = max(hi - lo, 1e-6)
    return float(np.percentile(steps[both], 98) / span)
