from __future__ import annotations

import contextlib
import struct
import zlib
from pathlib import Path

import av
import numpy as np
import pytest

from engine.errors import MediaError
from engine.media import MediaInfo, iter_video_frames, load_audio, load_image, probe
from engine.media.probe import exif_orientation
from tests.support.media_fixtures import (
    exif_tiff,
    gray_frame,
    marker_frame,
    png_chunk,
    tone,
    write_audio,
    write_jpeg,
    write_mp3_with_cover,
    write_png,
    write_video,
    write_webp,
)


def test_jpeg_with_exif_rotation_reports_display_size(tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "p.jpg", marker_frame(64, 32), orientation=6)
    info = probe(path)
    assert info == MediaInfo(
        kind="image",
        duration=None,
        width=32,
        height=64,
        fps=None,
        has_audio=False,
        has_video=False,
        rotation=90,
        format_name="jpeg_pipe",
    )


def test_mirrored_orientation_is_reported(tmp_path: Path) -> None:
    info = probe(write_png(tmp_path / "p.png", marker_frame(64, 32), orientation=5))
    assert (info.width, info.height, info.rotation, info.mirror) == (32, 64, 270, True)


def test_huge_image_is_sized_from_its_header(tmp_path: Path) -> None:
    """A 25-megapixel PNG of zeros is 25 kB: probe must answer from the header, and
    load_image must refuse it by the header, before allocating anything."""
    side = 5000
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale
    idat = zlib.compress((b"\x00" + bytes(side)) * side)
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
    (tmp_path / "bomb.png").write_bytes(data + png_chunk(b"IEND", b""))
    info = probe(tmp_path / "bomb.png")
    assert (info.kind, info.width, info.height) == ("image", side, side)
    with pytest.raises(MediaError, match="too large"):
        load_image(tmp_path / "bomb.png", max_pixels=10_000_000)


def test_webp_is_an_image(tmp_path: Path) -> None:
    info = probe(write_webp(tmp_path / "p.webp", marker_frame(40, 30)))
    assert (info.kind, info.width, info.height, info.format_name) == ("image", 40, 30, "webp_pipe")


def test_video_with_sound(tmp_path: Path) -> None:
    frames = [gray_frame(64, 48, 10 * i) for i in range(10)]
    path = write_video(tmp_path / "v.mp4", frames, fps=10, audio=tone(1.0, 48000))
    info = probe(path)
    assert info.kind == "video"
    assert info.has_video and info.has_audio
    assert (info.width, info.height, info.rotation) == (64, 48, 0)
    assert info.fps == pytest.approx(10.0)
    assert info.duration == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("rotation_ccw, expected_cw", [(90, 270), (-90, 90), (180, 180)])
def test_video_rotation_swaps_display_size(
    tmp_path: Path, rotation_ccw: int, expected_cw: int
) -> None:
    frames = [marker_frame(64, 32)] * 3
    info = probe(write_video(tmp_path / "r.mov", frames, rotation_ccw=rotation_ccw))
    assert info.rotation == expected_cw
    expected_size = (32, 64) if expected_cw in (90, 270) else (64, 32)
    assert (info.width, info.height) == expected_size


def test_matroska_video_uses_track_duration_not_the_longer_audio(tmp_path: Path) -> None:
    frames = [gray_frame(32, 32, 100)] * 5
    path = write_video(tmp_path / "v.mkv", frames, fps=10, audio=tone(0.5, 48000))
    info = probe(path)
    assert (info.kind, info.format_name) == ("video", "matroska,webm")
    assert info.duration == pytest.approx(0.5, abs=0.001)


def test_browser_style_webm_without_duration_is_measured(tmp_path: Path) -> None:
    path = tmp_path / "rec.webm"
    # `live` makes the muxer write neither a duration nor cues, like MediaRecorder.
    with av.open(str(path), "w", format="webm", container_options={"live": "1"}) as out:
        stream = out.add_stream("libvpx", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.options = {"deadline": "realtime", "cpu-used": "8"}
        for i in range(12):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(gray_frame(32, 32, 20 * i))))
        out.mux(stream.encode(None))
    assert probe(path).duration == pytest.approx(1.2, abs=0.01)


def test_single_frame_video_is_an_image(tmp_path: Path) -> None:
    info = probe(write_video(tmp_path / "one.mp4", [gray_frame(32, 32, 90)]))
    assert (info.kind, info.has_video, info.duration, info.fps) == ("image", False, None, None)


@pytest.mark.parametrize("suffix", [".wav", ".mp3", ".m4a", ".ogg"])
def test_audio_files(tmp_path: Path, suffix: str) -> None:
    info = probe(write_audio(tmp_path / f"a{suffix}", tone(1.0, 44100, channels=2), 44100))
    assert (info.kind, info.has_audio, info.has_video) == ("audio", True, False)
    assert (info.width, info.height, info.fps) == (None, None, None)
    assert info.duration == pytest.approx(1.0, abs=0.03)


def test_album_art_does_not_make_audio_a_video(tmp_path: Path) -> None:
    info = probe(write_mp3_with_cover(tmp_path / "song.mp3", tone(1.0, 16000), 16000))
    assert (info.kind, info.has_video, info.width) == ("audio", False, None)


def test_size_limit(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.wav", tone(1.0, 8000), 8000)
    with pytest.raises(MediaError, match="too big"):
        probe(path, max_bytes=1000)
    assert probe(path, max_bytes=1_000_000).kind == "audio"


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e.mp4").write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        probe(tmp_path / "e.mp4")


def test_garbage_is_a_media_error(tmp_path: Path) -> None:
    (tmp_path / "x.mp4").write_bytes(np.random.default_rng(1).bytes(5000))
    with pytest.raises(MediaError):
        probe(tmp_path / "x.mp4")


def test_truncated_mp4_is_a_media_error(tmp_path: Path) -> None:
    path = write_video(tmp_path / "v.mp4", [gray_frame(32, 32, 50)] * 5)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(MediaError):
        probe(path)


def test_playlists_are_refused(tmp_path: Path) -> None:
    """An HLS playlist could make FFmpeg read other local files; only real media is opened."""
    secret = write_audio(tmp_path / "secret.wav", tone(1.0, 8000), 8000)
    playlist = tmp_path / "evil.mp4"
    playlist.write_text(f"#EXTM3U\n#EXTINF:1,\nfile://{secret}\n#EXT-X-ENDLIST\n")
    with pytest.raises(MediaError):
        probe(playlist)


def test_missing_file_is_a_bug_not_bad_media(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        probe(tmp_path / "nope.mp4")


@pytest.mark.parametrize("big_endian", [True, False])
def test_exif_parser_reads_both_byte_orders(tmp_path: Path, big_endian: bool) -> None:
    path = write_jpeg(tmp_path / "p.jpg", marker_frame(16, 16))
    data = path.read_bytes()
    body = b"Exif\x00\x00" + exif_tiff(8, big_endian=big_endian)
    app1 = b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body
    path.write_bytes(data[:2] + app1 + data[2:])
    assert exif_orientation(path) == 8


def test_exif_parser_without_exif(tmp_path: Path) -> None:
    assert exif_orientation(write_jpeg(tmp_path / "p.jpg", marker_frame(16, 16))) is None
    assert exif_orientation(write_png(tmp_path / "p.png", marker_frame(16, 16))) is None
    assert exif_orientation(write_audio(tmp_path / "a.wav", tone(0.1, 8000), 8000)) is None


def test_damaged_files_only_ever_raise_media_error(tmp_path: Path) -> None:
    """Cut and scribbled-on copies of real files: users must get MediaError, never a crash."""
    sources = [
        write_video(tmp_path / "v.mp4", [marker_frame(32, 32)] * 6, audio=tone(0.6, 48000)),
        write_audio(tmp_path / "a.m4a", tone(0.5, 16000), 16000),
        write_jpeg(tmp_path / "p.jpg", marker_frame(32, 32), orientation=6),
    ]
    readers = [
        probe,
        load_image,
        load_audio,
        lambda p: list(iter_video_frames(p, fps=10)),
    ]
    rng = np.random.default_rng(7)
    for source in sources:
        original = source.read_bytes()
        for trial in range(20):
            data = bytearray(original)
            if trial % 2:
                data = data[: int(rng.integers(1, len(data)))]
            else:
                for _ in range(int(rng.integers(1, 20))):
                    data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
            damaged = tmp_path / f"damaged{source.suffix}"
            damaged.write_bytes(bytes(data))
            for read in readers:
                with contextlib.suppress(MediaError):
                    read(damaged)
