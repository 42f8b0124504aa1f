"""Render a contact sheet of portrait frames so a person can judge the animation.

Usage: python scripts/portrait_sheet.py [PHOTO | hopper | astronaut]
           [-o demo/portrait_sheet.png] [--size 854x480] [--still] [--measure]
           [--time 150] [--zoom N]

`--measure` prints the inner-lip gap MediaPipe reads back from rendered frames for
open = 0 .. 1 (what the quality check measures); `--time N` prints the per-frame cost
on one core.

Without PHOTO it uses matplotlib's sample portrait of Grace Hopper (if matplotlib is
installed); `astronaut` is scikit-image's (a broad smile showing teeth, the hard case
for a renderer that must close the lips at rest). Each tile is a full output frame
cropped around the face and labelled with the mouth values that produced it; the last
tiles are a blink and a head-motion frame. Small faces are enlarged by a whole factor
with nearest-neighbour sampling (`--zoom`), so pixel-level seams stay visible.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.lipsync.faces import Face, find_face
from engine.lipsync.portrait.animator import MouthFrame, PortraitAnimator, PortraitStyle

# (label, mouth) for the tiles; open/width/teeth/speaking.
TILES: list[tuple[str, MouthFrame]] = [
    ("rest", MouthFrame(0.0, 0.0, 0.0, 0.0)),
    ("open .25", MouthFrame(0.25, 0.0, 0.3, 1.0)),
    ("open .5", MouthFrame(0.5, 0.0, 0.5, 1.0)),
    ("open 1", MouthFrame(1.0, 0.0, 0.5, 1.0)),
    ("open 1 teeth 0", MouthFrame(1.0, 0.0, 0.0, 1.0)),
    ("open .7 teeth 1", MouthFrame(0.7, 0.0, 1.0, 1.0)),
    ("ee: .3 spread teeth", MouthFrame(0.3, 1.0, 1.0, 1.0)),
    ("oo: .4 round", MouthFrame(0.4, -1.0, 0.0, 1.0)),
    ("spread closed", MouthFrame(0.0, 1.0, 0.0, 1.0)),
    ("round closed", MouthFrame(0.0, -1.0, 0.0, 1.0)),
]


def default_photo() -> Path:
    import matplotlib.cbook

    return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def astronaut_photo() -> Path:
    """scikit-image's astronaut portrait (Eileen Collins, NASA), smiling with teeth."""
    import importlib.util

    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        raise SystemExit("the astronaut photo needs scikit-image installed")
    return Path(spec.origin).parent / "data" / "astronaut.png"


def photo_path(name: Path | None) -> Path:
    """A photo path, or one of the named sample photos."""
    if name is None or str(name) == "hopper":
        return default_photo()
    if str(name) == "astronaut":
        return astronaut_photo()
    return name


def blink_index(animator: PortraitAnimator, fps: float, limit: int = 1500) -> int:
    """First frame with the eyes fully shut (0 if the style has no blinks)."""
    for index in range(limit):
        if animator.eyes_closed(index, fps) >= 1.0:
            return index
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", nargs="?", type=Path)
    parser.add_argument(
        "-o", "--output", type=Path, default=Path("demo/portrait_sheet.png"), help="PNG to write"
    )
    parser.add_argument("--size", default="854x480", help="output frame size WxH")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--columns", type=int, default=4)
    parser.add_argument(
        "--zoom", type=int, default=0, help="enlarge tiles N times (default: to >= 300 px)"
    )
    parser.add_argument("--still", action="store_true", help="no head motion in the tiles")
    parser.add_argument(
        "--time", type=int, default=0, metavar="N", help="also time N frames on one core"
    )
    parser.add_argument(
        "--measure", action="store_true", help="also print MediaPipe's inner-lip gap per open"
    )
    args = parser.parse_args(argv)

    photo = photo_path(args.photo)
    bgr = cv2.imread(str(photo), cv2.IMREAD_COLOR)
    if bgr is None:
        parser.error(f"cannot read {photo}")
    image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    width, height = (int(v) for v in args.size.lower().split("x"))
    face = find_face(image)
    style = PortraitStyle(head_motion=0.0 if args.still else 1.0)
    animator = PortraitAnimator(image, face, (width, height), seed=args.seed, style=style)
    fps = 25.0

    tiles = [(label, animator.frame(0, fps, mouth)) for label, mouth in TILES]
    closed = blink_index(animator, fps)
    tiles.append((f"blink (frame {closed})", animator.frame(closed, fps, TILES[0][1])))
    moved = MouthFrame(0.6, 0.0, 0.5, 1.0)
    tiles.append(("head motion t=2.7s", animator.frame(int(2.7 * fps), fps, moved)))

    crop = _face_crop(animator, width, height)
    zoom = args.zoom or max(1, -(-300 // (crop[0].stop - crop[0].start)))
    sheet = _grid(
        [_label(_enlarge(frame[crop], zoom), text) for text, frame in tiles], args.columns
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.output), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {args.output} ({sheet.shape[1]}x{sheet.shape[0]})")
    if args.measure:
        _measure(animator, fps)
    if args.time:
        _time(image, face, (width, height), args.time, fps)
    return 0


def _measure(animator: PortraitAnimator, fps: float) -> None:
    """Mouth opening as the quality check sees it: landmarks re-detected on the output."""
    from engine.lipsync.faces import detect_faces

    for amount in (0.0, 0.25, 0.5, 0.75, 1.0):
        frame = animator.frame(0, fps, MouthFrame(amount, 0.0, 0.5, 1.0))
        found = detect_faces(frame)
        gap = f"{found[0].mouth_gap():.4f}" if found else "no face"
        print(f"open={amount:.2f}: inner-lip gap {gap} face heights")


def _time(image: np.ndarray, face: Face, size: tuple[int, int], count: int, fps: float) -> None:
    """Per-frame cost on one core, with a random track and head motion."""
    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    track = rng.uniform([0, -1, 0, 0], [1, 1, 1, 1], size=(count, 4))
    for style in (PortraitStyle(), PortraitStyle(head_motion=0.0)):
        animator = PortraitAnimator(image, face, size, style=style)
        animator.frame(0, fps, MouthFrame(*track[0]))
        start = time.perf_counter()
        for index, values in enumerate(track):
            animator.frame(index, fps, MouthFrame(*values))
        per_frame = (time.perf_counter() - start) / count * 1000
        print(
            f"{size[0]}x{size[1]} head_motion={style.head_motion:g}: {per_frame:.2f} ms/frame "
            f"({per_frame * fps / 1000:.3f} s per second of video at {fps:g} fps)"
        )


def _face_crop(animator: PortraitAnimator, width: int, height: int) -> tuple[slice, slice]:
    x0, y0, x1, y1 = animator.face.box
    pad_x, pad_y = int(0.25 * (x1 - x0)), int(0.2 * (y1 - y0))
    return (
        slice(max(0, y0 - pad_y), min(height, y1 + pad_y)),
        slice(max(0, x0 - pad_x), min(width, x1 + pad_x)),
    )


def _enlarge(tile: np.ndarray, zoom: int) -> np.ndarray:
    if zoom <= 1:
        return tile
    return cv2.resize(tile, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    tile = np.ascontiguousarray(tile)
    scale = max(0.35, tile.shape[1] / 500)
    cv2.putText(
        tile,
        text,
        (4, int(16 * scale + 4)),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale * 0.6,
        (255, 255, 0),
        1,
        cv2.LINE_AA,
    )
    return tile


def _grid(tiles: list[np.ndarray], columns: int) -> np.ndarray:
    h, w = tiles[0].shape[:2]
    rows = -(-len(tiles) // columns)
    sheet = np.zeros((rows * h, columns * w, 3), np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = tile
    return sheet


if __name__ == "__main__":
    raise SystemExit(main())


def speech_sheet(
    video: Path,
    phones: list,
    dest: Path,
    *,
    blink_frames: list[int] = (),  # type: ignore[assignment]
    offset_s: float = 0.0,
) -> Path:
    """A sheet of a rendered talking portrait at the frames a viewer checks: the middle of
    p/b/m (lips must touch), of open vowels (mouth open, teeth, tongue), a blink, and
    rest; each crop labelled with what it shows. `phones` are truth phones
    (`TruthPhone`: phoneme, start_s, end_s, kind)."""
    from engine.lipsync.faces import detect_faces
    from engine.media import iter_video_frames, probe

    fps = float(probe(video).fps or 25.0)
    wanted: dict[int, str] = {}
    for kind, label, count in (("bilabial", "p/b/m", 3), ("open_vowel", "open vowel", 3)):
        picks = [p for p in phones if p.kind == kind]
        for phone in picks[:: max(1, len(picks) // count)][:count]:
            middle = (phone.start_s + phone.end_s) / 2 + offset_s
            wanted[round(middle * fps)] = f"{label} {phone.phoneme}"
    for index in list(blink_frames)[:1]:
        wanted[index] = "blink"
    wanted.setdefault(2, "rest")
    frames = {i: f for i, f in enumerate(iter_video_frames(video)) if i in wanted}
    tiles = []
    for index in sorted(frames):
        frame = frames[index]
        faces = detect_faces(frame, max_faces=1)
        if faces:
            x0, y0, x1, y1 = faces[0].box
            pad = int(0.15 * (x1 - x0))
            frame = frame[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad]
        tile = cv2.resize(
            np.ascontiguousarray(frame), (320, 320 * frame.shape[0] // frame.shape[1])
        )
        tiles.append(_label(tile, f"{index / fps:.2f}s {wanted[index]}"))
    height = min(t.shape[0] for t in tiles)
    sheet = _grid([t[:height] for t in tiles], min(4, len(tiles)))
    cv2.imwrite(str(dest), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return dest
