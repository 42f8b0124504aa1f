"""Dubbing quality: do the lips of a dubbed *video* follow its new audio, and is the rest intact?

Source videos are made from the two real photos: the portrait renderer makes each person
say one sentence, then a slow camera pan/zoom is applied (cv2.warpAffine per frame) and the
video cuts to the other person part-way through (a second shot). Each source is dubbed
with a different sentence in the same language (English and Spanish) and scored like the
portrait renderer, against espeak-ng's own phoneme timings (scripts/quality.py):

- p/b/m: share of bilabials during which the re-detected lips close (gap < 0.02),
- open vowels: share during which they open (gap > 0.05),
- lag: frames of shift that best align the gap curve with the truth,
- duration: output frames minus the audio's length in frames,
- PSNR outside the mouth: output vs the source frame it shows (through the retime
  mapping), over everything outside a generous lower-face box around the source's mouth;
- PSNR outside the mask: a second dub with a mask over the lower part of the speaker's
  face, compared everywhere the mask is black.

Two more sources per language are the photos themselves under the same camera motion (a
mouth that never moves): every mouth there comes from the warping fallback.

Usage: python -m scripts.dub_quality [--photos hopper astronaut] [--langs en es] [--out DIR]
       [--sheets] (write /tmp/dub_sheet_*.png contact sheets: source row over dubbed row)
       [--crf N] (H.264 quality of the dubbed videos; default: the config's)
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from engine.lipsync.dubbing.retime import source_indices
from engine.lipsync.faces import Face, detect_faces
from engine.media import Mp4Writer, iter_video_frames, load_audio, probe
from scripts.quality import PADDING_S, render_local, score_video, speech_with_silence
from tests.support.media import face_photo_paths

# (sentence the source speaks, sentence it is dubbed with), per language.
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
CUT_AT = 0.6  # share of the source before the cut to the second shot
FPS = 25


def camera(frame: np.ndarray, t: float, size: tuple[int, int]) -> np.ndarray:
    """A slow push-in and pan: zoom 1.0 -> 1.12 and a drift of a few % of the frame."""
    width, height = size
    h, w = frame.shape[:2]
    base = max(width / w, height / h)
    zoom = base * (1.0 + 0.12 * t)
    cx, cy = w / 2 + 0.04 * w * math.sin(2.0 * t), h / 2 - 0.03 * h * t
    matrix = np.array(
        [[zoom, 0.0, width / 2 - cx * zoom], [0.0, zoom, height / 2 - cy * zoom]], np.float64
    )
    return cv2.warpAffine(frame, matrix, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)  # fmt: skip


def make_source(first: Path, second: Path, voice: Path, out: Path) -> Path:
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
    streams = [iter_video_frames(s, fps=FPS) for s in shots]
    total = round((info.duration or 0) * FPS)
    with Mp4Writer(out, size[0], size[1], FPS, audio=audio, audio_rate=48000, crf=16) as writer:
        for i, (a, b) in enumerate(zip(*streams, strict=False)):
            t = i / max(total - 1, 1)
            writer.write(camera(a if t < CUT_AT else b, t, size))
    return out


def make_still_source(photo: Path, seconds: float, out: Path) -> Path:
    """The photo itself under the same camera motion: a face whose mouth never moves, so
    the atlas has one shape and every other one comes from the warping fallback."""
    image = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    height, width = image.shape[:2]
    size = (480, round(480 * height / width / 2) * 2)
    total = round(seconds * FPS)
    with Mp4Writer(out, size[0], size[1], FPS, crf=16) as writer:
        for i in range(total):
            writer.write(camera(image, i / max(total - 1, 1), size))
    return out


def mouth_box(face: Face, shape: tuple[int, int]) -> tuple[slice, slice]:
    """A generous box over the lower face: from the nose down to the top of the neck (the
    jaw moves with the mouth and drags the skin under the chin), a little past the jaw
    line on both sides."""
    lm = face.landmarks
    jaw = face.jaw_line()
    x0, x1 = float(jaw[:, 0].min()), float(jaw[:, 0].max())
    pad = 0.15 * face.face_height()
    y0 = float(lm[2, 1])
    y1 = float(lm[152, 1]) + 0.3 * face.face_height()
    height, width = shape
    return (
        slice(max(0, int(y0)), min(height, math.ceil(y1))),
        slice(max(0, int(x0 - pad)), min(width, math.ceil(x1 + pad))),
    )


def psnr_outside(dubbed: Path, source: Path, mode: str, *, mask: np.ndarray | None = None) -> float:
    """PSNR of the dubbed video against the source frames it shows, outside the mouth
    box of every frame (and, with a mask, only where the mask is black)."""
    info = probe(dubbed)
    size = (int(info.width or 0), int(info.height or 0))
    source_frames = list(iter_video_frames(source, fps=FPS, size=size))
    out_frames = iter_video_frames(dubbed, fps=FPS)
    n_out = round((info.duration or 0) * FPS)
    indices = source_indices(n_out, len(source_frames), mode)
    boxes: dict[int, tuple[slice, slice] | None] = {}
    error, count = 0.0, 0
    for i, frame in enumerate(out_frames):
        j = int(indices[min(i, len(indices) - 1)])
        src = source_frames[j]
        keep = np.ones(src.shape[:2], bool)
        if mask is not None:
            keep &= mask < 0.5
        else:
            if j not in boxes:
                faces = detect_faces(src, max_faces=1)
                boxes[j] = mouth_box(faces[0], src.shape[:2]) if faces else None
            if boxes[j] is not None:
                keep[boxes[j]] = False
        diff = frame.astype(np.float64)[keep] - src.astype(np.float64)[keep]
        error += float((diff**2).sum())
        count += diff.size
    mse = error / max(count, 1)
    return 99.0 if mse == 0 else 10 * math.log10(255.0**2 / mse)


def codec_baseline(source: Path, size: tuple[int, int], out: Path) -> float:
    """PSNR of the source re-encoded untouched with the job's settings: the ceiling that
    codec noise alone puts on the PSNR figures above."""
    from engine.config import load_settings

    render = load_settings().render
    frames = list(iter_video_frames(source, fps=FPS, size=size))
    with Mp4Writer(out, size[0], size[1], FPS, crf=render.dub_crf, preset=render.preset) as writer:
        for frame in frames:
            writer.write(frame)
    error = sum(
        float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
        for a, b in zip(frames, iter_video_frames(out, fps=FPS), strict=False)
    )
    return 10 * math.log10(255.0**2 / max(error / len(frames), 1e-12))


def lower_face_mask(source: Path, path: Path) -> np.ndarray:
    """A mask whose white area covers the speaker's lower face wherever it goes (the union
    of grown boxes over frames sampled through both shots); written as a PNG for the job."""
    frames = list(iter_video_frames(source, fps=FPS))
    mask = np.zeros(frames[0].shape[:2], np.uint8)
    for frame in frames[::8]:
        faces = detect_faces(frame, max_faces=1)
        if not faces:
            continue
        rows, cols = mouth_box(faces[0], frame.shape[:2])
        grow = int(0.05 * faces[0].face_height())
        mask[max(0, rows.start - grow) : rows.stop + grow,
             max(0, cols.start - grow) : cols.stop + grow] = 255  # fmt: skip
    cv2.imwrite(str(path), mask)
    return mask.astype(np.float32) / 255.0


@dataclass(frozen=True)
class Row:
    photos: str
    language: str
    mode: str
    bilabial: float
    open_vowel: float
    lag: int
    duration_error: float
    psnr_outside_mouth: float
    psnr_outside_mask: float
    masked_bilabial: float
    codec_psnr: float
    speed: float
    n_bilabial: int
    n_open: int


def evaluate(
    photos: list[str], languages: list[str], out: Path, sheets: bool, stills: bool = True
) -> list[Row]:
    paths = face_photo_paths()
    rows: list[Row] = []
    for language in languages:
        said, dub = SENTENCES[language]
        source_voice = out / f"said_{language}.wav"
        speech_with_silence(said, language, source_voice)
        new_voice = out / f"dub_{language}.wav"
        phones, seconds = speech_with_silence(dub, language, new_voice)
        sources = []
        for name in photos:
            other = next(p for p in paths if p != name)
            cut = make_source(paths[name], paths[other], source_voice,
                              out / f"source_{name}_{language}.mp4")  # fmt: skip
            sources.append((f"{name}+{other}", name, cut))
        if stills:
            for name in photos:
                still = make_still_source(paths[name], 3.0, out / f"still_{name}_{language}.mp4")
                sources.append((f"{name} still", f"still_{name}", still))
        for label, name, source in sources:
            mode = "bounce"
            dubbed = out / f"dubbed_{name}_{language}.mp4"
            started = time.perf_counter()
            render_local("lipsync-video", {"video": source, "audio": new_voice},
                         {"seed": 1, "sync_mode": mode}, dubbed)  # fmt: skip
            wall = time.perf_counter() - started
            scores, _ = score_video(dubbed, phones, seconds, offset_s=PADDING_S)
            outside = psnr_outside(dubbed, source, mode)
            info = probe(dubbed)
            size = (int(info.width or 0), int(info.height or 0))
            baseline = codec_baseline(source, size, out / f"codec_{name}_{language}.mp4")
            mask_path = out / f"mask_{name}_{language}.png"
            mask = lower_face_mask(source, mask_path)
            masked = out / f"masked_{name}_{language}.mp4"
            render_local("lipsync-video",
                         {"video": source, "audio": new_voice, "mask_image": mask_path},
                         {"seed": 1, "sync_mode": mode}, masked)  # fmt: skip
            masked_scores, _ = score_video(masked, phones, seconds, offset_s=PADDING_S)
            outside_mask = psnr_outside(masked, source, mode, mask=mask)
            if sheets:
                sheet = Path(f"/tmp/dub_sheet_{name}_{language}.png")
                contact_sheet(source, dubbed, mode, sheet)
                print(f"contact sheet: {sheet}")
            rows.append(
                Row(
                    photos=label,
                    language=language,
                    mode=mode,
                    bilabial=scores["bilabial_closed"],
                    open_vowel=scores["open_vowel_open"],
                    lag=int(scores["lag_frames"]),
                    duration_error=scores["duration_error_frames"],
                    psnr_outside_mouth=outside,
                    psnr_outside_mask=outside_mask,
                    masked_bilabial=masked_scores["bilabial_closed"],
                    codec_psnr=baseline,
                    speed=wall / seconds,
                    n_bilabial=int(scores["n_bilabial"]),
                    n_open=int(scores["n_open_vowel"]),
                )
            )
    return rows


def contact_sheet(source: Path, dubbed: Path, mode: str, dest: Path, columns: int = 6) -> Path:
    """Source frames (top) over the dubbed frames that show them (bottom), lower faces
    enlarged, time stamps burnt in."""
    info = probe(dubbed)
    size = (int(info.width or 0), int(info.height or 0))
    source_frames = list(iter_video_frames(source, fps=FPS, size=size))
    out_frames = list(iter_video_frames(dubbed, fps=FPS))
    indices = source_indices(len(out_frames), len(source_frames), mode)
    picks = np.linspace(len(out_frames) * 0.12, len(out_frames) * 0.88, columns).astype(int)
    top, bottom = [], []
    for i in picks.tolist():
        src, dub = source_frames[int(indices[i])], out_frames[i]
        faces = detect_faces(src, max_faces=1)
        if faces:
            x0, y0, x1, y1 = faces[0].box
            cy = (y0 + 2 * y1) // 3
            half = int(0.55 * (x1 - x0))
            rows = slice(max(0, cy - half), cy + half)
            cols = slice(max(0, (x0 + x1) // 2 - half), (x0 + x1) // 2 + half)
        else:
            rows, cols = slice(None), slice(None)
        for frame, row in ((src, top), (dub, bottom)):
            tile = cv2.resize(np.ascontiguousarray(frame[rows, cols]), (240, 240))
            cv2.putText(tile, f"{i / FPS:4.2f}s", (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                        (255, 255, 0), 1, cv2.LINE_AA)  # fmt: skip
            row.append(tile)
    grid = np.vstack([np.hstack(top), np.hstack(bottom)])
    cv2.imwrite(str(dest), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    return dest


def print_table(rows: list[Row]) -> None:
    print(
        f"{'photos':<18} {'lang':<4} {'p/b/m':>10} {'open vow.':>10} {'lag':>4} "
        f"{'dur err':>7} {'PSNR out mouth':>14} {'PSNR out mask':>13} {'codec only':>10} "
        f"{'mask p/b/m':>10} {'s per s':>7}"
    )
    for r in rows:
        print(
            f"{r.photos:<18} {r.language:<4} {r.bilabial:>5.0%} ({r.n_bilabial:>2}) "
            f"{r.open_vowel:>5.0%} ({r.n_open:>2}) {r.lag:>+4d} {r.duration_error:>+7.2f} "
            f"{r.psnr_outside_mouth:>11.1f} dB {r.psnr_outside_mask:>10.1f} dB "
            f"{r.codec_psnr:>7.1f} dB {r.masked_bilabial:>10.0%} {r.speed:>7.2f}"
        )
    bilabial = sum(r.bilabial * r.n_bilabial for r in rows) / max(
        1, sum(r.n_bilabial for r in rows)
    )
    vowels = sum(r.open_vowel * r.n_open for r in rows) / max(1, sum(r.n_open for r in rows))
    print(
        f"{'all (pooled)':<23} {bilabial:>5.0%}      {vowels:>5.0%}      "
        f"{max((r.lag for r in rows), key=abs):>+4d} "
        f"{max((r.duration_error for r in rows), key=abs):>+7.2f} "
        f"{min(r.psnr_outside_mouth for r in rows):>11.1f} dB "
        f"{min(r.psnr_outside_mask for r in rows):>10.1f} dB"
    )
    print(
        "goals: p/b/m >= 90%, open vowels >= 80%, lag 0 +- 1, duration +- 1 frame, "
        "PSNR outside >= 40 dB\n(codec only: the source re-encoded untouched with the same "
        "settings, the most any PSNR here can reach)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", nargs="+", default=["hopper", "astronaut"])
    parser.add_argument("--langs", nargs="+", default=["en", "es"])
    parser.add_argument("--out", help="keep the videos here")
    parser.add_argument("--sheets", action="store_true", help="write /tmp/dub_sheet_*.png")
    parser.add_argument("--crf", type=int, help="H.264 quality of the dubbed videos")
    parser.add_argument(
        "--no-stills", action="store_true", help="skip the still-photo (warp fallback) rows"
    )
    args = parser.parse_args(argv)
    if args.crf is not None:
        os.environ["LIPSYNC_RENDER_DUB_CRF"] = str(args.crf)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        print_table(evaluate(args.photos, args.langs, out, args.sheets, not args.no_stills))
    else:
        with tempfile.TemporaryDirectory(prefix="lipsync-dub-quality-") as tmp:
            print_table(
                evaluate(args.photos, args.langs, Path(tmp), args.sheets, not args.no_stills)
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
