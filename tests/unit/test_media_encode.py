from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from engine.media import Mp4Writer, even_size, fit_resolution, iter_video_frames, load_audio
from engine.media.encode import frame_rate
from tests.support.media_fixtures import gray_frame, tone


def _write(path: Path, n: int, fps: float | Fraction, **kwargs: object) -> Path:
    with Mp4Writer(path, 64, 48, fps, **kwargs) as writer:  # type: ignore[arg-type]
        for i in range(n):
            writer.write(gray_frame(64, 48, (i * 37) % 256))
    return path


def _top_level_atoms(data: bytes) -> list[bytes]:
    atoms, pos = [], 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        atoms.append(data[pos + 4 : pos + 8])
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        if size < 8:
            break
        pos += size
    return atoms


def test_even_size() -> None:
    assert even_size(641, 481) == (640, 480)
    assert even_size(640, 480) == (640, 480)
    with pytest.raises(ValueError):
        even_size(1, 10)


@pytest.mark.parametrize(
    "size, short, expected",
    [
        ((1920, 1080), 480, (854, 480)),
        ((1080, 1920), 480, (480, 854)),
        ((640, 480), 720, (960, 720)),  # small sources are upscaled on purpose
        ((333, 333), 256, (256, 256)),
        ((1000, 999), 101, (100, 100)),  # odd request: short side rounds down to even
        ((3, 2), 2, (4, 2)),
    ],
)
def test_fit_resolution(size: tuple[int, int], short: int, expected: tuple[int, int]) -> None:
    assert fit_resolution(*size, short) == expected


def test_frame_rate_recognises_ntsc() -> None:
    assert frame_rate(29.97) == Fraction(30000, 1001)
    assert frame_rate(30000 / 1001) == Fraction(30000, 1001)
    assert frame_rate(25) == 25
    assert frame_rate(12.5) == Fraction(25, 2)


def test_file_plays_everywhere(tmp_path: Path) -> None:
    path = _write(tmp_path / "o.mp4", 10, 25, audio=tone(0.4, 48000)[:, 0])
    atoms = _top_level_atoms(path.read_bytes())
    assert atoms.index(b"moov") < atoms.index(b"mdat"), atoms  # +faststart
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "h264"
        assert video.codec_context.profile == "High"
        assert video.codec_context.pix_fmt == "yuv420p"
        assert video.codec_context.colorspace == 1  # BT.709, tagged
        assert container.streams.audio[0].codec_context.name == "aac"


@pytest.mark.parametrize("fps, n", [(25, 10), (Fraction(30000, 1001), 12), (29.97, 7), (12.5, 5)])
def test_duration_is_frames_over_fps(tmp_path: Path, fps: float | Fraction, n: int) -> None:
    path = _write(tmp_path / "o.mp4", n, fps)
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        assert video.frames == n
        duration = float(video.duration * video.time_base)
        assert duration == pytest.approx(n / float(frame_rate(fps)), abs=1e-3)
        assert container.duration / av.time_base == pytest.approx(duration, abs=1e-3)


def test_frames_round_trip_in_order_and_colour(tmp_path: Path) -> None:
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[:, :32] = (200, 40, 40)
    frame[:, 32:] = (220, 170, 140)  # skin-like; a BT.601/709 mix-up would shift it visibly
    with Mp4Writer(tmp_path / "o.mp4", 64, 48, 10, crf=12) as writer:
        for _ in range(3):
            writer.write(frame)
    decoded = list(iter_video_frames(tmp_path / "o.mp4"))
    assert len(decoded) == 3
    assert np.abs(decoded[0][8:40, 4:28].astype(int) - frame[8:40, 4:28]).max() <= 4
    assert np.abs(decoded[0][8:40, 36:60].astype(int) - frame[8:40, 36:60]).max() <= 4


@pytest.mark.parametrize("channels, rate", [(1, 48000), (2, 44100), (1, 16000), (2, 22050)])
def test_audio_track(tmp_path: Path, channels: int, rate: int) -> None:
    audio = tone(1.3, rate, channels=channels)
    path = _write(
        tmp_path / "o.mp4", 25, 25, audio=audio if channels == 2 else audio[:, 0], audio_rate=rate
    )
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "aac"
        assert stream.channels == channels
        assert stream.sample_rate in (44100, 48000)
        assert float(stream.duration * stream.time_base) == pytest.approx(1.3, abs=0.03)
        assert float(stream.start_time * stream.time_base) == pytest.approx(0.0, abs=1e-3)
        video = container.streams.video[0]
        assert float(video.duration * video.time_base) == pytest.approx(1.0, abs=1e-3)
    decoded = load_audio(path)
    assert len(decoded) / 16000 == pytest.approx(1.3, abs=0.03)


def test_audio_is_aligned_from_the_start(tmp_path: Path) -> None:
    """A click at exactly 0.5 s must come back at 0.5 s: AAC priming must not delay it."""
    rate = 48000
    audio = np.zeros(rate, np.float32)
    audio[rate // 2 : rate // 2 + 480] = 0.9
    path = _write(tmp_path / "o.mp4", 25, 25, audio=audio, audio_rate=rate)
    decoded = load_audio(path)
    onset = int(np.argmax(np.abs(decoded) > 0.3))
    assert onset / 16000 == pytest.approx(0.5, abs=0.005)


def test_audio_is_interleaved_with_video(tmp_path: Path) -> None:
    path = _write(tmp_path / "o.mp4", 50, 25, audio=tone(2.0, 48000)[:, 0])
    with av.open(str(path)) as container:
        kinds = [p.stream.type for p in container.demux() if p.size]
    first_audio = kinds.index("audio")
    assert first_audio < len(kinds) // 3, "audio must not be appended after all the video"


@pytest.mark.parametrize("width, height", [(63, 48), (64, 47), (0, 48)])
def test_odd_or_empty_size_is_refused(tmp_path: Path, width: int, height: int) -> None:
    with pytest.raises(ValueError, match="even"):
        Mp4Writer(tmp_path / "o.mp4", width, height, 25)


def test_wrong_frame_shape_or_type(tmp_path: Path) -> None:
    with Mp4Writer(tmp_path / "o.mp4", 64, 48, 25) as writer:
        with pytest.raises(ValueError):
            writer.write(np.zeros((48, 64, 4), np.uint8))
        with pytest.raises(ValueError):
            writer.write(np.zeros((48, 64, 3), np.float32))
        writer.write(np.zeros((48, 64, 3), np.uint8))


def test_bad_audio(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Mp4Writer(tmp_path / "o.mp4", 64, 48, 25, audio=np.zeros(100, np.int16))
    with pytest.raises(ValueError):
        Mp4Writer(tmp_path / "o.mp4", 64, 48, 25, audio=np.zeros((100, 3), np.float32))


def test_exception_inside_block_removes_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "o.mp4"
    with pytest.raises(RuntimeError), Mp4Writer(path, 64, 48, 25) as writer:
        writer.write(gray_frame(64, 48, 10))
        raise RuntimeError("render failed")
    assert not path.exists()


def test_closing_without_frames_is_an_error(tmp_path: Path) -> None:
    writer = Mp4Writer(tmp_path / "o.mp4", 64, 48, 25)
    with pytest.raises(ValueError, match="no frames"):
        writer.close()
    assert not (tmp_path / "o.mp4").exists()


def test_close_is_idempotent(tmp_path: Path) -> None:
    writer = Mp4Writer(tmp_path / "o.mp4", 64, 48, 25)
    writer.write(gray_frame(64, 48, 10))
    writer.close()
    writer.close()
    assert writer.frames_written == 1
    with pytest.raises(ValueError):
        writer.write(gray_frame(64, 48, 10))
