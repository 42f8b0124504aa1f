"""Voices a job asks for as text: spoken here at submit, kept like any other input.

Each text becomes `<role>.wav` in the job's input folder, with the synthesizer's phones in
`<role>.wav.phones.json` beside it; the renderer finds them there and times the mouth on
them instead of recognising phones in the audio. The job is priced on the speech's length,
as it would be on a recording's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

from engine import tts
from engine.config import Settings
from engine.errors import MediaError
from engine.inputs import ResolvedInput
from engine.job_request import SpokenText
from engine.media import probe
from engine.media.audio import write_wav


async def speak_inputs(
    speech: Mapping[str, SpokenText], dest: Path, settings: Settings
) -> dict[str, ResolvedInput]:
    dest.mkdir(parents=True, exist_ok=True)
    spoken = {}
    for role, text in speech.items():  # one at a time: espeak-ng is one engine per process
        spoken[role] = await asyncio.to_thread(_speak_one, role, text, dest, settings)
    return spoken


def _speak_one(role: str, spoken: SpokenText, dest: Path, settings: Settings) -> ResolvedInput:
    path = dest / f"{role}.wav"
    speak_to_file(spoken, path, settings, what=f"'{role}'")
    return ResolvedInput(role, path, probe(path))


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
