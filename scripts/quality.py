"""`make quality`: does the mouth in a talking-portrait *video* follow the speech, and
does it move like a speaker's?

Real faces (two sample photos, four people from a group photo: laughing with teeth,
smiling, a turned head, eyes down; and a 60 px face from a real low-resolution video) speak
espeak-ng sentences in English and Spanish and real read prompts (Asterisk, a woman
reading; `--real`). Ground truth for espeak comes from espeak-ng itself: it reports when
it starts every phoneme it speaks (tests/support/espeak_truth.py); for the real prompts
from a forced alignment of their transcripts (tests/support/forced_align.py). The renderer
never sees either: it only gets the audio. We render, then detect face landmarks on every
decoded output frame
with MediaPipe and measure the inner-lip gap (in face heights), and score it:

- p/b/m: share of bilabial phonemes during which the lips close (gap < 0.02),
- open vowels: share during which the mouth opens clearly (gap > 0.05),
- silence: the largest gap at least 0.1 s away from speech (stillness),
- lag: the shift (frames) that best aligns the gap curve with the truth; 0 is perfect,
- duration: output frames vs the audio's length, in frames,
- snap: the 98th percentile of the per-frame change of the gap as a share of its range
  (about 1 when the mouth jumps from shut to wide open in one frame; real lips take two
  to four frames).

Usage: python -m scripts.quality [--photos hopper astronaut ...] [--langs en es real]
           [--out DIR] [--text]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine import tts
from engine.config import Settings, load_settings
from engine.handlers import JobContext, JobSpec, get_handler, load_handlers
from engine.job_request import normalize_params
from engine.lipsync.faces import detect_faces
from engine.media import iter_video_frames, probe
from engine.tts import espeak
from tests.support import real_media
from tests.support.espeak_truth import (
    TruthPhone,
    language_of,
    score_open_track,
    synthesize_array,
    truth_phones,
    write_wav,
)
from tests.support.forced_align import align, align_phones, snap_share
from tests.support.forced_align import classify as classify_phone
from tests.support.media import face_photo_paths

CLOSED_BELOW = 0.02
TRUTH_WPM = 150  # the rate tests.support.espeak_truth speaks at
OPEN_ABOVE = 0.05
PADDING_S = 0.6

SENTENCES = {
    "en": [
        "Bob bought a big map, and Pam put the paper back on the table.",
        "My father parked the car by the barn and walked home alone.",
    ],
    "es": [
        "Mi mamá compró un mapa bonito para el viaje a Panamá.",
        "Pablo habla mucho, pero nunca baila en la playa.",
    ],
    "ja": [  # for Kokoro's voice (neural): espeak-ng's Japanese is not scored
        "パパとママは、ぱくぱくパンを食べました。",
        "ばあばは毎晩、帽子をかぶって散歩します。",
        "ぼくはまいにち、みんなとバスでまちへいきます。",
        "まめとパンとバナナを、ぶたのポポにあげました。",
    ],
}

FacePicker = Callable[[list], object]


@dataclass(frozen=True)
class Row:
    photo: str
    language: str
    sentence: int
    bilabial_closed: float
    open_vowel_open: float
    silence_max_gap: float
    lag_frames: int
    duration_error_frames: float
    realtime_factor: float
    n_bilabial: int
    n_open_vowel: int
    snap: float = float("nan")


def speech_with_silence(
    text: str, voice: str, path: Path, *, as_text: bool = False
) -> tuple[list[TruthPhone], float]:
    """espeak speech padded with silence on both sides; returns truth phones and duration.

    `as_text`: the clip stands for a video made from typed text: the service's own speech
    path (`engine.tts`, the same espeak-ng at the same rate, so the truth still holds) and
    its phones kept beside the WAV, where the renderer takes them instead of recognising."""
    if as_text:
        pcm, rate, events = espeak.synthesize(text, voice, rate_wpm=TRUTH_WPM)
        audio = pcm.astype(np.float32) / 32768.0
        phones = truth_phones(events, len(pcm), rate, language_of(voice))
    else:
        audio, rate, phones = synthesize_array(text, voice)
    pad = np.zeros(int(PADDING_S * rate), audio.dtype)
    padded = np.concatenate([pad, audio, pad])
    write_wav(path, padded, rate)
    if as_text:  # one synthesis: the truth and the service's phones come from its events
        spoken = tts.timed_phones(events, len(pcm), rate)
        shifted = [(name, start + PADDING_S, end + PADDING_S) for name, start, end in spoken]
        tts.save_phones(path, [("SIL", 0.0, PADDING_S), *shifted])
    return phones, len(padded) / rate


def mouth_gaps(video: Path, pick: str = "largest") -> tuple[np.ndarray, float]:
    """Per-frame inner-lip gap of one face ("largest", "left" or "right"); NaN without a face."""
    info = probe(video)
    fps = float(info.fps or 25.0)
    gaps: list[float] = []
    for frame in iter_video_frames(video):
        faces = detect_faces(frame, max_faces=2 if pick != "largest" else 1)
        if not faces:
            gaps.append(float("nan"))
            continue
        if pick == "left":
            face = faces[0]
        elif pick == "right":
            face = faces[-1]
        else:
            face = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
        gaps.append(float(face.mouth_gap()))
    return np.asarray(gaps, np.float32), fps


def render_local(
    model: str, inputs: dict[str, Path], params: dict, out: Path, settings: Settings | None = None
) -> float:
    """Render with the registered handler, as a worker would; returns wall seconds."""
    settings = settings or load_settings()
    load_handlers(settings.workers.plugins)
    handler = get_handler(model)
    if handler is None:
        raise SystemExit(f"no handler for {model}")
    spec = JobSpec(
        id="quality",
        model=model,
        params=normalize_params(model, params, settings),
        inputs=inputs,
        work_dir=out.parent,
        output_path=out,
        settings=settings,
    )
    started = time.perf_counter()
    handler(spec, JobContext(report=lambda stage, fraction: None))
    return time.perf_counter() - started


def score_video(
    video: Path,
    phones: list[TruthPhone],
    audio_seconds: float,
    *,
    offset_s: float,
    pick: str = "largest",
) -> tuple[dict[str, float], np.ndarray]:
    gaps, fps = mouth_gaps(video, pick)
    filled = np.where(np.isnan(gaps), 0.0, gaps).astype(np.float32)
    scores = score_open_track(
        filled, fps, phones, offset_s=offset_s, closed_below=CLOSED_BELOW, open_above=OPEN_ABOVE
    )
    return {
        "bilabial_closed": scores.bilabial_closed,
        "open_vowel_open": scores.open_vowel_open,
        "silence_max_gap": scores.silence_max_open,
        "lag_frames": scores.lag_frames,
        "duration_error_frames": len(gaps) - audio_seconds * fps,
        "n_bilabial": scores.n_bilabial,
        "n_open_vowel": scores.n_open_vowel,
        "faceless_frames": int(np.isnan(gaps).sum()),
    }, gaps


REAL_PROMPTS = ("vm-invalid-password", "vm-nobox")
PHOTOS = ("hopper", "astronaut", "laughing", "smiling", "turned", "eyes_down", "carphone")


def photo_paths(out: Path) -> dict[str, Path]:
    """Every real face the table can use, by name."""
    paths = dict(face_photo_paths())
    for name in real_media.GROUP_FACES:
        paths[name] = real_media.group_face(name, out)
    paths["carphone"] = real_media.carphone_frame(64, out)
    return paths


def voices(
    languages: list[str], out: Path, *, as_text: bool = False
) -> list[tuple[str, int, Path, list[tuple[str, list[TruthPhone]]], float, float]]:
    """(language, number, wav, [(label, truth phones)], seconds, offset of the truth) per
    clip. Clips made from text are also scored against an independent alignment
    (pocketsphinx's, of the audio): the synthesizer could be wrong about itself."""
    clips = []
    for language in languages:
        if language == "real":
            for number, name in enumerate(REAL_PROMPTS):
                prompt = real_media.asterisk_prompt(name)
                truth = align(prompt.path, prompt.text)
                clips.append(
                    (language, number, prompt.path, [("real", truth)], prompt.seconds, 0.0)
                )
            continue
        if language == "neural":
            clips += _neural_clips(out)
            continue
        for number, text in enumerate(SENTENCES[language]):
            voice = out / f"{language}{number}.wav"
            phones, seconds = speech_with_silence(text, language, voice, as_text=as_text)
            truths = [(language, phones)]
            if as_text:
                truths += _aligned(language, voice, text if language == "en" else None)
            clips.append((language, number, voice, truths, seconds, PADDING_S))
    return clips


def _neural_clips(
    out: Path,
) -> list[tuple[str, int, Path, list[tuple[str, list[TruthPhone]]], float, float]]:
    """Each neural voice engine's clips: Piper's English and Kokoro's Japanese, truth = the
    model's own (corrected) timings, and pocketsphinx's alignment of the same audio."""
    clips = []
    for engine, language in ((tts.PIPER, "en"), (tts.KOKORO, "ja")):
        voice = tts.choose(language=language)
        if voice.engine != engine:
            print(f"(no {engine} voice for {language} installed)", file=sys.stderr)
            continue
        for number, text in enumerate(SENTENCES[language]):
            wav = out / f"{engine}{number}.wav"
            phones, seconds = neural_speech_with_silence(text, voice, wav)
            truths = [(engine, phones)]
            truths += _aligned(engine, wav, text if language == "en" else None)
            clips.append((engine, number, wav, truths, seconds, PADDING_S))
    return clips


def _aligned(label: str, wav: Path, text: str | None) -> list[tuple[str, list[TruthPhone]]]:
    """pocketsphinx's alignment of the clip, if it finds one: with its English words, or
    (other languages, `text` None) with the phone sequence the synthesizer said it spoke,
    so only the timing comes from the aligner."""
    try:
        if text is not None:
            return [(f"{label}~fa", align(wav, _words(text)))]
        spoken = tts.load_phones(wav)
        if spoken is None:
            return []
        return [(f"{label}~fa", align_phones(wav, [name for name, _, _ in spoken]))]
    except ValueError as exc:  # the aligner found no path: say so, score the rest
        print(f"(no independent alignment for {wav.name}: {exc})", file=sys.stderr)
        return []


def _words(text: str) -> str:
    return " ".join("".join(c for c in w if c.isalpha() or c == "'") for w in text.lower().split())


def neural_speech_with_silence(
    text: str, voice: tts.Voice, path: Path
) -> tuple[list[TruthPhone], float]:
    """Speech from a neural voice, padded with silence; the truth is the model's own phoneme
    durations, which the renderer also gets (as from typed text)."""
    speech = tts.speak(text, voice)
    pad = np.zeros(int(PADDING_S * speech.sample_rate), np.float32)
    padded = np.concatenate([pad, speech.samples, pad])
    write_wav(path, padded, speech.sample_rate)
    shifted = [(name, a + PADDING_S, b + PADDING_S) for name, a, b in speech.phones]
    tts.save_phones(path, [("SIL", 0.0, PADDING_S), *shifted])
    truth = [TruthPhone(name, a, b, classify_phone(name)) for name, a, b in speech.phones]
    return truth, len(padded) / speech.sample_rate


def evaluate(
    photos: list[str], languages: list[str], out: Path, *, as_text: bool = False
) -> list[Row]:
    paths = photo_paths(out)
    rows: list[Row] = []
    for language, number, voice, truths, seconds, offset in voices(languages, out, as_text=as_text):
        for photo in photos:
            video = out / f"{photo}_{language}{number}.mp4"
            wall = render_local(
                "lipsync-image", {"image": paths[photo], "audio": voice}, {"seed": 1}, video
            )
            for label, phones in truths:
                shift = 0.0 if label.endswith("~fa") or label == "real" else offset
                scores, gaps = score_video(video, phones, seconds, offset_s=shift)
                rows.append(
                    Row(
                        photo=photo,
                        language=label,
                        sentence=number,
                        bilabial_closed=scores["bilabial_closed"],
                        open_vowel_open=scores["open_vowel_open"],
                        silence_max_gap=scores["silence_max_gap"],
                        lag_frames=int(scores["lag_frames"]),
                        duration_error_frames=scores["duration_error_frames"],
                        realtime_factor=wall / seconds,
                        n_bilabial=int(scores["n_bilabial"]),
                        n_open_vowel=int(scores["n_open_vowel"]),
                        snap=snap_share(gaps),
                    )
                )
    return rows


def print_summary(title: str, rows: list[Row]) -> None:
    bil = sum(r.bilabial_closed * r.n_bilabial for r in rows) / max(
        1, sum(r.n_bilabial for r in rows)
    )
    vow = sum(r.open_vowel_open * r.n_open_vowel for r in rows) / max(
        1, sum(r.n_open_vowel for r in rows)
    )
    print(
        f"{title:<23} {bil:>12.0%}  {vow:>11.0%}  "
        f"{max(r.silence_max_gap for r in rows):>11.3f}  "
        f"{max((r.lag_frames for r in rows), key=abs):>+3d}  "
        f"{max((r.duration_error_frames for r in rows), key=abs):>+7.2f}  "
        f"{max(r.snap for r in rows):>5.2f}"
    )


def print_table(rows: list[Row]) -> None:
    print(
        f"{'photo':<10} {'lang':<9} {'#':>1}  {'p/b/m closed':>12}  {'open vowels':>11}  "
        f"{'silence max':>11}  {'lag':>3}  {'dur err':>7}  {'snap':>5}  {'render x':>8}"
    )
    for r in rows:
        print(
            f"{r.photo:<10} {r.language:<9} {r.sentence:>1}  "
            f"{r.bilabial_closed:>6.0%} ({r.n_bilabial:>2})  "
            f"{r.open_vowel_open:>5.0%} ({r.n_open_vowel:>2})  {r.silence_max_gap:>11.3f}  "
            f"{r.lag_frames:>+3d}  {r.duration_error_frames:>+7.2f}  {r.snap:>5.2f}  "
            f"{r.realtime_factor:>8.2f}"
        )
    for label in dict.fromkeys(r.language for r in rows):
        print_summary(f"all {label}", [r for r in rows if r.language == label])
    print(
        f"goals: p/b/m closed >= 95%, open vowels open >= 90%, silence gap < {CLOSED_BELOW}, "
        "lag 0 +- 1 frame, duration +- 1 frame, snap <= 0.7"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", nargs="+", default=list(PHOTOS), choices=PHOTOS)
    parser.add_argument(
        "--langs",
        nargs="+",
        default=["en", "es", "real"],
        help="en, es (espeak), neural (Piper's English, Kokoro's Japanese), real",
    )
    parser.add_argument("--out", help="keep the rendered videos here")
    parser.add_argument(
        "--text",
        action="store_true",
        help="as videos made from typed text: mouths timed on the synthesizer's own phones "
        "(espeak clips only)",
    )
    args = parser.parse_args(argv)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        print_table(evaluate(args.photos, args.langs, out, as_text=args.text))
    else:
        with tempfile.TemporaryDirectory(prefix="lipsync-quality-") as tmp:
            print_table(evaluate(args.photos, args.langs, Path(tmp), as_text=args.text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
