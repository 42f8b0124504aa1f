from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.errors import MediaError
from engine.media import load_image
from engine.media.image import BACKGROUND_GREY
from tests.support.media_fixtures import (
    marker_frame,
    stored_for_display,
    tone,
    write_audio,
    write_jpeg,
    write_palette_png,
    write_png,
    write_video,
    write_webp,
)


def _display() -> np.ndarray:
    """Asymmetric picture: any wrong rotation or mirror moves at least one colour block."""
    img = np.full((40, 64, 3), 128, np.uint8)
    img[:20, :32] = (255, 0, 0)
    img[:20, 32:] = (0, 0, 255)
    img[20:, 32:] = (0, 255, 0)
    return img


WRITERS = {"jpg": write_jpeg, "png": write_png, "webp": write_webp}


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("suffix", sorted(WRITERS))
def test_exif_orientation_is_applied(tmp_path: Path, suffix: str, orientation: int) -> None:
    display = _display()
    stored = stored_for_display(display, orientation)
    path = WRITERS[suffix](tmp_path / f"p.{suffix}", stored, orientation=orientation)
    got = load_image(path)
    assert got.shape == display.shape and got.dtype == np.uint8
    assert np.abs(got.astype(int) - display).mean() < 3


def test_plain_jpeg_colours_are_accurate(tmp_path: Path) -> None:
    """JPEG is full-range YCbCr; reading it as TV range would wash colours out."""
    img = marker_frame(64, 64)
    got = load_image(write_jpeg(tmp_path / "p.jpg", img))
    assert np.abs(got.astype(int) - img).mean() < 2
    assert got.flags.c_contiguous


def test_grayscale_jpeg_and_png_become_rgb(tmp_path: Path) -> None:
    gray = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (16, 1))
    ok, buf = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, 100])
    assert ok
    (tmp_path / "g.jpg").write_bytes(buf.tobytes())
    for path in (tmp_path / "g.jpg", write_png(tmp_path / "g.png", gray)):
        got = load_image(path)
        assert got.shape == (16, 64, 3)
        assert np.abs(got.astype(int) - gray[..., None]).max() <= 3


def test_sixteen_bit_png(tmp_path: Path) -> None:
    rgb16 = np.zeros((8, 8, 3), np.uint16)
    rgb16[..., 0] = 65535
    got = load_image(write_png(tmp_path / "p16.png", rgb16))
    assert got.dtype == np.uint8
    assert tuple(got[4, 4]) == (255, 0, 0)


def test_alpha_is_composited_over_light_grey(tmp_path: Path) -> None:
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 255  # red everywhere under the alpha
    rgba[:, :4, 3] = 255  # left half opaque
    rgba[:, 4:6, 3] = 128  # half transparent
    rgba[:, 6:, 3] = 0  # fully transparent
    for path in (write_png(tmp_path / "a.png", rgba), write_webp(tmp_path / "a.webp", rgba)):
        got = load_image(path).astype(int)
        assert tuple(got[0, 0]) == (255, 0, 0)
        assert tuple(got[0, 7]) == (BACKGROUND_GREY,) * 3
        half = (255 * 128 + BACKGROUND_GREY * 127) / 255, BACKGROUND_GREY * 127 / 255
        assert got[0, 5, 0] == pytest.approx(half[0], abs=2)
        assert got[0, 5, 1] == pytest.approx(half[1], abs=2)


def test_opaque_alpha_keeps_pixels(tmp_path: Path) -> None:
    rgba = np.dstack([marker_frame(16, 16), np.full((16, 16), 255, np.uint8)])
    got = load_image(write_png(tmp_path / "a.png", rgba))
    assert np.array_equal(got, rgba[..., :3])


def test_palette_png_with_transparency(tmp_path: Path) -> None:
    palette = np.zeros((4, 4), np.uint8)
    palette[0] = (0, 0, 255, 255)
    palette[1] = (255, 255, 0, 0)
    indices = np.zeros((6, 6), np.uint8)
    indices[:, 3:] = 1
    got = load_image(write_palette_png(tmp_path / "pal.png", indices, palette))
    assert tuple(got[0, 0]) == (0, 0, 255)
    assert tuple(got[0, 5]) == (BACKGROUND_GREY,) * 3


def test_first_frame_of_a_rotated_video(tmp_path: Path) -> None:
    path = write_video(tmp_path / "v.mp4", [marker_frame(64, 32)] * 3, rotation_ccw=-90)
    got = load_image(path)
    assert got.shape == (64, 32, 3)
    assert got[2, 30, 0] > 200 and got[2, 30, 2] < 60  # red block now top-right


def test_pixel_limit(tmp_path: Path) -> None:
    path = write_png(tmp_path / "big.png", marker_frame(100, 100))
    with pytest.raises(MediaError, match="too large"):
        load_image(path, max_pixels=5000)
    assert load_image(path, max_pixels=10_000).shape == (100, 100, 3)


def test_audio_file_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no picture"):
        load_image(write_audio(tmp_path / "a.wav", tone(0.2, 8000), 8000))


def test_corrupt_image(tmp_path: Path) -> None:
    good = write_jpeg(tmp_path / "p.jpg", marker_frame(32, 32)).read_bytes()
    (tmp_path / "bad.jpg").write_bytes(good[:4] + bytes(200))
    with pytest.raises(MediaError):
        load_image(tmp_path / "bad.jpg")
