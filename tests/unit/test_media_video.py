from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.errors import MediaError
from engine.media import iter_video_frames
from tests.support.media_fixtures import (
    gray_frame,
    level_of,
    marker_frame,
    red_corner,
    tone,
    write_audio,
    write_video,
)

LEVELS = [20 + 20 * i for i in range(10)]


def _which(frame: np.ndarray) -> int:
    """Index of the LEVELS frame a decoded flat frame came from."""
    level = level_of(frame)
    return min(range(len(LEVELS)), key=lambda i: abs(LEVELS[i] - level))


@pytest.fixture
def ten_frames(tmp_path: Path) -> Path:
    frames = [gray_frame(64, 48, level) for level in LEVELS]
    return write_video(tmp_path / "v.mp4", frames, fps=10)


def test_native_rate_yields_every_frame_in_order(ten_frames: Path) -> None:
    frames = list(iter_video_frames(ten_frames))
    assert [_which(f) for f in frames] == list(range(10))
    assert all(f.shape == (48, 64, 3) and f.dtype == np.uint8 for f in frames)


def test_frames_are_contiguous_even_when_rows_are_padded(tmp_path: Path) -> None:
    path = write_video(tmp_path / "v.mp4", [gray_frame(70, 48, 100)] * 2)  # 210-byte rows
    assert all(f.flags.c_contiguous for f in iter_video_frames(path))
    assert all(f.flags.c_contiguous for f in iter_video_frames(path, size=(36, 24)))


def test_upsampling_duplicates_frames(ten_frames: Path) -> None:
    frames = list(iter_video_frames(ten_frames, fps=25))
    assert len(frames) == 25  # 1 s at 25 fps
    # Output instant k/25 shows the source frame nearest to it.
    expected = [min(range(10), key=lambda i: abs(i / 10 - k / 25 - 1e-9)) for k in range(25)]
    assert [_which(f) for f in frames] == expected


def test_downsampling_drops_frames(ten_frames: Path) -> None:
    frames = list(iter_video_frames(ten_frames, fps=5))
    assert [_which(f) for f in frames] == [0, 2, 4, 6, 8]


def test_same_rate_is_identity(ten_frames: Path) -> None:
    assert [_which(f) for f in iter_video_frames(ten_frames, fps=10)] == list(range(10))


def test_duplicates_are_independent_arrays(ten_frames: Path) -> None:
    frames = iter_video_frames(ten_frames, fps=30)
    first = next(frames)
    first[:] = 0
    assert _which(next(frames)) == 0


def test_variable_frame_rate_becomes_steady(tmp_path: Path) -> None:
    frames = [gray_frame(64, 48, level) for level in LEVELS]
    pts_ms = [0, 40, 80, 200, 240, 250, 260, 400, 440, 480]
    path = write_video(tmp_path / "vfr.mp4", frames, pts_ms=pts_ms)
    got = [_which(f) for f in iter_video_frames(path, fps=25)]
    # The 120 ms gap after frame 2 is filled by repeats; frame 5 (10 ms after 4) is dropped.
    assert got[:12] == [0, 1, 2, 2, 3, 3, 4, 6, 6, 7, 7, 8]
    assert set(got[12:]) == {9}
    assert len(got) == 15  # the MP4 says the stream lasts 0.58 s


def test_max_seconds_truncates(ten_frames: Path) -> None:
    assert len(list(iter_video_frames(ten_frames, fps=25, max_seconds=0.5))) == 13
    assert len(list(iter_video_frames(ten_frames, max_seconds=0.5))) == 5


def test_size_is_applied_after_rotation(tmp_path: Path) -> None:
    path = write_video(tmp_path / "r.mp4", [marker_frame(64, 32)] * 3, rotation_ccw=-90)
    frames = list(iter_video_frames(path, size=(16, 32)))
    assert [f.shape for f in frames] == [(32, 16, 3)] * 3
    assert red_corner(frames[0]) == "tr"


@pytest.mark.parametrize(
    "suffix, codec",
    [("mp4", "libx264"), ("mov", "libx264"), ("mkv", "libx264"), ("webm", "libvpx")],
)
@pytest.mark.parametrize("rotation_ccw, corner", [(90, "bl"), (-90, "tr"), (180, "br")])
def test_rotation_metadata_in_every_container(
    tmp_path: Path, suffix: str, codec: str, rotation_ccw: int, corner: str
) -> None:
    path = write_video(
        tmp_path / f"r.{suffix}", [marker_frame(64, 32)] * 4, codec=codec, rotation_ccw=rotation_ccw
    )
    frames = list(iter_video_frames(path))
    assert len(frames) == 4
    expected_shape = (32, 64, 3) if rotation_ccw == 180 else (64, 32, 3)
    assert frames[0].shape == expected_shape
    assert red_corner(frames[0]) == corner


def test_webm_with_audio_yields_only_pictures(tmp_path: Path) -> None:
    frames = [gray_frame(32, 32, level) for level in LEVELS[:5]]
    path = write_video(tmp_path / "v.mkv", frames, fps=10, audio=tone(0.8, 48000))
    assert [_which(f) for f in iter_video_frames(path, fps=10)] == list(range(5))


def test_stopping_early_closes_the_file(ten_frames: Path) -> None:
    frames = iter_video_frames(ten_frames)
    next(frames)
    frames.close()  # must not raise; the container is released by the generator's finally


def test_audio_only_file(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.wav", tone(0.2, 8000), 8000)
    with pytest.raises(MediaError, match="no video"):
        list(iter_video_frames(path))


def test_corrupt_video(tmp_path: Path) -> None:
    (tmp_path / "v.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(500))
    with pytest.raises(MediaError):
        list(iter_video_frames(tmp_path / "v.mp4"))


def test_bad_fps() -> None:
    with pytest.raises(ValueError):
        iter_video_frames("whatever.mp4", fps=0)
