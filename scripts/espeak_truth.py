"""espeak-ng ground truth on the command line, and the mouth-track figures built on it.

    python -m scripts.espeak_truth "Bob bought a big map." --voice en-us --out bob.wav
        speak the text into a WAV and print every phoneme with its times and class
    python -m scripts.espeak_truth --evaluate [--fps 25] [--langs en es]
        run `mouth_track` on the built-in sentences (0.5 s of silence either side) and print,
        per sentence and per language: share of p/b/m with a closed frame (open < 0.1, and
        strictly open == 0), share of open vowels with a clearly open frame (> 0.35), the
        largest opening in silence, the cross-correlation lag, and the run time.

The logic lives in tests/support/espeak_truth.py; this is only the command line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.espeak_truth import (
    TruthPhone,
    score_open_track,
    synthesize,
    synthesize_array,
)

PAD_S = 0.5
VOICES = {"en": "en-us", "es": "es"}
SENTENCES = {
    "en": [
        "Bob bought a big map.",
        "My mom made pancakes for the baby before bed.",
        "Peter Piper picked a peck of pickled peppers.",
        "The quick brown fox jumps over the lazy dog.",
        "Please bring me the blue bottle from the cupboard upstairs.",
        "I want to go home and have a nice long bath.",
        "Maybe we should book a cabin by the lake in September.",
        "The captain dropped the map and grabbed a lamp.",
        "Bananas are my favourite snack after a long hot walk.",
        "Father parked the car by the barn, then opened the gate.",
        "Remember to buy some apples and a bottle of milk.",
    ],
    "es": [
        "Mi mamá me mima mucho.",
        "El perro de Pablo bebe agua en el parque.",
        "Buenos días, ¿cómo estás? Me llamo María y vivo en Madrid.",
        "La bamba es una canción muy popular de México.",
        "Mañana vamos a la playa con mi hermano Pablo.",
        "El bombero subió a la ambulancia para ayudar.",
        "Papá compró pan, manzanas y un poco de mantequilla.",
        "Me gusta caminar por el campo cuando hace calor.",
    ],
}


def _print_phones(phones: list[TruthPhone], as_json: bool) -> None:
    if as_json:
        print(json.dumps([p.__dict__ for p in phones], ensure_ascii=False, indent=1))
        return
    for p in phones:
        print(f"{p.start_s:7.3f} {p.end_s:7.3f}  {p.phoneme:<6} {p.kind}")


def _strict_closed(open_: np.ndarray, fps: float, phones: list[TruthPhone]) -> list[bool]:
    """Per p/b/m: does a frame inside it show the lips fully shut (open == 0)?"""
    out = []
    for p in phones:
        if p.kind != "bilabial":
            continue
        start, end = p.start_s + PAD_S, p.end_s + PAD_S
        frames = [i for i in range(open_.shape[0]) if start <= i / fps <= end]
        frames = frames or [min(round((start + end) / 2 * fps), open_.shape[0] - 1)]
        out.append(bool(open_[frames].min() == 0.0))
    return out


def evaluate(languages: list[str], fps: float) -> None:
    """Print the mouth-track figures for the built-in sentences."""
    from engine.lipsync.speech.track import mouth_track

    print(f"fps {fps:g}; closed = open < 0.1 (strict: == 0); open = open > 0.35")
    for language in languages:
        totals = {"bil": 0, "closed": 0, "strict": 0, "vow": 0, "open": 0}
        lags: list[int] = []
        silence = 0.0
        for text in SENTENCES[language]:
            speech, rate, phones = synthesize_array(text, VOICES[language])
            pad = np.zeros(int(PAD_S * rate), np.float32)
            audio = np.concatenate([pad, speech, pad])
            started = time.process_time()
            track = mouth_track(audio, rate, fps)
            seconds = time.process_time() - started
            s = score_open_track(track.open, fps, phones, offset_s=PAD_S)
            strict = _strict_closed(track.open, fps, phones)
            totals["bil"] += s.n_bilabial
            totals["closed"] += round(s.bilabial_closed * s.n_bilabial)
            totals["strict"] += sum(strict)
            totals["vow"] += s.n_open_vowel
            totals["open"] += round(s.open_vowel_open * s.n_open_vowel)
            lags.append(s.lag_frames)
            silence = max(silence, s.silence_max_open)
            print(
                f"{language} p/b/m {s.bilabial_closed:4.0%} (strict {np.mean(strict):4.0%}, "
                f"n={s.n_bilabial:2d})  open vowels {s.open_vowel_open:4.0%} "
                f"(n={s.n_open_vowel:2d})  silence {s.silence_max_open:.3f}  "
                f"lag {s.lag_frames:+d}  {seconds:.2f}s cpu  {text}"
            )
        print(
            f"== {language}: p/b/m closed {totals['closed']}/{totals['bil']} "
            f"= {totals['closed'] / max(1, totals['bil']):.0%} "
            f"(strict {totals['strict'] / max(1, totals['bil']):.0%}); open vowels "
            f"{totals['open']}/{totals['vow']} = {totals['open'] / max(1, totals['vow']):.0%}; "
            f"max open in silence {silence:.3f}; lags {lags}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("text", nargs="?", help="what to say")
    parser.add_argument("--voice", default="en-us", help="espeak-ng voice (en, en-us, es, ...)")
    parser.add_argument("--out", type=Path, help="WAV to write (default: speech.wav)")
    parser.add_argument("--rate", type=int, default=150, help="words per minute")
    parser.add_argument("--json", action="store_true", help="print the phones as JSON")
    parser.add_argument("--evaluate", action="store_true", help="score mouth_track instead")
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--langs", nargs="+", default=list(SENTENCES), choices=list(SENTENCES))
    args = parser.parse_args(argv)
    if args.evaluate:
        evaluate(args.langs, args.fps)
        return 0
    if not args.text:
        parser.error("give a text to speak, or --evaluate")
    phones = synthesize(args.text, args.voice, args.out or Path("speech.wav"), rate_wpm=args.rate)
    _print_phones(phones, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
