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
