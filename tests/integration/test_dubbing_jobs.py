"""Video dubbing end to end on a small real-photo source: the lips follow the *new* audio,
the output lasts as long as that audio, and nothing outside the mouth (or the mask) moves.
Each test renders or dubs a whole video (seconds each); the fast checks are in
`tests/unit/test_dubbing.py`.

The source and the speech are made by `tests/support/dubbing.py`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from engine.lipsync.dubbing import analysis as dub_analysis
from engine.lipsync.dubbing import render as dub_render
from engine.lipsync.dubbing.retime import source_indices
from engine.lipsync.faces import detect_faces
from engine.lipsync.speech.track import mouth_track
from engine.media import iter_video_frames, load_audio, probe
from tests.support.dubbing import (
    BLANK_FRAMES,
    FACE_FRAMES,
    FPS,
    PAD_S,
    SIZE,
    make_source,
    make_speech,
    run_dub,
)
from tests.support.espeak_truth import TruthPhone, write_wav

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dub")


@pytest.fixture(scope="module")
def source(work: Path) -> Path:
    return make_source(work)


@pytest.fixture(scope="module")
def speech(work: Path) -> tuple[Path, list[TruthPhone], float]:
    return make_speech(work)


def _frames_in_process(
    source: Path, voice: Path, mode: str = "bounce", mask: np.ndarray | None = None
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Rendered frames before encoding, the source frames, and the output->source map."""
    audio = load_audio(voice, sample_rate=16000)
    n_out = round(len(audio) / 16000 * FPS)
    track = mouth_track(audio, 16000, FPS, n_frames=n_out)
    analysis = dub_analysis.analyse(
        source, SIZE, FPS, n_out, mode=mode, mask=mask, work_dir=source.parent,
        source_frames=FACE_FRAMES + BLANK_FRAMES,
    )  # fmt: skip
    indices = source_indices(n_out, analysis.frames, mode)
    plan = dub_render.plan(analysis, track, indices)
    originals = list(iter_video_frames(source, fps=FPS, size=SIZE))
    if analysis.cache is not None:
        played = analysis.cache.play(indices)
    else:
        played = ((int(j), originals[j].copy()) for j in indices)
    rendered = [f.copy() for f in dub_render.render(analysis, plan, played, mask)]
    if analysis.cache is not None:
        analysis.cache.remove()
    return rendered, originals, indices


def _lower_face(frame: np.ndarray) -> tuple[slice, slice]:
    """Nose to the top of the neck, a little past the jaw: where a dub may change pixels."""
    face = detect_faces(frame, max_faces=1)[0]
    jaw = face.jaw_line()
    reach = 0.15 * face.face_height()
    rows = slice(int(face.landmarks[2, 1]), int(face.landmarks[152, 1] + 2 * reach))
    return rows, slice(int(jaw[:, 0].min() - reach), int(jaw[:, 0].max() + reach))


def test_dubbed_lips_follow_the_new_audio(
    work: Path, source: Path, speech: tuple[Path, list[TruthPhone], float]
) -> None:
    voice, phones, seconds = speech
    out = work / "dubbed.mp4"
    output_seconds = run_dub(work, {"video": source, "audio": voice}, out)
    info = probe(out)
    assert info.has_audio and (info.width, info.height) == SIZE
    assert abs(output_seconds - seconds) <= 1.0 / FPS
    frames = list(iter_video_frames(out))
    assert abs(len(frames) - seconds * FPS) <= 1.0
    gaps = []
    for frame in frames:
        faces = detect_faces(frame, max_faces=1)
        gaps.append(faces[0].mouth_gap() if faces else np.nan)
    gaps_arr = np.array(gaps)

    def during(p: TruthPhone) -> np.ndarray:
        first = int((p.start_s + PAD_S) * FPS)
        last = max(first, math.ceil((p.end_s + PAD_S) * FPS) - 1)
        return gaps_arr[first : last + 1]

    bilabials = [p for p in phones if p.kind == "bilabial"]
    vowels = [p for p in phones if p.kind == "open_vowel"]
    closed = [np.nanmin(during(p)) < 0.02 for p in bilabials]
    opened = [np.nanmax(during(p)) > 0.05 for p in vowels]
    assert len(bilabials) >= 4 and np.mean(closed) >= 0.75, gaps_arr.round(3)
    assert vowels and np.mean(opened) >= 0.6, gaps_arr.round(3)


def test_longer_audio_is_extended_to_its_length(
    work: Path, source: Path, speech: tuple[Path, list[TruthPhone], float]
) -> None:
    voice, _, seconds = speech
    audio = load_audio(voice, sample_rate=16000)
    longer = work / "longer.wav"
    write_wav(longer, np.concatenate([audio, audio[: int(1.2 * 16000)]]), 16000)
    for mode in ("bounce", "freeze"):
        out = work / f"longer_{mode}.mp4"
        output_seconds = run_dub(work, {"video": source, "audio": longer}, out, sync_mode=mode)
        total = seconds + 1.2
        assert abs(output_seconds - total) <= 1.0 / FPS
        assert abs(probe(out).duration - total) <= 1.5 / FPS  # type: ignore[operator]
    assert not list(work.glob("*.mkv")), "the lossless intermediate is cleaned up"


def test_only_the_mouth_changes_and_faceless_frames_pass(
    source: Path, speech: tuple[Path, list[TruthPhone], float]
) -> None:
    rendered, originals, indices = _frames_in_process(source, speech[0])
    changed_frames = 0
    boxes: dict[int, tuple[slice, slice]] = {}
    for frame, j in zip(rendered, indices.tolist(), strict=True):
        original = originals[j]
        if j >= FACE_FRAMES:
            assert np.array_equal(frame, original), f"faceless frame {j} was changed"
            continue
        if j not in boxes:
            boxes[j] = _lower_face(original)
        outside = np.ones(original.shape[:2], bool)
        outside[boxes[j]] = False
        assert np.array_equal(frame[outside], original[outside]), f"frame {j} changed outside"
        changed_frames += not np.array_equal(frame, original)
    assert changed_frames > len(rendered) // 3


def test_bounce_plays_the_right_source_frames(
    source: Path, speech: tuple[Path, list[TruthPhone], float], work: Path
) -> None:
    audio = load_audio(speech[0], sample_rate=16000)
    longer = work / "bounce.wav"
    write_wav(longer, np.concatenate([audio, audio]), 16000)
    rendered, originals, indices = _frames_in_process(source, longer, "bounce")
    assert indices.max() == FACE_FRAMES + BLANK_FRAMES - 1 and np.any(np.diff(indices) < 0)
    top = slice(0, 60)  # the top of the frame (hair, background) is never touched
    for frame, j in zip(rendered, indices.tolist(), strict=True):
        assert np.array_equal(frame[top], originals[j][top])


def test_a_mask_limits_every_change(
    source: Path, speech: tuple[Path, list[TruthPhone], float]
) -> None:
    first = next(iter(iter_video_frames(source, fps=FPS, size=SIZE)))
    mouth_x = int(detect_faces(first, max_faces=1)[0].landmarks[13, 0])
    mask = np.zeros((SIZE[1], SIZE[0]), np.float32)
    mask[:, : mouth_x + 6] = 1.0  # the left half of the mouth only
    rendered, originals, indices = _frames_in_process(source, speech[0], mask=mask)
    black = mask == 0
    changed_inside = 0
    for frame, j in zip(rendered, indices.tolist(), strict=True):
        assert np.array_equal(frame[black], originals[j][black])
        changed_inside += int(np.any(frame[~black] != originals[j][~black]))
    assert changed_inside > 0


def test_a_rotated_variable_rate_phone_video_is_dubbed_upright(
    work: Path, source: Path, speech: tuple[Path, list[TruthPhone], float]
) -> None:
    from tests.support.media_fixtures import write_video

    upright = list(iter_video_frames(source, fps=FPS, size=SIZE))[:30]
    stored = [np.ascontiguousarray(np.rot90(f, k=-1)) for f in upright]  # sensor is sideways
    stamps = np.cumsum([0] + [30 if i % 2 else 50 for i in range(len(stored) - 1)]).tolist()
    phone = write_video(work / "phone.mp4", stored, fps=25, pts_ms=stamps, rotation_ccw=90)
    assert probe(phone).rotation in (90, 270)
    out = work / "phone_dub.mp4"
    run_dub(work, {"video": phone, "audio": speech[0]}, out)
    info = probe(out)
    assert (info.width, info.height) == SIZE  # upright, the source's aspect
    assert abs((info.duration or 0) - speech[2]) <= 1.5 / FPS
    gaps = [
        faces[0].mouth_gap()
        for frame in iter_video_frames(out)
        if (faces := detect_faces(frame, max_faces=1))
    ]
    assert len(gaps) > 0.9 * speech[2] * FPS  # the face is found upright in every frame
    assert min(gaps) < 0.015 and max(gaps) > 0.05  # and its mouth moves with the speech
