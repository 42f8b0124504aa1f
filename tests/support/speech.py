"""Speech for tests, spoken by espeak-ng (installed by `make`): real voices, made on the fly."""

from __future__ import annotations

import subprocess
from pathlib import Path


def speak(text: str, voice: str, path: Path, *, words_per_minute: int = 150) -> Path:
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(path), text],
        check=True,
        capture_output=True,
    )
    return path


# One short line per language the seeds are written in, for text-to-video tests.
SENTENCES = {
    "en": "Bob bought a big map, and Pam paid for it.",
    "es": "Pedro compró un mapa bonito para su mamá.",
    "tr": "Babam bana mavi bir balon aldı.",
    "ko": "안녕하세요, 만나서 반갑습니다.",
    "ja": "こんにちは、はじめまして。",
}
