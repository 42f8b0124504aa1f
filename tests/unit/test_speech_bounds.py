"""A job made from text is held at the longest its speech can last, counted from the
text's reading before any audio exists; the speech made later must fit under it."""

from __future__ import annotations

import pytest

from engine import tts
from engine.tts import kokoro, piper

TEXTS = {
    "en": [
        "Hello.",
        "I",
        "Hi there, how are you doing today?",
        "Dr. Smith paid $1,250 on 3/4/2025 for 17 items.",
        "Wait... what? No! Yes, yes, yes.",
        "OK, OK, OK, OK, OK.",
        "The quick brown fox jumps over the lazy dog. " * 3,
    ],
    "es": ["Hola.", "¿Qué? ¡No! Sí, sí.", "Mi mamá compró un mapa bonito para el viaje a Panamá."],
    "tr": ["Merhaba dünya.", "Bugün hava çok güzel, parka gidelim mi?"],
    "ko": ["안녕하세요.", "오늘 날씨가 정말 좋네요, 공원에 갈까요?"],
    "ja": [
        "はい。",
        "こんにちは。",
        "ええ、ええ、そうですね、まったくその通りです！",
        "東京都特許許可局長、今日急遽休暇許可拒否。",
    ],
}


@pytest.mark.parametrize("language", sorted(TEXTS))
def test_speech_fits_the_bound_counted_from_its_text(language: str) -> None:
    # the language's own voice, and espeak-ng's where that is a neural one (Japanese has
    # Kokoro alone: espeak-ng reads kanji as letter names)
    espeak = {"en": "espeak:en-us", "ja": None}.get(language, f"espeak:{language}")
    voices = {tts.choose(language=language), *([tts.choose(espeak)] if espeak else [])}
    for voice in voices:
        for text in TEXTS[language]:
            for speed in (0.5, 1.0, 2.0):
                bound = tts.seconds_bound(text, voice, speed=speed)
                spoken = tts.speak(text, voice, speed=speed).seconds
                assert spoken <= bound, (voice.id, text, speed, spoken, bound)
                # tight enough that a hold is not several times the charge
                assert bound <= 2.5 * spoken + 1.5, (voice.id, text, speed, spoken, bound)


def test_a_bound_reads_the_text_without_loading_a_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Submitting must stay quick: the bound runs the reading front end, never a voice."""
    monkeypatch.setattr(kokoro, "_model", None)
    monkeypatch.setattr(piper, "_sessions", {})
    assert tts.seconds_bound("こんにちは。", tts.choose(language="ja")) > 0.5
    assert tts.seconds_bound("Hello there.", tts.choose(language="en")) > 0.5
    assert kokoro._model is None and piper._sessions == {}
