"""Voices a job asks for as text: planned at submit, spoken when the job runs.

Submitting only reads the text (the synthesizer's front end, milliseconds) to bound how
long its speech can last, and keeps the text as `<role>.speech.json` in the job's input
folder; the job is held at the price of that bound (never past `limits.max_media_seconds`).
The render process speaks it first thing, into `<role>.wav` in its scratch folder with the
synthesizer's phones in `<role>.wav.phones.json` beside it, which the renderer times the
mouth on instead of recognising phones; the job is charged on the speech it made. A neural
voice takes seconds to minutes on a CPU, which a request should not wait for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

from engine import tts
from engine.config import Settings
from engine.errors import MediaError
from engine.inputs import ResolvedInput
from engine.job_request import SpokenText
from engine.media.audio import write_wav
from engine.media.probe import sound_info

PLANNED = ".speech.json"


def plan_speech(
    speech: Mapping[str, SpokenText], dest: Path, settings: Settings
) -> dict[str, ResolvedInput]:
    """Each text as a planned voice in `dest`, with its duration bound as its length."""
    dest.mkdir(parents=True, exist_ok=True)
    planned = {}
    for role, spoken in speech.items():
        voice = tts.choose(spoken.voice, spoken.language)
        bound = tts.seconds_bound(spoken.text, voice, speed=spoken.speed)
        seconds = round(min(bound, settings.limits.max_media_seconds), 3)
        path = dest / f"{role}{PLANNED}"
        fixed = SpokenText(text=spoken.text, voice=voice.id, speed=spoken.speed)
        path.write_text(json.dumps(asdict(fixed), ensure_ascii=False), encoding="utf-8")
        planned[role] = ResolvedInput(role, path, sound_info(seconds, "text"))
    return planned


def is_planned(path: Path) -> bool:
    return path.name.endswith(PLANNED)


def speak_planned(inputs: Mapping[str, Path], dest: Path, settings: Settings) -> dict[str, Path]:
    """`inputs` with every planned voice spoken into `dest` (its phones beside it)."""
    spoken = dict(inputs)
    for role, path in inputs.items():
        if is_planned(path):
            text = SpokenText(**json.loads(path.read_text(encoding="utf-8")))
            dest.mkdir(parents=True, exist_ok=True)
            spoken[role] = dest / f"{role}.wav"
            speak_to_file(text, spoken[role], settings, what=f"'{role}'")
    return spoken


def speak_to_file(spoken: SpokenText, path: Path, settings: Settings, *, what: str) -> tts.Speech:
    """Speak `spoken` into a WAV at `path`, its phones beside it; `what` names it in the
    refusal when it would outlast `limits.max_media_seconds`."""
    voice = tts.choose(spoken.voice, spoken.language)
    limit = settings.limits.max_media_seconds
    try:
        speech = tts.speak(spoken.text, voice, speed=spoken.speed, max_seconds=limit)
    except tts.TooLong as exc:
        raise MediaError(
            f"{what} would last over {exc.seconds:.0f} s; the limit is {limit:.0f} s"
        ) from None
    write_wav(path, speech.samples, speech.sample_rate)
    tts.save_phones(path, speech.phones)
    return speech
