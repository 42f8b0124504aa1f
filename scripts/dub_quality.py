"""Dubbing quality on footage like real users send: do the lips follow the new voice, and is
everything that is not the mouth (a hand over it, a microphone, the rest of the frame)
left as it was?

Sources (made from real photos and real read speech, or real video; `tests/support/`):

- **hard** (the default): a talking portrait of a real photo (one Asterisk prompt read
  by a real person) with, over it, a hand whose fingers cross the mouth, a hand-held
  microphone, or a head turning +-45 degrees (depth-aware warp from the 3-D face mesh);
  a smiling and a laughing real face (the group photo); and "carphone", a real man
  talking in a car (176x144, 29.97 fps). Sources are written at 23.976, 25 or 29.97 fps.
  Each is dubbed with another real prompt; truth phone timings come from a forced
  alignment of the prompt's transcript (`tests/support/forced_align.py`).
- **classic** (`--classic`): the earlier sources: portrait videos of two photos with
  camera pan/zoom and a cut, dubbed with espeak-ng sentences in English and Spanish.

Per clip, from landmarks re-detected on the dubbed video:

- p/b/m: share of bilabials during which the lips close (gap < 0.02 face heights);
- open vowels: share during which they open (gap > 0.05);
  (both only on frames where the mouth can be dubbed: not behind the occluder nor within
  two frames of it, where the dub fades, head turned under 25 degrees; the turned and
  covered frames are judged by PSNR instead)
- lag: frames of shift that best align the gap curve with the truth;
- duration: output frames minus the audio's length in frames;
- PSNR occl.: inside the occluder (within a generous lower-face box), dubbed vs the source
  frame it shows (goal >= 35 dB: untouched but for codec noise);
- PSNR out: everything outside the lower-face box (goal >= 40 dB);
- snap: the 98th percentile of the per-frame change of lip opening as a share of its
  range (goal <= 0.7: no frame jumps from closed to open);
- fps: output frame rate / source frame rate (goal: equal).

Usage: python -m scripts.dub_quality [--classic] [--only LABEL ...] [--out DIR] [--sheets]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from engine.lipsync.dubbing.retime import source_indices
from engine.lipsync.faces import Face, detect_faces
from engine.media import Mp4Writer, iter_video_frames, load_audio, probe
from scripts.quality import PADDING_S, render_local, speech_with_silence
from tests.support import real_media
from tests.support.espeak_truth import TruthPhone, score_open_track
from tests.support.forced_align import align, snap_share
from tests.support.hard_sources import HardSource, HeadTurner, compose, frames_of
from tests.support.media import face_photo_paths

CLOSED_BELOW = 0.02
OPEN_ABOVE = 0.05
JUDGED_YAW_DEG = 25.0
FADE_FRAMES = 2  # frames either side of a covered mouth that are fading, not judged
SOURCE_PROMPT = "confbridge-pin"
DUB_PROMPTS = ("vm-invalid-password", "vm-nobox", "auth-incorrect", "agent-alreadyon")
NTSC_FILM, NTSC = Fraction(24000, 1001), Fraction(30000, 1001)


@dataclass(frozen=True)
class Case:
    label: str
    photo: str  # a face_photo_paths() key, "group_<name>", or "carphone"
    occluder: str | None = None
    yaw_deg: float = 0.0
    fps: Fraction = NTSC_FILM


HARD_CASES = (
    Case("hopper hand", "hopper", occluder="hand"),
    Case("hopper mic", "hopper", occluder="mic", fps=NTSC),
    Case("hopper turn", "hopper", yaw_deg=45.0),
    Case("astronaut hand", "astronaut", occluder="hand", fps=Fraction(25)),
    Case("astronaut turn", "astronaut", yaw_deg=45.0, fps=NTSC),
    Case("smiling hand", "group_smiling", occluder="hand", fps=NTSC),
    Case("laughing", "group_laughing"),
    Case("carphone (real)", "carphone", fps=NTSC),
)


@dataclass
class Row:
    label: str
    bilabial: float
    open_vowel: float
    lag: int
    duration_error: float
    psnr_occluder: float
    codec_occluder: float
    psnr_outside: float
    snap: float
    fps_ratio: float
    speed: float
    n_bilabial: int
    n_open: int
    notes: list[str] = field(default_factory=list)


def _photo(name: str, out: Path) -> Path:
    if name.startswith("group_"):
        return real_media.group_face(name.removeprefix("group_"), out)
    return face_photo_paths()[name]


def make_source(case: Case, voice: Path, out: Path) -> HardSource:
    """The source video of a case (cached in `out` by name)."""
    path = out / f"source_{case.label.split(' (')[0].replace(' ', '_')}.mp4"
    if case.photo == "carphone":
        video = real_media.carphone_video()
        frames, n, _ = frames_of(video)
        return compose(frames, n, path, case.fps)
    talk = out / f"talk_{case.photo}.mp4"
    if not talk.exists():
        render_local("lipsync-image", {"image": _photo(case.photo, out), "audio": voice},
                     {"seed": 3, "fps": 25}, talk)  # fmt: skip
    frames, n, _ = frames_of(talk)
    turner = HeadTurner(next(frames_of(talk)[0])) if case.yaw_deg else None
    return compose(frames, n, path, case.fps, occluder=case.occluder,
                   max_yaw_deg=case.yaw_deg, turner=turner)  # fmt: skip


def _lower_face_box(face: Face, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """Nose to the top of the neck, a little past the jaw line: where a dub may change."""
    lm = face.landmarks
    jaw = face.jaw_line()
    pad = 0.15 * face.face_height()
    y0, y1 = float(lm[2, 1]), float(lm[152, 1]) + 0.3 * face.face_height()
    x0, x1 = float(jaw[:, 0].min()) - pad, float(jaw[:, 0].max()) + pad
    return (
        slice(max(0, int(y0)), min(shape[0], math.ceil(y1))),
        slice(max(0, int(x0)), min(shape[1], math.ceil(x1))),
    )


def _psnr(error: float, count: int) -> float:
    if count == 0:
        return float("nan")
    mse = error / count
    return 99.0 if mse == 0 else 10 * math.log10(255.0**2 / mse)


@dataclass
class Measured:
    gaps: np.ndarray  # per output frame, NaN where no face was found
    judged: np.ndarray  # per output frame: the mouth is visible and the head frontal enough
    psnr_occluder: float
    psnr_outside: float
    codec_occluder: float  # the same PSNR for the source re-encoded untouched (the ceiling)


def _reencoded(frames: list[np.ndarray], fps: float, path: Path) -> list[np.ndarray]:
    from engine.config import load_settings

    render = load_settings().render
    height, width = frames[0].shape[:2]
    with Mp4Writer(path, width, height, fps, crf=render.dub_crf, preset=render.preset) as out:
        for frame in frames:
            out.write(frame)
    return list(iter_video_frames(path))


def measure(dubbed: Path, source: HardSource, mode: str = "bounce") -> Measured:
    info = probe(dubbed)
    size = (int(info.width or 0), int(info.height or 0))
    src_frames = list(iter_video_frames(source.path, size=size))
    out_frames = list(iter_video_frames(dubbed))
    plain = _reencoded(src_frames, float(info.fps or 25.0), dubbed.with_name("codec.mp4"))
    codec_err = 0.0
    indices = source_indices(len(out_frames), len(src_frames), mode)
    boxes: dict[int, tuple[slice, slice] | None] = {}
    gaps = np.full(len(out_frames), np.nan)
    judged = np.zeros(len(out_frames), bool)
    hidden = np.zeros(len(out_frames), bool)
    occ_err = out_err = 0.0
    occ_n = out_n = 0
    for i, frame in enumerate(out_frames):
        j = int(indices[i])
        src = src_frames[j]
        if j not in boxes:
            faces = detect_faces(src, max_faces=1)
            boxes[j] = _lower_face_box(faces[0], src.shape) if faces else None
        found = detect_faces(frame, max_faces=1)
        if found:
            gaps[i] = found[0].mouth_gap()
        occluder = source.occluder[j] if j < len(source.occluder) else None
        if occluder is not None and occluder.shape != src.shape[:2]:
            occluder = cv2.resize(occluder.astype(np.uint8), size) > 0
        covered = False
        diff = (frame.astype(np.float64) - src.astype(np.float64)) ** 2
        keep = np.ones(src.shape[:2], bool)
        if boxes[j] is not None:
            rows, cols = boxes[j]
            keep[rows, cols] = False
            if occluder is not None and occluder.any():
                near = np.zeros_like(keep)
                near[rows, cols] = True
                inside = occluder & near
                occ_err += float(diff[inside].sum())
                occ_n += int(inside.sum()) * 3
                codec = (plain[j].astype(np.float64) - src.astype(np.float64)) ** 2
                codec_err += float(codec[inside].sum())
                covered = _covers_mouth(occluder, src)
        out_err += float(diff[keep].sum())
        out_n += int(keep.sum()) * 3
        yaw = abs(math.degrees(source.yaw[j])) if j < len(source.yaw) else 0.0
        judged[i] = bool(found) and yaw < JUDGED_YAW_DEG
        hidden[i] = covered
    # The dub fades out over a few frames before the mouth is covered and back in after
    # (no pops), so those frames are not judged either.
    near = np.convolve(hidden.astype(float), np.ones(2 * FADE_FRAMES + 1), "same") > 0
    judged &= ~near
    return Measured(
        gaps, judged, _psnr(occ_err, occ_n), _psnr(out_err, out_n), _psnr(codec_err, occ_n)
    )


def _covers_mouth(occluder: np.ndarray, frame: np.ndarray) -> bool:
    """Whether the occluder touches the lips (grown by a tenth of the mouth width)."""
    from engine.lipsync import faces as fm

    faces = detect_faces(frame, max_faces=1)
    if not faces:
        return True
    lips = faces[0].landmarks[list(fm.UPPER_OUTER_LIP + fm.LOWER_OUTER_LIP)]
    x0, y0 = lips.min(axis=0)
    x1, y1 = lips.max(axis=0)
    grow = 0.1 * (x1 - x0)
    r0, r1 = max(0, int(y0 - grow)), int(y1 + grow) + 1
    c0, c1 = max(0, int(x0 - grow)), int(x1 + grow) + 1
    return bool(occluder[r0:r1, c0:c1].any())


def evaluate_hard(cases: tuple[Case, ...], out: Path, sheets: bool) -> list[Row]:
    source_voice = real_media.asterisk_prompt(SOURCE_PROMPT).path
    rows = []
    for case in cases:
        number = HARD_CASES.index(case)  # each case keeps its prompt when others are skipped
        prompt = real_media.asterisk_prompt(DUB_PROMPTS[number % len(DUB_PROMPTS)])
        truth = align(prompt.path, prompt.text)
        source = make_source(case, source_voice, out)
        dubbed = out / f"dubbed_{source.path.stem.removeprefix('source_')}.mp4"
        started = time.perf_counter()
        render_local("lipsync-video", {"video": source.path, "audio": prompt.path},
                     {"seed": 1}, dubbed)  # fmt: skip
        wall = time.perf_counter() - started
        rows.append(_row(case.label, dubbed, source, truth, 0.0, prompt.seconds, wall))
        if sheets:
            sheet = out / f"sheet_{dubbed.stem}.png"
            hard_frames_sheet(source, dubbed, sheet)
            print(f"contact sheet: {sheet}")
    return rows


def _row(
    label: str,
    dubbed: Path,
    source: HardSource,
    truth: list[TruthPhone],
    offset_s: float,
    seconds: float,
    wall: float,
) -> Row:
    measured = measure(dubbed, source)
    out_info, src_info = probe(dubbed), probe(source.path)
    fps = float(out_info.fps or 25.0)
    scores = score_open_track(
        np.nan_to_num(measured.gaps).astype(np.float32), fps, truth, offset_s=offset_s,
        closed_below=CLOSED_BELOW, open_above=OPEN_ABOVE, judged=measured.judged,
    )  # fmt: skip
    judged_gaps = np.where(measured.judged, measured.gaps, np.nan)
    return Row(
        label=label,
        bilabial=scores.bilabial_closed,
        open_vowel=scores.open_vowel_open,
        lag=scores.lag_frames,
        duration_error=len(measured.gaps) - seconds * fps,
        psnr_occluder=measured.psnr_occluder,
        codec_occluder=measured.codec_occluder,
        psnr_outside=measured.psnr_outside,
        snap=snap_share(judged_gaps),
        fps_ratio=fps / float(src_info.fps or fps),
        speed=wall / seconds,
        n_bilabial=scores.n_bilabial,
        n_open=scores.n_open_vowel,
    )


# --- the classic rows: camera motion and a cut, espeak speech ------------------------------

SENTENCES = {
    "en": (
        "Bob bought a big map, and Pam put the paper back on the table.",
        "My father parked the car by the barn and walked home alone.",
    ),
    "es": (
        "Pablo habla mucho, pero nunca baila en la playa.",
        "Mi mamá compró un mapa bonito para el viaje a Panamá.",
    ),
}
CUT_AT = 0.6


def camera(frame: np.ndarray, t: float, size: tuple[int, int]) -> np.ndarray:
    """A slow push-in and pan: zoom 1.0 -> 1.12 and a drift of a few % of the frame."""
    width, height = size
    h, w = frame.shape[:2]
    zoom = max(width / w, height / h) * (1.0 + 0.12 * t)
    cx, cy = w / 2 + 0.04 * w * math.sin(2.0 * t), h / 2 - 0.03 * h * t
    matrix = np.array(
        [[zoom, 0.0, width / 2 - cx * zoom], [0.0, zoom, height / 2 - cy * zoom]], np.float64
    )
    return cv2.warpAffine(frame, matrix, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)  # fmt: skip


def make_cut_source(first: Path, second: Path, voice: Path, out: Path) -> Path:
    """Portrait videos of both photos saying `voice`, with camera motion, cut together."""
    shots = []
    for photo in (first, second):
        clip = out.with_name(f"{out.stem}_{photo.stem}.mp4")
        render_local("lipsync-image", {"image": photo, "audio": voice}, {"seed": 3}, clip)
        shots.append(clip)
    info = probe(shots[0])
    size = (int(info.width or 480), int(info.height or 480))
    size = (size[0] - size[0] % 2, size[1] - size[1] % 2)
    audio = load_audio(voice, sample_rate=48000)
    streams = [iter_video_frames(s, fps=25) for s in shots]
    total = round((info.duration or 0) * 25)
    with Mp4Writer(out, size[0], size[1], 25, audio=audio, audio_rate=48000, crf=16) as writer:
        for i, (a, b) in enumerate(zip(*streams, strict=False)):
            t = i / max(total - 1, 1)
            writer.write(camera(a if t < CUT_AT else b, t, size))
    return out


def evaluate_classic(languages: list[str], out: Path, sheets: bool) -> list[Row]:
    paths = face_photo_paths()
    rows = []
    for language in languages:
        said, dub = SENTENCES[language]
        source_voice = out / f"said_{language}.wav"
        speech_with_silence(said, language, source_voice)
        new_voice = out / f"dub_{language}.wav"
        phones, seconds = speech_with_silence(dub, language, new_voice)
        for name in paths:
            other = next(p for p in paths if p != name)
            path = make_cut_source(paths[name], paths[other], source_voice,
                                   out / f"cut_{name}_{language}.mp4")  # fmt: skip
            n = round((probe(path).duration or 0) * 25)
            source = HardSource(path, 25.0, [], [0.0] * n)
            dubbed = out / f"dubbed_cut_{name}_{language}.mp4"
            started = time.perf_counter()
            render_local("lipsync-video", {"video": path, "audio": new_voice}, {"seed": 1}, dubbed)
            wall = time.perf_counter() - started
            label = f"{name}+{other} cut {language}"
            rows.append(_row(label, dubbed, source, phones, PADDING_S, seconds, wall))
            if sheets:
                hard_frames_sheet(source, dubbed, out / f"sheet_{dubbed.stem}.png")
    return rows


# --- looking at it -------------------------------------------------------------------


def hard_frames_sheet(source: HardSource, dubbed: Path, dest: Path, columns: int = 8) -> Path:
    """Source (top) over dubbed (bottom), lower faces enlarged, at the hardest frames: the
    occluder over the mouth, the head turned furthest, and the widest and most shut mouths
    of the dub."""
    out_frames = list(iter_video_frames(dubbed))
    info = probe(dubbed)
    size = (int(info.width or 0), int(info.height or 0))
    src_frames = list(iter_video_frames(source.path, size=size))
    indices = source_indices(len(out_frames), len(src_frames), "bounce")
    fps = float(info.fps or 25.0)
    score = np.zeros(len(out_frames))
    for i in range(len(out_frames)):
        j = int(indices[i])
        if j < len(source.occluder) and source.occluder[j].any():
            box = detect_faces(src_frames[j], max_faces=1)
            if box:
                rows, cols = _lower_face_box(box[0], src_frames[j].shape)
                score[i] += 2.0 * source.occluder[j][rows, cols].mean() / 0.1
        if j < len(source.yaw):
            score[i] += abs(source.yaw[j])
    hard = [i for i in np.argsort(-score, kind="stable")[: columns // 2].tolist() if score[i] > 0]
    even = np.linspace(0, len(out_frames) - 1, columns + 2)[1:-1].astype(int).tolist()
    picks = sorted(set(hard) | set(even[: columns - len(hard)]))
    top, bottom = [], []
    for i in picks:
        src, dub = src_frames[int(indices[i])], out_frames[i]
        faces = detect_faces(src, max_faces=1)
        if faces:
            x0, y0, x1, y1 = faces[0].box
            cy = (y0 + 2 * y1) // 3
            half = int(0.6 * (x1 - x0))
            r = slice(max(0, cy - half), cy + half)
            c = slice(max(0, (x0 + x1) // 2 - half), (x0 + x1) // 2 + half)
        else:
            r, c = slice(None), slice(None)
        for frame, row in ((src, top), (dub, bottom)):
            tile = cv2.resize(np.ascontiguousarray(frame[r, c]), (240, 240))
            cv2.putText(tile, f"{i / fps:4.2f}s", (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                        (255, 255, 0), 1, cv2.LINE_AA)  # fmt: skip
            row.append(tile)
    grid = np.vstack([np.hstack(top), np.hstack(bottom)])
    cv2.imwrite(str(dest), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    return dest


def print_table(rows: list[Row]) -> None:
    print(
        f"{'clip':<22} {'p/b/m':>10} {'open vow.':>10} {'lag':>4} {'dur':>6} "
        f"{'PSNR occl.':>10} {'(codec)':>9} {'PSNR out':>9} {'snap':>5} {'fps':>5} {'s/s':>5}"
    )

    def db(value: float) -> str:
        return "     -" if not math.isfinite(value) else f"{value:6.1f}"

    for r in rows:
        print(
            f"{r.label:<22} {r.bilabial:>5.0%} ({r.n_bilabial:>2}) {r.open_vowel:>5.0%} "
            f"({r.n_open:>2}) {r.lag:>+4d} {r.duration_error:>+6.2f} {db(r.psnr_occluder):>7} dB"
            f" {db(r.codec_occluder):>6} dB {db(r.psnr_outside):>6} dB {r.snap:>5.2f}"
            f" {r.fps_ratio:>5.3f} {r.speed:>5.2f}"
        )

    def pooled(value: str, count: str) -> float:
        total = sum(getattr(r, count) for r in rows)
        return sum(getattr(r, value) * getattr(r, count) for r in rows) / max(1, total)

    occl = [r.psnr_occluder for r in rows if math.isfinite(r.psnr_occluder)]
    print(
        f"{'all (pooled / worst)':<22} {pooled('bilabial', 'n_bilabial'):>5.0%}      "
        f"{pooled('open_vowel', 'n_open'):>5.0%}      "
        f"{max((r.lag for r in rows), key=abs):>+4d} "
        f"{max((r.duration_error for r in rows), key=abs):>+6.2f} "
        f"{db(min(occl) if occl else float('nan')):>7} dB "
        f"{'':>9} {db(min(r.psnr_outside for r in rows)):>6} dB "
        f"{max(r.snap for r in rows):>5.2f} "
        f"{max((r.fps_ratio for r in rows), key=lambda x: abs(x - 1)):>5.3f}"
    )
    print(
        "goals: p/b/m >= 90%, open vowels >= 80%, lag 0 +- 1, duration +- 1 frame, PSNR in "
        "occluders >= 35 dB, outside the lower face >= 40 dB, snap <= 0.7, fps ratio 1.000\n"
        "(codec: the same PSNR for the source re-encoded untouched at the dub's settings)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--classic", action="store_true", help="also the pan/cut espeak rows")
    parser.add_argument("--langs", nargs="+", default=["en", "es"], help="classic rows")
    parser.add_argument("--only", nargs="+", help="hard clips whose label starts so")
    parser.add_argument("--out", help="keep the videos (and contact sheets) here")
    parser.add_argument("--sheets", action="store_true", help="contact sheets of hard frames")
    args = parser.parse_args(argv)
    cases = tuple(
        c for c in HARD_CASES if not args.only or any(c.label.startswith(o) for o in args.only)
    )

    def run(out: Path) -> None:
        rows = evaluate_hard(cases, out, args.sheets)
        if args.classic:
            rows += evaluate_classic(args.langs, out, args.sheets)
        print_table(rows)

    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        run(out)
    else:
        with tempfile.TemporaryDirectory(prefix="lipsync-dub-quality-") as tmp:
            run(Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
