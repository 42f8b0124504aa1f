"""How far each voice's own phone timings are from two referees that never saw them.

`make quality-text` scores typed videos against the synthesizer's timings and against
pocketsphinx's alignment of the same audio. When the two disagree, which is right? This
prints, per voice:

* the aligner against the voice's own starts (all phones) and bilabial releases;
* acoustic landmarks against the same: where the level (15 ms windows, 5 ms apart) rises
  fastest near each p/b/m release (the lips part: burst or nasal release) and falls
  fastest near each closure (the lips seal).

The own timings are what the renderer gets from `engine.tts.speak`: each voice's, with
its consonant-vowel boundaries refined onto the sound (`engine/tts/boundaries.py`).

Usage: python -m scripts.timing_referees
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from engine import tts
from engine.media.audio import write_wav
from scripts.quality import SENTENCES
from tests.support.forced_align import align_phones
from tests.support.landmarks import level_db, steepest

_BILABIAL = {"P", "B", "M"}

VOICES = (  # (label, voice id or language tag, sentences)
    ("espeak en-us", "espeak:en-us", "en"),
    ("espeak es", "espeak:es", "es"),
    ("piper en", "en", "en"),
    ("kokoro ja", "ja", "ja"),
)


def measure(voice: tts.Voice, texts: list[str], out: Path) -> dict[str, list]:
    """Signed differences (s, referee minus own) per kind of event, over `texts`."""
    found: dict[str, list] = {"start": [], "release": [], "landmark_release": [], "seal": []}
    for number, text in enumerate(texts):
        speech = tts.speak(text, voice)
        wav = out / f"{voice.engine}{number}.wav"
        write_wav(wav, speech.samples, speech.sample_rate)
        own = [p for p in speech.phones if p[0] != "SIL"]
        try:  # told which phones were spoken, the aligner decides only when
            aligned = align_phones(wav, [name for name, _, _ in speech.phones])
        except ValueError as exc:
            print(f"({voice.id} sentence {number}: {exc})", file=sys.stderr)
            aligned = []
        theirs = [p for p in aligned if p.kind != "silence"]
        same = [p.phoneme for p in theirs] == [name for name, _, _ in own]
        level, times = level_db(speech.samples, speech.sample_rate)
        for i, (name, start, end) in enumerate(own):
            if same:
                found["start"].append(theirs[i].start_s - start)
            if name not in _BILABIAL:
                continue
            if i + 1 < len(own) and own[i + 1][0] not in _BILABIAL:
                if same:
                    found["release"].append(theirs[i].end_s - end)
                rise = steepest(level, times, end - 0.04, end + 0.06, rising=True)
                found["landmark_release"].append(rise - end)
            fall = steepest(level, times, start - 0.05, start + 0.04, rising=False)
            found["seal"].append(fall - start)
    return found


def main() -> int:
    print(
        f"{'voice':<14} {'aligner: starts':>20} {'aligner: releases':>20} "
        f"{'level: releases':>20} {'level: seals':>20}"
    )
    print(f"{'':<14} " + " ".join(f"{'median / p90|d| ms':>20}" for _ in range(4)))
    with tempfile.TemporaryDirectory(prefix="lipsync-referees-") as tmp:
        for label, choice, language in VOICES:
            voice = tts.choose(choice) if ":" in choice else tts.choose(language=choice)
            if label.split()[0] not in voice.id:
                print(f"{label:<14} (not installed)")
                continue
            found = measure(voice, SENTENCES[language], Path(tmp))
            cells = []
            for key in ("start", "release", "landmark_release", "seal"):
                d = np.asarray([v for v in found[key] if np.isfinite(v)]) * 1000
                cells.append(
                    f"{np.median(d):+5.0f} / {np.percentile(np.abs(d), 90):3.0f} (n={d.size:3d})"
                    if d.size
                    else "-"
                )
            print(f"{label:<14} " + " ".join(f"{c:>20}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
