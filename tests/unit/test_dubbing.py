"""Video dubbing, the fast part: the `lipsync-video` handler is registered, bad inputs
(no face, audio only, an empty video, a mask that does not decode) are clear errors, and
the mouth atlases stay within their memory bound. Dubbing whole videos end to end is in
`tests/integration/test_dubbing_jobs.py`.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from engine.errors import MediaError, NoFaceError
from engine.handlers import get_handler, load_handlers
from engine.lipsync.dubbing import analysis as dub_analysis
from engine.lipsync.dubbing import job as dubbing
from tests.support.dubbing import FPS, gradient, make_source, make_speech, run_dub, write_frames
from tests.support.espeak_truth import TruthPhone


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dub")


@pytest.fixture(scope="module")
def source(work: Path) -> Path:
    return make_source(work)


@pytest.fixture(scope="module")
def speech(work: Path) -> tuple[Path, list[TruthPhone], float]:
    return make_speech(work)


def test_lipsync_video_is_registered() -> None:
    load_handlers([])
    assert get_handler("lipsync-video") is dubbing.render_dub


def test_no_face_in_the_video_is_a_clear_error(
    work: Path, speech: tuple[Path, list[TruthPhone], float]
) -> None:
    blank = write_frames(work / "blank.mp4", [gradient()] * 10)
    with pytest.raises(NoFaceError, match="no face found in the video"):
        run_dub(work, {"video": blank, "audio": speech[0]}, work / "blank_out.mp4")
    assert not (work / "blank_out.mp4").exists()


def test_audio_only_and_empty_videos_are_clear_errors(
    work: Path, speech: tuple[Path, list[TruthPhone], float]
) -> None:
    with pytest.raises(MediaError, match="audio only"):
        run_dub(work, {"video": speech[0], "audio": speech[0]}, work / "x.mp4")
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
        run_dub(work, {"video": empty, "audio": speech[0]}, work / "y.mp4")


def test_a_mask_that_does_not_decode_is_a_clear_error(
    work: Path, source: Path, speech: tuple[Path, list[TruthPhone], float]
) -> None:
    broken = work / "mask.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 10)
    with pytest.raises(MediaError, match="the mask image could not be read"):
        run_dub(work, {"video": source, "audio": speech[0], "mask_image": broken}, work / "m.mp4")


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
