"""Speech made here from text, with the exact time of every phoneme in it.

A video made from text needs no speech recognition: the synthesizer says which phoneme it
speaks when, and those timings go through the same viseme and coarticulation path as the
phones recognised in a recording. Voices ship with installed packages (nothing is
downloaded): espeak-ng's 130-odd voices serve 100+ languages.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import InvalidInput, MediaError
from engine.tts import espeak, kokoro, piper
from engine.tts.boundaries import refined
from engine.tts.phones import arpabet, ipa_phones

# (ARPAbet phone, start_s, end_s): the shape `engine.lipsync.speech` takes its phones in.
Phone = tuple[str, float, float]
ESPEAK = "espeak-ng"
PIPER = "piper"
KOKORO = "kokoro"
ESPEAK_WPM = 175  # espeak's words per minute at speed 1.0
MIN_SPEED, MAX_SPEED = 0.5, 2.0
# When a language has several voices, the one a bare language tag means.
_PREFERRED = {"en": "en-us", "fr": "fr-fr", "pt": "pt-br", "zh": "cmn", "es": "es"}


@dataclass(frozen=True)
class Voice:
    id: str  # what requests name: "espeak:en-us"
    language: str  # its main language tag ("en-us")
    languages: tuple[str, ...]  # every tag it answers to, most specific first
    engine: str
    gender: str
    native: str  # the engine's own name for it


@dataclass(frozen=True)
class Speech:
    samples: np.ndarray  # float32 mono, -1..1
    sample_rate: int
    phones: list[Phone]  # ARPAbet phone, start_s, end_s (the synthesizer's own timings)
    voice: Voice

    @property
    def seconds(self) -> float:
        return self.samples.shape[0] / self.sample_rate


@functools.cache
def _piper_voices() -> dict[str, piper.PiperVoice]:
    return {f"piper:{v.name}": v for v in piper.installed()}


@functools.cache
def catalogue() -> tuple[Voice, ...]:
    """Every voice this machine can speak with, sorted by language, neural voices first."""
    found: list[Voice] = []
    for voice_id, pv in _piper_voices().items():
        tags = dict.fromkeys((pv.region, pv.language, pv.language.split("-")[0]))
        found.append(
            Voice(
                id=voice_id,
                language=pv.region,
                languages=tuple(tags),
                engine=PIPER,
                gender="",
                native=pv.name,
            )
        )
    taken: set[str] = set()
    if kokoro.available():
        for name, gender in kokoro.VOICES.items():
            found.append(Voice(f"kokoro:{name}", "ja", ("ja",), KOKORO, gender, name))
    for v in espeak.voices():
        language = v.languages[0] if v.languages else v.name.lower()
        # Its main language names it, unless another voice took that name (yue, twice).
        name = language if language not in taken else v.name.lower()
        taken.add(name)
        found.append(
            Voice(
                id=f"espeak:{name}",
                language=language,
                languages=v.languages or (language,),
                engine=ESPEAK,
                gender=v.gender,
                native=v.name,
            )
        )
    return tuple(sorted(found, key=lambda voice: (voice.language, voice.engine == ESPEAK)))


def languages() -> list[str]:
    return sorted({tag for voice in catalogue() for tag in voice.languages})


def choose(voice: str | None = None, language: str | None = None) -> Voice:
    """The voice a request names, or the best one for its language (English if neither).

    An unknown voice or language is refused with what exists, so the caller can pick.
    """
    voices = catalogue()
    if voice:
        for candidate in voices:
            if candidate.id == voice or candidate.native == voice:
                return candidate
        raise InvalidInput(
            f"unknown voice '{voice}'; GET /api/v1/tts/voices lists them "
            f"(for example {', '.join(v.id for v in voices[:4])})",
            code="unknown_voice",
        )
    tag = (language or "en").strip().lower().replace("_", "-")
    preferred = _PREFERRED.get(tag, tag)
    for wanted in (preferred, tag):
        for candidate in voices:
            if candidate.language == wanted:
                return candidate
    for candidate in voices:
        if tag in candidate.languages:
            return candidate
    raise InvalidInput(
        f"no voice speaks '{language}'; these languages have one: {', '.join(languages())}",
        code="unknown_language",
    )


class TooLong(MediaError):
    """The speech would outlast the caller's limit; synthesis stopped soon after it."""

    def __init__(self, seconds: float, limit: float) -> None:
        super().__init__(f"the speech would last over {seconds:.0f} s; the limit is {limit:.0f} s")
        self.seconds = seconds
        self.limit = limit


# The most each engine took, over varied texts (short and long, numbers, pauses) and speeds
# 0.5-2 (`tests/unit/test_speech_bounds.py`): seconds at speed 1 for the whole text, per
# phoneme of its reading, and per clause (the pause a comma or full stop makes).
_BOUNDS: dict[str, tuple[float, float, float]] = {
    ESPEAK: (0.3, 0.07, 0.45),
    PIPER: (0.3, 0.07, 0.45),
    KOKORO: (1.0, 0.09, 0.45),
}
_CLAUSE_MARKS = ",.;:!?…、。！？，"


def seconds_bound(text: str, voice: Voice, *, speed: float = 1.0) -> float:
    """The longest `voice` can take to say `text`, from its reading alone (a few ms, no
    audio made): what a job made from text is held at before the job speaks it."""
    if voice.engine == KOKORO:
        readings = kokoro.phonemes(text)
        phonemes = sum(len(r.replace(" ", "")) for r in readings)
        clauses = len(readings) + sum(r.count(m) for r in readings for m in _CLAUSE_MARKS)
    else:
        reader = _piper_voices()[voice.id].espeak_voice if voice.engine == PIPER else voice.native
        readings = [ipa for ipa, _ in espeak.clauses_ipa(text, reader)]
        phonemes = sum(len(ipa.replace(" ", "")) for ipa in readings)
        clauses = len(readings)
    fixed, per_phoneme, per_clause = _BOUNDS[voice.engine]
    # Slower speech stretches in proportion; faster speech shortens less than it asks for
    # (Piper at speed 2 takes ~65 % of the time, not 50 %).
    return (fixed + per_phoneme * phonemes + per_clause * clauses) / min(speed, speed**0.5)


def speak(text: str, voice: Voice, *, speed: float = 1.0, max_seconds: float = math.inf) -> Speech:
    """Say `text` with `voice`; the phones carry the synthesizer's timings.

    Speech longer than `max_seconds` raises `TooLong`; the neural voices (a few times
    real time on a CPU) stop reading at the first piece past it rather than finish."""
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise InvalidInput(f"speed must be between {MIN_SPEED} and {MAX_SPEED}")
    if not text.strip():
        raise InvalidInput("the text is empty")
    if voice.engine == PIPER:
        pv = _piper_voices()[voice.id]
        samples, timed = piper.synthesize(text, pv, speed, max_seconds=max_seconds)
        phones = refined(ipa_phones(timed), samples, pv.sample_rate)
        speech = Speech(samples, pv.sample_rate, phones, voice)
    elif voice.engine == KOKORO:
        samples, timed = kokoro.synthesize(text, voice.native, speed, max_seconds=max_seconds)
        phones = ipa_phones(timed, gaps_to_next=False, overrides=kokoro.OVERRIDES)
        phones = refined(phones, samples, kokoro.SAMPLE_RATE)
        speech = Speech(samples, kokoro.SAMPLE_RATE, phones, voice)
    else:
        wpm = round(ESPEAK_WPM * speed)
        pcm, rate, events = espeak.synthesize(text, voice.native, rate_wpm=wpm)
        samples = pcm.astype(np.float32) / 32768.0
        phones = refined(timed_phones(events, len(pcm), rate), samples, rate)
        speech = Speech(samples, rate, phones, voice)
    if speech.seconds > max_seconds:
        raise TooLong(speech.seconds, max_seconds)
    return speech


def timed_phones(events: list[tuple[int, str]], n_samples: int, rate: int) -> list[Phone]:
    """Start-only phoneme events as (phone, start, end), silence at both ends."""
    timed = [(min(max(at, 0), n_samples), arpabet(name)) for at, name in events]
    timed = [(at, phone) for at, phone in timed if phone is not None]
    phones: list[Phone] = []
    edges = [at for at, _ in timed] + [n_samples]
    if not timed or edges[0] > 0:
        phones.append(("SIL", 0.0, (edges[0] if timed else n_samples) / rate))
    for (start, phone), end in zip(timed, edges[1:], strict=True):
        if end <= start:
            continue
        if phones and phones[-1][0] == phone == "SIL":
            phones[-1] = ("SIL", phones[-1][1], end / rate)
            continue
        phones.append((str(phone), start / rate, end / rate))
    return phones


def phones_path(voice: Path) -> Path:
    """Where the phones of a voice file made here are kept: beside it."""
    return voice.with_name(voice.name + ".phones.json")


def save_phones(voice: Path, phones: list[Phone]) -> None:
    phones_path(voice).write_text(json.dumps(phones))


def load_phones(voice: Path) -> list[Phone] | None:
    """The synthesizer's phones of a voice made here, or None (a recording)."""
    side = phones_path(Path(voice))
    if not side.is_file():
        return None
    return [(str(p), float(start), float(end)) for p, start, end in json.loads(side.read_text())]
