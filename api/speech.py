"""Text instead of an audio file, in both dialects: the fields, and the `SpokenText`s they
make. The engine checks the text, voice, language and speed; here only what JSON can carry
that no text can be (a lone surrogate) is refused, so it never reaches the synthesizer."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field

from api.errors import ApiError
from engine import tts
from engine.job_request import SpokenText
from engine.vocabulary import Role


def _encodable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid Unicode text") from None
    return value


Text = Annotated[
    str,
    AfterValidator(_encodable),
    Field(description="what to say instead of an audio file, spoken here (espeak-ng)"),
]
Word = Annotated[str, AfterValidator(_encodable), Field(max_length=64)]
VoiceId = Annotated[
    Word, Field(description='a voice id from GET /api/v1/tts/voices, e.g. "espeak:en-us"')
]
Language = Annotated[
    Word, Field(description='a language tag ("en", "es", "tr", "ko", "ja"...): its best voice')
]
Speed = Annotated[float, Field(ge=tts.MIN_SPEED, le=tts.MAX_SPEED, description="1.0 = normal")]

# voice role -> (its text field, its own voice field) in the studio forms.
_TEXT_FIELDS = {
    Role.AUDIO: ("text", None),
    Role.LEFT_AUDIO: ("left_text", "left_voice"),
    Role.RIGHT_AUDIO: ("right_text", "right_voice"),
}
_SHARED = ("voice", "language", "speed")


def pop_speech(form: dict[str, Any]) -> dict[str, SpokenText]:
    """Take the text fields out of a studio form (a `model_dump`) as the job's speech."""
    texts = {role: form.pop(name, None) for role, (name, _) in _TEXT_FIELDS.items()}
    own = {role: form.pop(name, None) for role, (_, name) in _TEXT_FIELDS.items() if name}
    voice, language, speed = (form.pop(name, None) for name in _SHARED)
    speech = {
        role: SpokenText(
            text, own.get(role) or voice or None, language or None, 1.0 if speed is None else speed
        )
        for role, text in texts.items()
        if text is not None
    }
    if not speech and (voice or language or speed is not None or any(own.values())):
        raise ApiError(422, "invalid_request", "voice, language and speed go with a text")
    return speech


def voice_data(voice: tts.Voice) -> dict[str, Any]:
    return {
        "id": voice.id,
        "language": voice.language,
        "languages": list(voice.languages),
        "engine": voice.engine,
        "gender": voice.gender,
    }


def speaks(voice: tts.Voice, language: str | None) -> bool:
    """Whether `voice` answers to `language` ("es" matches "es-419" too)."""
    if not language:
        return True
    tag = language.strip().lower().replace("_", "-")
    return any(t == tag or t.startswith(f"{tag}-") for t in voice.languages)
