"""Video dubbing end to end on a small real-photo source: the lips follow the *new* audio,
the output lasts as long as that audio, and nothing outside the mouth (or the mask) moves.

The source is made here: the portrait renderer animates a real photo with a scripted
mouth (so the video has its own, unrelated mouth motion and an atlas of shapes), then the
video cuts to a face-less gradient for its last frames.
"""

from __future__ import annotations

import math
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from engine.config import Settings, load_settings
from engine.errors import MediaError, NoFaceError
from engine.handlers import JobContext, JobSpec, get_handler, load_handlers
from engine.lipsync.dubbing import analysis as dub_analysis
from engine.lipsync.dubbing import job as dubbing
from engine.lipsync.dubbing import render as dub_render
from engine.lipsync.dubbing.retime import source_indices
from engine.lipsync.faces import detect_faces, find_face
from engine.lipsync.portrait.animator import MouthFrame, PortraitAnimator, PortraitStyle
from engine.lipsync.speech.track import mouth_track
from engine.media import Mp4Writer, iter_video_frames, load_audio, probe
from engine.requests import normalize_params
from tests.support.espeak_truth import TruthPhone, synthesize_array, write_wav
from tests.support.media import face_photo_path

FPS = 25
SIZE = (480, 562)  # the photo's aspect at 480p, so the job does not rescale
FACE_FRAMES, BLANK_FRAMES = 44, 8
PAD_S = 0.3


def _gradient() -> np.ndarray:
    frame = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    frame[:, :, 0] = np.linspace(30, 220, SIZE[0], dtype=np.uint8)[None, :]
    frame[:, :, 2] = np.linspace(200, 40, SIZE[1], dtype=np.uint8)[:, None]
    return frame


def _write(path: Path, frames: list[np.ndarray]) -> Path:
    with Mp4Writer(path, SIZE[0], SIZE[1], FPS, crf=16) as writer:
        for frame in frames:
            writer.write(frame)
    return path


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dub")


@pytest.fixture(scope="module")
def source(work: Path) -> Path:
    """1.76 s of a talking photo (its own open/close rhythm), then 0.32 s without a face."""
    photo = cv2.cvtColor(cv2.imread(str(face_photo_path())), cv2.COLOR_BGR2RGB)
    animator = PortraitAnimator(
        photo, find_face(photo), SIZE, style=PortraitStyle(head_motion=0.0, blink_rate=0.0)
    )
    frames = []
    for i in range(FACE_FRAMES):
        opening = max(0.0, math.sin(i / FACE_FRAMES * 5 * 2 * math.pi)) ** 0.7
        frames.append(animator.frame(i, FPS, MouthFrame(opening, 0.0, 0.6, 1.0)))
    frames += [_gradient() for _ in range(BLANK_FRAMES)]
    return _write(work / "source.mp4", frames)


@pytest.fixture(scope="module")
def speech(work: Path) -> tuple[Path, list[TruthPhone], float]:
    """New words, padded with silence: (wav, espeak's phone timings, seconds)."""
    audio, rate, phones = synthesize_array("Bob bought a big map.", "en")
    pad = np.zeros(int(PAD_S * rate), audio.dtype)
    padded = np.concatenate([pad, audio, pad])
    path = work / "speech.wav"
    write_wav(path, padded, rate)
    return path, phones, len(padded) / rate


def _settings(root: Path) -> Settings:
    return load_settings(path=None, env={}, overrides={"data_dir": str(root / "data")})


def _run(work: Path, inputs: dict[str, Path], out: Path, **params: object) -> float:
    settings = _settings(work)
    load_handlers([])
    handler = get_handler("lipsync-video")
    assert handler is dubbing.render_dub
    spec = JobSpec(
        id="t",
        model="lipsync-video",
        params=normalize_params("lipsync-video", params, settings),
        inputs=inputs,
        work_dir=out.parent,
        output_path=out,
        settings=settings,
    )
    stages: list[str] = []
    result = handler(spec, JobContext(report=lambda stage, fraction: stages.append(stage)))
    assert "tracking faces" in stages and "rendering" in stages
    return result.output_seconds


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


def test_lipsync_video_is_registered() -> None:
    load_handlers([])
    assert get_handler("lipsync-video") is dubbing.render_dub


def test_dubbed_lips_follow_the_new_audio(
    work: Path, source: Path, speech: tuple[Path, list[TruthPhone], float]
) -> None:
    voice, phones, seconds = speech
    out = work / "dubbed.mp4"
    output_seconds = _run(work, {"video": source, "audio": voice}, out)
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
        output_seconds = _run(work, {"video": source, "audio": longer}, out, sync_mode=mode)
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


def test_no_face_in_the_video_is_a_clear_error(
    work: Path, speech: tuple[Path, list[TruthPhone], float]
) -> None:
    blank = _write(work / "blank.mp4", [_gradient()] * 10)
    with pytest.raises(NoFaceError, match="no face found in the video"):
        _run(work, {"video": blank, "audio": speech[0]}, work / "blank_out.mp4")
    assert not (work / "blank_out.mp4").exists()


def test_audio_only_and_empty_videos_are_clear_errors(
    work: Path, speech: tuple[Path, list[TruthPhone], float]
) -> None:
    with pytest.raises(MediaError, match="audio only"):
        _run(work, {"video": speech[0], "audio": speech[0]}, work / "x.mp4")
    empty = work / "empty.mkv"  # MP4 would drop a track without frames
    with av.open(str(empty), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        sound = container.add_stream("aac", rate=48000, layout="mono")
        silence = av.AudioFrame.from_ndarray(
            np.zeros((1, 4800), np.float32), format="fltp", layout="mono"
        )
        silence.sample_rate, silence.pts = 48000, 0
        container.mux(sound.encode(silence))
        container.mux(sound.encode(None))
    with pytest.raises(MediaError, match="no frames"):
        _run(work, {"video": empty, "audio": speech[0]}, work / "y.mp4")


def test_a_mask_that_does_not_decode_is_a_clear_error(
    work: Path, source: Path, speech: tuple[Path, list[TruthPhone], float]
) -> None:
    broken = work / "mask.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 10)
    with pytest.raises(MediaError, match="the mask image could not be read"):
        _run(work, {"video": source, "audio": speech[0], "mask_image": broken}, work / "m.mp4")


def test_a_rotated_variable_rate_phone_video_is_dubbed_upright(
    work: Path, source: Path, speech: tuple[Path, list[TruthPhone], float]
) -> None:
    from tests.unit.media_fixtures import write_video

    upright = list(iter_video_frames(source, fps=FPS, size=SIZE))[:30]
    stored = [np.ascontiguousarray(np.rot90(f, k=-1)) for f in upright]  # sensor is sideways
    stamps = np.cumsum([0] + [30 if i % 2 else 50 for i in range(len(stored) - 1)]).tolist()
    phone = write_video(work / "phone.mp4", stored, fps=25, pts_ms=stamps, rotation_ccw=90)
    assert probe(phone).rotation in (90, 270)
    out = work / "phone_dub.mp4"
    _run(work, {"video": phone, "audio": speech[0]}, out)
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


def test_atlases_stay_bounded_however_many_speakers(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.lipsync.dubbing.atlas import Atlas, Entry, PatchFrame, Shape

    patch = np.zeros((16, 16, 3), np.uint8)
    monkeypatch.setattr(dub_analysis, "MAX_ATLAS_BYTES", 100 * patch.nbytes)
    speakers: dict[int, dub_analysis.Speaker] = {}
    for person in range(12):  # a video of many shots, a new face in each
        atlas = Atlas(PatchFrame(40))
        for i in range(40):
            shape = Shape(gap=0.01 * i, width=0.9, yaw=0.0, pitch=0.0)
            atlas.entries[(i, 0, 0, 0)] = Entry(patch, np.zeros((1, 2)), shape, 1.0, patch, i)
        speakers[person] = dub_analysis.Speaker(atlas)
        dub_analysis._thin(speakers)
        assert sum(s.atlas.nbytes for s in speakers.values()) <= 100 * patch.nbytes
    assert all(len(s.atlas.entries) >= 8 for s in speakers.values())
