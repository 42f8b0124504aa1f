"""`make demo`: sample videos from a real photo and espeak-ng speech, with contact sheets.

Writes into ./demo/: one MP4 per sample and a PNG beside it with frames from the video
(time stamps burnt in), so a person can judge the result at a glance.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from engine.media import iter_video_frames, probe
from scripts.dub_quality import (
    DUB_PROMPTS,
    HARD_CASES,
    SOURCE_PROMPT,
    hard_frames_sheet,
    make_cut_source,
)
from scripts.dub_quality import make_source as make_hard_source
from scripts.portrait_sheet import speech_sheet
from scripts.quality import render_local
from tests.support import real_media
from tests.support.forced_align import align
from tests.support.hard_sources import HardSource
from tests.support.media import astronaut_photo_path, face_photo_path
from tests.support.speech import speak

DEMO_CASES = ("hopper hand", "hopper mic", "hopper turn", "carphone (real)")
SENTENCES = {
    "en": "Hello there, my name is Grace. Bob bought a big map of the old city.",
    "es": "Hola, me llamo Grace. Mi mamá compró un mapa bonito para el viaje.",
}


HARD_PHOTO_PROMPT = "vm-invalid-password"


def hard_photos(out: Path) -> dict[str, Path]:
    photos = {name: real_media.group_face(name, out) for name in real_media.GROUP_FACES}
    photos["carphone"] = real_media.carphone_frame(64, out)
    return photos


def blinks(photo: Path, *, seed: int, fps: float = 25.0, limit: int = 400) -> list[int]:
    """Frames where a render of `photo` with `seed` has its eyes fully shut (the blink
    schedule depends on the seed alone)."""
    from engine.lipsync.faces import find_face
    from engine.lipsync.portrait import PortraitAnimator
    from engine.media import load_image

    image = load_image(photo)
    animator = PortraitAnimator(image, find_face(image), (480, 480), seed=seed)
    return [i for i in range(limit) if animator.eyes_closed(i, fps) >= 1.0]


def duet_photo(dest: Path) -> Path:
    """Two real faces side by side: the photo and a mirrored, slightly smaller copy."""
    photo = cv2.imread(str(face_photo_path()))
    mirrored = cv2.flip(cv2.resize(photo, None, fx=0.85, fy=0.85), 1)
    canvas = np.full((photo.shape[0], photo.shape[1] * 2 + 40, 3), 200, np.uint8)
    canvas[:, : photo.shape[1]] = photo
    top = (photo.shape[0] - mirrored.shape[0]) // 2
    left = photo.shape[1] + 40
    canvas[top : top + mirrored.shape[0], left : left + mirrored.shape[1]] = mirrored
    cv2.imwrite(str(dest), canvas)
    return dest


def render(model: str, inputs: dict[str, Path], params: dict, out: Path) -> None:
    elapsed = render_local(model, inputs, params, out)
    seconds = probe(out).duration or 0.0
    print(f"{out.name}: {seconds:.2f} s of video rendered in {elapsed:.2f} s")


def contact_sheet(video: Path, dest: Path, *, columns: int = 4, rows: int = 3) -> Path:
    info = probe(video)
    fps = info.fps or 25.0
    total = int((info.duration or 0) * fps)
    wanted = set(np.linspace(0, max(0, total - 1), columns * rows).astype(int).tolist())
    tiles = []
    for index, frame in enumerate(iter_video_frames(video)):
        if index in wanted:
            tile = cv2.resize(frame, (frame.shape[1] * 240 // frame.shape[0], 240))
            cv2.putText(
                tile,
                f"{index / fps:5.2f}s",
                (6, 20),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.55,
                (255, 255, 0),
                1,
                cv2.LINE_AA,
            )
            tiles.append(tile)
    while len(tiles) < columns * rows:
        tiles.append(np.zeros_like(tiles[0]))
    grid = np.vstack([np.hstack(tiles[r * columns : (r + 1) * columns]) for r in range(rows)])
    cv2.imwrite(str(dest), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="demo")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    photo = out / "face.jpg"
    shutil.copyfile(face_photo_path(), photo)
    voices = {
        lang: speak(text, lang, out / f"voice_{lang}.wav") for lang, text in SENTENCES.items()
    }
    samples: list[Path] = []
    for lang, voice in voices.items():
        video = out / f"portrait_{lang}.mp4"
        render("lipsync-image", {"image": photo, "audio": voice}, {"seed": 7}, video)
        samples.append(video)
    duet = duet_photo(out / "duet.jpg")
    video = out / "duet_left_right.mp4"
    render(
        "lipsync-image-multi",
        {"image": duet, "left_audio": voices["en"], "right_audio": voices["es"]},
        {"order": "left_right", "seed": 7},
        video,
    )
    samples.append(video)
    for video in samples:
        sheet = contact_sheet(video, video.with_suffix(".png"))
        print(f"contact sheet: {sheet}")
    # Hard photos (a laugh with teeth, a smile, a turned head, eyes down, a 60 px face)
    # speaking a real read prompt; sheets at p/b/m, open vowels, a blink and rest.
    prompt = real_media.asterisk_prompt(HARD_PHOTO_PROMPT)
    truth = align(prompt.path, prompt.text)
    for name, path in hard_photos(out).items():
        video = out / f"portrait_{name}.mp4"
        render("lipsync-image", {"image": path, "audio": prompt.path}, {"seed": 7}, video)
        sheet = speech_sheet(video, truth, video.with_suffix(".png"),
                             blink_frames=blinks(path, seed=7))  # fmt: skip
        print(f"contact sheet (p/b/m, open vowels, blink): {sheet}")
    # Dubbing: a source with camera motion and a cut (both photos speaking English),
    # re-voiced in Spanish; its sheet shows source frames over the dubbed ones.
    source = make_cut_source(photo, astronaut_photo_path(), voices["en"], out / "dub_source.mp4")
    dubbed = out / "dubbed_es.mp4"
    render("lipsync-video", {"video": source, "audio": voices["es"]}, {"seed": 7}, dubbed)
    frames = round((probe(source).duration or 0) * 25)
    plain = HardSource(source, 25.0, [], [0.0] * frames)
    sheet = hard_frames_sheet(plain, dubbed, dubbed.with_suffix(".png"))
    print(f"contact sheet (source over dubbed): {sheet}")
    # Real-footage moments: a hand across the mouth, a microphone, a head turning away,
    # a real man in a car; re-voiced with real read speech. The sheets show the hardest
    # frames (the occluder over the mouth, the head turned furthest), source over dub.
    said = real_media.asterisk_prompt(SOURCE_PROMPT).path
    for number, case in enumerate(HARD_CASES):
        if case.label not in DEMO_CASES:
            continue
        hard = make_hard_source(case, said, out)
        voice = real_media.asterisk_prompt(DUB_PROMPTS[number % len(DUB_PROMPTS)]).path
        dubbed = out / f"dubbed_{hard.path.stem.removeprefix('source_')}.mp4"
        render("lipsync-video", {"video": hard.path, "audio": voice}, {"seed": 7}, dubbed)
        sheet = hard_frames_sheet(hard, dubbed, dubbed.with_suffix(".png"))
        print(f"contact sheet (hard frames, source over dubbed): {sheet}")
    return 0


if __name__ == "__main__":
    if subprocess.run(["which", "espeak-ng"], capture_output=True).returncode:
        sys.exit("espeak-ng is needed for the demo voices (make installs it)")
    sys.exit(main())
